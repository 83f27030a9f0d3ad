"""Old home of the first fidelity metrics: they live in :mod:`zen.measures` (kept so old imports work)."""

from zen.measures.distances import js_divergence, ks_statistic, total_variation, wasserstein
from zen.measures.traffic import (
    call_durations,
    events_per_user_day,
    first_metrics,
    hour_of_day_profile,
    hour_of_week,
    hour_of_week_profile,
    inter_event_times,
)

__all__ = ["call_durations", "events_per_user_day", "first_metrics", "hour_of_day_profile", "hour_of_week",
           "hour_of_week_profile", "inter_event_times", "js_divergence", "ks_statistic", "total_variation",
           "wasserstein"]
