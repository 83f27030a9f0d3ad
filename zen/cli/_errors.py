"""Run a stage so that user errors end in one line on stderr and exit code 2, not a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from omegaconf import DictConfig

from zen.schema import ZenInputError


def run_stage(fn: Callable[[DictConfig], object], cfg: DictConfig) -> None:
    """Call ``fn(cfg)``; on :class:`ZenInputError` print ``zen-<fn name>: error: <message>`` and exit 2."""
    try:
        fn(cfg)
    except ZenInputError as err:
        message = " ".join(str(err).split())
        print(f"zen-{fn.__name__}: error: {message}", file=sys.stderr)
        sys.exit(2)
