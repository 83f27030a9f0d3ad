"""Activity-dependent mobility (``explore_activity``): the multiplier, the off switch, and the
cell-sequence calibration recovering a known ``k`` from data the emulator itself made."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from conftest import daytime_events, grid_places

from zen.mobility import MobilityEmulator, MobilityParams
from zen.mobility.cdr_calibration import (
    CellSimulator,
    activity_moments,
    events_per_day,
    fit_cell_sequences,
)
from zen.mobility.emulator import activity_multiplier
from zen.schema import ZenInputError

START = pd.Timestamp("2012-08-16", tz="UTC")


def test_multiplier_on_hand_made_inputs():
    m = activity_multiplier(np.array([10.0, 40.0, 2.5, 10_000.0, 0.001, 0.0]), 0.5, 10.0)
    assert m == pytest.approx([1.0, 2.0, 0.5, 4.0, 0.25, 0.25])  # (a/ref)^k, clipped to [1/4, 4]
    assert activity_multiplier(np.array([1.0, 1e6]), 0.0, 3.0) == pytest.approx([1.0, 1.0])
    assert activity_multiplier(np.array([20.0]), -1.0, 10.0) == pytest.approx([0.5])
    with pytest.raises(ZenInputError, match="activity_reference"):
        activity_multiplier(np.array([1.0]), 0.5, 0.0)
    with pytest.raises(ZenInputError, match="activity_reference"):
        MobilityParams(explore_activity=0.5)  # no reference: refused, not silently m = inf


def _digest(stays) -> str:
    h = hashlib.sha256()
    for a in (stays.user, stays.start_s, stays.end_s, stays.place):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_switch_off_is_byte_identical():
    places = grid_places(8)
    rng = np.random.default_rng(0)
    home, work = rng.integers(0, 64, 30), np.where(rng.random(30) < 0.7, rng.integers(0, 64, 30), -1)
    activity = np.exp(rng.normal(1.0, 1.0, 30))

    def run(params, act):
        return _digest(MobilityEmulator(params).simulate(places, home, work, 5.0, START, 7, activity=act))

    plain = run(MobilityParams(), None)
    assert run(MobilityParams(), activity) == plain  # k = 0: activity is ignored
    assert run(MobilityParams(explore_activity=0.0, activity_reference=3.0), activity) == plain
    assert run(MobilityParams(explore_activity=0.5, activity_reference=3.0), None) == plain  # no activity
    on = MobilityParams(explore_activity=1.0, activity_reference=float(np.median(activity)))
    assert run(on, activity) != plain
    assert run(on, activity) == run(on, activity)  # same seed, same stays
    assert MobilityParams.from_dict(MobilityParams().to_dict()) == MobilityParams()


def test_heavy_users_move_more():
    places = grid_places(10)
    n = 200
    rng = np.random.default_rng(1)
    home = rng.integers(0, 100, n)
    activity = np.where(np.arange(n) < n // 2, 1.0, 16.0)  # m = 1/2 and 2 at k = 0.5, reference 4
    params = MobilityParams(explore_activity=0.5, activity_reference=4.0, work_share=0.0)
    stays = MobilityEmulator(params).simulate(places, home, np.full(n, -1), 10.0, START, 3, activity=activity)
    per_user = np.bincount(stays.user, minlength=n)
    assert per_user[n // 2:].mean() > 2 * per_user[: n // 2].mean()


def test_calibration_recovers_known_k():
    """k = 0.5 in, fitted back within ±0.25 (stated tolerance), with a standard error."""
    rng = np.random.default_rng(2)
    places, days = grid_places(24), 10.0  # enough places that heavy users do not run out of new ones
    times = daytime_events(120, days, rng, 8.0, rate_sd=0.9, min_events=3)
    reference = float(np.median(events_per_day(times, days)))
    truth = MobilityParams(rho=0.3, explore_activity=0.5, activity_reference=reference)
    observed = CellSimulator(times, places, START, days, seed=321).observe(truth)  # another seed than the fit
    slopes = activity_moments(observed)
    flat = activity_moments(CellSimulator(times, places, START, days, seed=321).observe(
        MobilityParams(rho=0.3)))
    assert slopes[0] > flat[0]  # the moment that identifies k moves with it
    base = MobilityParams(rho=0.3)
    params, report = fit_cell_sequences(observed, places, START, days, base, ("explore_activity",), seed=0,
                                        max_evals=16, n_boot=20)
    assert params.activity_reference == pytest.approx(reference)
    assert params.explore_activity == pytest.approx(0.5, abs=0.25)
    assert report["standard_error"]["explore_activity"] is not None
    assert report["loss_fitted"] <= report["loss_start"]



def _generated(model, out) -> dict[str, str]:
    """Digests of the records ``zen.generate`` writes for ``model`` (a small fixed run)."""
    import zen

    zen.generate(model, n_users=60, days=2, out_dir=out, network="synthetic_city", shard_users=30, seed=5,
                 device="cpu")
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out / "records").rglob("*.parquet"))}


def test_generation_feeds_activity_and_k0_is_todays_output(baseline_model_dir, tmp_path):
    """zen-generate: a model whose mobility.json has k = 0 writes today's records byte for byte; with
    k > 0 the same run differs (each user's events/day from the population profile reaches the emulator)."""
    import shutil

    def with_k(k: float, name: str):
        model = tmp_path / f"model-{name}"
        shutil.copytree(baseline_model_dir, model)
        params = MobilityParams.load(model / "mobility.json")
        params.explore_activity, params.activity_reference = k, 2.0
        params.save(model / "mobility.json")
        return model

    expected = _generated(baseline_model_dir, tmp_path / "today")
    assert expected and _generated(with_k(0.0, "k0"), tmp_path / "k0") == expected
    assert _generated(with_k(0.8, "k08"), tmp_path / "k08") != expected
