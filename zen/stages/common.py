"""Small helpers shared by the stages: device choice, data loading with the split, seeds."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from zen.checks import config_number, config_seed, require, resolve_device  # noqa: F401 (re-exported)
from zen.data import CDRData, UserSplit, load_dataset, split_users
from zen.schema import ZenInputError

log = logging.getLogger("zen")


def load_real(cfg_data: DictConfig, keep: tuple[str, ...] | None = None) -> tuple[CDRData, UserSplit]:
    """Load the configured real data and its deterministic user split.

    Args:
        keep: the parts of the split to read (``train``, ``val``, ``holdout``), where the loader
            takes the split (``data.loader.split``); all users otherwise.
    """
    loader = OmegaConf.to_container(cfg_data.loader, resolve=True)
    if keep is not None and loader.get("split") is not None:
        loader["keep"] = list(keep)
    data = load_dataset(cfg_data.name, **loader)
    split = data.meta.get("split") or split_users(data.user_ids,
                                                   **OmegaConf.to_container(cfg_data.split, resolve=True))
    return data, split


def shared_data_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.shared_data)


def _told_on_command_line(prefix: str) -> bool:
    """Whether a ``prefix...=`` override was given on the command line (False outside Hydra)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        overrides = HydraConfig.get().overrides.task
    except ValueError:
        return False
    return any(o.lstrip("+~").split("=")[0].split(".")[0] == prefix for o in overrides)


def model_record(manifest: dict) -> tuple[Path | None, dict]:
    """The model folder that made a synthetic dataset (its manifest's ``model_dir``) and that
    folder's ``model.json`` (None and {} when the folder or the file is gone)."""
    from zen.io.model_files import read_json

    model_dir = Path(str(manifest.get("model_dir", "")))
    if not manifest.get("model_dir") or not (model_dir / "model.json").is_file():
        return None, {}
    return model_dir, read_json(model_dir / "model.json", "the model's model.json")


def with_model_data(cfg: DictConfig, record: dict) -> DictConfig:
    """``cfg`` with ``data`` (source, loader, split) taken from the model that made the synthetic
    data (its ``model.json`` ``record``, from :func:`model_record`).

    ``zen-evaluate`` compares like with like: the real users are those of the data the model was
    trained on, unless ``data_from_model=false`` or ``data=...`` was given.
    """
    from omegaconf import open_dict

    if not cfg.get("data_from_model", True) or _told_on_command_line("data") or not record:
        return cfg
    model_data = record.get("config", {}).get("data")
    if not model_data:
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.data = model_data
        cfg.model_split_sha256 = (record.get("split") or {}).get("sha256")  # checked by zen-evaluate
    log.info("real users from the model's data: %s", model_data.get("name"))
    return cfg


def check_window(synthetic_days: float, real_days: float, real_label: str,
                 policy: str = "warn") -> str | None:
    """Refuse (``refuse``) or warn loudly (``warn``) when the synthetic and real windows differ in length.

    Returns:
        the warning (None when the windows match or ``policy`` is ``ignore``).
    """
    if abs(float(synthetic_days) - float(real_days)) < 1e-6 or policy == "ignore":
        return None
    message = (f"the synthetic data covers {synthetic_days:g} days and the real users ({real_label}) "
               f"{real_days:g} days: per-day rates, weekly profiles and contact counts compare different "
               f"windows; generate days={real_days:g} (or pass window_mismatch=ignore)")
    if policy == "refuse":
        raise ZenInputError(message)
    import sys

    print(f"zen-evaluate: WARNING: {message}", file=sys.stderr)
    return message
