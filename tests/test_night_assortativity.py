"""Night assortativity of the social graph (``night_target``): hand-made inputs reach a known
correlation of night tendencies across ties, without a target the graph is the previous code's,
and the fitted statistic reads the users' own night shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.generation.spec import GenerationSpec
from zen.network import SocialParams, generate_social_graph
from zen.network.graph_stats import edges_from_records
from zen.network.social import _night_assortativity, partner_night_corr
from zen.schema import ZenInputError


def _params() -> SocialParams:
    pmf = np.exp(-np.arange(1, 41) / 8.0)
    return SocialParams(degree_pmf=(pmf / pmf.sum()).tolist(), offnet_share=0.3, reciprocity=0.6,
                        clustering=0.2, triangle_share=0.3,
                        tie_strength_quantiles=np.geomspace(1, 400, 101).tolist(),
                        mutual_split_quantiles=np.linspace(0.05, 0.95, 101).tolist(),
                        top_contact_share=0.4, activity_degree_corr=0.5, window_days=28.0,
                        n_users_fitted=500)


@pytest.fixture(scope="module")
def population():
    rng = np.random.default_rng(2)
    n = 6000  # above the calibration subsample: the target is reached on users it did not see
    lat, lon = 45.46 + rng.normal(0, 0.05, n), 9.19 + rng.normal(0, 0.07, n)
    return lat, lon, np.exp(rng.normal(1, 1, n)), rng.beta(2, 20, n)


def _on_network(edges: pd.DataFrame, n: int) -> np.ndarray:
    on = edges[(edges["src"] < n) & (edges["dst"] < n)]
    return on[["src", "dst"]].to_numpy(np.int64)


def _distance_km(ties: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    dy = (lat[ties[:, 0]] - lat[ties[:, 1]]) * 111.0
    dx = (lon[ties[:, 0]] - lon[ties[:, 1]]) * 111.0 * np.cos(np.radians(lat.mean()))
    return np.hypot(dx, dy)


@pytest.mark.parametrize("target", [0.15, 0.3, 0.6])
def test_the_graph_reaches_a_known_night_assortativity(population, target):
    lat, lon, activity, night = population
    n = len(lat)
    plain = generate_social_graph(_params(), lat, lon, activity, seed=4)
    edges = generate_social_graph(_params(), lat, lon, activity, seed=4, night=night, night_target=target)
    corr, ties = partner_night_corr(_on_network(edges, n), night)
    base, _ = partner_night_corr(_on_network(plain, n), night)
    assert abs(base) < 0.05 and ties > 10_000
    assert abs(corr - target) < 0.05
    # the degrees and the locality of ties are kept: about as many ties, still between neighbours
    assert abs(len(edges) / len(plain) - 1) < 0.02
    near = np.median(_distance_km(_on_network(plain, n), lat, lon))
    assert np.median(_distance_km(_on_network(edges, n), lat, lon)) < 1.5 * near


def test_a_target_beyond_reach_gives_the_most_assortative_graph(population):
    lat, lon, activity, night = population
    most = generate_social_graph(_params(), lat, lon, activity, seed=4, night=night, night_target=1.0)
    corr, _ = partner_night_corr(_on_network(most, len(lat)), night)
    assert corr > 0.8


def test_without_a_target_the_graph_is_the_previous_one(population):
    lat, lon, activity, night = population
    plain = generate_social_graph(_params(), lat, lon, activity, seed=4)
    for target in (None, 0.0):
        same = generate_social_graph(_params(), lat, lon, activity, seed=4, night=night, night_target=target)
        pd.testing.assert_frame_equal(same, plain)
    flat = generate_social_graph(_params(), lat, lon, activity, seed=4, night=np.full(len(lat), 0.1),
                                 night_target=0.5)  # no spread of tendencies: nothing to sort by
    pd.testing.assert_frame_equal(flat, plain)


def test_same_seed_same_assortative_graph(population):
    lat, lon, activity, night = population
    a = generate_social_graph(_params(), lat, lon, activity, seed=4, night=night, night_target=0.3)
    b = generate_social_graph(_params(), lat, lon, activity, seed=4, night=night, night_target=0.3)
    pd.testing.assert_frame_equal(a, b)


def test_partner_night_corr_counts_each_tie_once_in_both_orientations():
    night = np.array([0.0, 1.0, 0.0, 1.0, 0.5, np.nan])
    ties = np.array([[0, 2], [2, 0], [1, 3], [0, 1], [4, 4], [4, 5]])  # a repeat, a self pair, a NaN end
    corr, n = partner_night_corr(ties, night)
    a = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0])  # (0,2), (1,3), (0,1) both ways
    b = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    assert n == 3 and corr == pytest.approx(np.corrcoef(a, b)[0, 1])


def _records(pairs: list[tuple[int, int]], hour_of: dict[int, int]) -> pd.DataFrame:
    """Each pair exchanges 12 one-SMS conversations a day apart, started by the first user at
    their own hour: both ends' records, as two-sided data has them."""
    rows = []
    for u, v in pairs:
        for day in range(12):
            t = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day, hours=hour_of[u], minutes=u % 50)
            rows += [(u, t, "out", v), (v, t, "in", u)]
    frame = pd.DataFrame(rows, columns=["user_id", "timestamp", "direction", "counterpart_id"])
    return frame.assign(event="sms").sort_values(["user_id", "timestamp"], ignore_index=True)


def test_the_fit_reads_the_users_own_night_shares():
    # owls 0-3 start theirs at night, larks 4-7 in the day; tied like to like, then like to unlike
    hour_of = {0: 1, 1: 4, 2: 1, 3: 4, 4: 12, 5: 16, 6: 12, 7: 16}  # partners' conversations apart
    like = [(0, 1), (1, 0), (2, 3), (3, 2), (4, 5), (5, 4), (6, 7), (7, 6)]
    unlike = [(0, 4), (4, 0), (1, 5), (5, 1), (2, 6), (6, 2), (3, 7), (7, 3)]
    users = np.arange(8)
    for pairs, expected in ((like, 1.0), (unlike, -1.0)):
        rec = _records(pairs, hour_of)
        corr, ties = _night_assortativity(rec, edges_from_records(rec), users)
        assert ties == 4 and corr == pytest.approx(expected)


def test_the_night_assortativity_setting():
    assert GenerationSpec(n_users=10, days=1).night_assortativity == "fit"  # the default
    for value, expected in (("fit", "fit"), ("off", None), (False, None), (0, None), ("0.4", 0.4), (1, 1.0)):
        assert GenerationSpec(n_users=10, days=1, night_assortativity=value).night_assortativity == expected
    with pytest.raises(ZenInputError, match="night_assortativity='x': use null, fit or a number in"):
        GenerationSpec(n_users=10, days=1, night_assortativity="x")
    with pytest.raises(ZenInputError, match="night_assortativity=1.5"):
        GenerationSpec(n_users=10, days=1, night_assortativity=1.5)


def test_a_model_without_per_user_clocks_generates_as_without_the_option(model_dir, tmp_path, caplog):
    """The baseline has no night tendency: the run warns and writes the records it writes without
    the option."""
    from conftest import small_generate_config

    from zen.io.dataset import read_dataset
    from zen.stages.generate import generate

    def records(name: str, **extra) -> dict:
        generate(small_generate_config(model_dir, tmp_path / name, **extra))
        sums = read_dataset(tmp_path / name).manifest["checksums"].items()
        return {k: v for k, v in sums if k.startswith("records") or k.startswith("edges")}

    plain = records("plain")
    with caplog.at_level("WARNING"):
        assert records("night", night_assortativity=0.5) == plain and len(plain) > 3
    assert "needs a traffic model with per-user clocks" in caplog.text


@pytest.fixture(scope="module")
def small_lstm(copenhagen, tmp_path_factory):
    """A small LSTM with chronotypes on 60 Copenhagen training users (one torch thread)."""
    import torch
    from conftest import lstm_trainer

    from zen.data import split_users
    from zen.traffic.lstm import LSTMTrafficModel

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    s = split_users(copenhagen.user_ids, seed=0)
    model = LSTMTrafficModel(hidden=16, layers=1, n_mix=4, mark_hidden=16, profile_components=2, bptt=64,
                             eval_users=20, eval_days=2.0)
    model.fit(copenhagen.subset(s.train[:60]), None, trainer=lstm_trainer(max_epochs=2),
              work_dir=tmp_path_factory.mktemp("lstm") / "model", device="cpu", seed=0)
    yield model
    torch.set_num_threads(before)


def test_the_fit_target_divides_the_fitted_correlation_by_the_tendencys_r2(small_lstm):
    from types import SimpleNamespace

    from zen.generation.pipeline import night_target, tendency_reliability

    start = pd.Timestamp("2024-03-04", tz="UTC")
    r2 = tendency_reliability(small_lstm, 14.0, start, seed=3, n_users=200)
    assert 0.0 < r2 <= 1.0 and r2 == tendency_reliability(small_lstm, 14.0, start, seed=3, n_users=200)
    assert tendency_reliability(object(), 14.0, start) == 0.0  # no per-user clocks
    spec = GenerationSpec(n_users=10, days=1)
    cases = ((0.1, 0.25, 0.4), (0.3, 0.2, 1.0), (0.1, 0.0, None), (0.0, 0.3, None))  # capped at 1
    for fitted, stored_r2, expected in cases:
        social = dataclasses_replace(_params(), night_assortativity=fitted, night_tendency_r2=stored_r2)
        got = night_target(spec, SimpleNamespace(social=social))
        assert got == (pytest.approx(expected) if expected is not None else None)
    assert night_target(GenerationSpec(n_users=10, days=1, night_assortativity=0.3),
                        SimpleNamespace(social=_params())) == 0.3
    assert night_target(GenerationSpec(n_users=10, days=1, night_assortativity=None),
                        SimpleNamespace(social=_params())) is None


def dataclasses_replace(params: SocialParams, **change) -> SocialParams:
    import dataclasses

    return dataclasses.replace(params, **change)
