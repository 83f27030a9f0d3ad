"""User profiles: what makes one subscriber differ from another, as a short vector per user.

Computed from a user's records over the observation window, in a transformed space (logs and
smoothed log-odds) where a Gaussian mixture fits well. The LSTM is conditioned on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.measures.traffic import epoch_seconds

PROFILE_FEATURES = ("log_events_per_day", "logit_call_share", "logit_out_share", "log_contacts",
                    "logit_burst_share", "logit_data_share")
BURST_S = 300.0  # gaps shorter than this (seconds) count as bursts (replies within a conversation)


def _logit(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Smoothed log-odds of ``k`` successes in ``n`` trials (pseudo-count 0.5 each side)."""
    return np.log((k + 0.5) / (n - k + 0.5))


def user_profiles(records: pd.DataFrame, days: float, user_ids: np.ndarray,
                  features: tuple[str, ...] = PROFILE_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Raw profile of each user and their number of distinct contacts.

    Args:
        records: records table (schema ``records``).
        days: observation window (days).
        user_ids: ``[n_users]`` ids, in the order of the rows returned.
        features: which of :data:`PROFILE_FEATURES` to compute, in order.

    Returns:
        ``[n_users, len(features)]`` float64 profiles and ``[n_users]`` int64 contact counts
        (at least 1).
    """
    uid = pd.Index(np.asarray(user_ids))
    g = records.groupby("user_id", observed=True)
    n = g.size().reindex(uid, fill_value=0).to_numpy(float)
    ev = records["event"].astype(str)
    calls = (ev == "call").groupby(records["user_id"]).sum().reindex(uid, fill_value=0).to_numpy(float)
    data = (ev == "data").groupby(records["user_id"]).sum().reindex(uid, fill_value=0).to_numpy(float)
    talk = n - data
    outs = ((records["direction"].astype(str) == "out") & (ev != "data")) \
        .groupby(records["user_id"]).sum().reindex(uid, fill_value=0).to_numpy(float)
    has_cp = records[records["counterpart_id"] >= 0]
    contacts = has_cp.groupby("user_id")["counterpart_id"].nunique() \
        .reindex(uid, fill_value=0).to_numpy(np.int64)
    contacts = np.maximum(contacts, 1)
    t = epoch_seconds(records["timestamp"])
    u = records["user_id"].to_numpy()
    order = np.lexsort((t, u))
    t, u = t[order], u[order]
    same = u[1:] == u[:-1]  # consecutive events of one user
    short = same & (np.diff(t) < BURST_S)
    gaps = pd.Series(same.astype(float)).groupby(u[1:]).sum().reindex(uid, fill_value=0).to_numpy()
    bursts = pd.Series(short.astype(float)).groupby(u[1:]).sum().reindex(uid, fill_value=0).to_numpy()
    columns = {
        "log_events_per_day": np.log(np.maximum(n, 0.5) / days),
        "logit_call_share": _logit(calls, talk),
        "logit_out_share": _logit(outs, talk),
        "log_contacts": np.log(contacts.astype(float)),
        "logit_data_share": _logit(data, n),
        "logit_burst_share": _logit(bursts, gaps),
    }
    return np.stack([columns[f] for f in features], 1), contacts
