"""How much memory a generation run needs, estimated before it starts.

A run holds the population state for all users (activity, anchors, contact table, social graph)
and, one shard at a time, that shard's timelines, stays and record frames. The coefficients were
measured with ``/usr/bin/time`` on whole ``zen-generate`` runs (2-core VM, synthetic city, 2026-12):
20,000 users x 7 and x 28 days give the bytes per record (0.42 KiB with the Poisson baseline,
0.64 KiB with the LSTM), 200,000 users in 2,000-user shards the bytes per user (~1.4 KiB), and
the intercept (~0.6 GiB: Python, torch, places and cells). Each is rounded up, so the estimate
errs on the side of refusing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from zen.schema import ZenInputError

GIB = float(1 << 30)
BASE_BYTES = 0.75 * GIB  # interpreter, torch, places and cells
BYTES_PER_USER = 1.5 * 1024  # population state per user
BYTES_PER_RECORD = 1.0 * 1024  # one shard's timelines, stays and record frames per record


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak resident memory of a run, in bytes, by part."""

    base: float
    population: float
    shard: float

    @property
    def total(self) -> float:
        return self.base + self.population + self.shard

    def describe(self) -> str:
        return (f"{self.total / GIB:.1f} GiB (population {self.population / GIB:.1f}, one shard "
                f"{self.shard / GIB:.1f}, base {self.base / GIB:.1f})")


def estimate_memory(n_users: int, days: float, shard_users: int,
                    records_per_user_day: float) -> MemoryEstimate:
    """The estimated peak of a run of ``n_users`` x ``days`` in shards of ``shard_users``."""
    shard = min(shard_users, n_users) * days * records_per_user_day * BYTES_PER_RECORD
    return MemoryEstimate(BASE_BYTES, n_users * BYTES_PER_USER, shard)


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
    room = limit - estimate.base - estimate.population
    per_user = days * records_per_user_day * BYTES_PER_RECORD
    if room > per_user:
        fix = f"lower shard_users to {int(room // per_user):,} or fewer"
    else:
        fix = "generate fewer days (and n_users) per run"
    raise ZenInputError(f"this run needs about {estimate.describe()} but {limit / GIB:.1f} GiB is "
                        f"available ({n_users:,} users x {days:g} days at ~{records_per_user_day:.1f} "
                        f"records/user/day); {fix}, or set memory_limit_gb= if more memory will be free")
