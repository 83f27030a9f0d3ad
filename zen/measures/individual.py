"""Individual features: one value per user, computed for the whole population at once.

Every feature is a column of :func:`user_features`; users for whom a feature is undefined (e.g. the
mean call duration of a user without answered calls) get NaN there, and comparisons drop NaNs.
Mobility features (distinct cells, radius of gyration, cell entropy) need ``cell_id`` and an
antennas table with ``lat``/``lon``; their measures live in :mod:`zen.measures.mobility`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.measures.mobility import cell_coordinates, cell_entropy, has_cells, radius_of_gyration
from zen.measures.traffic import epoch_seconds

__all__ = ["MOBILITY_FEATURES", "TRAFFIC_FEATURES", "user_features"]

NIGHT_HOURS = (0, 6)  # [start, end) hour of the day (UTC) that counts as night

#: Features computed from events alone (always available).
TRAFFIC_FEATURES = (
    "events_per_day", "calls_per_day", "sms_per_day", "data_per_day", "inter_event_median_s",
    "call_duration_mean_s", "answered_share", "night_share", "weekend_share", "distinct_contacts",
    "top_contact_share", "burstiness",
)
#: Features that need cells with coordinates.
MOBILITY_FEATURES = ("distinct_cells", "radius_of_gyration_m", "cell_entropy")


def _per_user(values: pd.Series, users: pd.Index, fill: float = np.nan) -> np.ndarray:
    return values.reindex(users, fill_value=fill).to_numpy(dtype=float)


def _inter_event_stats(records: pd.DataFrame, users: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Per-user median inter-event time (s) and burstiness (Goh & Barabási, EPL 81:48002, 2008).

    Burstiness ``B = (sigma - mu) / (sigma + mu)`` of a user's inter-event times: -1 periodic,
    0 Poisson, towards 1 bursty. NaN for users with fewer than two gaps.
    """
    t = epoch_seconds(records["timestamp"])
    u = records["user_id"].to_numpy()
    same = u[1:] == u[:-1]
    gaps = pd.DataFrame({"user_id": u[1:][same], "gap": np.diff(t)[same]})
    grouped = gaps.groupby("user_id")["gap"]
    stats = grouped.agg(["median", "mean", "std", "size"])
    mu, sigma = stats["mean"], stats["std"].fillna(0.0)
    burst = ((sigma - mu) / (sigma + mu)).where((stats["size"] >= 2) & (sigma + mu > 0))
    return _per_user(stats["median"], users), _per_user(burst, users)


def _contact_stats(records: pd.DataFrame, users: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Per-user number of distinct counterparts and share of contact events with the top one."""
    known = records[records["counterpart_id"] >= 0]
    pair_counts = known.groupby(["user_id", "counterpart_id"]).size()
    per_user = pair_counts.groupby(level=0)
    distinct = per_user.size()
    top_share = per_user.max() / per_user.sum()
    return _per_user(distinct, users, fill=0.0), _per_user(top_share, users)


def user_features(records: pd.DataFrame, days: float,
                  antennas: pd.DataFrame | None = None) -> pd.DataFrame:
    """Individual features of every user that has records.

    Args:
        records: records table in Zen's schema, sorted by user then time.
        days: length of the observation window (days), to turn counts into rates.
        antennas: optional antennas table; mobility features are added when it locates the cells.

    Returns:
        A frame indexed by ``user_id`` with the columns of :data:`TRAFFIC_FEATURES` (rates per
        day, times in seconds, shares in [0, 1]) and, with cells, :data:`MOBILITY_FEATURES`
        (radius of gyration in metres, entropy in nats). ``[users, features]``.
    """
    records = records.sort_values(["user_id", "timestamp"], kind="stable")
    users = pd.Index(np.unique(records["user_id"].to_numpy()), name="user_id")
    by_user = records.groupby("user_id")
    n_events = by_user.size().reindex(users).to_numpy(dtype=float)
    per_type = records.groupby(["user_id", "event"], observed=False).size().unstack(fill_value=0)
    hours = records["timestamp"].dt.hour
    night = (hours >= NIGHT_HOURS[0]) & (hours < NIGHT_HOURS[1])
    weekend = records["timestamp"].dt.day_of_week >= 5
    calls = records[records["event"] == "call"]
    answered = calls[calls["answered"]]
    iet_median, burst = _inter_event_stats(records, users)
    distinct, top_share = _contact_stats(records, users)
    out = pd.DataFrame(index=users)
    out["events_per_day"] = n_events / days
    for kind in ("call", "sms", "data"):
        column = per_type[kind] if kind in per_type else pd.Series(dtype=float)
        out[f"{'calls' if kind == 'call' else kind}_per_day"] = _per_user(column, users, 0.0) / days
    out["inter_event_median_s"] = iet_median
    out["call_duration_mean_s"] = _per_user(answered.groupby("user_id")["duration_s"].mean(), users)
    out["answered_share"] = _per_user(calls.groupby("user_id")["answered"].mean(), users)
    out["night_share"] = _per_user(night.groupby(records["user_id"]).mean(), users)
    out["weekend_share"] = _per_user(weekend.groupby(records["user_id"]).mean(), users)
    out["distinct_contacts"] = distinct
    out["top_contact_share"] = top_share
    out["burstiness"] = burst
    if has_cells(records, antennas):
        located = cell_coordinates(records, antennas)
        uid = located["user_id"].to_numpy()
        out["distinct_cells"] = _per_user(located.groupby("user_id")["cell_id"].nunique(), users, 0.0)
        out["radius_of_gyration_m"] = _per_user(
            radius_of_gyration(uid, located["lat"].to_numpy(), located["lon"].to_numpy()), users)
        out["cell_entropy"] = _per_user(cell_entropy(uid, located["cell_id"].to_numpy()), users)
    return out
