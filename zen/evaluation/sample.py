"""Old name of the evaluation's records container, which is :class:`zen.data.base.CDRData`."""

from __future__ import annotations

import pandas as pd

from zen.data.base import CDRData


def CDRSample(records: pd.DataFrame, start: pd.Timestamp, days: float,  # noqa: N802  (old class name)
              antennas: pd.DataFrame | None = None, label: str = "sample",
              meta: dict | None = None) -> CDRData:
    """A :class:`~zen.data.base.CDRData` from the old positional order (``label`` is its ``name``)."""
    return CDRData(records, start, days, antennas=antennas, name=label, meta=dict(meta or {}))
