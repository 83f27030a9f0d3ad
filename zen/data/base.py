"""The one records container: a population's records, its observation window and its cells.

Loaders return it (real data), the evaluation compares two of them, and a generated dataset
folder read back (:class:`zen.io.dataset.Dataset`) is one too.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd


@dataclass
class CDRData:
    """Records of one population (real or synthetic) over one observation window.

    Attributes:
        records: the records table (``zen.schema.RECORDS``), sorted by user then time.
        start: first instant of the observation window (UTC).
        days: length of the observation window in days.
        friendships: optional undirected edges ``src, dst`` (e.g. Facebook friends).
        antennas: optional antennas table locating ``cell_id`` (None when the data has no cells).
        name: a short name for reports (the source, or ``synthetic``, ``holdout``, ``train``...).
        meta: where it came from (source, split, path...).

    Everything after ``days`` is keyword-only.
    """

    records: pd.DataFrame
    start: pd.Timestamp
    days: float
    _: KW_ONLY
    friendships: pd.DataFrame | None = None
    antennas: pd.DataFrame | None = None
    name: str = "cdr"
    meta: dict = field(default_factory=dict)

    @property
    def user_ids(self) -> np.ndarray:
        return np.sort(self.records["user_id"].unique())

    @property
    def n_users(self) -> int:
        return int(self.records["user_id"].nunique())

    @property
    def label(self) -> str:
        """The ``name`` (what the evaluation calls it)."""
        return self.name

    def subset(self, user_ids: np.ndarray) -> CDRData:
        """The records of these users only (records *of* them; counterparts may be anyone)."""
        keep = self.records["user_id"].isin(user_ids)
        return CDRData(self.records[keep].reset_index(drop=True), self.start, self.days,
                       friendships=self.friendships, antennas=self.antennas, name=self.name,
                       meta=dict(self.meta))

    @cached_property
    def features(self) -> pd.DataFrame:
        """Individual features of each user (:func:`zen.measures.individual.user_features`)."""
        from zen.measures.individual import user_features

        return user_features(self.records, self.days, self.antennas)

    @cached_property
    def has_cells(self) -> bool:
        """True when the antennas table locates at least half the records' cells."""
        from zen.measures.mobility import has_cells

        return has_cells(self.records, self.antennas)

    def event_types(self) -> list[str]:
        """Event types that occur in the records (``call``, ``sms``, ``data``)."""
        present = set(self.records["event"].astype(str).unique())
        return [e for e in ("call", "sms", "data") if e in present]

    def hours_since_start(self) -> np.ndarray:
        """Whole hours from the window start to each record. ``[records]``."""
        delta = (self.records["timestamp"] - self.start).dt.total_seconds().to_numpy()
        return np.floor(delta / 3600.0).astype(np.int64)
