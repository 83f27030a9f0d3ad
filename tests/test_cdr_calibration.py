"""Calibration from cell sequences recovers known parameters from data the emulator itself made."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import daytime_events, grid_places

from zen.mobility import MobilityParams
from zen.mobility.cdr_calibration import CellSimulator, calibrate_mobility, fit_cell_sequences


def test_recovers_serving_parameters_from_emulated_cell_sequences():
    rng = np.random.default_rng(1)
    places, start, days = grid_places(), pd.Timestamp("2012-08-16", tz="UTC"), 10.0
    times = daytime_events(50, days, rng)
    truth = MobilityParams(rho=0.4, serving_dwell_h=0.3, serving_main_prob=0.6, serving_radius_m=2500.0)
    observed = CellSimulator(times, places, start, days, seed=123).observe(truth)  # another seed than the fit
    fit = ("serving_dwell_h", "serving_main_prob")  # rho is not identified this small (see experiments)
    base = MobilityParams(rho=0.4, serving_radius_m=2500.0)  # serving off: the fit must find it
    params, report = fit_cell_sequences(observed, places, start, days, base, fit, seed=0, max_evals=25,
                                        n_boot=20)
    assert report["loss_fitted"] < report["loss_start"] / 3
    assert params.serving_main_prob == pytest.approx(0.6, abs=0.12)   # stated tolerance: ±0.12
    assert params.serving_dwell_h == pytest.approx(0.3, rel=0.5)      # ±50 % (a log-scale parameter)
    assert set(report["standard_error"]) == set(fit)


def test_calibrate_mobility_modes(tmp_path):
    base, report = calibrate_mobility({"calibrate": False}, tmp_path)
    assert report is None and base == MobilityParams()
    base, report = calibrate_mobility({"calibrate": "auto", "params": {"rho": 0.5}}, tmp_path)  # no cells
    assert report is None and base.rho == 0.5
    from zen.schema import ZenInputError

    with pytest.raises(ZenInputError, match="mobility.source=cells needs data with cell_id"):
        calibrate_mobility({"calibrate": True, "source": "cells"}, tmp_path)


def test_serving_process_law_at_observations():
    from zen.mobility.serving import ServingProcess

    neighbours = np.array([[1, 2], [0, 2], [0, 1]])
    proc = ServingProcess(neighbours, dwell_s=600.0, main_prob=0.5, seed=3)
    n = 20_000
    stay = np.repeat(np.arange(n), 2)
    gap = np.tile([0.0, 300.0], n)  # pairs of observations 300 s apart in one stay at place 0
    t = stay * 1e5 + gap
    served = proc.observe(stay, t, np.zeros(2 * n, np.int64))
    first, second = served[0::2], served[1::2]
    assert np.mean(first == 0) == pytest.approx(0.5, abs=0.02)  # a fresh draw: main w.p. 1/2
    assert set(np.unique(served)) == {0, 1, 2}
    p_keep = np.exp(-0.5)  # no change within 300 s; after a change a fresh draw (same w.p. 1/2, 1/4, 1/4)
    same_after_change = 0.5 * 0.5 + 0.25 * 0.25 * 2
    assert np.mean(first == second) == pytest.approx(p_keep + (1 - p_keep) * same_after_change, abs=0.02)
    again = proc.observe(stay[::-1], t[::-1], np.zeros(2 * n, np.int64))[::-1]
    assert np.array_equal(again, served)  # same queries, any order: same serving places


def test_emulator_stays_are_positions_and_observations_see_servinggrid_places():
    from zen.mobility import MobilityEmulator, choose_anchors

    places, start = grid_places(6), pd.Timestamp("2012-08-16", tz="UTC")
    home, work = choose_anchors(places, 20, MobilityParams(), np.random.default_rng(0))
    plain = MobilityEmulator(MobilityParams()).simulate(places, home, work, 2.0, start, seed=5)
    served = MobilityEmulator(MobilityParams(serving_dwell_h=0.2, serving_radius_m=3000.0)).simulate(
        places, home, work, 2.0, start, seed=5)
    assert np.array_equal(plain.place, served.place) and served.serving is not None  # stays unchanged
    user, t = np.repeat(np.arange(20), 50), np.tile(np.linspace(0, 2 * 86400 - 1, 50), 20)
    moved = served.locate(user, t) != plain.locate(user, t)
    assert 0.2 < moved.mean() < 0.8


def test_calibrate_mobility_from_gps_through_the_train_entry(shared_data):
    from conftest import require_data

    require_data("geolife_sample", "geolife_sample.txt.gz")
    cfg = {"calibrate": True, "source": "gps", "gps_file": "geolife_sample/geolife_sample.txt.gz",
           "utc_offset_h": 8, "fit": ["rho", "gamma"],
           "stay_detection": {"radius_m": 200, "min_duration_s": 1200}}
    params, report = calibrate_mobility(cfg, shared_data)  # no cell data needed on this route
    assert report["source"] == "gps" and set(report["fitted"]) >= {"rho", "gamma"}
    assert params.rho == pytest.approx(report["fitted"]["rho"]) and params.serving_dwell_h == 0.0


def test_serving_neighbours_is_searched_as_an_integer():
    rng = np.random.default_rng(4)
    places, start, days = grid_places(8), pd.Timestamp("2012-08-16", tz="UTC"), 4.0
    times = daytime_events(15, days, rng)
    truth = MobilityParams(serving_dwell_h=0.3, serving_neighbours=4)
    observed = CellSimulator(times, places, start, days, seed=5).observe(truth)
    params, report = fit_cell_sequences(observed, places, start, days, MobilityParams(serving_dwell_h=0.3),
                                        ("serving_neighbours",), seed=0, max_evals=4, n_boot=5)
    assert isinstance(params.serving_neighbours, int) and 2 <= params.serving_neighbours <= 64
    assert report["fitted"]["serving_neighbours"] == params.serving_neighbours
