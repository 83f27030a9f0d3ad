"""Start ``zen-generate``'s local shard workers before the driver's own imports.

A spawned worker spends ~1.6 s importing torch and Zen. Started where :func:`generate_dataset`
begins, after the driver's imports, it was ready ~0.4 s after the driver had built the population
and begun its own first shard, and with one shard each per pass that whole lag was the run's
(``experiments/scale.md``). The console entry point calls :func:`start_for` as soon as Hydra has
composed the settings, so both processes import at once; :class:`zen.generation.executors.
WorkerProcesses` then takes the workers started here (:func:`take`) instead of spawning its own.

Only what the settings say for sure starts anything: a setting that does not parse here starts
nothing and is reported by the stage as usual. This module imports no torch, pandas or Zen module
that does, so that calling it costs nothing.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Mapping

SHARD_USER_DAYS = 350_000  # shard_users=auto: user-days per shard (50,000 users x 7 days)

_EARLY: tuple[int | None, list] | None = None  # (torch_threads, [(pipe, process)]) started, not taken


def auto_shard_users(days: float) -> int:
    """``shard_users=auto``: about ``SHARD_USER_DAYS`` user-days per shard, in thousands of users,
    5,000 to 100,000. A shard's memory and its sampler's cost follow user-days, and each shard
    pays a fixed cost (the sampler's last steps on a few heavy users, ~a third of its time at
    20,000 users x 7 days), so shards are as large as memory comfortably allows: 50,000 users
    at 7 days (~0.4 GiB of records), 12,000 at 28. It depends on ``days`` only, never on the
    machine or ``workers``, so the dataset of a seed stays the same everywhere."""
    return int(min(100_000, max(5_000, round(SHARD_USER_DAYS / days / 1000) * 1000)))


def worker_main(conn, torch_threads: int | None) -> None:
    """The spawned process's entry (``executors._worker_main``, imported in the child)."""
    from zen.generation.executors import _worker_main

    _worker_main(conn, torch_threads)


def spawn(n: int, torch_threads: int | None) -> list:
    """``n`` worker processes started now: ``[(pipe, process)]``."""
    ctx = multiprocessing.get_context("spawn")
    started = []
    for _ in range(n):
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(theirs, torch_threads), daemon=True)
        proc.start()
        theirs.close()
        started.append((mine, proc))
    return started


def local_processes(settings: Mapping) -> tuple[int, int | None] | None:
    """(spawned workers, torch threads) a ``generate.yaml``-shaped run will use on this machine
    with ``executor=local``, or None when that is not certain from ``settings`` alone."""
    try:
        if str(settings.get("executor", "local")) != "local" or str(settings.get("mode", "full")) \
                not in ("full", "mobility"):
            return None
        workers = settings.get("workers", "auto")
        workers = max(1, os.cpu_count() or 1) if workers in (None, "auto") else int(workers)
        n_users, days = int(settings["n_users"]), float(settings["days"])
        shard = settings.get("shard_users", "auto")
        shard = auto_shard_users(days) if shard == "auto" else int(shard)
        threads = settings.get("torch_threads")
        threads = None if threads is None else int(threads)
        if workers < 1 or n_users < 1 or shard < 1 or not math.isfinite(days) or days <= 0:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    n = min(workers, math.ceil(n_users / shard)) - 1
    return (n, threads) if n > 0 else None


def start_for(settings: Mapping) -> None:
    """Start the workers ``settings`` will use (see the module docstring); at most once."""
    global _EARLY
    plan = local_processes(settings)
    if plan is not None and _EARLY is None:
        _EARLY = (plan[1], spawn(*plan))


def take(n: int, torch_threads: int | None) -> list | None:
    """The ``n`` workers started early for ``torch_threads``, handed over once; None (and any
    started ones stopped) when none were started or they do not match."""
    global _EARLY
    early, _EARLY = _EARLY, None
    if early is None:
        return None
    threads, started = early
    if threads == torch_threads and len(started) == n:
        return started
    for conn, proc in started:
        conn.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
    return None
