"""Where Zen finds its configs (inside the package) and the real data (``ZEN_DATA``).

The configs ship in the package (``zen/configs/``); Hydra finds them there and ``--config-dir``
adds a folder of one's own. The data root is, in order: ``paths.data=`` on the command line,
the ``ZEN_DATA`` environment variable (``ZEN_SHARED_DATA``, its old name, still works), and
``../shared/data`` beside the repository when Zen runs from a clone. Installed from a wheel
with neither set, a stage that needs data says so in one line naming ``ZEN_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

from zen.schema import ZenInputError

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = PACKAGE_DIR / "configs"
DATA_ENV = ("ZEN_DATA", "ZEN_SHARED_DATA")
UNSET = "ZEN_DATA-is-not-set"  # the data root of an installed Zen without ZEN_DATA


def clone_dir() -> Path | None:
    """The repository folder when Zen runs from a clone (or an editable install), else None."""
    repo = PACKAGE_DIR.parent
    return repo if (repo / "pyproject.toml").is_file() and (repo / "zen" / "configs").is_dir() else None


def default_data_root() -> str:
    """``ZEN_DATA``, else ``../shared/data`` beside a clone, else :data:`UNSET`."""
    for var in DATA_ENV:
        if os.environ.get(var):
            return os.environ[var]
    repo = clone_dir()
    return str(repo.parent / "shared" / "data") if repo is not None else UNSET


def job_suffix() -> str:
    """``-<job number>`` inside a Hydra multirun (``-m seed=1,2``), else empty: one output per job."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
    except (ImportError, ValueError):
        return ""
    return f"-{hydra.job.num}" if hydra.mode == RunMode.MULTIRUN else ""


def register_resolvers() -> None:
    """The ``${zen_data:}`` and ``${zen_job:}`` resolvers the configs use (registered when ``zen``
    is imported)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("zen_data"):
        OmegaConf.register_new_resolver("zen_data", default_data_root)
    if not OmegaConf.has_resolver("zen_job"):
        OmegaConf.register_new_resolver("zen_job", job_suffix)


def missing_data_message(root: str | Path) -> str:
    return (f"the data folder {root} does not exist; set ZEN_DATA=<the folder that holds the data> "
            "or pass paths.data=<folder>")


def missing_data(err: ZenInputError, root: str | Path | None) -> ZenInputError | None:
    """The one-line "set ZEN_DATA" error when ``err`` is about a file under a data root that does
    not exist (None otherwise: the loader's own message stands)."""
    if root is None or not err.source or Path(root).is_dir():
        return None
    root, source = Path(root).absolute(), Path(err.source).absolute()
    return ZenInputError(missing_data_message(root)) if source.is_relative_to(root) else None
