"""Per-user night propensity (zen.traffic.night): the fitted law, the tilted clocks, and users
with known, different night shares reproduced by the LSTM through their own clocks."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import INTEL_SPR, check_recorded, lstm_trainer

from zen.data.base import CDRData
from zen.measures.individual import user_features
from zen.schema import validate
from zen.traffic.lstm import LSTMTrafficModel
from zen.traffic.night import LIMIT, N_LEVELS, STEP, NightPropensity, night_episodes
from zen.traffic.tokenizer import WeeklyClock

TINY = {"hidden": 16, "layers": 1, "n_mix": 4, "mark_hidden": 16, "profile_components": 2, "bptt": 64}
START = pd.Timestamp("2024-03-04", tz="UTC")  # a Monday
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _logit(p):
    return np.log(p / (1 - p))


def night_data(n_users: int = 80, spread: float = 1.2, share: float = 0.12, per_day: float = 3.0,
               days: int = 28, seed: int = 0) -> tuple[CDRData, np.ndarray]:
    """Users whose events fall at night (00-06 h) with their own probability, logit-normal
    around ``share`` with sd ``spread``; by day at 08-23 h. Returns the data and the shares."""
    rng = np.random.default_rng(seed)
    shares = 1 / (1 + np.exp(-(_logit(share) + spread * rng.standard_normal(n_users))))
    rows = []
    for user in range(n_users):
        n = max(rng.poisson(per_day * days), 2)
        night = rng.random(n) < shares[user]
        hour = np.where(night, rng.uniform(0, 6, n), rng.uniform(8, 23, n))
        t = START + pd.to_timedelta(rng.integers(0, days, n) * 86400 + hour * 3600, unit="s")
        rows.append(pd.DataFrame({"user_id": user, "timestamp": t, "event": "call",
                                  "direction": rng.choice(["out", "in"], n),
                                  "duration_s": rng.exponential(100, n).round().astype("float32"),
                                  "answered": True, "counterpart_id": 1000 + rng.integers(0, 5, n),
                                  "cell_id": -1, "volume_bytes": -1}))
    records = validate(pd.concat(rows, ignore_index=True), "records")
    return CDRData(records.sort_values(["user_id", "timestamp"]).reset_index(drop=True), START, days), shares


def test_law_recovers_a_known_spread_not_the_count_noise():
    rng = np.random.default_rng(0)
    n = 3000
    episodes = rng.poisson(20, n) + 1.0
    for tau in (1.0, 0.0):
        nu = -3.0 + tau * rng.standard_normal(n)
        nights = rng.binomial(episodes.astype(int), 1 / (1 + np.exp(-nu))).astype(float)
        law = NightPropensity.fit(episodes, nights, np.zeros(n, np.int64), 1)
        assert abs(law.spread[0] - tau) < 0.15, law.spread
        assert abs(law.mean[0] + law.offset[0] + 3.0) < 0.15  # the law's mean night logit
        # the raw per-user shares are wider than the true ones (count noise); posteriors shrink
        assert (nights / episodes).std() > 1.2 * (1 / (1 + np.exp(-nu))).std()
        post = law.posterior(episodes, nights, np.zeros(n, np.int64))
        assert post.std() < max(tau, 0.05)
    drawn = law.sample(np.zeros(20000, np.int64), np.random.default_rng(1))
    assert abs(drawn.std() - law.spread[0]) < 0.02


def test_night_episodes_count_runs_not_events():
    t = START + pd.to_timedelta([3600, 3700, 3800, 20 * 3600, 26 * 3600, 26 * 3600 + 7200], unit="s")
    records = pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2], "timestamp": t})
    episodes, nights = night_episodes(records.iloc[::-1], np.array([1, 2, 3]))  # any row order
    np.testing.assert_array_equal(episodes, [2, 2, 0])  # 01:00 thread of 3 + 20:00; 02:00, 04:00
    np.testing.assert_array_equal(nights, [1, 2, 0])


def test_tilted_clocks_shift_the_night_logit_by_the_tilt():
    hour = np.arange(168) % 24
    day = 0.3 + np.exp(-0.5 * ((hour - 14) / 4.0) ** 2)
    base = WeeklyClock(np.stack([day / day.mean(), np.ones(168)]))
    clocks = NightPropensity.clocks(base)
    assert clocks.n_clocks == 2 * N_LEVELS
    torch.testing.assert_close(clocks.rate.mean(1), torch.ones(2 * N_LEVELS, dtype=torch.float64))
    zero = NightPropensity.clock_index(np.array([0, 1]), np.zeros(2))
    torch.testing.assert_close(clocks.rate[zero], base.rate)
    night = torch.as_tensor(hour < 6)
    for k in (0, 1):
        q = float(base.rate[k, night].sum() / base.rate[k].sum())
        for theta in (-2.0, 0.7, 3.0):
            row = NightPropensity.clock_index(np.array([k]), np.array([theta]))[0]
            p = float(clocks.rate[row, night].sum() / clocks.rate[row].sum())
            assert abs(_logit(p) - _logit(q) - theta) < 1e-9
    assert NightPropensity.clock_index(np.array([0]), np.array([99.0]))[0] == N_LEVELS - 1
    assert round(2 * LIMIT / STEP) + 1 == N_LEVELS


def _night_shares(model: LSTMTrafficModel, n: int, days: float) -> np.ndarray:
    tl = model.sample(n, days, START, seed=3)
    return user_features(tl.to_records(START), days)["night_share"].dropna().to_numpy()


def test_users_with_known_night_shares_are_reproduced(tmp_path):
    data, _ = night_data()
    real = user_features(data.records, data.days)["night_share"].to_numpy()
    spreads = {}
    for on in (True, False):
        model = LSTMTrafficModel(**TINY, chronotypes=1, night_propensity=on)
        model.fit(data, None, trainer=lstm_trainer(max_epochs=4), work_dir=tmp_path / str(on),
                  device=torch.device("cpu"), seed=0)
        synth = _night_shares(model, 400, data.days)
        spreads[on] = np.quantile(synth, 0.9) - np.quantile(synth, 0.1)
        if on:
            assert abs(model.night.spread[0] - 1.2) < 0.35  # the known spread, fitted
            assert abs(np.median(synth) - np.median(real)) < 0.04
    real_spread = np.quantile(real, 0.9) - np.quantile(real, 0.1)
    assert abs(spreads[True] - real_spread) < 0.3 * real_spread, (spreads, real_spread)
    assert spreads[False] < 0.6 * real_spread  # one clock for all: the users come out alike


def _digest(tl) -> str:
    h = hashlib.sha256()
    for a in (tl.user, tl.t_s, tl.event, tl.direction, tl.duration_s, tl.answered, tl.contact_rank):
        a = np.asarray(a)
        h.update(np.ascontiguousarray(a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.int64)))
    return h.hexdigest()[:16]


def test_off_switch_is_todays_model_and_old_folders_load_off(tmp_path):
    """``night_propensity=False`` fits and samples what the code before the option did: the
    digest was recorded with that code (main at 7fa91be, the same data, fit and seed; torch
    2.13 CPU kernels, one thread, as tests/test_sampler_identity.py), and again when the
    sampler's categorical draws became inverse-transform draws (same law, other values)."""
    data, _ = night_data(n_users=30)
    off = LSTMTrafficModel(**TINY, chronotypes=2, night_propensity=False)
    off.fit(data, None, trainer=lstm_trainer(max_epochs=1), work_dir=tmp_path / "w", device="cpu", seed=0)
    assert off.night is None
    check_recorded(_digest(off.sample(50, 3.0, START, seed=2)), {INTEL_SPR: "840b20f74348b609"}, "sample")
    off.save(tmp_path / "m")
    meta = (tmp_path / "m" / "lstm.json")
    old = json.loads(meta.read_text())
    del old["night"], old["config"]["night_propensity"]  # a folder written before this option
    meta.write_text(json.dumps(old))
    loaded = LSTMTrafficModel.load(tmp_path / "m")
    assert loaded.night is None and loaded.config["night_propensity"] is False
    a, b = off.sample(50, 3.0, START, seed=2), loaded.sample(50, 3.0, START, seed=2)
    np.testing.assert_array_equal(a.t_s, b.t_s)
