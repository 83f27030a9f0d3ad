"""Run a stage so that user errors print one line and exit non-zero, without a traceback."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from zen.schema import ZenInputError


def _remove_empty_run_dir() -> None:
    """Delete Hydra's run folder if it holds nothing but Hydra's own config and log files."""
    try:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # not running under Hydra
        return
    if run_dir.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)
        for parent in list(run_dir.parents)[:2]:  # <log_dir>/<task_name> when left empty
            try:
                parent.rmdir()
            except OSError:
                break


def run_stage(fn: Callable[[DictConfig], object], cfg: DictConfig) -> None:
    """Call ``fn(cfg)``; on :class:`ZenInputError` print ``zen-<stage>: error: <msg>``, exit 2.

    Nothing is left behind: the stages write through temporary files, and Hydra's run folder is
    removed when it holds only Hydra's own files.
    """
    try:
        fn(cfg)
    except ZenInputError as err:
        _remove_empty_run_dir()
        print(f"zen-{fn.__name__}: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
