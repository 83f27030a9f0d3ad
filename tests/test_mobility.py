"""Mobility emulator: reproducibility, the stays contract, diary shares, locate(), anchors, gravity, IO."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from zen.mobility import MobilityEmulator, MobilityParams, Stays, calibrate, check_places, choose_anchors
from zen.mobility.measures import home_share_at_night, visits_from_stays, work_share_weekdays
from zen.mobility.places import GravityIndex, haversine_m
from zen.schema import ZenInputError

CONFIG = Path(__file__).resolve().parents[1] / "zen" / "configs" / "mobility" / "default.yaml"
START = pd.Timestamp("2013-02-04", tz="UTC")  # a Monday


def make_places(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A city-like set of places: a dense centre and sparse suburbs, heavy-tailed weights."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "place_id": np.arange(n), "lat": 45.46 + rng.normal(0, 0.04, n), "lon": 9.19 + rng.normal(0, 0.06, n),
        "home_weight": rng.pareto(1.5, n) + 0.1, "work_weight": rng.pareto(1.2, n) + 0.1,
        "cell_id": rng.integers(0, 50, n),
    })


@pytest.fixture(scope="module")
def places() -> pd.DataFrame:
    return make_places()


@pytest.fixture(scope="module")
def week(places) -> tuple[Stays, np.ndarray, np.ndarray]:
    params = MobilityParams()
    home, work = choose_anchors(places, 400, params, np.random.default_rng(1))
    return MobilityEmulator(params).simulate(places, home, work, 7, START, seed=5), home, work


def test_same_seed_same_stays_and_other_seed_differs(places):
    params = MobilityParams()
    home, work = choose_anchors(places, 50, params, np.random.default_rng(0))
    a = MobilityEmulator(params).simulate(places, home, work, 3, START, seed=11)
    b = MobilityEmulator(params).simulate(places, home, work, 3, START, seed=11)
    c = MobilityEmulator(params).simulate(places, home, work, 3, START, seed=12)
    for name in ("user", "start_s", "end_s", "place"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert len(a) != len(c) or not np.array_equal(a.place, c.place)


def test_stays_tile_the_period_without_overlap(week):
    stays, home, _ = week
    period = 7 * 86400.0
    assert stays.period_s == period and stays.n_users == len(home)
    assert np.all(np.diff(stays.user) >= 0)
    assert np.all(stays.end_s > stays.start_s)
    first = np.r_[True, stays.user[1:] != stays.user[:-1]]
    last = np.r_[stays.user[1:] != stays.user[:-1], True]
    np.testing.assert_array_equal(np.unique(stays.user), np.arange(len(home)))
    assert np.all(stays.start_s[first] == 0.0) and np.all(stays.end_s[last] == period)
    inner = ~first
    np.testing.assert_array_equal(stays.start_s[inner], stays.end_s[np.flatnonzero(inner) - 1])
    assert np.all(stays.place[inner] != stays.place[np.flatnonzero(inner) - 1])
    assert stays.place.min() >= 0 and stays.place.max() < 300
    np.testing.assert_array_equal(stays.place[first], home)  # everyone starts the Monday at home


def test_night_home_and_weekday_work_shares_in_configured_ranges(week, places):
    expect = yaml.safe_load(CONFIG.read_text())["expect"]
    stays, home, work = week
    visits = visits_from_stays(stays, places)
    night = home_share_at_night(visits, pd.Series(home), START).mean()
    at_work = work_share_weekdays(visits, pd.Series(work), START).mean()
    lo, hi = expect["home_share_at_night"]
    assert lo <= night <= hi, night
    lo, hi = expect["work_share_weekdays"]
    assert lo <= at_work <= hi, at_work


def test_locate_agrees_with_brute_force(week):
    stays, home, _ = week
    rng = np.random.default_rng(3)
    user = rng.integers(-1, len(home) + 1, 2000)
    t = rng.uniform(-3600, 7 * 86400 + 3600, 2000)
    t[:10] = stays.start_s[:10]  # exact stay boundaries belong to the stay that starts there
    user[:10] = stays.user[:10]
    got = stays.locate(user, t)
    expected = np.full(len(user), -1)
    for i, (uu, tt) in enumerate(zip(user, t, strict=True)):  # brute force: scan every stay
        hit = np.flatnonzero((stays.user == uu) & (stays.start_s <= tt) & (tt < stays.end_s))
        assert len(hit) <= 1
        if len(hit):
            expected[i] = stays.place[hit[0]]
    np.testing.assert_array_equal(got, expected)


def test_to_frame_has_utc_timestamps_and_population_ids(week):
    stays, home, _ = week
    ids = np.arange(len(home)) + 1000
    frame = stays.to_frame(ids, START)
    assert list(frame.columns) == ["user_id", "start", "end", "place_id"]
    assert str(frame["start"].dtype) == "datetime64[us, UTC]"
    assert frame["user_id"].min() == 1000 and frame["start"].min() == START
    assert frame["end"].max() == START + pd.Timedelta(days=7)
    with pytest.raises(ZenInputError):
        stays.to_frame(ids[:-1], START)


def test_choose_anchors_follows_weights(places):
    params = MobilityParams(work_share=0.7)
    home, work = choose_anchors(places, 20000, params, np.random.default_rng(0))
    again = choose_anchors(places, 20000, params, np.random.default_rng(0))
    np.testing.assert_array_equal(home, again[0])
    np.testing.assert_array_equal(work, again[1])
    assert abs((work >= 0).mean() - 0.7) < 0.02
    share = np.bincount(home, minlength=len(places)) / len(home)
    expected = places["home_weight"].to_numpy() / places["home_weight"].sum()
    assert 0.5 * np.abs(share - expected).sum() < 0.08  # total variation, sampling noise ~0.05
    has = work >= 0
    assert (work[has] != home[has]).mean() > 0.95
    commute = haversine_m(*places[["lat", "lon"]].to_numpy()[home[has]].T,
                          *places[["lat", "lon"]].to_numpy()[work[has]].T)
    far = haversine_m(*places[["lat", "lon"]].to_numpy()[home[has]].T,
                      *places[["lat", "lon"]].to_numpy()[np.random.default_rng(1).permutation(work[has])].T)
    assert np.median(commute) < np.median(far)  # gravity: work nearer home than a random work place


def test_gravity_draws_match_exact_rule_and_cells_bound_memory():
    places = make_places(60, seed=2)
    lat, lon = places["lat"].to_numpy(), places["lon"].to_numpy()
    a = places["work_weight"].to_numpy()
    index = GravityIndex(lat, lon, a, 2.0, 200.0, max_cells=2048)
    origin = 7
    draws = index.sample(torch.full((200000,), origin), torch.Generator().manual_seed(0)).numpy()
    weights = a / np.maximum(haversine_m(lat[origin], lon[origin], lat, lon), 200.0) ** 2
    weights[origin] = 0.0
    expected = weights / weights.sum()
    share = np.bincount(draws, minlength=60) / len(draws)
    assert 0.5 * np.abs(share - expected).sum() < 0.01
    big = make_places(5000, seed=3)
    coarse = GravityIndex(big["lat"].to_numpy(), big["lon"].to_numpy(), big["home_weight"].to_numpy(),
                          2.0, 200.0, max_cells=400)
    assert coarse.n_cells <= 400 and coarse.cell_cum.numel() == coarse.n_cells**2
    picked = coarse.sample(torch.arange(5000), torch.Generator().manual_seed(0))
    assert picked.min() >= 0 and picked.max() < 5000


def test_params_roundtrip_and_bad_values(tmp_path):
    params = MobilityParams(rho=0.5, max_trips_per_day=4)
    path = params.save(tmp_path / "mobility.json")
    assert MobilityParams.load(path) == params
    with pytest.raises(ZenInputError, match="rho"):
        MobilityParams(rho=-0.1)
    with pytest.raises(ZenInputError, match="unknown"):
        MobilityParams.from_dict({"rhoo": 0.5})
    with pytest.raises(ZenInputError, match="not found"):
        MobilityParams.load(tmp_path / "missing.json")


def test_bad_places_and_anchors_name_the_row_and_column(places):
    broken = places.copy()
    broken.loc[5, "lat"] = np.nan
    with pytest.raises(ZenInputError, match=r"row 5, column 'lat'"):
        check_places(broken)
    with pytest.raises(ZenInputError, match="work_weight"):
        check_places(places.drop(columns="work_weight"))
    home = np.zeros(3, dtype=np.int64)
    with pytest.raises(ZenInputError, match="row 1"):
        MobilityEmulator(MobilityParams()).simulate(places, home, np.array([-1, 999, 0]), 1, START, 0)


def test_calibrate_without_gps_returns_configured_defaults(tmp_path):
    cfg = yaml.safe_load(CONFIG.read_text())
    params = calibrate(cfg, tmp_path)  # calibrate: false never reads the data folder
    assert params == MobilityParams.from_dict(cfg["params"])
    assert calibrate({"calibrate": False}, tmp_path) == MobilityParams()


def test_fractional_days_and_midday_start(places):
    params = MobilityParams()
    home, work = choose_anchors(places, 30, params, np.random.default_rng(0))
    start = pd.Timestamp("2013-02-09 13:30", tz="UTC")  # a Saturday afternoon
    stays = MobilityEmulator(params).simulate(places, home, work, 1.5, start, seed=0)
    last = np.r_[stays.user[1:] != stays.user[:-1], True]
    assert np.all(stays.end_s[last] == 1.5 * 86400)
    assert set(np.unique(stays.user)) == set(range(30))


def test_population_shards_are_reproducible_and_cover_every_user(places):
    from zen.mobility import iter_stay_frames

    params = MobilityParams()
    frames = list(iter_stay_frames(places, 25, params, 2, START, seed=4, shard_users=10))
    again = pd.concat(iter_stay_frames(places, 25, params, 2, START, seed=4, shard_users=10))
    assert len(frames) == 3
    table = pd.concat(frames)
    pd.testing.assert_frame_equal(table, again)
    assert sorted(table["user_id"].unique()) == list(range(25))
    span = table.groupby("user_id").agg(first=("start", "min"), last=("end", "max"))
    assert (span["first"] == START).all() and (span["last"] == START + pd.Timedelta(days=2)).all()


def test_empty_shard_gives_empty_stays(places):
    none = np.zeros(0, dtype=np.int64)
    stays = MobilityEmulator(MobilityParams()).simulate(places, none, none, 2, START, seed=0)
    assert len(stays) == 0 and stays.n_users == 0
    assert stays.to_frame(none, START).empty
    np.testing.assert_array_equal(stays.locate(np.array([0]), np.array([5.0])), [-1])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_stays_keep_the_contract(places):
    params = MobilityParams()
    home, work = choose_anchors(places, 200, params, np.random.default_rng(0))
    stays = MobilityEmulator(params).simulate(places, home, work, 3, START, seed=1, device="cuda")
    inner = np.r_[False, stays.user[1:] == stays.user[:-1]]
    np.testing.assert_array_equal(stays.start_s[inner], stays.end_s[np.flatnonzero(inner) - 1])
    assert np.all(stays.end_s > stays.start_s) and set(np.unique(stays.user)) == set(range(200))
