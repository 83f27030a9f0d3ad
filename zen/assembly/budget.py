"""How much memory a generation run needs, estimated before it starts.

Each process of a run holds the population state for all users (activity, anchors, contact
table, social graph) and, one shard at a time, that shard's timelines, stays and record frames;
the driver also builds the population, whose peak is above the state it keeps. The coefficients
were measured on this project's 2-core VM (2026-12): ``/usr/bin/time`` on whole ``zen-generate``
runs, 20,000 users x 7 and x 28 days, give the bytes per record (0.42 KiB with the Poisson
baseline, 0.64 KiB with the LSTM) and the intercept (~0.6 GiB: Python, torch, places and cells);
``scripts/bench_population.py`` at 1M, 3M and 10M users gives the population's bytes per user
(10M: state 1.74 GiB, 187 bytes per user; build peak 4.07 GiB whole process, 388 bytes per user
above the ~460 MiB before it; experiments/scale.md). Each is rounded up, so the estimate errs on
the side of refusing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from zen.schema import ZenInputError

GIB = float(1 << 30)
BASE_BYTES = 0.75 * GIB  # interpreter, torch, places and cells, per process
BUILD_BYTES_PER_USER = 420  # peak of building the population, above the base (measured 388)
STATE_BYTES_PER_USER = 200  # population state each process keeps for the run (measured 187)
BYTES_PER_RECORD = 1.0 * 1024  # one shard's timelines, stays and record frames per record
CHOICE_BYTES_PER_RECORD = 8  # every user's kept conversations (start-backs, hand-over), per record of
# the run: ~0.14 conversations per record (Copenhagen models), half of them to lower-index ties at
# 24 bytes, the pair counts at 16 bytes, and the sort's copies while they are built


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak resident memory of a run, in bytes, by part (``base``, ``state``, ``shard``: per
    process; ``population``: the build's peak, in the driver only)."""

    base: float
    population: float
    shard: float
    state: float = 0.0
    processes: int = 1

    def _steady(self) -> float:
        # with workers, the state is pickled whole once (the driver's bytes, a worker's received
        # buffer) beside the state itself
        return self.state + max(self.shard, self.state if self.processes > 1 else 0.0)

    @property
    def total(self) -> float:
        driver = self.base + max(self.population, self._steady())
        return driver + (self.processes - 1) * (self.base + self._steady())

    def describe(self) -> str:
        each = f" in each of {self.processes} processes" if self.processes > 1 else ""
        return (f"{self.total / GIB:.1f} GiB (population build {self.population / GIB:.1f}, then state "
                f"{self.state / GIB:.1f} and one shard {self.shard / GIB:.1f}{each}, "
                f"base {self.base / GIB:.1f})")


def estimate_memory(n_users: int, days: float, shard_users: int, records_per_user_day: float,
                    processes: int = 1) -> MemoryEstimate:
    """The estimated peak of a run of ``n_users`` x ``days`` in shards of ``shard_users``, in
    ``processes`` processes (the driver and its workers; Ray's count the same)."""
    shard = min(shard_users, n_users) * days * records_per_user_day * BYTES_PER_RECORD
    return MemoryEstimate(BASE_BYTES, n_users * BUILD_BYTES_PER_USER, shard, n_users * STATE_BYTES_PER_USER,
                          max(1, int(processes)))


def available_memory() -> float:
    """Bytes this process can still use: ``MemAvailable``, or the cgroup's limit when lower."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(float(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            limits.append(float(text))
    except OSError:
        pass
    return min(limits) if limits else math.inf


def check_memory(estimate: MemoryEstimate, limit: float, n_users: int, days: float,
                 records_per_user_day: float) -> None:
    """Refuse a run whose estimate exceeds ``limit`` bytes, saying what to change."""
    if estimate.total <= limit:
        return
    k = estimate.processes
    room = (limit - k * (estimate.base + estimate.state)) / k  # for one shard, per process
    per_user = days * records_per_user_day * BYTES_PER_RECORD
    build_fits = estimate.base + estimate.population <= limit - (k - 1) * (estimate.base + estimate.state)
    if room > per_user and build_fits:
        fix = f"lower shard_users to {int(room // per_user):,} or fewer"
    elif k > 1:
        fix = "use fewer workers"
    else:
        fix = "generate fewer days (and n_users) per run"
    raise ZenInputError(f"this run needs about {estimate.describe()} but {limit / GIB:.1f} GiB is "
                        f"available ({n_users:,} users x {days:g} days at ~{records_per_user_day:.1f} "
                        f"records/user/day); {fix}, or set memory_limit_gb= if more memory will be free")
