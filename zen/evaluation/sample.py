"""One side of a comparison: a population's records, its window and (optionally) its cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from zen.evaluation.individual import has_cells, user_features


@dataclass
class CDRSample:
    """Records of one population (real or synthetic) over one observation window.

    Attributes:
        records: records table in Zen's schema, sorted by user then time.
        start: first instant of the window (UTC).
        days: window length (days).
        antennas: antennas table locating ``cell_id`` (None when the data has no cells).
        label: short name for reports (``synthetic``, ``holdout``, ``train``...).
    """

    records: pd.DataFrame
    start: pd.Timestamp
    days: float
    antennas: pd.DataFrame | None = None
    label: str = "sample"
    meta: dict = field(default_factory=dict)

    @cached_property
    def features(self) -> pd.DataFrame:
        """Individual features of each user (:func:`zen.evaluation.individual.user_features`)."""
        return user_features(self.records, self.days, self.antennas)

    @cached_property
    def has_cells(self) -> bool:
        return has_cells(self.records, self.antennas)

    @property
    def n_users(self) -> int:
        return int(self.records["user_id"].nunique())

    def event_types(self) -> list[str]:
        """Event types that occur in the records (``call``, ``sms``, ``data``)."""
        present = set(self.records["event"].astype(str).unique())
        return [e for e in ("call", "sms", "data") if e in present]

    def hours_since_start(self) -> np.ndarray:
        """Whole hours from the window start to each record. ``[records]``."""
        delta = (self.records["timestamp"] - self.start).dt.total_seconds().to_numpy()
        return np.floor(delta / 3600.0).astype(np.int64)
