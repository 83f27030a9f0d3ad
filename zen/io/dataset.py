"""The dataset folder written by ``zen-generate`` and read by ``zen-evaluate``.

Layout::

    dataset/
      records/day=YYYY-MM-DD/shard-00000.parquet   (format=parquet; CSV: records/shard-00000.csv)
      antennas.parquet  users.parquet  edges.parquet  [stays.parquet]
      manifest.json     (config, seed, version, start, days, n_users, row counts, checksums)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from zen.data.base import CDRData
from zen.io.tables import read_table
from zen.schema import ZenInputError, validate


@dataclass(kw_only=True)
class Dataset(CDRData):
    """A dataset folder in memory: its records container (:class:`~zen.data.base.CDRData`:
    ``records``, ``start``, ``days``, ``antennas``; ``name`` ``synthetic``) plus the population
    tables and the manifest; ``extra`` holds ``stays`` and ``places`` when the folder has them
    (``mode=mobility`` datasets have only those: ``records`` is empty); ``path`` is the folder it
    was read from."""

    manifest: dict = field(default_factory=dict)
    users: pd.DataFrame | None = None
    edges: pd.DataFrame | None = None
    extra: dict = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def of_manifest(cls, records: pd.DataFrame, manifest: dict, **tables) -> Dataset:
        """The dataset whose window (``start``, ``days``) is the manifest's."""
        return cls(records, pd.Timestamp(manifest["start"]).tz_convert("UTC"), float(manifest["days"]),
                   name="synthetic", manifest=manifest, **tables)

    def to_arrow(self):
        """The records as a :class:`pyarrow.Table`."""
        import pyarrow as pa

        return pa.Table.from_pandas(self.records, preserve_index=False)


def _optional(root: Path, stem: str) -> pd.DataFrame | None:
    for suffix in (".parquet", ".csv"):
        if (root / f"{stem}{suffix}").exists():
            return read_table(root / f"{stem}{suffix}")
    return None


def read_dataset(path: str | Path) -> Dataset:
    """Read a dataset folder (records validated against the schema)."""
    root = Path(path)
    manifest_file = root / "manifest.json"
    if not manifest_file.exists():
        raise ZenInputError("not a Zen dataset folder (no manifest.json); pass the 'dataset' "
                            "folder that zen-generate wrote", str(root))
    manifest = json.loads(manifest_file.read_text())
    rec_dir = root / "records"
    files = sorted(rec_dir.rglob("*.parquet")) + sorted(rec_dir.rglob("*.csv"))
    extra = {}
    if (root / "stays").is_dir():  # write_stays=true or mode=mobility; place_id indexes places
        extra["stays"] = pd.concat([read_table(f) for f in sorted((root / "stays").glob("*.parquet"))],
                                   ignore_index=True)
        extra["places"] = _optional(root, "places")
    if not files and manifest.get("mode") == "mobility":
        return Dataset.of_manifest(pd.DataFrame(), manifest, antennas=_optional(root, "antennas"),
                                   extra=extra, path=root)
    if not files:
        raise ZenInputError("the dataset has no record files", str(rec_dir))
    frames = [read_table(f) for f in files]
    records = validate(pd.concat(frames, ignore_index=True), "records", str(rec_dir))
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    return Dataset.of_manifest(records, manifest, antennas=_optional(root, "antennas"),
                               users=_optional(root, "users"), edges=_optional(root, "edges"), extra=extra,
                               path=root)


def write_dataset(path: str | Path, records: pd.DataFrame, start: pd.Timestamp, days: float,
                  antennas: pd.DataFrame | None = None, users: pd.DataFrame | None = None,
                  edges: pd.DataFrame | None = None, manifest: dict | None = None) -> Path:
    """Write a small dataset folder in one go (adapters, tests); ``zen-generate`` streams shards.

    Records are validated first, so nothing is written for an invalid table. Each file is written
    atomically and ``manifest.json`` last, so a folder with a manifest is complete.
    """
    from zen import __version__
    from zen.io.tables import write_table

    root = Path(path)
    records = validate(records, "records", "<records>")
    rec_file = write_table(records, root / "records" / "shard-00000.parquet")
    files = {"records/shard-00000.parquet": rec_file}
    for name, table in (("antennas", antennas), ("users", users), ("edges", edges)):
        if table is not None:
            files[f"{name}.parquet"] = write_table(table, root / f"{name}.parquet")
    info = {
        "zen_version": __version__,
        "start": str(pd.Timestamp(start)),
        "days": float(days),
        "n_users": int(records["user_id"].nunique()),
        "rows": {"records": len(records)},
    }
    write_manifest(root, info, list(files.values()), extra=manifest)
    return root


def write_manifest(root: Path, info: dict, files: list[Path] | None = None,
                   extra: dict | None = None) -> Path:
    """Write ``root/manifest.json`` (atomically, last): ``info`` plus the SHA-256 of each file.

    Args:
        root: the dataset folder.
        info: what the manifest says besides checksums (version, start, days, row counts...).
        files: the files to checksum; when None, every file under ``root`` except hidden ones
            (``.work``, the lock's pid file, temporaries of killed writes) and the manifest.
        extra: keys that override ``info`` and the checksums (e.g. the generator's name).
    """
    from zen.io.tables import sha256_file, write_json_atomic

    if files is None:
        files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"
                 and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    manifest = {**info, "checksums": {str(p.relative_to(root)): sha256_file(p) for p in files}}
    manifest.update(extra or {})
    return write_json_atomic(manifest, root / "manifest.json")
