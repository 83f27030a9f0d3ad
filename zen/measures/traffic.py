"""Measures of CDR traffic: gaps, durations, rates, time-of-week profiles, issue 2's first metrics.

All take records tables in Zen's schema (plus the length of the observation window where a rate
needs it), so that real data (28 days) and synthetic data (any length) compare per day. The
traffic models (training logs, the baseline's clock) and the evaluation import them from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.measures.distances import js_divergence, ks_statistic

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
EPOCH_HOUR_OF_WEEK = 72  # 1970-01-01 was a Thursday: 3 days x 24 h after Monday 00h
HOURS_PER_WEEK = 168
SECONDS_PER_HOUR = 3600.0


def epoch_seconds(timestamps: pd.Series) -> np.ndarray:
    """``[n]`` seconds since 1970-01-01 UTC of a timestamp column, whatever its resolution
    (``datetime64[us]`` as Zen writes, ``[ns]`` as pandas makes by default)."""
    return pd.DatetimeIndex(timestamps).as_unit("us").asi8 / 1e6


def inter_event_times(records: pd.DataFrame) -> np.ndarray:
    """Seconds between consecutive events of the same user, all users pooled. ``[n]``."""
    t = epoch_seconds(records["timestamp"])
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


def hour_of_week(t_s: np.ndarray, start: pd.Timestamp = EPOCH) -> np.ndarray:
    """Hour-of-week bin (Monday 00h UTC = 0) of the instants ``t_s`` seconds after ``start``. ``[n]``.

    The bin is that of the absolute instant, so a ``start`` that is not on a whole hour still
    puts each instant in the hour the clock shows.
    """
    origin = (pd.Timestamp(start) - EPOCH).total_seconds()
    hours = np.floor((origin + np.asarray(t_s, dtype=np.float64)) / SECONDS_PER_HOUR).astype(np.int64)
    return (hours + EPOCH_HOUR_OF_WEEK) % HOURS_PER_WEEK


def hour_of_week_profile(records: pd.DataFrame) -> np.ndarray:
    """Event counts per hour of the week (Monday 00h = bin 0). ``[168]``."""
    t_s = (records["timestamp"] - EPOCH).dt.total_seconds().to_numpy()
    return np.bincount(hour_of_week(t_s), minlength=HOURS_PER_WEEK).astype(float)


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
