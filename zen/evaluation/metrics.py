"""First fidelity metrics (issue 2): distributions of synthetic vs real users' activity.

All functions take records tables in Zen's schema plus the start and length of the observation
window, so that real data (28 days) and synthetic data (any length) compare per day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic in [0, 1] (1.0 if a side is empty)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        return 1.0
    return float(stats.ks_2samp(a, b).statistic)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) of two histograms (normalised here)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() <= 0 or q.sum() <= 0:
        return 1.0
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2)


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 (earth mover's) distance of two samples, in their unit (NaN if a side is empty)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(stats.wasserstein_distance(a, b))


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance (in [0, 1]) of two histograms (normalised here)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() <= 0 or q.sum() <= 0:
        return 1.0
    return float(0.5 * np.abs(p / p.sum() - q / q.sum()).sum())


def inter_event_times(records: pd.DataFrame) -> np.ndarray:
    """Seconds between consecutive events of the same user, all users pooled. ``[n]``."""
    t = records["timestamp"].astype("int64").to_numpy() / 1e6
    u = records["user_id"].to_numpy()
    order = np.lexsort((t, u))
    t, u = t[order], u[order]
    same = u[1:] == u[:-1]
    return np.diff(t)[same]


def call_durations(records: pd.DataFrame) -> np.ndarray:
    """Durations (s) of answered calls. ``[n]``."""
    m = (records["event"] == "call") & records["answered"]
    return records.loc[m, "duration_s"].to_numpy(dtype=float)


def events_per_user_day(records: pd.DataFrame, days: float) -> np.ndarray:
    """Events per user per day, one value per user who has at least one record. ``[users]``."""
    return records.groupby("user_id").size().to_numpy(dtype=float) / float(days)


def hour_of_week(timestamps: pd.Series) -> np.ndarray:
    """Hour of the week (Monday 00h = 0, UTC) of each timestamp. ``[n]``."""
    return timestamps.dt.day_of_week.to_numpy() * 24 + timestamps.dt.hour.to_numpy()


def hour_of_week_profile(records: pd.DataFrame) -> np.ndarray:
    """Event counts per hour of the week (Monday 00h = bin 0). ``[168]``."""
    return np.bincount(hour_of_week(records["timestamp"]), minlength=168).astype(float)


def hour_of_day_profile(records: pd.DataFrame) -> np.ndarray:
    """Event counts per hour of the day (UTC). ``[24]``."""
    return np.bincount(records["timestamp"].dt.hour.to_numpy(), minlength=24).astype(float)


def first_metrics(real: pd.DataFrame, synthetic: pd.DataFrame, real_days: float,
                  synthetic_days: float) -> dict[str, float]:
    """Issue 2's metrics of ``synthetic`` against ``real`` (lower is better, 0 = identical).

    Returns:
        ``ks_inter_event``, ``ks_call_duration``, ``ks_events_per_user_day`` (KS statistics) and
        ``jsd_hour_of_week``, ``jsd_hour_of_day`` (Jensen–Shannon divergences, base 2).
    """
    return {
        "ks_inter_event": ks_statistic(inter_event_times(real), inter_event_times(synthetic)),
        "ks_call_duration": ks_statistic(call_durations(real), call_durations(synthetic)),
        "ks_events_per_user_day": ks_statistic(events_per_user_day(real, real_days),
                                               events_per_user_day(synthetic, synthetic_days)),
        "jsd_hour_of_week": js_divergence(hour_of_week_profile(real),
                                          hour_of_week_profile(synthetic)),
        "jsd_hour_of_day": js_divergence(hour_of_day_profile(real),
                                         hour_of_day_profile(synthetic)),
    }
