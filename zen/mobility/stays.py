"""Stays: where each user is, as a flat table of intervals, and the batched "where is u at t" lookup."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zen.mobility.places import PLACE_ID_BASE
from zen.schema import ZenInputError

_META = b"zen_stays"  # Parquet schema metadata: period_s and n_users


def _utc(start: pd.Timestamp | str) -> pd.Timestamp:
    start = pd.Timestamp(start)
    return start.tz_convert("UTC") if start.tzinfo else start.tz_localize("UTC")


def _timestamps(t0: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    offsets = pd.to_timedelta(np.round(seconds * 1e6).astype("int64"), unit="us")
    return pd.Series(t0 + offsets).astype("datetime64[us, UTC]")


@dataclass
class Stays:
    """Stays of a shard of users, all arrays of shape ``[n_stays]``, sorted by (user, start_s).

    Each user's stays tile ``[0, period_s)`` with no gap and no overlap, and two consecutive stays
    of a user are at different places.

    Attributes:
        user: index of the user in the shard, 0..n_users-1 (int64).
        start_s: stay start, seconds since the simulation start (float64).
        end_s: stay end, seconds since the simulation start (float64), > start_s.
        place: row index into the places table (int64).
        period_s: length of the simulated period in seconds (days * 86400).
        n_users: number of users in the shard (also those with a single stay).
        serving: optional serving-cell process: :meth:`locate` then returns the place serving
            the user at each time (a stay's own place or a neighbour), not the stay's place.
    """

    user: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    place: np.ndarray
    period_s: float
    n_users: int
    serving: object | None = None  # a zen.mobility.serving.ServingProcess applied by locate()

    def __len__(self) -> int:
        return len(self.user)

    @property
    def duration_s(self) -> np.ndarray:
        return self.end_s - self.start_s

    def to_frame(self, user_ids: np.ndarray, start: pd.Timestamp | str) -> pd.DataFrame:
        """Table ``user_id, start, end, place_id`` with UTC timestamps (microseconds).

        ``place_id`` is the published id (:data:`zen.mobility.places.PLACE_ID_BASE` + the row of
        the places table), the ``place_id`` of :func:`zen.mobility.places.published_places`.

        Args:
            user_ids: ``[n_users]`` population ids of the shard's users (``user_ids[user]``).
            start: the timestamp that ``start_s == 0`` stands for.
        """
        user_ids = np.asarray(user_ids)
        if len(user_ids) != self.n_users:
            raise ZenInputError(f"user_ids has {len(user_ids)} entries for {self.n_users} users",
                                "Stays.to_frame", column="user_ids")
        t0 = _utc(start)
        return pd.DataFrame({
            "user_id": user_ids[self.user].astype("int64"),
            "start": _timestamps(t0, self.start_s),
            "end": _timestamps(t0, self.end_s),
            "place_id": PLACE_ID_BASE + self.place.astype("int64"),
        })

    def to_table(self) -> pa.Table:
        """These stays as an Arrow table, period and shard size in its metadata (:meth:`from_table`)."""
        table = pa.table({"user": self.user, "start_s": self.start_s, "end_s": self.end_s,
                          "place": self.place})
        meta = json.dumps({"period_s": float(self.period_s), "n_users": int(self.n_users)}).encode()
        return table.replace_schema_metadata({_META: meta})

    @classmethod
    def from_table(cls, table: pa.Table, source: str = "<stays>") -> Stays:
        """Stays from a table made by :meth:`to_table` (``source`` names it in errors)."""
        try:
            meta = json.loads((table.schema.metadata or {})[_META])
            col = {name: table.column(name).to_numpy() for name in ("user", "start_s", "end_s", "place")}
        except (KeyError, pa.ArrowException, ValueError) as err:
            raise ZenInputError(f"not a stays file written by Stays.save ({err})", source) from err
        return cls(period_s=float(meta["period_s"]), n_users=int(meta["n_users"]), **col)

    def save(self, path: str | Path) -> Path:
        """Write these stays to a Parquet file (atomically), period and shard size included."""
        from zen.io import atomic_path

        with atomic_path(path) as tmp:
            pq.write_table(self.to_table(), tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Stays:
        """Stays written by :meth:`save`."""
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise ZenInputError(f"not a stays file written by Stays.save ({err})", str(path)) from err
        return cls.from_table(table, str(path))

    def locate(self, user: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Place index of each (user, time) pair, ``-1`` outside ``[0, period_s)`` or unknown users.

        One ``searchsorted`` over a (user, start) key: O((stays + queries) log stays), no loop.

        Args:
            user: ``[n]`` shard user indices.
            t_s: ``[n]`` seconds since the simulation start.
        Returns:
            ``[n]`` int64 place indices.
        """
        user = np.asarray(user, dtype=np.int64)
        t_s = np.asarray(t_s, dtype=np.float64)
        span = float(self.period_s) + 1.0
        key = self.user.astype(np.float64) * span + self.start_s
        query = user.astype(np.float64) * span + t_s
        index = np.searchsorted(key, query, side="right") - 1
        valid = (t_s >= 0) & (t_s < self.period_s) & (user >= 0) & (user < self.n_users) & (index >= 0)
        out = np.full(len(user), -1, dtype=np.int64)
        out[valid] = self.place[index[valid]]
        if self.serving is not None:  # the serving place at each observation (zen.mobility.serving)
            out[valid] = self.serving.observe(index[valid], t_s[valid], out[valid], user[valid])
        return out


def stays_from_segments(user: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, place: np.ndarray,
                        period_s: float, n_users: int) -> Stays:
    """Clip segments to ``[0, period_s)``, drop empty ones, sort by user and merge repeats of a place.

    Segments of one user must be given in time order, each starting where the previous one ended
    (the emulator emits them that way); the stable sort by user keeps that order.
    """
    end_s = np.minimum(end_s, period_s)
    start_s = np.maximum(start_s, 0.0)
    keep = end_s > start_s
    user, start_s, end_s, place = user[keep], start_s[keep], end_s[keep], place[keep]
    order = np.argsort(user, kind="stable")
    user, start_s, end_s, place = user[order], start_s[order], end_s[order], place[order]
    first = np.ones(len(user), dtype=bool)
    first[1:] = (user[1:] != user[:-1]) | (place[1:] != place[:-1])
    heads = np.flatnonzero(first)
    tails = np.r_[heads[1:] - 1, len(user) - 1] if len(heads) else heads
    return Stays(user=user[heads].astype(np.int64), start_s=start_s[heads].astype(np.float64),
                 end_s=end_s[tails].astype(np.float64), place=place[heads].astype(np.int64),
                 period_s=float(period_s), n_users=int(n_users))
