"""Social graph: measures vs networkx, fit on Copenhagen, generated graph vs the real holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.data import split_users
from zen.geo import LocalProjection
from zen.network import (
    OFFNET_BASE,
    SocialParams,
    compare_graphs,
    contact_table,
    edges_from_records,
    fit_social,
    generate_social_graph,
    graph_measures,
    graph_stats,
)
from zen.network.layout import sample_city_points
from zen.schema import ZenInputError

# Tolerances for generated vs real holdout; the real-vs-real floor (train vs holdout users of the
# same study) is degree KS 0.075, reciprocity 0.006, clustering 0.011 (experiments/network.md).
DEGREE_KS_TOL = 0.15
RECIPROCITY_TOL = 0.03
CLUSTERING_TOL = 0.06


@pytest.fixture(scope="module")
def fitted(copenhagen):
    split = split_users(copenhagen.user_ids, seed=0)
    params = fit_social(copenhagen.records, split.train, copenhagen.friendships)
    return copenhagen, split, params


def _homes(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    xy = sample_city_points(n, 4.0, 25.0, np.random.default_rng(seed))
    return LocalProjection(55.68, 12.57).to_latlon(xy)


def test_edges_from_records_counts_each_event_once(copenhagen):
    edges = edges_from_records(copenhagen.records)
    contact = copenhagen.records["event"].isin(["call", "sms"])
    assert edges["weight"].sum() == contact.sum() / 2  # two-sided records: one out, one in per event
    assert not edges.duplicated(["src", "dst"]).any()


def test_graph_stats_agree_with_networkx():
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, 60, 400), rng.integers(0, 60, 400)
    edges = pd.DataFrame({"src": src, "dst": dst, "weight": rng.integers(1, 9, 400).astype(float)})
    edges = edges[edges["src"] != edges["dst"]]
    stats = graph_stats(edges)
    directed = nx.DiGraph(list(zip(edges["src"], edges["dst"], strict=True)))
    undirected = directed.to_undirected()
    clustering = nx.clustering(undirected)
    assert stats["reciprocity"] == pytest.approx(nx.reciprocity(directed))
    assert stats["clustering"] == pytest.approx(np.mean([clustering[u] for u in undirected
                                                         if undirected.degree(u) >= 2]))
    assert stats["mean_degree"] == pytest.approx(np.mean([d for _, d in undirected.degree()]))


def test_fit_reads_copenhagen(fitted):
    _, split, params = fitted
    assert params.n_users_fitted == len(split.train)
    assert sum(params.degree_pmf) == pytest.approx(1.0)
    assert 0.8 < params.reciprocity < 0.95           # calls/SMS among students are mostly mutual
    assert 0.15 < params.clustering < 0.4
    assert 0.25 < params.offnet_share < 0.6           # contacts in val/holdout count as outside
    assert 0.0 < params.triangle_share < 0.95
    assert params.friend_overlap is not None and params.friend_overlap > 0.5


def test_generated_graph_matches_the_real_holdout(fitted):
    data, split, params = fitted
    real = graph_measures(edges_from_records(data.records), split.holdout)
    lat, lon = _homes(2000)
    synthetic = graph_measures(generate_social_graph(params, lat, lon, None, seed=3))
    gap = compare_graphs(real, synthetic)
    assert gap["degree_ks"] < DEGREE_KS_TOL
    assert gap["reciprocity_diff"] < RECIPROCITY_TOL
    assert gap["clustering_diff"] < CLUSTERING_TOL
    assert gap["tie_strength_ks"] < 0.1
    assert abs(np.mean(synthetic.offnet_share) - params.offnet_share) < 0.03


def test_same_seed_same_graph_and_shape(fitted):
    _, _, params = fitted
    lat, lon = _homes(1500)
    activity = np.random.default_rng(0).gamma(1.0, 2.0, 1500)
    a = generate_social_graph(params, lat, lon, activity, seed=7)
    pd.testing.assert_frame_equal(a, generate_social_graph(params, lat, lon, activity, seed=7))
    assert not a.equals(generate_social_graph(params, lat, lon, activity, seed=8))
    assert list(a.dtypes) == [np.int32, np.int32, np.float64] and (a["weight"] > 0).all()  # ids < 2**31
    on = a[(a["src"] < OFFNET_BASE) & (a["dst"] < OFFNET_BASE)]
    assert on[["src", "dst"]].to_numpy().max() < 1500 and (a["src"] != a["dst"]).all()
    assert ((a["src"] >= OFFNET_BASE) | (a["src"] < 1500)).all()
    assert (contact_table(a, 1500, 1)[:, 0] >= 0).all()  # everyone has someone to call
    tiny = generate_social_graph(params, np.full(3, 55.7), np.full(3, 12.5), None, seed=0)
    assert (contact_table(tiny, 3, 1)[:, 0] >= 0).all()


def test_active_users_have_more_ties_and_ties_are_local(fitted):
    _, _, params = fitted
    n = 4000
    lat, lon = _homes(n)
    activity = np.random.default_rng(0).gamma(1.0, 2.0, n)
    edges = generate_social_graph(params, lat, lon, activity, seed=1)
    degree = np.bincount(np.concatenate([edges["src"], edges["dst"]])[
        np.concatenate([edges["src"], edges["dst"]]) < n], minlength=n)
    assert pd.Series(activity).corr(pd.Series(degree), method="spearman") > 0.3
    on = edges[(edges["src"] < n) & (edges["dst"] < n)]
    xy = LocalProjection(55.68, 12.57).to_xy(lat, lon)
    tie_distance = np.hypot(*(xy[on["src"]] - xy[on["dst"]]).T)
    rng = np.random.default_rng(2)
    random_distance = np.hypot(*(xy[rng.integers(0, n, 5000)] - xy[rng.integers(0, n, 5000)]).T)
    assert np.median(tie_distance) < 0.5 * np.median(random_distance)


def test_contact_table_orders_by_strength():
    edges = pd.DataFrame({"src": [0, 0, 0, 2, 1, OFFNET_BASE], "dst": [1, 2, 3, 0, 0, 1],
                          "weight": [5.0, 1.0, 2.0, 3.0, 1.0, 9.0]})
    table = contact_table(edges, n_users=3, ties_per_user=3)
    # user 0: tie 1 = 5 + 1, tie 2 = 1 + 3, tie 3 = 2 -> [1, 2, 3]; user 1: off-net 9, user 0 6
    assert table.tolist() == [[1, 2, 3], [OFFNET_BASE, 0, -1], [0, -1, -1]]
    assert contact_table(edges, 3, 1).tolist() == [[1], [OFFNET_BASE], [0]]
    assert table.dtype == np.int32
    far = edges.assign(src=edges["src"].replace(OFFNET_BASE, 2**40))  # ids past int32: int64, same order
    wide = contact_table(far, n_users=3, ties_per_user=3)
    assert wide.dtype == np.int64 and wide.tolist() == [[1, 2, 3], [2**40, 0, -1], [0, -1, -1]]


def test_params_round_trip(fitted, tmp_path):
    _, _, params = fitted
    path = params.save(tmp_path / "social.json")
    assert SocialParams.load(path) == params
    (tmp_path / "bad.json").write_text('{"degree_pmf": [1.0], "nonsense": 1}')
    with pytest.raises(ZenInputError, match="bad.json: unknown social parameters .*nonsense"):
        SocialParams.load(tmp_path / "bad.json")
    with pytest.raises(ZenInputError, match="same non-zero length"):
        generate_social_graph(params, np.zeros(3), np.zeros(2))


def test_tie_probability_decays_like_d_minus_two(fitted):
    _, _, params = fitted
    n = 30_000
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 30_000, (n, 2))  # uniform homes on a 30 km square (metres)
    lat, lon = LocalProjection(45.0, 9.0).to_latlon(xy)
    edges = generate_social_graph(params, lat, lon, None, seed=0)
    on = edges[(edges["src"] < n) & (edges["dst"] < n)]
    d_tie = np.hypot(*(xy[on["src"]] - xy[on["dst"]]).T) / 1000
    d_pair = np.hypot(*(xy[rng.integers(0, n, 400_000)] - xy[rng.integers(0, n, 400_000)]).T) / 1000
    bins = np.logspace(np.log10(0.3), np.log10(10), 8)
    ratio = np.histogram(d_tie, bins)[0] / np.histogram(d_pair, bins)[0]
    slope = np.polyfit(np.log(np.sqrt(bins[1:] * bins[:-1])), np.log(ratio), 1)[0]
    assert -2.4 < slope < -1.6  # Lambiotte et al. 2008: P(tie | d) ∝ d^-2


def test_held_out_subscribers_are_not_off_network(copenhagen):
    """Every Copenhagen counterpart is a participant: fitted on the training users alone, the
    validation and held-out users used to count as off-network (share 0.42), which filled the
    synthetic data with off-network calls the real data does not have."""
    split = split_users(copenhagen.user_ids)
    records = copenhagen.records
    training_only = fit_social(records, split.train, days=copenhagen.days)
    observed = fit_social(records, split.train, days=copenhagen.days, observed_ids=copenhagen.user_ids)
    assert training_only.offnet_share > 0.3 and observed.offnet_share == 0.0
    assert observed.degree_pmf == training_only.degree_pmf
