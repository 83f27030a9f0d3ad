"""The container every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class CDRData:
    """Real CDRs in Zen's schema.

    Attributes:
        records: the records table (``zen.schema.RECORDS``), sorted by user then time.
        start: first instant of the observation window (UTC).
        days: length of the observation window in days.
        friendships: optional undirected edges ``src, dst`` (e.g. Facebook friends).
        antennas: optional antennas table.
        name: a short name of the source, for reports.
    """

    records: pd.DataFrame
    start: pd.Timestamp
    days: float
    friendships: pd.DataFrame | None = None
    antennas: pd.DataFrame | None = None
    name: str = "cdr"
    meta: dict = field(default_factory=dict)

    @property
    def user_ids(self) -> np.ndarray:
        return np.sort(self.records["user_id"].unique())

    def subset(self, user_ids: np.ndarray) -> CDRData:
        """The records of these users only (records *of* them; counterparts may be anyone)."""
        keep = self.records["user_id"].isin(user_ids)
        return CDRData(self.records[keep].reset_index(drop=True), self.start, self.days,
                       self.friendships, self.antennas, self.name, dict(self.meta))
