"""The dataset folder written by ``zen-generate`` and read by ``zen-evaluate``.

Layout::

    dataset/
      records/day=YYYY-MM-DD/shard-00000.parquet   (format=parquet; CSV: records/shard-00000.csv)
      antennas.parquet  users.parquet  edges.parquet  [stays.parquet]
      manifest.json     (config, seed, version, start, days, n_users, row counts, checksums)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from zen.data.base import CDRData
from zen.io.storage import Store
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


def _optional(store: Store, stem: str) -> pd.DataFrame | None:
    for suffix in (".parquet", ".csv"):
        if store.exists(f"{stem}{suffix}"):
            return store.read_table(f"{stem}{suffix}")
    return None


def read_dataset(path: str | Path | Store, filesystem=None) -> Dataset:
    """Read a dataset folder (records validated against the schema).

    Args:
        path: the folder: a local path, a URI (``file://``, ``s3://``, ``gs://``, ``hdfs://``), or
            its path inside ``filesystem`` (a ``pyarrow.fs.FileSystem``).
    """
    store = Store.of(path, filesystem, key="dataset")
    if not store.is_file("manifest.json"):
        raise ZenInputError("not a Zen dataset folder (no manifest.json); pass the 'dataset' "
                            "folder that zen-generate wrote", store.name())
    manifest = store.read_json("manifest.json", "the dataset's manifest")
    files = [k for k in store.files("records") if k.endswith(".parquet")] + \
        [k for k in store.files("records") if k.endswith(".csv")]
    extra, where = {}, store.local
    if store.exists("stays"):  # write_stays=true or mode=mobility; place_id indexes places
        extra["stays"] = pd.concat([store.read_table(f) for f in store.glob("stays/*.parquet")],
                                   ignore_index=True)
        extra["places"] = _optional(store, "places")
    if not files and manifest.get("mode") == "mobility":
        return Dataset.of_manifest(pd.DataFrame(), manifest, antennas=_optional(store, "antennas"),
                                   extra=extra, path=where)
    if not files:
        raise ZenInputError("the dataset has no record files", store.name("records"))
    frames = [store.read_table(f) for f in files]
    records = validate(pd.concat(frames, ignore_index=True), "records", store.name("records"))
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    return Dataset.of_manifest(records, manifest, antennas=_optional(store, "antennas"),
                               users=_optional(store, "users"), edges=_optional(store, "edges"), extra=extra,
                               path=where)


def write_dataset(path: str | Path, records: pd.DataFrame, start: pd.Timestamp, days: float,
                  antennas: pd.DataFrame | None = None, users: pd.DataFrame | None = None,
                  edges: pd.DataFrame | None = None, manifest: dict | None = None) -> Path:
    """Write a small dataset folder in one go (adapters, tests); ``zen-generate`` streams shards.

    Records are validated first, so nothing is written for an invalid table. Each file is written
    atomically and ``manifest.json`` last, so a folder with a manifest is complete.
    """
    from zen import __version__

    store = Store.of(path)
    records = validate(records, "records", "<records>")
    files = ["records/shard-00000.parquet"]
    store.write_table(records, files[0])
    for name, table in (("antennas", antennas), ("users", users), ("edges", edges)):
        if table is not None:
            files.append(f"{name}.parquet")
            store.write_table(table, files[-1])
    info = {
        "zen_version": __version__,
        "start": str(pd.Timestamp(start)),
        "days": float(days),
        "n_users": int(records["user_id"].nunique()),
        "rows": {"records": len(records)},
    }
    write_manifest(store, info, files, extra=manifest)
    return Path(path)


def write_manifest(root: Path | Store, info: dict, files: list[str] | None = None,
                   extra: dict | None = None) -> None:
    """Write ``root/manifest.json`` (atomically where the filesystem can, last): ``info`` plus the
    SHA-256 of each file.

    Args:
        root: the dataset folder.
        info: what the manifest says besides checksums (version, start, days, row counts...).
        files: the keys of the files to checksum (``records/...``); when None, every file under
            ``root`` except hidden ones (``.work``, the lock's pid file, temporaries of killed
            writes) and the manifest.
        extra: keys that override ``info`` and the checksums (e.g. the generator's name).
    """
    store = Store.of(root)
    if files is None:
        files = [k for k in store.files() if k != "manifest.json"
                 and not any(part.startswith(".") for part in k.split("/"))]
    manifest = {**info, "checksums": {k: store.sha256(k) for k in files}}
    manifest.update(extra or {})
    store.write_json(manifest, "manifest.json")
