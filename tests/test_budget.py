"""The memory estimate follows the measured figures (experiments/scale.md), and errs on refusing."""

from __future__ import annotations

import pytest

from zen.assembly.budget import GIB, check_memory, estimate_memory
from zen.schema import ZenInputError

MIB = GIB / 1024
# scripts/bench_population.py, 10,000,000 users (experiments/scale.md, 2026-12-02): the whole
# process peaked at 4,165 MiB during the build, 460 MiB of it there before; the state kept is
# 1,781 MiB. One 1,000,000 users x 7 days run, workers=2, peaked at 1.15 GiB in its largest process.
BUILD_PEAK_10M, BEFORE_BUILD, STATE_10M = 4165 * MIB, 460 * MIB, 1781 * MIB
RATE = 2.54  # records per user per day of the default LSTM (100k x 7 d: 1,777,674 records)


def test_ten_million_users_fit_where_the_measured_peak_fits():
    est = estimate_memory(10_000_000, 7, 20_000, RATE)
    assert est.state >= STATE_10M and est.base + est.population >= BUILD_PEAK_10M  # not below the measure
    assert est.total < 1.25 * BUILD_PEAK_10M  # ... nor far above it (the old estimate said 15.4 GiB)
    check_memory(est, 6 * GIB, 10_000_000, 7, RATE)  # 4.1 GiB measured: a 6 GiB machine may run it
    with pytest.raises(ZenInputError, match="needs about"):
        check_memory(est, 4 * GIB, 10_000_000, 7, RATE)


def test_one_million_users_estimate_is_at_or_above_the_measured_run():
    est = estimate_memory(1_000_000, 7, 20_000, RATE, processes=2)
    per_process = est.base + est.state + max(est.shard, est.state)
    assert 1.15 * GIB <= per_process < 1.6 * GIB
    assert est.total == pytest.approx(est.base + max(est.population, est.state + max(est.shard, est.state))
                                      + per_process)


def test_each_worker_holds_the_state_and_fewer_workers_is_the_fix_when_shards_cannot_shrink():
    one, four = (estimate_memory(10_000_000, 7, 20_000, RATE, processes=k) for k in (1, 4))
    assert four.total - one.total >= 3 * (four.base + four.state)
    with pytest.raises(ZenInputError, match="use fewer workers"):
        check_memory(four, 8 * GIB, 10_000_000, 7, RATE)


def test_auto_shards_hold_about_the_same_user_days_whatever_the_horizon():
    from zen.generation.early import SHARD_USER_DAYS, auto_shard_users
    from zen.generation.spec import GenerationSpec

    assert GenerationSpec(n_users=10, days=7).shard_users == 50_000  # the default: shard_users=auto
    assert GenerationSpec(n_users=10, days=7, shard_users=123).shard_users == 123
    for days in (4, 7, 14, 28, 40):  # inside the bounds
        assert abs(auto_shard_users(days) * days / SHARD_USER_DAYS - 1) < 0.1
    assert auto_shard_users(0.25) == 100_000 and auto_shard_users(365) == 5_000  # the bounds
    small = estimate_memory(1_000_000, 7, auto_shard_users(7), RATE)
    long = estimate_memory(1_000_000, 28, auto_shard_users(28), RATE)
    assert long.shard == pytest.approx(small.shard, rel=0.1)  # a shard's records: flat in days
    with pytest.raises(ZenInputError, match=r"shard_users must be .* \(or auto\)"):
        GenerationSpec(n_users=10, days=7, shard_users="many")
