"""Calibrating the mobility emulator on what an operator has: each user's cells at event times.

Filled in below; the train stage's entry point is :func:`calibrate_mobility`.
"""

from __future__ import annotations

from pathlib import Path

from zen.mobility.calibration import calibrate
from zen.mobility.params import MobilityParams


def calibrate_mobility(cfg_mobility: dict, shared_data: str | Path, data=None, split=None,
                       seed: int = 0) -> tuple[MobilityParams, dict | None]:
    """The train stage's entry: defaults, a GPS calibration or a cell-sequence calibration."""
    return calibrate(cfg_mobility, shared_data), None
