"""Runs the levels on an engine: level 0-1 per user chunk into the work folder, then 2-4."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from zen.features import levels
from zen.features.engines import Engine
from zen.features.params import FeatureParams

LEVEL1_TABLES = ("user_activity", *levels.LEVEL1)
LEVEL2_KEYS = {"antenna_week": ["cell_id", "week", "week_part"], "antenna_hour": ["cell_id", "hour"],
               "antenna_pairs": ["cell_id", "other_cell"]}


@dataclass
class LevelOutput:
    """What leaves the secure folder: antenna-level tables only.

    Attributes:
        features: level 4, one row per kept antenna (``cell_id`` ascending).
        level2: ``antenna_week``, ``antenna_hour``, ``antenna_pairs`` of kept antennas.
        counts: users, machine users dropped, users with a home, antennas kept and suppressed.
        work_dir: the secure folder of user-level tables when it was kept, else None.
        max_home_users: the most home users of any antenna (kept or not), for error messages.
        seconds: wall time of ``unify`` (writing the user chunks) and ``levels`` (engine start included).
    """

    features: pd.DataFrame
    level2: dict[str, pd.DataFrame]
    counts: dict[str, int]
    work_dir: Path | None = None
    max_home_users: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def run_user_levels(engine: Engine, chunk_files: list[Path], params: FeatureParams, level1_dir: Path) -> None:
    """Levels 0 (clock, machine filter) and 1 (home, per-day, per-hour, contacts) into ``level1_dir``."""
    batches = [[f] for f in chunk_files] if engine.chunked else [chunk_files]
    for i, batch in enumerate(batches):
        source = batch[0] if len(batch) == 1 else batch[0].parent
        engine.read_parquet("records", source)
        engine.view("clocked", levels.level0_clock(params))
        target = level1_dir / "user_activity" / f"chunk-{i:05d}.parquet"
        engine.write(levels.level0_user_activity(params), target)
        engine.read_parquet("user_activity", target)
        engine.view("events", levels.level0_events())
        for name, query in levels.LEVEL1.items():
            engine.write(query(params), level1_dir / name / f"chunk-{i:05d}.parquet")


def run_antenna_levels(engine: Engine, antennas: pd.DataFrame, params: FeatureParams,
                       level1_dir: Path, level2_dir: Path) -> LevelOutput:
    """Levels 2 (antenna aggregates, k-anonymity), 3 (features) and 4 (one table)."""
    for name in LEVEL1_TABLES:
        engine.read_parquet(name, level1_dir / name)
    engine.register_frame("antennas", antennas[["cell_id", "lat", "lon"]].reset_index(drop=True))
    for name, query in levels.LEVEL2.items():
        engine.write(query(params), level2_dir / f"{name}.parquet")
        engine.read_parquet(name, level2_dir / f"{name}.parquet")
    for name, query in levels.LEVEL3.items():
        engine.view(name, query(params))
    features = engine.fetch(levels.level4_features()).reset_index(drop=True)
    level2 = {name: engine.fetch(f"SELECT * FROM {name}").sort_values(keys, kind="stable")
              .reset_index(drop=True) for name, keys in LEVEL2_KEYS.items()}
    counts = engine.fetch("""
SELECT (SELECT COUNT(*) FROM user_activity) AS users,
  (SELECT COUNT(*) FROM user_activity WHERE is_machine) AS machine_users,
  (SELECT COUNT(*) FROM user_home) AS users_with_home,
  (SELECT COUNT(*) FROM home_users WHERE kept) AS antennas_kept,
  (SELECT COUNT(*) FROM home_users WHERE NOT kept) AS antennas_suppressed,
  (SELECT COALESCE(SUM(home_users), 0) FROM home_users WHERE NOT kept) AS users_in_suppressed""")
    largest = engine.fetch("SELECT COALESCE(MAX(home_users), 0) AS n FROM home_users")["n"].iloc[0]
    return LevelOutput(features, level2, {k: int(v) for k, v in counts.iloc[0].items()},
                       max_home_users=int(largest))


def run_levels(engine: Engine, chunk_files: list[Path], antennas: pd.DataFrame, params: FeatureParams,
               work_dir: Path) -> LevelOutput:
    """All levels on ``engine``; user-level tables go under ``work_dir`` only."""
    run_user_levels(engine, chunk_files, params, Path(work_dir) / "level1")
    return run_antenna_levels(engine, antennas, params, Path(work_dir) / "level1", Path(work_dir) / "level2")
