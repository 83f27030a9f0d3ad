"""The local pool: this process and its spawned workers share the shards, results come back in
shard order, and a worker's error reaches the driver as raised."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from zen.generation.executors import ShardPool, local_workers
from zen.generation.pipeline import Shard, ShardResult
from zen.schema import ZenInputError


def _step(spec: dict, shard: Shard, fail_in_worker: bool) -> ShardResult:
    """A shard step returning its pid. In the driver it waits until a worker has run a shard (a
    worker needs seconds to start, the driver could otherwise run them all); in a worker it fails
    when ``fail_in_worker``."""
    flag = Path(spec["flag"])
    if os.getpid() != spec["driver"]:
        flag.touch()
        if fail_in_worker:
            raise ZenInputError(f"shard {shard.index} is bad", "test")
    deadline = time.monotonic() + 120
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return ShardResult(shard.index, shard.size, {"pid": float(os.getpid())})


SHARDS = [Shard(i, 10 * i, 10 * i + 3 + i) for i in range(6)]


def test_the_driver_and_a_worker_share_the_shards_in_order(tmp_path):
    spec = {"driver": os.getpid(), "flag": str(tmp_path / "worker-ran")}
    with local_workers("local", 2, len(SHARDS)) as procs:
        assert len(procs) == 1  # the driver is the other process
        with ShardPool({"ok": (_step, (spec, False))}, 2, len(SHARDS), processes=procs) as pool:
            results = list(pool.map("ok", SHARDS))
            again = list(pool.map("ok", SHARDS[:2]))  # the same workers, a second pass
    assert [r.shard for r in results] == list(range(6)) and [r.shard for r in again] == [0, 1]
    assert [r.rows for r in results] == [s.size for s in SHARDS]
    pids = {int(r.timings["pid"]) for r in results}
    assert os.getpid() in pids and len(pids) == 2, pids


def test_a_workers_error_is_raised_by_the_driver(tmp_path):
    spec = {"driver": os.getpid(), "flag": str(tmp_path / "worker-ran")}
    with ShardPool({"bad": (_step, (spec, True))}, 2, len(SHARDS)) as pool, \
            pytest.raises(ZenInputError, match=r"shard \d is bad"):
        list(pool.map("bad", SHARDS))
    assert local_workers("local", 1, 6) is None and local_workers("ray", 2, 6) is None


def test_workers_started_early_are_the_ones_the_run_uses(tmp_path):
    """zen-generate starts its local workers as soon as the settings are composed
    (zen.generation.early); the pool then runs on those very processes, and a mismatch stops them."""
    from zen.generation import early

    settings = {"n_users": 100, "days": 7, "shard_users": 20, "workers": 2, "executor": "local"}
    assert early.local_processes(settings) == (1, None)
    assert early.local_processes({**settings, "n_users": 20}) is None  # one shard: nothing to spawn
    assert early.local_processes({**settings, "executor": "ray"}) is None
    assert early.local_processes({**settings, "n_users": "abc"}) is None  # the stage reports it
    assert early.local_processes({**settings, "shard_users": "auto"}) is None  # 50,000 users a shard
    early.start_for(settings)
    started = [proc for _, proc in early._EARLY[1]]
    spec = {"driver": os.getpid(), "flag": str(tmp_path / "worker-ran")}
    with local_workers("local", 2, len(SHARDS)) as procs:
        assert procs.procs == started and early._EARLY is None  # taken, not spawned again
        with ShardPool({"ok": (_step, (spec, False))}, 2, len(SHARDS), processes=procs) as pool:
            pids = {int(r.timings["pid"]) for r in pool.map("ok", SHARDS)}
    assert pids == {os.getpid(), started[0].pid}
    early.start_for(settings)
    stale = [proc for _, proc in early._EARLY[1]]
    assert early.take(2, None) is None and early._EARLY is None  # another count: stopped
    assert not stale[0].is_alive()
