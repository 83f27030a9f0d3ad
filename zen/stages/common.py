"""Small helpers shared by the stages: device choice, data loading with the split, seeds."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from zen.data import CDRData, UserSplit, load_dataset, split_users
from zen.schema import ZenInputError

log = logging.getLogger("zen")


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_real(cfg_data: DictConfig) -> tuple[CDRData, UserSplit]:
    """Load the configured real data and its deterministic user split."""
    loader = OmegaConf.to_container(cfg_data.loader, resolve=True)
    data = load_dataset(cfg_data.name, **loader)
    split = split_users(data.user_ids, **OmegaConf.to_container(cfg_data.split, resolve=True))
    return data, split


def shared_data_dir(cfg: DictConfig) -> Path:
    return Path(cfg.paths.shared_data)


def require(cfg: DictConfig, key: str, how: str) -> None:
    """One line when the mandatory ``key`` (``???`` in the config) was not given."""
    if OmegaConf.is_missing(cfg, key):
        raise ZenInputError(f"{key} is required: {how}")


def config_number(cfg: DictConfig, key: str, kind: type = int, minimum: float | None = None,
                  above: float | None = None) -> int | float:
    """``cfg[key]`` as a finite int or float within bounds, or one line naming the key and the fix."""
    value = cfg[key]
    bound = f" >= {minimum:g}" if minimum is not None else ""
    bound += f" > {above:g}" if above is not None else ""
    wanted = f"{key} must be {'an integer' if kind is int else 'a number'}{bound}"
    if isinstance(value, bool):
        raise ZenInputError(f"{wanted}, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ZenInputError(f"{wanted}, not {value!r}") from err
    if not math.isfinite(number) or (kind is int and number != int(number)) \
            or (minimum is not None and number < minimum) or (above is not None and number <= above):
        raise ZenInputError(f"{wanted}, not {value!r}")
    return int(number) if kind is int else number


def config_seed(cfg: DictConfig) -> int:
    """The run's seed: an integer in [0, 2**63)."""
    seed = config_number(cfg, "seed", int, minimum=0)
    if seed >= 1 << 63:
        raise ZenInputError(f"seed must be below 2**63, not {seed}")
    return seed
