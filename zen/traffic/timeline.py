"""The contract between traffic models and the trace assembler.

A traffic model samples, for a population of ``n_users`` synthetic users indexed 0..n-1, a
flat table of events sorted by (user, time). Counterparts are not ids yet: the model says
"the k-th strongest tie of this user" (``contact_rank = k``), "someone new"
(:data:`CONTACT_NEW`), or "nobody" (:data:`CONTACT_NONE`, data sessions). The assembler turns
ranks into ids with the social graph, and times into timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from zen.schema import DIRECTIONS, EVENTS

CONTACT_NEW = -1
CONTACT_NONE = -2
EVENT_CODES = {name: i for i, name in enumerate(EVENTS)}  # call 0, sms 1, data 2
DIRECTION_CODES = {name: i for i, name in enumerate(DIRECTIONS)}  # out 0, in 1


@dataclass
class Timelines:
    """Sampled events, one entry per event, all arrays of shape ``[n_events]``.

    Attributes:
        user: population index of the user (int64, 0..n_users-1), non-decreasing.
        t_s: event start in seconds since the start of the generated period (float64).
        event: index into ``zen.schema.EVENTS`` (int8).
        direction: index into ``zen.schema.DIRECTIONS`` (int8).
        duration_s: seconds (float32); 0 for SMS and missed calls.
        answered: False for missed calls (bool).
        contact_rank: k >= 0 the k-th strongest tie, -1 a new contact, -2 none (int16).
        volume_bytes: data volume, -1 if unknown (int64).
    """

    user: np.ndarray
    t_s: np.ndarray
    event: np.ndarray
    direction: np.ndarray
    duration_s: np.ndarray
    answered: np.ndarray
    contact_rank: np.ndarray
    volume_bytes: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    @classmethod
    def concat(cls, parts: list[Timelines]) -> Timelines:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})

    def take(self, index: np.ndarray) -> Timelines:
        return Timelines(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def sorted(self) -> Timelines:
        return self.take(np.lexsort((self.t_s, self.user)))

    def to_records(self, start: pd.Timestamp, user_ids: np.ndarray | None = None) -> pd.DataFrame:
        """A records table (schema ``records``) with counterpart and cell unknown (-1).

        The assembler fills ``counterpart_id`` and ``cell_id``; this is for models used alone.
        """
        uid = self.user if user_ids is None else np.asarray(user_ids)[self.user]
        ts = pd.Timestamp(start).tz_convert("UTC") if pd.Timestamp(start).tzinfo else \
            pd.Timestamp(start, tz="UTC")
        return pd.DataFrame({
            "user_id": uid.astype("int64"),
            "timestamp": (ts + pd.to_timedelta(np.round(self.t_s * 1e6).astype("int64"),
                                                unit="us")).astype("datetime64[us, UTC]"),
            "event": pd.Categorical.from_codes(self.event.astype("int64"), list(EVENTS)),
            "direction": pd.Categorical.from_codes(self.direction.astype("int64"),
                                                   list(DIRECTIONS)),
            "duration_s": self.duration_s.astype("float32"),
            "answered": self.answered.astype(bool),
            "counterpart_id": np.full(len(self), -1, "int64"),
            "cell_id": np.full(len(self), -1, "int64"),
            "volume_bytes": self.volume_bytes.astype("int64"),
        })

    @classmethod
    def from_records(cls, records: pd.DataFrame, start: pd.Timestamp,
                     user_index: np.ndarray | None = None) -> Timelines:
        """Encode real records (sorted by user, time) as timelines; ranks by contact frequency.

        ``contact_rank`` of an event with a counterpart is the rank of that counterpart among
        the user's contacts by number of events over the whole record (0 = most frequent).
        """
        df = records.sort_values(["user_id", "timestamp"], kind="stable")
        uids = np.sort(df["user_id"].unique()) if user_index is None else user_index
        user = np.searchsorted(uids, df["user_id"].to_numpy())
        t_s = (df["timestamp"] - pd.Timestamp(start)).dt.total_seconds().to_numpy()
        cp = df["counterpart_id"].to_numpy()
        rank = contact_ranks(df["user_id"].to_numpy(), cp)
        return cls(
            user=user.astype("int64"), t_s=t_s.astype("float64"),
            event=df["event"].cat.codes.to_numpy().astype("int8"),
            direction=df["direction"].cat.codes.to_numpy().astype("int8"),
            duration_s=df["duration_s"].to_numpy().astype("float32"),
            answered=df["answered"].to_numpy().astype(bool),
            contact_rank=rank.astype("int16"),
            volume_bytes=df["volume_bytes"].to_numpy().astype("int64"))


def contact_ranks(user_id: np.ndarray, counterpart_id: np.ndarray) -> np.ndarray:
    """Rank of each event's counterpart among its user's contacts by event count (0 = top).

    Ties are broken by the counterpart id; events without a counterpart (-1) get
    :data:`CONTACT_NONE`. Shape ``[n_events]``.
    """
    has = counterpart_id >= 0
    out = np.full(len(user_id), CONTACT_NONE, dtype=np.int64)
    if not has.any():
        return out
    pairs = pd.DataFrame({"u": user_id[has], "c": counterpart_id[has]})
    counts = pairs.value_counts().rename("n").reset_index()
    counts = counts.sort_values(["u", "n", "c"], ascending=[True, False, True])
    counts["rank"] = counts.groupby("u").cumcount()
    ranked = pairs.merge(counts, on=["u", "c"], how="left")
    out[has] = ranked["rank"].to_numpy()
    return out
