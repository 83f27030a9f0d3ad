"""Where a generation run keeps its files inside ``out_dir``, and which of them are Zen's.

::

    out_dir/
      records/day=YYYY-MM-DD/shard-00000-own.parquet, shard-00000-mirror.parquet
      antennas.parquet  users.parquet  edges.parquet  [stays/shard-*.parquet  places.parquet]
      manifest.json                                  (written last: the dataset is complete)
      .work/config.json                              (the unfinished run's settings)
      .work/done/<step>-<shard>                      (a marker per finished shard step)
      .work/stays/shard-*.parquet                    (each shard's stays, for its mirrors)
      .work/timelines/shard-*.npz                    (each shard's sampled traffic, until assembled)
      .work/starts/shard-*.npz                       (conversations each user starts per day)
      .work/pending/to-<shard>/from-<shard>.parquet  (mirror records waiting for their user's cell)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zen.io.model_files import read_json
from zen.io.ownership import LOCK_PID, temporaries

RECORD_LAYOUT = ("records/day=*/shard-*.parquet", "records/day=*/shard-*.csv", "stays/shard-*.parquet",
                 "antennas.parquet", "places.parquet", "users.parquet", "edges.parquet", "bandicoot/*.csv",
                 "bandicoot/antennas/*.csv")


@dataclass(frozen=True)
class Layout:
    """File layout of a generation run inside ``out`` (see the module docstring)."""

    out: Path
    ext: str = "parquet"

    @property
    def work(self) -> Path:
        return self.out / ".work"

    def done(self, step: str, shard: int) -> Path:
        return self.work / "done" / f"{step}-{shard:05d}"

    def work_stays(self, shard: int) -> Path:
        return self.work / "stays" / f"shard-{shard:05d}.parquet"

    def work_timelines(self, shard: int) -> Path:
        return self.work / "timelines" / f"shard-{shard:05d}.npz"

    def work_starts(self, shard: int) -> Path:
        return self.work / "starts" / f"shard-{shard:05d}.npz"

    def pending(self, to_shard: int, from_shard: int) -> Path:
        return self.work / "pending" / f"to-{to_shard:05d}" / f"from-{from_shard:05d}.parquet"

    def records(self, day: str, shard: int, part: str) -> Path:
        return self.out / "records" / f"day={day}" / f"shard-{shard:05d}-{part}.{self.ext}"

    def stays(self, shard: int) -> Path:
        return self.out / "stays" / f"shard-{shard:05d}.parquet"

    def mark(self, step: str, shard: int) -> None:
        path = self.done(step, shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def zen_files(self) -> list[Path]:
        """The files of ``out`` that Zen wrote: those a finished dataset's manifest lists, or for an
        unfinished run (marked by ``.work/config.json``) the shard layout's files; plus the run's
        ``.work`` folder, its lock file and the temporaries of killed writes."""
        out = self.out
        if (out / "manifest.json").exists():
            manifest = read_json(out / "manifest.json", "the dataset's manifest")
            files = [out / name for name in manifest.get("checksums", {})] + [out / "manifest.json"]
        else:
            files = [p for pattern in RECORD_LAYOUT for p in out.glob(pattern)]
        work = [p for p in self.work.rglob("*") if p.is_file()] if self.work.exists() else []
        return files + work + temporaries(out) + [out / LOCK_PID]
