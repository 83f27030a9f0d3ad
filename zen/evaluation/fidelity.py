"""Fidelity of one population's CDRs to another's: individual and global statistics.

Every score is a distance (0 = identical). Keys end with the statistic: ``/ks`` (Kolmogorov–
Smirnov, in [0, 1]), ``/w1`` (Wasserstein-1, in the feature's unit), ``/tv`` (total variation,
in [0, 1]), ``/jsd`` (Jensen–Shannon divergence, base 2, in [0, 1]) or ``/abs_diff`` (absolute
difference of a scalar). :func:`overall_score` folds the ``/ks`` and ``/tv`` scores into one
number in [0, 1] (1 = identical), as SDMetrics does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.data.base import CDRData
from zen.evaluation import graph
from zen.evaluation.metrics import (
    call_durations,
    first_metrics,
    hour_of_day_profile,
    hour_of_week_profile,
    inter_event_times,
    js_divergence,
    ks_statistic,
    total_variation,
    wasserstein,
)
from zen.measures.conversations import conversations, reply_delays
from zen.measures.individual import MOBILITY_FEATURES, TRAFFIC_FEATURES, cell_coordinates
from zen.network.startbacks import startback_share

CELLS_SKIPPED = "needs cell_id + antennas lat/lon on both sides; {missing} has none"


def _finite(values: np.ndarray | pd.Series) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def _continuous(out: dict[str, float], name: str, a: np.ndarray, b: np.ndarray) -> None:
    a, b = _finite(a), _finite(b)
    out[f"{name}/ks"] = ks_statistic(a, b)
    out[f"{name}/w1"] = wasserstein(a, b)


def individual_scores(candidate: CDRData, real: CDRData) -> tuple[dict[str, float], dict[str, str]]:
    """KS and W1 between the per-user feature distributions of two populations."""
    scores, skipped = {}, {}
    fa, fb = candidate.features, real.features
    for name in TRAFFIC_FEATURES + MOBILITY_FEATURES:
        key = f"individual/{name}"
        if name not in fa or name not in fb:
            missing = real.label if name not in fb else candidate.label
            skipped[key] = CELLS_SKIPPED.format(missing=missing)
            continue
        a, b = _finite(fa[name]), _finite(fb[name])
        if len(a) == 0 and len(b) == 0:
            skipped[key] = "undefined for every user on both sides"
            continue
        if not a.any() and not b.any():  # e.g. data sessions in neither: nothing to compare
            skipped[key] = "zero for every user on both sides"
            continue
        _continuous(scores, key, a, b)
    return scores, skipped


def _profiles(out: dict[str, float], skipped: dict[str, str], candidate: CDRData,
              real: CDRData) -> None:
    for kind in ("all", "call", "sms", "data"):
        a, b = candidate.records, real.records
        if kind != "all":
            a, b = a[a["event"] == kind], b[b["event"] == kind]
        for profile_name, profile in (("hour_of_day", hour_of_day_profile),
                                      ("hour_of_week", hour_of_week_profile)):
            key = f"global/{profile_name}/{kind}"
            if len(a) == 0 and len(b) == 0:  # absent on both sides: nothing to compare
                skipped[key] = f"no {kind} events on either side"
                continue
            pa, pb = profile(a), profile(b)
            out[f"{key}/tv"] = total_variation(pa, pb)
            out[f"{key}/jsd"] = js_divergence(pa, pb)


def _cell_hour_counts(sample: CDRData) -> tuple[np.ndarray, np.ndarray]:
    """Events and distinct users per (cell, hour) with at least one event. ``[cell-hours]`` each."""
    located = cell_coordinates(sample.records, sample.antennas)
    hour = np.floor((located["timestamp"] - sample.start).dt.total_seconds().to_numpy() / 3600.0)
    frame = pd.DataFrame({"cell": located["cell_id"].to_numpy(), "hour": hour,
                          "user": located["user_id"].to_numpy()})
    grouped = frame.groupby(["cell", "hour"])["user"]
    return grouped.size().to_numpy(dtype=float), grouped.nunique().to_numpy(dtype=float)


def global_scores(candidate: CDRData, real: CDRData) -> tuple[dict[str, float], dict[str, str]]:
    """Profiles, pooled inter-event times and durations, graph statistics, per-cell load."""
    scores, skipped = {}, {}
    _profiles(scores, skipped, candidate, real)
    _continuous(scores, "global/inter_event_s", inter_event_times(candidate.records),
                inter_event_times(real.records))
    _continuous(scores, "global/call_duration_s", call_durations(candidate.records),
                call_durations(real.records))
    scores["graph/degree/ks"] = ks_statistic(graph.degrees(candidate.records), graph.degrees(real.records))
    scores["graph/degree/w1"] = wasserstein(graph.degrees(candidate.records), graph.degrees(real.records))
    ca, cb = graph.clustering(candidate.records), graph.clustering(real.records)
    scores["graph/clustering/ks"] = ks_statistic(ca, cb)
    if len(ca) and len(cb):
        scores["graph/mean_clustering/abs_diff"] = float(abs(ca.mean() - cb.mean()))
    ra, rb = graph.reciprocity(candidate.records), graph.reciprocity(real.records)
    if np.isfinite(ra) and np.isfinite(rb):
        scores["graph/reciprocity/abs_diff"] = float(abs(ra - rb))
    else:
        skipped["graph/reciprocity"] = "no outgoing ties with a known counterpart"
    if candidate.has_cells and real.has_cells:
        (ea, ua), (eb, ub) = _cell_hour_counts(candidate), _cell_hour_counts(real)
        scores["cells/events_per_cell_hour/ks"] = ks_statistic(ea, eb)
        scores["cells/users_per_cell_hour/ks"] = ks_statistic(ua, ub)
    else:
        missing = real.label if not real.has_cells else candidate.label
        skipped["cells/per_cell_hour"] = CELLS_SKIPPED.format(missing=missing)
    return scores, skipped


def conversation_scores(candidate: CDRData, real: CDRData) -> tuple[dict[str, float], dict[str, str]]:
    """Reply delays, turns per conversation, who starts them (:mod:`zen.measures.conversations`)
    and the share of a both-way pair's conversations near one by the partner
    (:func:`zen.network.startbacks.startback_share`)."""
    scores, skipped = {}, {}
    ca, cb = conversations(candidate.records), conversations(real.records)
    if len(ca) == 0 or len(cb) == 0:
        missing = real.label if len(cb) == 0 else candidate.label
        skipped["conversation"] = f"no calls or SMS with a known counterpart in {missing}"
        return scores, skipped
    _continuous(scores, "conversation/reply_delay_s", reply_delays(candidate.records),
                reply_delays(real.records))
    _continuous(scores, "conversation/turns", ca["turns"].to_numpy(), cb["turns"].to_numpy())
    scores["conversation/starter_share/ks"] = ks_statistic(
        ca.groupby("user_id")["started_out"].mean().to_numpy(float),
        cb.groupby("user_id")["started_out"].mean().to_numpy(float))
    sa, sb = startback_share(candidate.records), startback_share(real.records)
    if np.isfinite(sa) and np.isfinite(sb):
        scores["conversation/startback_share/abs_diff"] = float(abs(sa - sb))
    else:
        skipped["conversation/startback_share"] = "no pair of users talks both ways"
    return scores, skipped


MIN_SESSIONS = 50  # sessions of a service needed on both sides to score its own distributions


def _sessions(records: pd.DataFrame) -> pd.DataFrame:
    if "service" not in records:
        return records.iloc[:0]
    data = records[(records["event"].astype(str) == "data") & records["service"].notna()]
    return data[data["volume_bytes"] > 0]


def session_scores(candidate: CDRData, real: CDRData) -> tuple[dict[str, float], dict[str, str]]:
    """XDR data sessions (:mod:`zen.sessions`): service shares, and log10 volume and duration
    distributions pooled and per service (services with ``MIN_SESSIONS`` on both sides)."""
    a, b = _sessions(candidate.records), _sessions(real.records)
    if len(a) == 0 or len(b) == 0:
        missing = real.label if len(b) == 0 else candidate.label
        return {}, {"sessions": f"needs data sessions with a service and a volume; {missing} has none"}
    scores = {}
    sa, sb = a["service"].astype(str), b["service"].astype(str)
    services = sorted(set(sa) | set(sb))
    share = [sa.value_counts(normalize=True).reindex(services, fill_value=0.0),
             sb.value_counts(normalize=True).reindex(services, fill_value=0.0)]
    scores["sessions/service_share/tv"] = total_variation(share[0].to_numpy(), share[1].to_numpy())
    groups = [("all", a, b)] + [(s, a[sa == s], b[sb == s]) for s in services]
    for name, x, y in groups:
        if min(len(x), len(y)) < (1 if name == "all" else MIN_SESSIONS):
            continue
        _continuous(scores, f"sessions/{name}/log10_bytes", np.log10(x["volume_bytes"].to_numpy(float)),
                    np.log10(y["volume_bytes"].to_numpy(float)))
        _continuous(scores, f"sessions/{name}/duration_s", x["duration_s"].to_numpy(float),
                    y["duration_s"].to_numpy(float))
    return scores, {}


def fidelity_scores(candidate: CDRData, real: CDRData) -> tuple[dict[str, float], dict[str, str]]:
    """All fidelity scores of ``candidate`` against ``real`` and the checks that were skipped (why).

    Also carries issue 2's first metrics under ``first/`` (same names as ``first_metrics``).
    """
    scores, skipped = individual_scores(candidate, real)
    for part in (global_scores, conversation_scores, session_scores):
        more, more_skipped = part(candidate, real)
        scores.update(more)
        skipped.update(more_skipped)
    first = first_metrics(real.records, candidate.records, real.days, candidate.days)
    scores.update({f"first/{k}": v for k, v in first.items()})
    return scores, skipped


def overall_score(scores: dict[str, float]) -> float:
    """Mean of ``1 - KS`` and ``1 - TV`` over all such scores, in [0, 1] (1 = identical)."""
    values = [v for k, v in scores.items() if k.endswith(("/ks", "/tv")) and np.isfinite(v)]
    return float(np.mean([1.0 - v for v in values])) if values else float("nan")
