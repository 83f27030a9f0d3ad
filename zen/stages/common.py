"""Small helpers shared by the stages: device choice, data loading with the split, seeds."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from zen.checks import config_number, config_seed, require, resolve_device  # noqa: F401 (re-exported)
from zen.data import CDRData, UserSplit, load_dataset, split_users

log = logging.getLogger("zen")


def load_real(cfg_data: DictConfig) -> tuple[CDRData, UserSplit]:
    """Load the configured real data and its deterministic user split."""
    loader = OmegaConf.to_container(cfg_data.loader, resolve=True)
    data = load_dataset(cfg_data.name, **loader)
    split = split_users(data.user_ids, **OmegaConf.to_container(cfg_data.split, resolve=True))
    return data, split


def shared_data_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.shared_data)
