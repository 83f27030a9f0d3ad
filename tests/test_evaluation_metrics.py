"""Evaluation metrics on constructed data where the answer is known."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from zen.evaluation import graph
from zen.evaluation.fidelity import fidelity_scores, overall_score
from zen.evaluation.metrics import ks_statistic, total_variation, wasserstein
from zen.evaluation.privacy import exact_copy_share, privacy_scores, sequence_signatures
from zen.evaluation.report import Thresholds, judge
from zen.evaluation.sample import CDRSample
from zen.evaluation.usefulness import (
    SeasonalDetector,
    UnitSeries,
    inject_anomalies,
    ran_power_savings,
    usefulness_scores,
)
from zen.geo import EARTH_RADIUS_M
from zen.measures.individual import user_features
from zen.measures.mobility import cell_entropy, radius_of_gyration
from zen.schema import validate

START = pd.Timestamp("2013-02-04", tz="UTC")  # a Monday


def population(n_users: int, days: int, seed: int, user_offset: int = 0) -> pd.DataFrame:
    """Calls and SMS of ``n_users`` with heterogeneous rates, daytime-heavy, contacts among themselves."""
    rng = np.random.default_rng(seed)
    rates = rng.lognormal(1.0, 0.8, n_users)  # events per day
    counts = rng.poisson(rates * days) + 1
    user = np.repeat(np.arange(n_users) + user_offset, counts)
    n = len(user)
    day = rng.integers(0, days, n)
    hour = np.where(rng.random(n) < 0.85, rng.integers(8, 23, n), rng.integers(0, 8, n))
    seconds = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    event = np.where(rng.random(n) < 0.2, "call", "sms")
    answered = (event != "call") | (rng.random(n) < 0.85)
    duration = np.where((event == "call") & answered, rng.exponential(90.0, n), 0.0)
    counterpart = user_offset + (user - user_offset + rng.integers(1, 6, n)) % n_users
    records = pd.DataFrame({
        "user_id": user, "timestamp": START + pd.to_timedelta(seconds, unit="s"), "event": event,
        "direction": np.where(rng.random(n) < 0.5, "out", "in"), "duration_s": duration,
        "answered": answered, "counterpart_id": counterpart})
    records = validate(records, "records")
    return records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def sample(records: pd.DataFrame, days: float = 14, label: str = "s", antennas=None) -> CDRSample:
    return CDRSample(records, START, days, antennas, label)


@pytest.fixture(scope="module")
def pop() -> pd.DataFrame:
    return population(120, 14, seed=1)


def test_ks_identical_is_zero_and_shift_gives_expected_value():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, 20_000)
    assert ks_statistic(a, a) == 0.0
    shift = 0.5
    expected = 2 * stats.norm.cdf(shift / 2) - 1  # sup |Phi(x) - Phi(x - shift)|
    assert ks_statistic(a, rng.normal(shift, 1.0, 20_000)) == pytest.approx(expected, abs=0.015)
    assert ks_statistic(a, []) == 1.0


def test_wasserstein_and_total_variation_known_values():
    a = np.linspace(0, 10, 1001)
    assert wasserstein(a, a) == 0.0
    assert wasserstein(a, a + 3.0) == pytest.approx(3.0)
    assert total_variation([1, 2, 3], [2, 4, 6]) == 0.0
    assert total_variation([1, 0], [0, 1]) == 1.0
    assert total_variation([3, 1], [1, 3]) == pytest.approx(0.5)


def test_user_features_on_a_hand_made_user():
    hours = [2, 12, 5 * 24 + 12, 6 * 24 + 12]  # Mon 02:00, Mon 12:00, Sat 12:00, Sun 12:00
    times = START + pd.to_timedelta(hours, unit="h")
    records = validate(pd.DataFrame({
        "user_id": 7, "timestamp": times, "event": ["call", "call", "sms", "sms"],
        "direction": ["out", "in", "out", "out"], "duration_s": [60.0, 0.0, 0.0, 0.0],
        "answered": [True, False, True, True], "counterpart_id": [1, 1, 1, 2]}), "records")
    f = user_features(records, days=7.0).loc[7]
    assert f["events_per_day"] == pytest.approx(4 / 7)
    assert f["calls_per_day"] == pytest.approx(2 / 7) and f["data_per_day"] == 0.0
    assert f["answered_share"] == 0.5 and f["call_duration_mean_s"] == 60.0
    assert f["night_share"] == 0.25 and f["weekend_share"] == 0.5  # 02:00; Saturday and Sunday
    assert f["distinct_contacts"] == 2 and f["top_contact_share"] == 0.75
    gaps = np.array([10, 5 * 24, 24]) * 3600.0
    assert f["inter_event_median_s"] == np.median(gaps)
    mu, sd = gaps.mean(), gaps.std(ddof=1)
    assert f["burstiness"] == pytest.approx((sd - mu) / (sd + mu))


def test_periodic_user_has_burstiness_minus_one():
    times = START + pd.to_timedelta(np.arange(10) * 3600, unit="s")
    records = validate(pd.DataFrame({"user_id": 1, "timestamp": times, "event": "sms",
                                     "direction": "out"}), "records")
    assert user_features(records, 1.0).loc[1, "burstiness"] == pytest.approx(-1.0)


def test_radius_of_gyration_and_cell_entropy():
    # two points 2 km apart north-south, equal weight: every point is 1 km from the centre
    dlat = np.degrees(2000.0 / EARTH_RADIUS_M)
    rg = radius_of_gyration(np.array([1, 1]), np.array([55.0, 55.0 + dlat]), np.array([12.0, 12.0]))
    assert rg.loc[1] == pytest.approx(1000.0, rel=1e-6)
    ent = cell_entropy(np.array([1, 1, 1, 1, 2, 2]), np.array([10, 11, 12, 13, 10, 10]))
    assert ent.loc[1] == pytest.approx(np.log(4)) and ent.loc[2] == 0.0


def test_mobility_features_from_cells(pop):
    antennas = pd.DataFrame({"cell_id": np.arange(5), "site_id": np.arange(5),
                             "lat": 55.0 + 0.01 * np.arange(5), "lon": 12.0})
    with_cells = pop.assign(cell_id=pop["user_id"] % 5)  # one cell per user
    f = user_features(with_cells, 14.0, antennas)
    assert (f["distinct_cells"] == 1).all() and (f["radius_of_gyration_m"] < 1e-3).all()
    assert "distinct_cells" not in user_features(pop, 14.0)


def test_local_clustering_matches_networkx():
    g = nx.gnp_random_graph(60, 0.1, seed=3)
    adj = sparse.csr_matrix(nx.to_scipy_sparse_array(g, nodelist=range(60)))
    expected = nx.clustering(g)
    np.testing.assert_allclose(graph.local_clustering(adj), [expected[i] for i in range(60)])


def test_reciprocity_and_degrees_on_known_ties():
    records = validate(pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2], "timestamp": START, "event": "call",
        "direction": ["out", "in", "out", "out", "in"], "counterpart_id": [2, 2, 3, 1, 1]}), "records")
    # user 1: out to 2 (reciprocated), out to 3 (not); user 2: out to 1 (reciprocated)
    assert graph.reciprocity(records) == pytest.approx(2 / 3)
    np.testing.assert_array_equal(graph.degrees(records), [2, 1])


def test_identical_sets_have_zero_distance(pop):
    scores, _ = fidelity_scores(sample(pop, label="a"), sample(pop.copy(), label="b"))
    distances = {k: v for k, v in scores.items() if np.isfinite(v)}
    assert distances and max(distances.values()) == 0.0
    assert overall_score(scores) == 1.0


def test_time_shift_moves_profiles_but_not_gaps(pop):
    shifted = pop.assign(timestamp=pop["timestamp"] + pd.Timedelta(hours=6))
    scores, _ = fidelity_scores(sample(shifted), sample(pop))
    assert scores["global/inter_event_s/ks"] == 0.0
    assert scores["individual/distinct_contacts/ks"] == 0.0
    assert scores["global/hour_of_day/all/tv"] > 0.2
    assert overall_score(scores) < 1.0


def test_copied_training_user_is_caught_by_privacy(pop):
    train = pop[pop["user_id"] < 80].reset_index(drop=True)
    holdout = pop[pop["user_id"] >= 80].reset_index(drop=True)
    fresh = population(40, 14, seed=9, user_offset=1000)
    copy = train[train["user_id"] == 5].assign(user_id=5000)
    synthetic = pd.concat([fresh, copy], ignore_index=True)
    scores, details = privacy_scores(sample(synthetic), sample(train), sample(holdout))
    assert scores["privacy/exact_copy_share"] == pytest.approx(1 / 41)
    assert details["dcr_candidate"].min() == 0.0
    clean, _ = privacy_scores(sample(fresh), sample(train), sample(holdout))
    assert clean["privacy/exact_copy_share"] == 0.0
    assert clean["privacy/dcr_ratio"] > 0.5
    everyone_copied = train.assign(user_id=train["user_id"] + 10_000)
    leaky, _ = privacy_scores(sample(everyone_copied), sample(train), sample(holdout))
    assert leaky["privacy/dcr_ratio"] == 0.0 and leaky["privacy/mia_auc"] > 0.9


def test_sequence_signature_depends_on_order_and_content(pop):
    one = pop[pop["user_id"] == 3]
    other = one.assign(user_id=99)
    moved = one.assign(user_id=100)
    moved.loc[moved.index[0], "timestamp"] += pd.Timedelta(minutes=5)
    sigs = sequence_signatures(sample(pd.concat([one, other, moved]).sort_values(["user_id", "timestamp"])))
    assert sigs.loc[3] == sigs.loc[99]
    assert exact_copy_share(sample(moved), sample(one)) == 0.0


def test_ran_power_savings_on_a_known_load():
    load = np.array([[0.0, 1.0, 2.0, 10.0], [5.0, 5.0, 5.0, 5.0]])
    saved, affected, off = ran_power_savings(load, [0.15])[0.15]
    assert saved == 2 / 8 and affected == pytest.approx(1 / 33)
    np.testing.assert_array_equal(off[1], False)


def test_anomalies_are_reproducible_and_detected():
    hours = 24 * 7 * 4
    how = np.arange(hours) % 168
    expected = 50.0 + 40.0 * np.sin(2 * np.pi * how / 24)
    counts = np.random.default_rng(0).poisson(np.tile(expected, (2, 1))).astype(float)
    injected, labels = inject_anomalies(counts, 0.02, np.random.default_rng(1))
    again, labels_again = inject_anomalies(counts, 0.02, np.random.default_rng(1))
    np.testing.assert_array_equal(injected, again)
    np.testing.assert_array_equal(labels, labels_again)
    series = UnitSeries(np.array(["a", "b"]), counts, counts, how, n_users=1)
    flags = SeasonalDetector.fit(series).flag(injected, how, n_users=1)
    assert (flags & labels).sum() / labels.sum() > 0.9  # recall
    assert (flags & labels).sum() / flags.sum() > 0.8  # precision


def test_usefulness_of_identical_data_has_no_gap(pop):
    s = sample(pop)
    scores, details = usefulness_scores(s, s, s, [0.1, 0.3], 0.02, 3.0, seed=0)
    assert details["unit_kind"] == "group"
    assert scores["usefulness/ran_power/energy_saved_gap"] == 0.0
    assert scores["usefulness/ran_power/decision_agreement"] == 1.0
    assert scores["usefulness/anomaly/f1_gap"] == 0.0
    assert scores["usefulness/population_tracing/corr"] == pytest.approx(1.0)


def test_judge_rules():
    th = Thresholds(floor_factor=2.0, margin=0.02)
    assert judge("individual/x/ks", 0.21, 0.1, th) is True
    assert judge("individual/x/ks", 0.23, 0.1, th) is False
    assert judge("individual/x/ks", 0.1, float("nan"), th) is None
    assert judge("privacy/exact_copy_share", 0.01, float("nan"), th) is False
    assert judge("privacy/mia_auc", 0.52, 0.5, th) is True
    assert judge("usefulness/anomaly/f1_gap", 0.05, 0.0, th) is True


def test_event_type_missing_in_real_scores_as_a_full_miss(pop):
    with_data = pop.copy()
    sms = with_data["event"] == "sms"
    with_data["event"] = with_data["event"].astype(str).where(~sms | (with_data.index % 2 == 1), "data")
    with_data["direction"] = with_data["direction"].astype(str).where(with_data["event"] != "data", "out")
    scores, _ = fidelity_scores(sample(validate(with_data, "records")), sample(pop))
    assert scores["global/hour_of_day/data/tv"] == 1.0
    assert scores["individual/data_per_day/ks"] > 0.5
    same, skipped = fidelity_scores(sample(pop), sample(pop))
    # both without data sessions: nothing to compare, so no score that would inflate the overall
    assert "global/hour_of_day/data/tv" not in same and "global/hour_of_day/data" in skipped
    assert "individual/data_per_day/ks" not in same and "individual/data_per_day" in skipped
