"""Zen records <-> DGAN arrays (gretel-synthetics ``timeseries_dgan``).

Each user's record is cut into windows of ``window_days`` days (28 = one sequence per user,
7 = one per user-week). A window becomes ``max_len`` time steps of :data:`DGAN_FEATURES`, padded
with ``present = 0`` after its last event and truncated after ``max_len`` events. The user's
activity level is the attribute of each of its windows. Back from DGAN, generated windows are
grouped by activity level into synthetic users of ``days / window_days`` windows each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zen.peers.records import decoded_records
from zen.schema import DIRECTIONS, EVENTS

DGAN_FEATURES = ("present", "event", "direction", "log_gap_s", "log_duration_s", "answered")
DISCRETE_FEATURES = ("present", "event", "direction", "answered")
F = {name: i for i, name in enumerate(DGAN_FEATURES)}


@dataclass
class DGANArrays:
    """One DGAN training set.

    Attributes:
        features: float32 ``[windows, max_len, len(DGAN_FEATURES)]``. ``present`` is 1 for an
            event and 0 for padding; ``event``/``direction`` are codes into ``zen.schema.EVENTS``
            / ``DIRECTIONS``; ``log_gap_s`` is ``log1p`` of the seconds since the previous event
            of the window (the first: since the window start); ``log_duration_s`` is
            ``log1p(duration_s)``; ``answered`` is 0/1.
        attributes: float32 ``[windows, 1]``: the user's activity level.
        window_user: user id of each window ``[windows]``.
        window_index: position of each window in its user's record ``[windows]``.
        truncated_events: events dropped because a window held more than ``max_len``.
        window_days: window length (days).
    """

    features: np.ndarray
    attributes: np.ndarray
    window_user: np.ndarray
    window_index: np.ndarray
    truncated_events: int
    window_days: float


def records_to_dgan_arrays(records: pd.DataFrame, start: pd.Timestamp, days: float,
                           activity: pd.Series, max_len: int, window_days: float) -> DGANArrays:
    """Encode records (one or more users) as padded DGAN windows.

    Args:
        records: records table (``zen.schema.RECORDS``).
        start: start of the observation window (UTC).
        days: its length (days); events outside ``[0, days)`` are dropped.
        activity: activity level per user id (index = user id, the users to encode).
        max_len: time steps per window.
        window_days: window length (days); ``days`` should be a multiple of it.
    """
    users = np.asarray(activity.index, dtype=np.int64)
    n_windows = int(np.ceil(days / window_days - 1e-9))
    window_s = window_days * 86400.0
    t = (records["timestamp"] - pd.Timestamp(start)).dt.total_seconds().to_numpy()
    keep = (t >= 0) & (t < days * 86400.0) & np.isin(records["user_id"].to_numpy(), users)
    df = records.loc[keep]
    t = t[keep]
    order = np.lexsort((t, df["user_id"].to_numpy()))
    df, t = df.iloc[order], t[order]
    user_pos = np.searchsorted(users, df["user_id"].to_numpy())
    win = np.minimum((t // window_s).astype(np.int64), n_windows - 1)
    row = user_pos * n_windows + win
    step = pd.Series(row).groupby(row).cumcount().to_numpy()
    start_of_row = win * window_s
    prev_t = np.where(step > 0, np.r_[0.0, t[:-1]], start_of_row)
    gap = np.maximum(t - prev_t, 0.0)
    fit = step < max_len
    features = np.zeros((len(users) * n_windows, max_len, len(DGAN_FEATURES)), np.float32)
    r, s = row[fit], step[fit]
    features[r, s, F["present"]] = 1.0
    features[r, s, F["event"]] = df["event"].cat.codes.to_numpy()[fit]
    features[r, s, F["direction"]] = df["direction"].cat.codes.to_numpy()[fit]
    features[r, s, F["log_gap_s"]] = np.log1p(gap[fit])
    features[r, s, F["log_duration_s"]] = np.log1p(df["duration_s"].to_numpy(dtype=float)[fit])
    features[r, s, F["answered"]] = df["answered"].to_numpy()[fit]
    attributes = np.repeat(activity.to_numpy(dtype=np.float32), n_windows)[:, None]
    return DGANArrays(features, attributes, np.repeat(users, n_windows),
                      np.tile(np.arange(n_windows), len(users)), int((~fit).sum()), window_days)


def dgan_arrays_to_records(features: np.ndarray, attributes: np.ndarray, start: pd.Timestamp,
                           days: float, window_days: float,
                           user_offset: int = 0) -> tuple[pd.DataFrame, dict[str, int]]:
    """Decode generated DGAN windows into records of synthetic users.

    Windows are sorted by activity level (stable), then every ``days / window_days``
    consecutive windows form one user, window k covering ``[k, k + 1) * window_days``; a
    remainder that does not fill a user is dropped. Values are brought back into the schema:
    discrete features are rounded and clipped, ``log`` values below 0 count as 0, SMS have
    duration 0, only calls can be unanswered, data sessions are outgoing.

    Args:
        features: ``[windows, max_len, len(DGAN_FEATURES)]`` as in :class:`DGANArrays`.
        attributes: ``[windows, 1]`` activity levels.
        start: start of the generated period (UTC).
        days: its length (days).
        window_days: window length used to encode.
        user_offset: id of the first synthetic user.

    Returns:
        The records table (counterpart and cell unknown) and counts of repairs:
        ``events_past_window`` (dropped), ``dropped_windows``.
    """
    per_user = int(np.ceil(days / window_days - 1e-9))
    order = np.argsort(np.round(attributes[:, 0]), kind="stable")
    n_users = len(order) // per_user
    order = order[: n_users * per_user]
    feats = features[order]
    win = np.tile(np.arange(per_user), n_users)
    user = np.repeat(np.arange(n_users, dtype=np.int64) + user_offset, per_user)
    present = np.rint(feats[..., F["present"]]) >= 1
    gaps = np.expm1(np.clip(feats[..., F["log_gap_s"]], 0.0, 30.0)) * present
    t = win[:, None] * window_days * 86400.0 + np.cumsum(gaps, axis=1)
    inside = present & (t < np.minimum((win[:, None] + 1) * window_days, days) * 86400.0)
    r, s = np.nonzero(inside)
    event = np.clip(np.rint(feats[r, s, F["event"]]), 0, len(EVENTS) - 1).astype(np.int64)
    direction = np.clip(np.rint(feats[r, s, F["direction"]]), 0, len(DIRECTIONS) - 1).astype(np.int64)
    duration = np.expm1(np.clip(feats[r, s, F["log_duration_s"]], 0.0, 30.0))
    answered = np.rint(feats[r, s, F["answered"]]) >= 1
    records = decoded_records(user[r], t[r, s], event, direction, duration, answered, start)
    repairs = {"events_past_window": int((present & ~inside).sum()),
               "dropped_windows": int(len(features) - len(order))}
    return records, repairs
