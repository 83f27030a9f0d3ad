"""Run a stage so that user errors print one line and exit non-zero, without a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from omegaconf import DictConfig

from zen.schema import ZenInputError


def run_stage(fn: Callable[[DictConfig], object], cfg: DictConfig) -> None:
    """Call ``fn(cfg)``; on :class:`ZenInputError` print ``<prog>: error: <msg>`` and exit 2."""
    try:
        fn(cfg)
    except ZenInputError as err:
        prog = fn.__name__.replace("_", "-")
        print(f"zen-{prog}: error: {err}", file=sys.stderr)
        sys.exit(2)
