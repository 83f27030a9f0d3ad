"""Traffic <-> mobility dependency (zen.coupling): the chain's fit and inference on simulated data,
slot features, the JSON model file, and the generation hook (coupling=none is today's output)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen.coupling import CouplingModel, JointChain
from zen.coupling.model import N_M, N_STATES, N_T, STATE_M, STATE_T, joint_masks
from zen.measures.slots import FEATURE_UNITS, SLOT_S, slot_features, slot_grid
from zen.schema import validate


def _known_chain(n_sig: int = 2, n_periods: int = 2, seed: int = 0) -> JointChain:
    """A coupled chain: mobility persists, traffic is high when moving and idle at home at night."""
    rng = np.random.default_rng(seed)
    trans = np.empty((n_sig, n_periods, N_STATES, N_STATES))
    for k in range(n_sig):
        for p in range(n_periods):
            stay = 0.85 if k == 0 else 0.6
            m_next = np.where(STATE_M[:, None] == STATE_M[None, :], stay, (1 - stay) / (N_M - 1))[:, ::N_T]
            t_given_m = np.array([[0.8, 0.15, 0.05], [0.6, 0.3, 0.1], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
            if p == 1:
                t_given_m[0] = [0.95, 0.04, 0.01]
            a = m_next[:, STATE_M] * t_given_m[STATE_M, STATE_T][None, :]
            a *= rng.uniform(0.8, 1.2, a.shape)
            trans[k, p] = a / a.sum(axis=1, keepdims=True)
    init = np.full((n_sig, N_STATES), 1.0 / N_STATES)
    return JointChain(init, trans)


def _simulate(chain: JointChain, users: int, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    sig = np.arange(users) % chain.init.shape[0]
    period = (np.arange(steps) // 8) % chain.trans.shape[1]
    return chain.sample(sig, period, rng), sig, period


def test_fit_recovers_a_known_chain_from_data_simulated_from_it():
    truth = _known_chain()
    states, sig, period = _simulate(truth, 1000, 300, seed=1)
    masks = np.eye(N_STATES)[states]  # everything observed: EM's answer is the transition counts
    fitted, history = JointChain.fit(masks, sig, period, 2, 2, iters=3, prior=1e-9)
    counts = np.zeros_like(truth.trans)
    np.add.at(counts, (sig[:, None], period[None, 1:], states[:, :-1], states[:, 1:]), 1)
    np.testing.assert_allclose(fitted.trans, counts / counts.sum(axis=3, keepdims=True), atol=1e-6)
    assert np.abs(fitted.trans - truth.trans).max() < 0.05
    assert np.abs(fitted.trans - truth.trans).mean() < 0.005
    assert history[-1] >= history[0] - 1e-9


def test_fit_recovers_transitions_through_hidden_mobility_of_idle_slots():
    """Idle slots hide the mobility side (as in CDRs); EM still finds the mobility persistence."""
    truth = _known_chain(n_sig=1, n_periods=1)
    states, sig, period = _simulate(truth, 300, 300, seed=2)
    m, t = STATE_M[states], STATE_T[states]
    masks = joint_masks(np.where(t == 0, -1, m), t)
    sticky = 1.0 + 9.0 * (STATE_M[:, None] == STATE_M[None, :])
    fitted, _ = JointChain.fit(masks, sig, period, 1, 1, iters=60, prior=0.5, start=sticky)
    stay = lambda c: np.mean([c.trans[0, 0, i][STATE_M == STATE_M[i]].sum() for i in range(N_STATES)])  # noqa: E731
    assert stay(fitted) == pytest.approx(stay(truth), abs=0.05)


def test_inference_beats_the_baselines_on_simulated_coupled_data():
    truth = _known_chain()
    states, sig, period = _simulate(truth, 300, 200, seed=3)
    m, t = STATE_M[states], STATE_T[states]
    fitted, _ = JointChain.fit(np.eye(N_STATES)[states[:200]], sig[:200], period, 2, 2, iters=3)
    held_m, held_t, held_sig = m[200:], t[200:], sig[200:]
    gamma = fitted.posterior(joint_masks(None, held_t), held_sig, period)
    pred_m = gamma.reshape(*gamma.shape[:2], N_M, N_T).sum(axis=3).argmax(axis=2)
    majority = np.bincount(m[:200].ravel()).argmax()
    acc, base = (pred_m == held_m).mean(), (held_m == majority).mean()
    assert acc > base + 0.1
    gamma = fitted.posterior(joint_masks(held_m, None), held_sig, period)
    pred_t = gamma.reshape(*gamma.shape[:2], N_M, N_T).sum(axis=2).argmax(axis=2)
    assert (pred_t == held_t).mean() > (held_t == np.bincount(t[:200].ravel()).argmax()).mean() + 0.05


def _records(seed: int = 0, users: int = 30, days: int = 4):
    """Toy located records: each user has a home and a work cell and a few errands."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2012-08-20", tz="UTC")  # a Monday
    cells = pd.DataFrame({"cell_id": np.arange(40), "lat": 30.0 + 0.02 * np.arange(40),
                          "lon": np.full(40, 120.0)})
    rows = []
    for u in range(users):
        home, work = rng.choice(40, 2, replace=False)
        n = rng.integers(20, 80)
        t = np.sort(rng.uniform(0, days * 86400, n))
        hour = (t % 86400) / 3600
        at_work = (hour >= 9) & (hour < 17) & (rng.random(n) < 0.7)
        cell = np.where(at_work, work, np.where(rng.random(n) < 0.8, home, rng.integers(0, 40, n)))
        rows.append(pd.DataFrame({"user_id": u, "timestamp": start + pd.to_timedelta(t, unit="s"),
                                  "event": "data", "direction": "out", "duration_s": 1.0, "answered": True,
                                  "counterpart_id": -1, "cell_id": cell, "volume_bytes": -1}))
    return validate(pd.concat(rows, ignore_index=True), "records", "<toy>"), start, float(days), cells


def test_slot_features_have_their_units_and_sane_ranges():
    records, start, days, cells = _records()
    grid = slot_grid(records, start, days, cells)
    assert grid.events.shape == (30, int(days * 86400 / SLOT_S)) and grid.events.sum() == len(records)
    assert ((grid.mobility >= 0) == (grid.events > 0)).all()
    feats = slot_features(records, start, days, cells, grid=grid)
    assert list(feats.columns) == list(FEATURE_UNITS)
    assert np.allclose(feats["events_per_slot"] * grid.events.shape[1], records.groupby("user_id").size())
    for share in ("active_slot_share", "data_share", "night_share", "home_slot_share", "moving_slot_share"):
        assert feats[share].between(0, 1).all(), share
    assert (feats["home_slot_share"] > 0.3).mean() > 0.8  # most events are at home in _records
    no_cells = slot_features(records, start, days, None)
    assert no_cells["radius_of_gyration_m"].isna().all() and no_cells["events_per_slot"].notna().all()


def test_model_file_round_trips_as_json(tmp_path):
    records, start, days, cells = _records()
    model = CouplingModel.fit(records, start, days, cells, n_signatures=2, iters=5)
    path = model.save(tmp_path / "coupling.json")
    assert path.read_text().startswith("{")
    back = CouplingModel.load(path)
    np.testing.assert_array_equal(back.chain.trans, model.chain.trans)
    np.testing.assert_array_equal(back.centroids, model.centroids)
    grid = slot_grid(records, start, days, cells)
    sig = model.signatures(slot_features(records, start, days, cells, grid=grid))
    np.testing.assert_allclose(back.infer_mobility(grid, sig), model.infer_mobility(grid, sig))
    w = model.traffic_weights(np.zeros_like(grid.mobility), sig, grid.slot_hour)
    assert w.shape == grid.events.shape and np.isfinite(w).all() and (w > 0).all()


def test_a_bad_model_file_is_one_clear_error(tmp_path):
    from zen.schema import ZenInputError

    (tmp_path / "coupling.json").write_text('{"format": "zen-coupling/1", "init": []}')
    with pytest.raises(ZenInputError, match="incomplete"):
        CouplingModel.load(tmp_path / "coupling.json")


def test_hook_keeps_each_users_events_in_expectation_and_chunks_change_nothing(monkeypatch):
    from zen.coupling import hook
    from zen.mobility.stays import Stays
    from zen.traffic.timeline import Timelines

    records, start, days, cells = _records()
    model = CouplingModel.fit(records, start, days, cells, n_signatures=2, iters=5)
    users, period = 6, days * 86400.0
    bounds = np.arange(0.0, period, 8 * 3600.0)  # home, work, home, ... every 8 hours
    user = np.repeat(np.arange(users), len(bounds))
    stays = Stays(user=user, start_s=np.tile(bounds, users), end_s=np.tile(np.r_[bounds[1:], period], users),
                  place=np.tile(np.arange(len(bounds)) % 2 * 20, users) + user, period_s=period,
                  n_users=users)
    home, work = np.arange(users), np.arange(users) + 20
    states = hook.stay_states(stays, cells, home, work, int(period / SLOT_S))
    assert set(np.unique(states)) <= {0, 1, 3} and (states == 3).any() and (states == 0).mean() > 0.4
    rng = np.random.default_rng(0)
    n = 3000
    tl = Timelines(user=np.sort(rng.integers(0, users, n)), t_s=rng.uniform(0, period, n),
                   event=np.full(n, 2, np.int8), direction=np.zeros(n, np.int8),
                   duration_s=np.ones(n, np.float32), answered=np.ones(n, bool),
                   contact_rank=np.full(n, -2, np.int16), volume_bytes=np.full(n, -1, np.int64)).sorted()
    activity = np.bincount(tl.user, minlength=users) / days
    run = lambda: hook.couple_timelines(tl, stays, cells, home, work, activity, model, start, days,  # noqa: E731
                                        np.random.default_rng(1))
    whole = run()
    monkeypatch.setattr(hook, "CHUNK_USERS", 2)
    chunked = run()
    np.testing.assert_array_equal(whole.t_s, chunked.t_s)
    np.testing.assert_array_equal(whole.user, chunked.user)
    before, after = np.bincount(tl.user, minlength=users), np.bincount(whole.user, minlength=users)
    assert np.all(np.abs(after - before) < 5 * np.sqrt(before))
    assert np.all(np.diff(whole.t_s)[np.diff(whole.user) == 0] >= 0) and (whole.t_s < period).all()
