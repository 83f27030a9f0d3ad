"""Checks of user-given settings that fail with one line naming the key and the fix.

They take any mapping (a Hydra ``DictConfig`` or a plain ``dict``), so the library and the
command-line stages refuse the same values with the same words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from zen.schema import ZenInputError


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto`` → CUDA when present, else CPU; otherwise the named device."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def require(cfg: Mapping, key: str, how: str) -> None:
    """One line when the mandatory ``key`` (``???`` in a config, or absent) was not given."""
    from omegaconf import OmegaConf

    missing = OmegaConf.is_missing(cfg, key) if OmegaConf.is_config(cfg) else cfg.get(key) in (None, "???")
    if missing:
        raise ZenInputError(f"{key} is required: {how}")


def config_number(cfg: Mapping, key: str, kind: type = int, minimum: float | None = None,
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


def config_seed(cfg: Mapping, key: str = "seed") -> int:
    """The run's seed: an integer in [0, 2**63)."""
    seed = config_number(cfg, key, int, minimum=0)
    if seed >= 1 << 63:
        raise ZenInputError(f"{key} must be below 2**63, not {seed}")
    return seed
