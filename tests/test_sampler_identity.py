"""The lock-step samplers give the same output as the code they replaced (same seed, CPU).

The mobility emulator's and the social graph's digests were recorded with the code before the
sampler and population changes of the *scale-out* issue (commit d063c4a): a change that alters
one sampled value fails here. The LSTM sampler's were recorded again when its categorical draws
became inverse-transform draws (one uniform per row instead of one exponential per class: the
same distribution, other values; ``test_categorical_sample_draws_the_given_probabilities``), at
commit "Sampler: categorical draws by inverse transform". The networks are seeded
initialisations, not trained models, so the digests depend only on the sampling code and on the
CPU kernels of torch and numpy, which round differently from one CPU family to the next:
``RECORDED`` holds, per platform (torch's CPU capability, numpy's Sapphire-Rapids AVX-512
dispatch), the digests the recording code gives there. On a platform without a recorded digest
that check is skipped (record it by running the recording commit's code with this file); the
fast paths are still checked against the plain ones in the same run on any platform (the
``*_equals_*`` tests). Values are hashed after a cast to int64 / float64, so a narrower dtype
holding the same values keeps the digest.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import AMD_ZEN4, INTEL_SPR, check_recorded

from zen.mobility import MobilityEmulator, MobilityParams, choose_anchors
from zen.network import SocialParams, contact_table, generate_social_graph
from zen.traffic import sampler
from zen.traffic.network import TrafficLSTM, categorical_sample
from zen.traffic.sampler import LSTM_BLOCK, _lstm_step, sample_population
from zen.traffic.tokenizer import N_HOW, WeeklyClock, week_offset_s

START = pd.Timestamp("2013-02-06 10:30", tz="UTC")  # a Wednesday morning
pytestmark = pytest.mark.usefixtures("one_torch_thread")


RECORDED = {  # per check, per platform (conftest.cpu_platform)
    "lstm": {INTEL_SPR: "4a432240c048cbcd"},
    "lstm_ticks": {INTEL_SPR: "a809276c7aa243a7"},
    "mobility": {AMD_ZEN4: "5947258a37828786", INTEL_SPR: "b1436534f4917b66"},
    "edges": {AMD_ZEN4: "10d4040eb0291dc8", INTEL_SPR: "10d4040eb0291dc8"},
    "contacts": {AMD_ZEN4: "6a23ab791650584c", INTEL_SPR: "6a23ab791650584c"},
}


def _check(value: str, which: str) -> None:
    check_recorded(value, RECORDED[which], which)


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        a = a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.int64)
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _net_and_inputs(n: int):
    net = TrafficLSTM(5, hidden=16, layers=2, n_mix=4, max_rank=8, mark_hidden=16, anchor=True, ticks=True)
    net.init_weights(torch.Generator().manual_seed(0))
    net.eval()
    hour = np.arange(N_HOW) % 24
    day_night = 0.2 + np.exp(-0.5 * ((hour - 14) / 4.0) ** 2)
    clock = WeeklyClock(np.stack([day_night, np.roll(day_night, 5)]))
    g = torch.Generator().manual_seed(1)
    profile = torch.randn(n, 5, generator=g)
    contacts = torch.randint(1, 9, (n,), generator=g)
    chrono = torch.randint(0, 2, (n,), generator=g)
    activity = torch.exp(torch.randn(n, generator=g, dtype=torch.float64)) * 5.0
    return net, clock, profile, contacts, chrono, activity


SCALERS = {"gap_loc": 8.0, "gap_scale": 1.5, "dur_loc": 4.0, "dur_scale": 1.5}


def _timeline_digest(tl) -> str:
    return digest(tl.user, tl.t_s, tl.event, tl.direction, tl.duration_s, tl.answered, tl.contact_rank,
                  tl.volume_bytes)


def test_lstm_sampler_output_is_unchanged():
    net, clock, profile, contacts, _, _ = _net_and_inputs(300)
    tl = sample_population(net, clock, profile, contacts, SCALERS, 3 * 86400.0, week_offset_s(START),
                           torch.Generator().manual_seed(5))
    assert len(tl) > 1500 and len(np.unique(tl.user)) > 250
    _check(_timeline_digest(tl), "lstm")


def test_lstm_sampler_with_ticks_anchor_and_caps_is_unchanged():
    net, clock, profile, contacts, chrono, activity = _net_and_inputs(300)
    cap = torch.where(torch.arange(300) % 7 == 0, 5.0, 1e9).double()
    tl = sample_population(net, clock, profile, contacts, SCALERS, 3 * 86400.0, week_offset_s(START),
                           torch.Generator().manual_seed(6), chronotype=chrono, activity=activity,
                           tick_s=4000.0, max_events=cap)
    per_user = np.bincount(tl.user, minlength=300)
    assert len(tl) > 3000 and per_user[::7].max() <= 5  # the caps bind
    _check(_timeline_digest(tl), "lstm_ticks")


def test_mobility_emulator_output_is_unchanged():
    rng = np.random.default_rng(0)
    n = 400
    places = pd.DataFrame({
        "place_id": np.arange(n), "lat": 45.46 + rng.normal(0, 0.04, n), "lon": 9.19 + rng.normal(0, 0.06, n),
        "home_weight": rng.pareto(1.5, n) + 0.1, "work_weight": rng.pareto(1.2, n) + 0.1,
        "cell_id": rng.integers(0, 50, n)})
    params = MobilityParams()
    home, work = choose_anchors(places, 500, params, np.random.default_rng(1))
    stays = MobilityEmulator(params).simulate(places, home, work, 7, START, seed=3)
    assert len(stays) > 500 * 7
    _check(digest(home, work, stays.user, stays.start_s, stays.end_s, stays.place), "mobility")


def test_social_graph_and_contact_table_are_unchanged():
    rng = np.random.default_rng(2)
    n = 3000
    pmf = np.exp(-np.arange(1, 41) / 8.0)
    params = SocialParams(degree_pmf=(pmf / pmf.sum()).tolist(), offnet_share=0.3, reciprocity=0.6,
                          clustering=0.2, triangle_share=0.3,
                          tie_strength_quantiles=np.geomspace(1, 400, 101).tolist(),
                          mutual_split_quantiles=np.linspace(0.05, 0.95, 101).tolist(),
                          top_contact_share=0.4, activity_degree_corr=0.5, window_days=28.0,
                          n_users_fitted=500)
    lat, lon = 45.46 + rng.normal(0, 0.05, n), 9.19 + rng.normal(0, 0.07, n)
    edges = generate_social_graph(params, lat, lon, np.exp(rng.normal(1, 1, n)), seed=4)
    table = contact_table(edges, n, 32)
    assert len(edges) > 5 * n and (table[:, 0] >= 0).all()
    _check(digest(edges["src"], edges["dst"], edges["weight"]), "edges")
    _check(digest(table), "contacts")


def test_categorical_sample_draws_the_given_probabilities():
    """The inverse-transform draw follows ``probs`` row by row: chi-square on 200,000 draws of
    rows with very unequal classes, a zero-probability class never drawn, and per-row laws kept
    apart (two interleaved row types)."""
    from scipy import stats

    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.049, 0.001, 0.0], [0.0, 0.0, 0.0, 0.0, 0.2, 0.8]])
    rows = probs.repeat(100_000, 1)  # [200000, 6], the two laws alternate
    draws = categorical_sample(rows, g)
    assert draws.dtype == torch.int64 and draws.shape == (200_000,)
    for k in range(2):
        counts = np.bincount(draws[k::2].numpy(), minlength=6)
        p = probs[k].double().numpy()
        assert counts[p == 0].sum() == 0
        expected = 100_000 * p[p > 0] / p[p > 0].sum()
        assert stats.chisquare(counts[p > 0], expected).pvalue > 1e-3
    assert not torch.equal(categorical_sample(rows, g), draws)  # the generator advances


def test_blocked_lstm_step_equals_one_call():
    lstm = torch.nn.LSTM(6, 16, 2, batch_first=True).eval()
    g = torch.Generator().manual_seed(2)
    b = 3 * LSTM_BLOCK + 100  # three full blocks and a padded remainder
    x = torch.randn(b, 1, 6, generator=g)
    state = tuple(torch.randn(2, b, 16, generator=g) for _ in range(2))
    with torch.inference_mode():
        h, (h_n, c_n) = lstm(x, state)
        padded = tuple(torch.cat([s, s[:, :1].expand(-1, -b % 64, -1)], 1) for s in state)
        fast_h, (fast_hn, fast_cn) = _lstm_step(lstm, x, padded)
        first_h, _ = _lstm_step(lstm, x, None)
    assert torch.equal(fast_h, h) and torch.equal(fast_hn[:, :b], h_n) and torch.equal(fast_cn[:, :b], c_n)
    assert torch.equal(first_h, lstm(x)[0])


def test_sampler_fast_paths_equal_plain_ones(monkeypatch):
    """Padding and blocks change no sampled value, on any CPU."""
    n = LSTM_BLOCK + 700
    net, clock, profile, contacts, chrono, activity = _net_and_inputs(n)

    def run():
        return _timeline_digest(sample_population(
            net, clock, profile, contacts, SCALERS, 2 * 86400.0, week_offset_s(START),
            torch.Generator().manual_seed(6), chronotype=chrono, activity=activity, tick_s=4000.0))

    fast = run()
    monkeypatch.setattr(sampler, "LSTM_ROWS", 1)
    monkeypatch.setattr(sampler, "LSTM_BLOCK", 10**9)
    assert run() == fast
