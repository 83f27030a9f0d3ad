"""Where a generation run keeps its files inside ``out_dir``, and which of them are Zen's.

::

    out_dir/
      records/day=YYYY-MM-DD/shard-00000-own.parquet, shard-00000-mirror.parquet
      antennas.parquet  users.parquet  edges.parquet  [stays/shard-*.parquet  places.parquet]
      manifest.json                                  (written last: the dataset is complete)
      .work/config.json                              (the unfinished run's settings)
      .work/done/<step>-<shard>                      (a marker per finished shard step)
      .work/stays/shard-*.parquet                    (each shard's stays, for its mirrors)
      .work/timelines/shard-*.parquet                (each shard's sampled traffic, until assembled)
      .work/starts/shard-*.parquet                   (conversations each user starts per day)
      .work/pairs/shard-*.parquet                    (the same per counterpart, partners=pair)
      .work/hours/shard-*.parquet                    (the same per hour-of-day bin, partners=hour)
      .work/spans/shard-*.parquet                    (kept conversations to lower-index ties, startbacks)
      .work/counterparts/shard-*.parquet             (each timeline event's final counterpart)
      .work/started/shard-*.parquet                  (kept conversations per counterpart, starters)
      .work/pending/to-<shard>/from-<shard>.parquet  (mirror records waiting for their user's cell)

``out_dir`` is a :class:`~zen.io.storage.Store`: a local folder or a prefix on any filesystem
pyarrow writes (``s3://``, ``gs://``, ``hdfs://``); the names below are keys inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zen.io.ownership import LOCK_PID
from zen.io.storage import Store

RECORD_LAYOUT = ("records/day=*/shard-*.parquet", "records/day=*/shard-*.csv", "stays/shard-*.parquet",
                 "antennas.parquet", "places.parquet", "users.parquet", "edges.parquet", "bandicoot/*.csv",
                 "bandicoot/antennas/*.csv")


@dataclass(frozen=True)
class Layout:
    """File layout of a generation run inside ``store`` (see the module docstring)."""

    store: Store
    ext: str = "parquet"
    work: str = ".work"

    def done(self, step: str, shard: int) -> str:
        return f"{self.work}/done/{step}-{shard:05d}"

    def work_stays(self, shard: int) -> str:
        return f"{self.work}/stays/shard-{shard:05d}.parquet"

    def pending(self, to_shard: int, from_shard: int) -> str:
        return f"{self.work}/pending/to-{to_shard:05d}/from-{from_shard:05d}.parquet"

    def work_timelines(self, shard: int) -> str:
        return f"{self.work}/timelines/shard-{shard:05d}.parquet"

    def work_starts(self, shard: int) -> str:
        return f"{self.work}/starts/shard-{shard:05d}.parquet"

    def work_pairs(self, shard: int) -> str:
        return f"{self.work}/pairs/shard-{shard:05d}.parquet"

    def work_hours(self, shard: int) -> str:
        return f"{self.work}/hours/shard-{shard:05d}.parquet"

    def work_spans(self, shard: int) -> str:
        return f"{self.work}/spans/shard-{shard:05d}.parquet"

    def work_started(self, shard: int) -> str:
        return f"{self.work}/started/shard-{shard:05d}.parquet"

    def work_counterparts(self, shard: int) -> str:
        return f"{self.work}/counterparts/shard-{shard:05d}.parquet"

    def records(self, day: str, shard: int, part: str) -> str:
        return f"records/day={day}/shard-{shard:05d}-{part}.{self.ext}"

    def stays(self, shard: int) -> str:
        return f"stays/shard-{shard:05d}.parquet"

    def is_done(self, step: str, shard: int) -> bool:
        return self.store.exists(self.done(step, shard))

    def mark(self, step: str, shard: int) -> None:
        """The shard step's done-marker, written after all its files."""
        self.store.touch(self.done(step, shard))

    def zen_files(self) -> list[str]:
        """The files of ``out`` that Zen wrote: those a finished dataset's manifest lists, or for an
        unfinished run (marked by ``.work/config.json``) the shard layout's files; plus the run's
        ``.work`` folder, its lock file and the temporaries of killed writes."""
        store = self.store
        if store.is_file("manifest.json"):
            manifest = store.read_json("manifest.json", "the dataset's manifest")
            files = [*manifest.get("checksums", {}), "manifest.json"]
        else:
            files = [k for pattern in RECORD_LAYOUT for k in store.glob(pattern)]
        return files + store.files(self.work) + store.temporaries() + [LOCK_PID]
