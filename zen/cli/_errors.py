"""Run a stage so that expected failures print one line and exit 2, without a traceback.

:func:`explain` is the table of expected failures: a user error in an input
(:class:`ZenInputError`), a missing or broken config value (OmegaConf), a full disk and a refused
write. Anything else is a bug in Zen and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.errors import CompactHydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    GrammarParseError,
    InterpolationResolutionError,
    InterpolationToMissingValueError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from zen.paths import missing_data
from zen.schema import ZenInputError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
REQUIRED_HINTS = {  # required key -> how to set it
    "model_dir": "zen-generate model_dir=<the model folder zen-train wrote>",
    "synthetic": "zen-evaluate synthetic=<the dataset folder zen-generate wrote>",
}
RERUN_HINTS = {  # stage -> how to carry on after freeing space
    "train": "rerun it with hydra.run.dir={run_dir} resume=true (it resumes)",
    "generate": "rerun the same command (it resumes)",
}
OUTPUT_KEYS = {"train": "model_dir"}  # stage -> the key that names its output folder (else out_dir)


def _config_message(err: OmegaConfBaseException) -> str:
    """The first line of an OmegaConf message (the rest repeats the key and the node type)."""
    return (getattr(err, "msg", None) or str(err)).splitlines()[0]


def _required(key: str, stage: str) -> str:
    return f"{key} is required: {REQUIRED_HINTS.get(key, f'zen-{stage} {key}=<value>')}"


def _explain_config(err: OmegaConfBaseException, stage: str) -> str | None:
    key = err.full_key or err.key or "?"
    if isinstance(err, MissingMandatoryValue):
        return _required(str(key), stage)
    if isinstance(err, InterpolationToMissingValueError):
        missing = re.search(r"Missing mandatory value: (\S+)", _config_message(err))
        return _required(missing.group(1) if missing else str(key), stage)
    if isinstance(err, InterpolationResolutionError | GrammarParseError):
        return (f"config key {key}: cannot resolve its ${{...}} reference ({_config_message(err)}); "
                f"fix the reference or set it: zen-{stage} {key}=<value>")
    if isinstance(err, ConfigAttributeError | ConfigKeyError):
        return (f"the config has no key {key} (misspelt, or removed with ~{key}); "
                f"zen-{stage} --cfg job prints every key")
    if isinstance(err, ValidationError):
        return f"config key {key}: {_config_message(err)}; fix the value: zen-{stage} {key}=<value>"
    return None


def _explain_os(err: OSError, stage: str) -> str | None:
    where = f" while writing {err.filename}" if err.filename else ""
    if err.errno in DISK_FULL:
        what = "no space left on device" if err.errno == errno.ENOSPC else "disk quota exceeded"
        rerun = RERUN_HINTS.get(stage, "rerun the same command")
        return f"{what}{where}; free space and {rerun.format(run_dir=_run_dir() or '<the same run folder>')}"
    if isinstance(err, PermissionError):
        target = err.filename or "an output path"
        return (f"permission denied on {target}; choose a folder you may write to "
                f"(zen-{stage} {OUTPUT_KEYS.get(stage, 'out_dir')}=<folder>) or fix its permissions")
    return None


def explain(err: BaseException, stage: str, data_root: str | None = None) -> str | None:
    """The one line for an expected failure of ``zen-<stage>``; None for a bug (keep its traceback).

    Args:
        err: what the stage raised.
        stage: the stage's name (``train``, ``generate``, ...), used in the hints.
        data_root: the run's ``paths.data``: a file missing under it, when it does not exist,
            is told as "set ZEN_DATA".
    """
    if isinstance(err, ZenInputError):
        return str(missing_data(err, data_root) or err)
    if isinstance(err, OmegaConfBaseException):
        return _explain_config(err, stage)
    if isinstance(err, OSError):
        return _explain_os(err, stage)
    return None


def _run_dir() -> Path | None:
    """Hydra's run folder, or None when not running under Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:
        return None


def _remove_empty_run_dir() -> None:
    """Delete Hydra's run folder if it holds nothing but Hydra's own config and log files."""
    run_dir = _run_dir()
    if run_dir is None:
        return
    if run_dir.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in run_dir.iterdir()):
        shutil.rmtree(run_dir, ignore_errors=True)
        for parent in list(run_dir.parents)[:2]:  # <log_dir>/<task_name> when left empty
            try:
                parent.rmdir()
            except OSError:
                break


def run_stage(fn: Callable[[DictConfig], object], cfg: DictConfig) -> None:
    """Call ``fn(cfg)``; on an expected failure print ``zen-<stage>: error: <line>``, exit 2.

    Nothing is left behind: the stages write through temporary files, and Hydra's run folder is
    removed when it holds only Hydra's own files. Unexpected exceptions propagate unchanged.
    """
    try:
        fn(cfg)
    except (ZenInputError, OmegaConfBaseException, OSError) as err:
        data_root = OmegaConf.select(cfg, "paths.data", default=None) if OmegaConf.is_config(cfg) else None
        message = explain(err, fn.__name__, data_root)
        if message is None:
            raise
        _remove_empty_run_dir()
        print(f"zen-{fn.__name__}: error: {' '.join(message.split())}", file=sys.stderr)
        sys.exit(2)


def _explain_command_line(err: CompactHydraException, stage: str) -> str:
    """One line for a command line Hydra refused: an unknown key, an override that does not parse,
    a config group option that does not exist."""
    cause = err.__cause__
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and cause.full_key:
        key = cause.full_key
        return (f"unknown key '{key}' on the command line: check its spelling in zen-{stage} --help "
                f"(or add a new key with +{key}=...)")
    if isinstance(err, OverrideParseException):
        reason = str(err.message).splitlines()[0]
        return (f"the override '{err.override}' does not parse ({reason}): write key=value, quoting "
                "values with spaces or brackets (https://hydra.cc/docs/advanced/override_grammar/basic)")
    if isinstance(err, MissingConfigException) and err.missing_cfg_file:
        group, _, option = err.missing_cfg_file.rpartition("/")
        known = ", ".join(err.options or []) or "none"
        return (f"no config '{option}' in the group '{group}' (the choices are {known}): put your "
                f"{option}.yaml in <dir>/{group}/ and add --config-dir <dir>")
    return f"{' '.join(str(err).split())} (zen-{stage} --help lists the keys and groups)"


def hydra_entry(fn: Callable[[DictConfig], object], config_name: str) -> Callable[[], None]:
    """The console entry point of a stage: Hydra parses the command line, :func:`run_stage` runs it.

    A command line Hydra cannot apply (an unknown key, a bad override, a missing config option)
    is one line and exit 2, like every other expected failure; Hydra alone prints several lines
    and exits 1.
    """
    from zen.cli import CONFIG_DIR

    @hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=config_name)
    def task(cfg: DictConfig) -> None:
        run_stage(fn, cfg)

    def main() -> None:
        previous = os.environ.get("HYDRA_FULL_ERROR")
        os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of printing and exiting 1
        try:
            task()
        except CompactHydraException as err:
            print(f"zen-{fn.__name__}: error: {_explain_command_line(err, fn.__name__)}", file=sys.stderr)
            sys.exit(2)
        finally:
            if previous is None:
                os.environ.pop("HYDRA_FULL_ERROR", None)
            else:
                os.environ["HYDRA_FULL_ERROR"] = previous

    main.__doc__ = f"Console entry point ``zen-{fn.__name__}``."
    return main
