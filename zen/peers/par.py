"""Zen records <-> SDV PARSynthesizer frames.

One sequence per user: ``user_id`` is the sequence key and ``t_s`` (seconds since the start)
the sequence index, which PAR models as the difference between consecutive values, i.e. the
inter-event time. Each event carries ``event``, ``direction``, ``duration_s`` and ``answered``;
the user's ``activity`` level is the context column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.peers.records import decoded_records
from zen.schema import DIRECTIONS, EVENTS

PAR_COLUMNS = ("user_id", "t_s", "event", "direction", "duration_s", "answered", "activity")


def par_metadata() -> dict:
    """SDV single-table metadata (dict form, for ``Metadata.load_from_dict``) of the PAR frame."""
    return {
        "METADATA_SPEC_VERSION": "V1",
        "tables": {"records": {
            "columns": {
                "user_id": {"sdtype": "id"},
                "t_s": {"sdtype": "numerical"},
                "event": {"sdtype": "categorical"},
                "direction": {"sdtype": "categorical"},
                "duration_s": {"sdtype": "numerical"},
                "answered": {"sdtype": "boolean"},
                "activity": {"sdtype": "categorical"},
            },
            "sequence_key": "user_id",
            "sequence_index": "t_s",
        }},
        "relationships": [],
    }


def records_to_par_frame(records: pd.DataFrame, start: pd.Timestamp, days: float,
                         activity: pd.Series) -> pd.DataFrame:
    """The PAR training frame of the users in ``activity`` (index = user id).

    Args:
        records: records table (``zen.schema.RECORDS``).
        start: start of the observation window (UTC).
        days: its length (days); events outside ``[0, days)`` are dropped.
        activity: activity level per user id.

    Returns:
        A frame with :data:`PAR_COLUMNS`, sorted by user and time; ``event`` and ``direction``
        as plain strings, ``activity`` as an int.
    """
    t = (records["timestamp"] - pd.Timestamp(start)).dt.total_seconds().to_numpy()
    keep = (t >= 0) & (t < days * 86400.0) & records["user_id"].isin(activity.index).to_numpy()
    df = records.loc[keep]
    frame = pd.DataFrame({
        "user_id": df["user_id"].to_numpy(np.int64),
        "t_s": t[keep],
        "event": df["event"].astype(str).to_numpy(),
        "direction": df["direction"].astype(str).to_numpy(),
        "duration_s": df["duration_s"].to_numpy(np.float64),
        "answered": df["answered"].to_numpy(bool),
        "activity": activity.reindex(df["user_id"].to_numpy()).to_numpy(np.int64),
    })
    return frame.sort_values(["user_id", "t_s"], kind="stable").reset_index(drop=True)


def par_frame_to_records(frame: pd.DataFrame, start: pd.Timestamp,
                         days: float) -> tuple[pd.DataFrame, dict[str, int]]:
    """Decode a sampled PAR frame into records; sequence keys become users 0..n-1.

    Values are brought back into the schema: events outside ``[0, days)`` and rows with an
    unknown event or direction are dropped and counted; missing numbers count as 0; SMS have
    duration 0, only calls can be unanswered, data sessions are outgoing.

    Returns:
        The records table (counterpart and cell unknown) and counts of repairs:
        ``events_outside_period``, ``events_unknown_category``.
    """
    key = pd.factorize(frame["user_id"], sort=True)[0].astype(np.int64)
    t = pd.to_numeric(frame["t_s"], errors="coerce").to_numpy(dtype=float)
    event = pd.Index(EVENTS).get_indexer(frame["event"].astype(str))
    direction = pd.Index(DIRECTIONS).get_indexer(frame["direction"].astype(str))
    inside = np.isfinite(t) & (t >= 0) & (t < days * 86400.0)
    known = (event >= 0) & (direction >= 0)
    keep = inside & known
    duration = pd.to_numeric(frame["duration_s"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    answered = frame["answered"].fillna(True).to_numpy(dtype=bool)
    records = decoded_records(key[keep], t[keep], event[keep].astype(np.int64),
                       direction[keep].astype(np.int64), duration[keep], answered[keep], start)
    repairs = {"events_outside_period": int((~inside).sum()),
               "events_unknown_category": int((inside & ~known).sum())}
    return records, repairs
