"""The activity-aware serving law: its bins and draws on hand-made cases, its JSON form, and the
calibration recovering a known gap -> change table from data the emulator itself made."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import grid_places

from zen.mobility import MobilityParams
from zen.mobility.cdr_calibration import (
    HANDOVER_CANDIDATES,
    HANDOVER_EDGES_M,
    CellEvents,
    CellSimulator,
    HandoverLaw,
    burst_hops_m,
    change_by_bin,
    fit_cell_sequences,
)
from zen.mobility.serving import BURST_EDGES_S, GAP_EDGES_S, ServingProcess, pair_bins
from zen.schema import ZenInputError

SHAPE = (len(GAP_EDGES_S) + 1, len(BURST_EDGES_S) + 1)


def _table(keep: np.ndarray) -> dict:
    return {"gap_edges_s": list(GAP_EDGES_S), "burst_edges_s": list(BURST_EDGES_S),
            "keep": np.asarray(keep, float).reshape(SHAPE).tolist()}


def test_pair_bins_on_hand_made_times():
    user = np.array([0, 0, 0, 0, 1, 1])
    t = np.array([0.0, 30.0, 100.0, 5000.0, 0.0, 20000.0])
    # obs 1: gap 30 s (row 0), nearest other gap 70 s (burst col 0); obs 2: gap 70 (row 1), around 30
    # (col 0); obs 3: gap 4900 (row 4), around 70 (col 0); obs 5: gap 20000 (row 5), alone (col 2)
    assert pair_bins(user, t).tolist() == [-1, 0, 3, 12, -1, 17]


def test_hand_made_table_changes_in_bursts_and_keeps_when_quiet():
    neighbours = np.array([[1, 2], [0, 2], [0, 1]])
    keep = np.ones(SHAPE)
    keep[:, 0] = 0.0  # a pair inside a burst (another event within 5 min) always changes cell
    proc = ServingProcess(neighbours, 0.0, 0.5, seed=7, keep=keep)
    burst = np.arange(20) * 10.0
    quiet = burst[-1] + 7200.0 * np.arange(1, 6)
    t = np.r_[burst, quiet]
    served = proc.observe(np.zeros(len(t), np.int64), t, np.zeros(len(t), np.int64))
    assert np.all(served[1:20] != served[:19])  # a change is never to the same place
    assert served[20] != served[19]  # gap 2 h, but next to the burst: still a burst pair
    assert np.all(served[21:] == served[20])  # quiet pairs keep the cell


def test_keep_is_the_probability_of_the_same_cell_and_changes_favour_the_own_place():
    neighbours = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    proc = ServingProcess(neighbours, 0.0, 0.6, seed=3, keep=np.full(SHAPE, 0.3))
    n = 20_000
    stay = np.repeat(np.arange(n), 3)
    t = stay * 1e5 + np.tile([0.0, 120.0, 240.0], n)
    served = proc.observe(stay, t, np.zeros(3 * n, np.int64))
    first, second, third = served[0::3], served[1::3], served[2::3]
    assert np.mean(first == 0) == pytest.approx(0.6, abs=0.02)  # a stay's first draw: own w.p. main_prob
    assert np.mean(first == second) == pytest.approx(0.3, abs=0.02)
    assert np.mean(second == third) == pytest.approx(0.3, abs=0.02)
    moved = first != second  # from a neighbour, a change lands on the own place w.p. 0.6 / (0.6 + 0.4 * 2/3)
    from_nb = moved & (first != 0)
    assert np.mean(second[from_nb] == 0) == pytest.approx(0.6 / (0.6 + 0.4 * 2 / 3), abs=0.03)
    again = proc.observe(stay[::-1], t[::-1], np.zeros(3 * n, np.int64))[::-1]
    assert np.array_equal(again, served)  # same queries, any order: same serving places


def test_activity_table_round_trips_as_json_and_is_off_by_default(tmp_path):
    assert MobilityParams().serving_activity is None
    params = MobilityParams(serving_activity=_table(np.linspace(0, 1, SHAPE[0] * SHAPE[1])))
    back = MobilityParams.load(params.save(tmp_path / "mobility.json"))
    assert back == params and back.without_activity() == MobilityParams()
    with pytest.raises(ZenInputError, match="serving_activity"):
        MobilityParams.from_dict({"serving_activity": {"gap_edges_s": [60.0], "burst_edges_s": [],
                                                       "keep": [[0.5], [1.5]]}})  # 1.5 is no probability


def _bursty_times(n_users: int, days: int, rng: np.random.Generator) -> CellEvents:
    """Sessions of events seconds to minutes apart, a few a day, plus lone events."""
    user, t = [], []
    for u in range(n_users):
        starts = np.sort(rng.integers(0, days, 4 * days) * 86400.0 + rng.uniform(7, 23, 4 * days) * 3600.0)
        times = [s + np.cumsum(rng.exponential(90.0, rng.geometric(0.2))) for s in starts]
        times = np.unique(np.concatenate(times + [rng.uniform(0, days * 86400.0, 2 * days)]))
        user.append(np.full(len(times), u))
        t.append(times)
    t = np.concatenate(t)
    zeros = np.zeros(len(t))
    return CellEvents(np.concatenate(user), t, (t % 86400 // 3600).astype(int), zeros, zeros, zeros)


def test_fit_recovers_a_known_gap_to_change_table_from_emulated_cell_sequences():
    rng = np.random.default_rng(2)
    places, start, days = grid_places(), pd.Timestamp("2012-08-16", tz="UTC"), 10
    times = _bursty_times(50, days, rng)
    gap_curve = np.array([0.1, 0.2, 0.35, 0.5, 0.6, 0.6, 0.6])
    truth_keep = np.c_[0.5 * gap_curve, gap_curve, gap_curve]  # bursts change more
    truth = MobilityParams(rho=0.4, serving_main_prob=0.6, serving_radius_m=2500.0,
                           serving_activity=_table(truth_keep))
    observed = CellSimulator(times, places, start, days, seed=123).observe(truth)  # another seed than the fit
    base = MobilityParams(rho=0.4, serving_radius_m=2500.0)
    params, report = fit_cell_sequences(observed, places, start, days, base, ("serving_main_prob",), seed=0,
                                        max_evals=12, n_boot=20, activity=True)
    assert params.serving_main_prob == pytest.approx(0.6, abs=0.12)
    keep = np.asarray(params.serving_activity["keep"]).ravel()
    pairs = np.asarray(report["serving_activity"]["pairs"])
    well = pairs >= 300  # bins the sample pins (stated tolerance there: +-0.1, weighted mean error 0.05)
    assert well.sum() >= 6
    err = np.abs(keep - truth_keep.ravel())[well]
    assert err.max() < 0.1 and np.average(err, weights=pairs[well]) < 0.05
    real, _ = change_by_bin(observed, len(keep))
    fitted = np.asarray(report["serving_activity"]["change_fitted"], float)
    assert np.nanmax(np.abs(real - fitted)[well]) < 0.05  # the fitted table reproduces the curve
    with pytest.raises(ZenInputError, match="serving_dwell_h is replaced"):
        fit_cell_sequences(observed, places, start, days, base, ("serving_dwell_h",), activity=True)


def _scattered_places(n: int = 500, side_deg: float = 0.1, seed: int = 5) -> pd.DataFrame:
    """Places scattered uniformly over a ~10 km square (distances between them continuous)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"place_id": np.arange(n), "lat": 30.0 + side_deg * rng.random(n),
                         "lon": 120.0 + side_deg * rng.random(n), "home_weight": 1.0 / n,
                         "work_weight": 1.0 / n, "cell_id": 1000 + np.arange(n)})


def _hop_shares(law: HandoverLaw, weight) -> np.ndarray:
    """Shares of the hops' distance bins that ``weight`` gives around the law's origins."""
    cand = np.asarray(law.candidates(2500.0), float)
    mass = cand * np.asarray(weight, float)
    return mass / mass.sum()


def test_handover_law_recovers_a_known_distance_law_from_emulated_cell_sequences():
    rng = np.random.default_rng(3)
    places, start, days = _scattered_places(), pd.Timestamp("2012-08-16", tz="UTC"), 10
    times = _bursty_times(60, days, rng)
    n_bins = len(HANDOVER_EDGES_M) - 1
    centre = np.sqrt(np.maximum(np.asarray(HANDOVER_EDGES_M[:-1]), 50.0) * np.asarray(HANDOVER_EDGES_M[1:]))
    true_w = np.exp(-0.5 * (np.log(centre / 600.0) / 0.4) ** 2)  # hops of ~600 m preferred
    law_true = {"edges_m": list(HANDOVER_EDGES_M), "weight": true_w.tolist(), "neighbours": 32}
    keep = np.full(SHAPE, 0.5)
    keep[:, 0] = 0.05
    truth = MobilityParams(rho=0.3, serving_main_prob=0.5, serving_radius_m=2500.0,
                           serving_activity=_table(keep) | {"handover": law_true})
    observed = CellSimulator(times, places, start, days, seed=11).observe(truth)
    law = HandoverLaw(observed, places)
    assert law.real.sum() > 1000  # hops inside bursts to fit on
    fitted = law.fit(2500.0)
    assert len(fitted["weight"]) == n_bins and fitted["neighbours"] == HANDOVER_CANDIDATES
    want, got = _hop_shares(law, true_w), _hop_shares(law, fitted["weight"])
    uniform = _hop_shares(law, np.ones(n_bins))
    tv, tv_uniform = 0.5 * np.abs(got - want).sum(), 0.5 * np.abs(uniform - want).sum()
    # stated tolerance: TV 0.15 between the hop-distance laws (hops between two neighbours of one
    # stay and trips blur it: measured 0.14 here, the uniform choice 0.21)
    assert tv < 0.15 and tv < 0.8 * tv_uniform
    # what the fit matches: the hops seen inside bursts, simulated with the fitted law (same stays).
    # Stated tolerance 15 %: the law is read off the observed hops in one step, and hops between two
    # neighbours of one stay broaden them, so the refit hops run ~10 % long here (no fixed point yet)
    def hops(weight) -> np.ndarray:
        act = truth.serving_activity | {"handover": law_true | {"weight": list(weight)}}
        return burst_hops_m(CellSimulator(times, places, start, days, seed=11).observe(
            dataclasses.replace(truth, serving_activity=act)))[0]
    seen = np.quantile(burst_hops_m(observed)[0], [0.25, 0.5, 0.75])
    np.testing.assert_allclose(np.quantile(hops(fitted["weight"]), [0.25, 0.5, 0.75]), seen, rtol=0.15)
    assert abs(np.median(hops(np.ones(n_bins))) / seen[1] - 1) > 0.2  # the uniform choice does not
    np.testing.assert_allclose(law.median_m, np.median(burst_hops_m(observed)[0]))


def test_handover_law_is_saved_with_the_table_and_absent_means_uniform(tmp_path):
    places = _scattered_places()
    law = {"edges_m": list(HANDOVER_EDGES_M), "weight": [1.0] * (len(HANDOVER_EDGES_M) - 1), "neighbours": 8}
    table = _table(np.full(SHAPE, 0.3))
    params = MobilityParams(serving_radius_m=2500.0, serving_activity=table | {"handover": law})
    back = MobilityParams.load(params.save(tmp_path / "mobility.json"))
    assert back == params and back.without_activity().serving_activity is None
    proc = ServingProcess.from_params(places, back, seed=1)
    assert proc.weights is not None and proc.weights.shape == (len(places), 8)
    plain = ServingProcess.from_params(places, MobilityParams(serving_radius_m=2500.0,
                                                              serving_activity=table), 1)
    assert plain.weights is None
    stay = np.repeat(np.arange(50), 20)
    t = np.tile(np.arange(20) * 60.0, 50)
    place = np.repeat(np.arange(50), 20)
    served = proc.observe(stay, t, place)
    assert (served != place).any()
    assert (served[1:] != served[:-1])[stay[1:] == stay[:-1]].mean() > 0.5  # keep 0.3: mostly changes
    with pytest.raises(ZenInputError, match="serving_activity"):
        MobilityParams.from_dict({"serving_activity": _table(np.full(SHAPE, 0.3)) | {
            "handover": law | {"weight": [-1.0] * (len(HANDOVER_EDGES_M) - 1)}}})


def test_fit_with_handover_saves_the_law_beside_the_table():
    rng = np.random.default_rng(4)
    places, start, days = _scattered_places(), pd.Timestamp("2012-08-16", tz="UTC"), 5
    times = _bursty_times(20, days, rng)
    observed = CellSimulator(times, places, start, days, seed=5).observe(
        MobilityParams(serving_radius_m=2500.0, serving_activity=_table(np.full(SHAPE, 0.2))))
    base = MobilityParams(serving_radius_m=2500.0)
    params, report = fit_cell_sequences(observed, places, start, days, base, ("serving_main_prob",), seed=0,
                                        max_evals=2, n_boot=5, activity=True, handover=True)
    law = params.serving_activity["handover"]
    assert law == HandoverLaw(observed, places).fit(2500.0)  # the radius is not searched here
    assert report["serving_activity"]["handover"] == law
    assert report["serving_activity"]["handover_median_m"]["real"] > 0
    with pytest.raises(ZenInputError, match="activity-aware"):
        fit_cell_sequences(observed, places, start, days, base, ("serving_main_prob",), handover=True)
