"""Usefulness: the networking tasks that real CDRs serve, run the same way on real and synthetic data.

All tasks work on hourly series per *unit*. A unit is a cell when both sides have cells located by
an antennas table and share cell ids; otherwise (e.g. the Copenhagen data, which has no cells) a
unit is a traffic group ``<event>/<direction>`` (``call/out``, ``sms/in``...), and the report says
so. Series are normalised per user so that populations of different sizes compare, and folded
onto the hour of the week so that windows of different lengths and dates compare.

- RAN power savings: switch off a unit in the hours its load is under a fraction of its peak.
- Anomaly detection: a seasonal (hour-of-week) baseline with over-dispersed Poisson noise, fitted
  on synthetic data (TSTR) or on the real training users (TRTR), flags injected spikes and outages
  in the real held-out series.
- Population tracing: users present per unit per hour, synthetic vs real.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zen.data.base import CDRData
from zen.measures.traffic import HOURS_PER_WEEK, SECONDS_PER_HOUR, hour_of_week


@dataclass
class UnitSeries:
    """Hourly series of a population per unit.

    Attributes:
        units: unit labels. ``[units]``.
        events: events per unit per hour of the window. ``[units, hours]``.
        users: distinct users per unit per hour of the window. ``[units, hours]``.
        hour_of_week: hour of the week of each hour of the window. ``[hours]``.
        n_users: users in the population.
    """

    units: np.ndarray
    events: np.ndarray
    users: np.ndarray
    hour_of_week: np.ndarray
    n_users: int

    def weekly_profile(self, which: str = "events") -> np.ndarray:
        """Mean per-user count per unit and hour of the week. ``[units, 168]``."""
        series = getattr(self, which)
        total = np.zeros((len(self.units), HOURS_PER_WEEK))
        np.add.at(total.T, self.hour_of_week, series.T)
        seen = np.bincount(self.hour_of_week, minlength=HOURS_PER_WEEK).astype(float)
        return np.divide(total, seen * self.n_users, out=np.zeros_like(total), where=seen > 0)


def unit_kind(a: CDRData, b: CDRData) -> str:
    """``cell`` when both samples have located cells with ids in common, else ``group``."""
    if a.has_cells and b.has_cells:
        common = np.intersect1d(a.records["cell_id"].unique(), b.records["cell_id"].unique())
        if len(common[common >= 0]) > 0:
            return "cell"
    return "group"


def units_of(samples: list[CDRData], kind: str) -> np.ndarray:
    """Unit labels shared by all samples (cells in common, or the traffic groups of any)."""
    if kind == "cell":
        sets = [set(s.records["cell_id"].unique()) for s in samples]
        return np.array(sorted(x for x in set.intersection(*sets) if x >= 0), dtype=object)
    groups = set()
    for s in samples:
        groups |= set((s.records["event"].astype(str) + "/" + s.records["direction"].astype(str)).unique())
    return np.array(sorted(groups), dtype=object)


def unit_series(sample: CDRData, kind: str, units: np.ndarray) -> UnitSeries:
    """Hourly events and users per unit over the sample's window."""
    records = sample.records
    if kind == "cell":
        label = records["cell_id"].to_numpy().astype(object)
    else:
        label = (records["event"].astype(str) + "/" + records["direction"].astype(str)).to_numpy()
    n_hours = int(np.ceil(sample.days * 24))
    hour = sample.hours_since_start()
    unit_index = pd.Index(units).get_indexer(label)
    keep = (unit_index >= 0) & (hour >= 0) & (hour < n_hours)
    unit_index, hour, user = unit_index[keep], hour[keep], records["user_id"].to_numpy()[keep]
    events = np.zeros((len(units), n_hours))
    np.add.at(events, (unit_index, hour), 1.0)
    triples = np.unique(np.stack([unit_index, hour, user]), axis=1)
    users = np.zeros_like(events)
    np.add.at(users, (triples[0], triples[1]), 1.0)
    how = hour_of_week(np.arange(n_hours) * SECONDS_PER_HOUR, sample.start)
    return UnitSeries(units, events, users, how, sample.n_users)


def ran_power_savings(load: np.ndarray,
                      thresholds: list[float]) -> dict[float, tuple[float, float, np.ndarray]]:
    """Switch a unit off in the hours its load is under ``threshold * its peak load``.

    Args:
        load: mean load per unit and hour of the week. ``[units, 168]``.
        thresholds: fractions of each unit's peak hourly load.

    Returns:
        For each threshold: (share of unit-hours switched off, i.e. energy saved; share of the
        traffic in those hours, i.e. traffic handed to neighbours; the off mask ``[units, 168]``).
    """
    peak = load.max(axis=1, keepdims=True)
    total = load.sum()
    result = {}
    for t in thresholds:
        off = load < t * peak
        affected = float(load[off].sum() / total) if total > 0 else float("nan")
        result[t] = (float(off.mean()), affected, off)
    return result


def inject_anomalies(counts: np.ndarray, rate: float, rng: np.random.Generator,
                     min_outage_count: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Inject spikes and outages into hourly counts.

    Half of the anomalies are spikes (count becomes ``3 * count + 5``) at random unit-hours; the
    other half are outages (count becomes 0) at unit-hours with at least ``min_outage_count``
    events, since an outage in an idle hour leaves no trace.

    Args:
        counts: hourly counts. ``[units, hours]``.
        rate: share of unit-hours made anomalous.
        rng: random generator.

    Returns:
        (counts with anomalies, 0/1 labels), both ``[units, hours]``.
    """
    out, labels = counts.copy(), np.zeros(counts.shape, bool)
    n = max(2, int(round(rate * counts.size)))
    spikes = rng.choice(counts.size, size=n // 2, replace=False)
    busy = np.flatnonzero((counts.ravel() >= min_outage_count) & ~np.isin(np.arange(counts.size), spikes))
    outages = rng.choice(busy, size=min(n - n // 2, len(busy)), replace=False)
    flat, flat_labels = out.reshape(-1), labels.reshape(-1)
    flat[spikes] = 3.0 * flat[spikes] + 5.0
    flat[outages] = 0.0
    flat_labels[spikes] = flat_labels[outages] = True
    return out, labels


@dataclass
class SeasonalDetector:
    """Hour-of-week baseline with over-dispersed Poisson noise, per unit.

    ``z = (x - e) / sqrt(phi * e + 1)`` with ``e`` the expected count (per-user rate times the
    population) and ``phi`` the unit's variance-to-mean ratio in the training series.
    """

    rate: np.ndarray        # [units, 168] expected events per user per hour
    dispersion: np.ndarray  # [units]
    z_threshold: float = 3.0

    @classmethod
    def fit(cls, series: UnitSeries, z_threshold: float = 3.0) -> SeasonalDetector:
        rate = series.weekly_profile("events")
        expected = rate[:, series.hour_of_week] * series.n_users
        resid = (series.events - expected) ** 2 / np.maximum(expected, 1e-9)
        weights = expected > 0
        phi = (resid * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)
        return cls(rate, np.maximum(phi, 1.0), z_threshold)

    def flag(self, counts: np.ndarray, hour_of_week: np.ndarray, n_users: int) -> np.ndarray:
        """Anomaly flags for hourly counts ``[units, hours]`` of a population of ``n_users``."""
        expected = self.rate[:, hour_of_week] * n_users
        z = (counts - expected) / np.sqrt(self.dispersion[:, None] * expected + 1.0)
        return np.abs(z) > self.z_threshold


def _precision_recall(flags: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = float((flags & labels).sum())
    precision = tp / flags.sum() if flags.sum() else 0.0
    recall = tp / labels.sum() if labels.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def usefulness_scores(candidate: CDRData, real: CDRData, real_train: CDRData,
                      thresholds: list[float], anomaly_rate: float, z_threshold: float,
                      seed: int) -> tuple[dict[str, float], dict]:
    """Run the three tasks on ``candidate`` and on ``real``; report both results and their gap.

    Args:
        candidate: the data under test (synthetic, or the real training users for the floor).
        real: the real held-out users (the test data of every task).
        real_train: the real training users (TRTR reference of anomaly detection).
        thresholds: RAN power-saving thresholds, fractions of a unit's peak load.
        anomaly_rate: share of the real unit-hours that get an anomaly.
        z_threshold: detector threshold (|z|).
        seed: seed of the anomaly injection (same anomalies for every detector).

    Returns:
        (scores, details): scores keyed ``usefulness/<task>/<measure>``; details hold the series
        and curves the plots need, and ``unit_kind``.
    """
    kind = unit_kind(candidate, real)
    units = units_of([candidate, real, real_train], kind)
    cand, ref, train = (unit_series(s, kind, units) for s in (candidate, real, real_train))
    scores: dict[str, float] = {}
    cand_load, real_load = cand.weekly_profile("events"), ref.weekly_profile("events")
    ran_c, ran_r = ran_power_savings(cand_load, thresholds), ran_power_savings(real_load, thresholds)
    for t in thresholds:
        tag = f"usefulness/ran_power/t{t:.2f}"
        scores[f"{tag}/energy_saved_real"], scores[f"{tag}/traffic_affected_real"] = ran_r[t][:2]
        scores[f"{tag}/energy_saved"], scores[f"{tag}/traffic_affected"] = ran_c[t][:2]
        scores[f"{tag}/decision_agreement"] = float((ran_c[t][2] == ran_r[t][2]).mean())
    scores["usefulness/ran_power/energy_saved_gap"] = float(np.mean(
        [abs(ran_c[t][0] - ran_r[t][0]) for t in thresholds]))
    scores["usefulness/ran_power/traffic_affected_gap"] = float(np.mean(
        [abs(ran_c[t][1] - ran_r[t][1]) for t in thresholds]))
    scores["usefulness/ran_power/decision_agreement"] = float(np.mean(
        [scores[f"usefulness/ran_power/t{t:.2f}/decision_agreement"] for t in thresholds]))

    test, labels = inject_anomalies(ref.events, anomaly_rate, np.random.default_rng(seed))
    for name, source in (("tstr", cand), ("trtr", train)):
        flags = SeasonalDetector.fit(source, z_threshold).flag(test, ref.hour_of_week, ref.n_users)
        p, r, f1 = _precision_recall(flags, labels)
        scores[f"usefulness/anomaly/{name}_precision"] = p
        scores[f"usefulness/anomaly/{name}_recall"] = r
        scores[f"usefulness/anomaly/{name}_f1"] = f1
    scores["usefulness/anomaly/f1_gap"] = scores["usefulness/anomaly/trtr_f1"] - \
        scores["usefulness/anomaly/tstr_f1"]

    pop_c, pop_r = cand.weekly_profile("users"), ref.weekly_profile("users")
    mean_r = pop_r.mean()
    scores["usefulness/population_tracing/corr"] = float(np.corrcoef(pop_c.ravel(), pop_r.ravel())[0, 1]) \
        if pop_c.std() > 0 and pop_r.std() > 0 else float("nan")
    scores["usefulness/population_tracing/nrmse"] = float(
        np.sqrt(((pop_c - pop_r) ** 2).mean()) / mean_r) if mean_r > 0 else float("nan")
    details = {"unit_kind": kind, "units": [str(u) for u in units], "ran_candidate": ran_c,
               "ran_real": ran_r, "population_candidate": pop_c, "population_real": pop_r,
               "load_candidate": cand_load, "load_real": real_load}
    return scores, details
