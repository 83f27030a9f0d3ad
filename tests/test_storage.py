"""Records on any filesystem pyarrow writes (``zen.io.storage``), tested without a network.

Two filesystems that are not the local one stand in for an object store: an in-memory
``pyarrow.fs.PyFileSystem`` written here, which like S3 has no rename (``move`` fails) and shows
a file only when its stream is closed, and a ``SubTreeFileSystem`` over a temporary folder, which
spawned workers and Ray tasks can share. Every dataset is compared with the local run of the same
seed (the session's ``dataset``: 300 users, 3 days, 3 shards), file by file.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pyarrow as pa
import pytest
from pyarrow import fs

import zen
from zen.io.dataset import read_dataset
from zen.io.storage import Store
from zen.schema import ZenInputError


class _Closing(io.BytesIO):
    """An upload: the bytes become the object only when the stream is closed."""

    def __init__(self, objects: dict, path: str):
        super().__init__()
        self.objects, self.path = objects, path

    def close(self) -> None:
        if not self.closed:
            self.objects[self.path] = self.getvalue()
        super().close()


class MemoryStore(fs.FileSystemHandler):
    """A bucket in memory: objects by key, folders only as prefixes, no rename.

    ``fail_on``: a key fragment; the first write of a matching object raises (a killed upload).
    """

    def __init__(self, fail_on: str | None = None):
        self.objects: dict[str, bytes] = {}
        self.fail_on, self.writes = fail_on, []

    def get_type_name(self) -> str:
        return "memory"

    def normalize_path(self, path: str) -> str:
        return path.strip("/")

    def _is_dir(self, path: str) -> bool:
        return any(k.startswith(path.rstrip("/") + "/") for k in self.objects) or path == ""

    def _info(self, path: str) -> fs.FileInfo:
        path = path.strip("/")
        if path in self.objects:
            return fs.FileInfo(path, fs.FileType.File, size=len(self.objects[path]))
        return fs.FileInfo(path, fs.FileType.Directory if self._is_dir(path) else fs.FileType.NotFound)

    def get_file_info(self, paths):
        return [self._info(p) for p in paths]

    def get_file_info_selector(self, selector):
        base = selector.base_dir.strip("/")
        if not self._is_dir(base):
            if selector.allow_not_found:
                return []
            raise FileNotFoundError(base)
        prefix = base + "/" if base else ""
        found = set()
        for key in self.objects:
            if not key.startswith(prefix):
                continue
            parts = key[len(prefix):].split("/")
            depth = len(parts) if selector.recursive else 1
            for i in range(1, depth + 1):
                found.add(prefix + "/".join(parts[:i]))
        return [self._info(p) for p in sorted(found)]

    def create_dir(self, path, recursive):
        pass  # folders are prefixes

    def delete_dir(self, path):
        for key in [k for k in self.objects if k.startswith(path.strip("/") + "/")]:
            del self.objects[key]

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.delete_dir(path)

    def delete_root_dir_contents(self):
        self.objects.clear()

    def delete_file(self, path):
        if path.strip("/") not in self.objects:
            raise FileNotFoundError(path)
        del self.objects[path.strip("/")]

    def move(self, src, dest):
        raise OSError("an object store has no rename")

    def copy_file(self, src, dest):
        self.objects[dest.strip("/")] = self.objects[src.strip("/")]

    def open_input_stream(self, path):
        if path.strip("/") not in self.objects:
            raise FileNotFoundError(path)
        return pa.BufferReader(self.objects[path.strip("/")])

    def open_input_file(self, path):
        return self.open_input_stream(path)

    def open_output_stream(self, path, metadata):
        self.writes.append(path)
        if self.fail_on is not None and self.fail_on in path:
            self.fail_on = None
            raise KeyboardInterrupt(f"killed while uploading {path}")
        return pa.PythonFile(_Closing(self.objects, path.strip("/")), mode="w")

    def open_append_stream(self, path, metadata):
        raise OSError("an object store cannot append")


def _same_as_local(ds, local) -> None:
    """The dataset read back equals the local run: every file's bytes, and the tables."""
    assert ds.manifest["checksums"] == local.manifest["checksums"]
    assert sum(k.startswith("records") for k in ds.manifest["checksums"]) > 3
    assert ds.records.equals(local.records) and len(ds.records) > 0
    for table in ("users", "edges", "antennas"):
        assert getattr(ds, table).equals(getattr(local, table))


def _settings(**extra) -> dict:
    """``small_generate_config``'s run as ``zen.generate`` keywords."""
    return {"shard_users": 120, "device": "cpu", "network": "synthetic_city", "workers": 1, **extra}


def test_a_dataset_in_a_bucket_without_rename_is_the_local_dataset(model_dir, dataset):
    bucket = MemoryStore()
    ds = zen.generate(model_dir, n_users=300, days=3, out_dir="bucket/zen",
                      filesystem=fs.PyFileSystem(bucket), **_settings())
    _same_as_local(ds, read_dataset(dataset))
    keys = sorted(bucket.objects)
    assert all(k.startswith("bucket/zen/") for k in keys) and "bucket/zen/manifest.json" in keys
    assert not any("/.work/" in k or k.endswith(".tmp") for k in keys)  # the run's own files are gone
    assert bucket.writes[-1] == "bucket/zen/manifest.json"  # the manifest last


def test_a_shard_killed_mid_upload_resumes_to_the_local_dataset(model_dir, dataset):
    """A killed upload of shard 1 leaves shards 0's files and marker; the same command resumes,
    redoes shard 1 and 2 only, and writes the local dataset; a marker is never before its files."""
    bucket = MemoryStore(fail_on="shard-00001-own")
    store = fs.PyFileSystem(bucket)
    with pytest.raises(KeyboardInterrupt):
        zen.generate(model_dir, n_users=300, days=3, out_dir="bucket/zen", filesystem=store, **_settings())
    assert "bucket/zen/.work/done/own-00000" in bucket.objects
    assert not any("/done/own-00001" in k for k in bucket.objects)
    assert "bucket/zen/manifest.json" not in bucket.objects
    first = [k for k in bucket.objects if "shard-00000-own" in k]
    kept = {k: bucket.objects[k] for k in first}
    bucket.writes.clear()
    ds = zen.generate(model_dir, n_users=300, days=3, out_dir="bucket/zen", filesystem=store, **_settings())
    _same_as_local(ds, read_dataset(dataset))
    assert first and not any("shard-00000-own" in k for k in bucket.writes)  # shard 0 not redone
    assert all(bucket.objects[k] == v for k, v in kept.items())
    marks = [i for i, k in enumerate(bucket.writes) if "/.work/done/own-" in k]
    for i in marks:  # every own-shard file of that shard was written before its marker
        shard = bucket.writes[i].rsplit("-", 1)[1]
        assert all(j < i for j, k in enumerate(bucket.writes) if f"shard-{shard}-own" in k)


def test_overwrite_in_a_bucket_removes_only_zens_objects(model_dir, tmp_path):
    bucket = MemoryStore()
    store = fs.PyFileSystem(bucket)
    run = _settings(shard_users=20)
    zen.generate(model_dir, n_users=40, days=1, out_dir="b/zen", filesystem=store, **run)
    with pytest.raises(ZenInputError, match="a finished dataset is already there"):
        zen.generate(model_dir, n_users=40, days=1, out_dir="b/zen", filesystem=store, **run)
    bucket.objects["b/zen/notes.txt"] = b"mine"
    with pytest.raises(ZenInputError, match="holds files Zen did not write .*notes.txt"):
        zen.generate(model_dir, n_users=40, days=1, out_dir="b/zen", filesystem=store, overwrite=True, **run)
    assert bucket.objects["b/zen/notes.txt"] == b"mine" and "b/zen/manifest.json" in bucket.objects
    del bucket.objects["b/zen/notes.txt"]
    bucket.objects["b/other/keep.txt"] = b"beside, not inside"
    ds = zen.generate(model_dir, n_users=40, days=1, out_dir="b/zen", filesystem=store, overwrite=True,
                      **run, seed=3)
    assert ds.manifest["seed"] == 3 and bucket.objects["b/other/keep.txt"] == b"beside, not inside"
    bucket.objects["c/x/mine.csv"] = b"a,b\n"
    with pytest.raises(ZenInputError, match="exists and is not a Zen run"):
        zen.generate(model_dir, n_users=40, days=1, out_dir="c/x", filesystem=store, **run)
    assert sorted(k for k in bucket.objects if k.startswith("c/")) == ["c/x/mine.csv"]


def test_two_workers_write_through_a_shared_filesystem(model_dir, dataset, tmp_path):
    """Spawned workers get the filesystem with the layout and write their own shards."""
    (tmp_path / "bucket").mkdir()
    store = fs.SubTreeFileSystem(str(tmp_path / "bucket"), fs.LocalFileSystem())
    ds = zen.generate(model_dir, n_users=300, days=3, out_dir="zen", filesystem=store, **_settings(workers=2))
    _same_as_local(ds, read_dataset(dataset))
    assert ds.path is None and (tmp_path / "bucket" / "zen" / "manifest.json").exists()
    assert not (tmp_path / "bucket" / "zen" / ".work").exists()


def test_a_store_lists_and_names_keys_the_same_on_both_sides(tmp_path):
    local = Store.of(tmp_path)
    remote = Store.of("b/x", fs.PyFileSystem(MemoryStore()))
    for store in (local, remote):
        store.write_table(pa.table({"a": [1, 2]}).to_pandas(), "records/day=1/shard-00000-own.parquet")
        store.touch(".work/done/own-00000")
        store.write_json({"k": 1}, "manifest.json")
    assert local.files() == remote.files() == [".work/done/own-00000", "manifest.json",
                                               "records/day=1/shard-00000-own.parquet"]
    assert local.glob("records/day=*/shard-*.parquet") == remote.glob("records/day=*/shard-*.parquet")
    assert local.sha256("manifest.json") == remote.sha256("manifest.json")
    assert remote.name("manifest.json") == "b/x/manifest.json"
    for store in (local, remote):
        store.remove(store.files(), keep_root=True)
        assert store.files() == [] and store.children() == []


class _Unreachable(MemoryStore):
    def get_file_info(self, paths):
        raise OSError("AWS Error ACCESS_DENIED during HeadObject operation: No response body.")


@pytest.mark.parametrize("where, filesystem, fragment", [
    ("nosuch://bucket/zen", None, "not a URI pyarrow can open"),
    ("file://host name/x", None, "not a URI pyarrow can open"),
    ("bucket/zen", fs.PyFileSystem(_Unreachable()),
     r"cannot be reached \(AWS Error ACCESS_DENIED.*\); check the URI"),
])
def test_a_bad_uri_or_missing_credentials_is_one_line(where, filesystem, fragment):
    with pytest.raises(ZenInputError, match=fragment) as err:
        Store.of(where, filesystem)
    assert "\n" not in str(err.value) and where in str(err.value)


def test_access_keys_in_a_uri_stay_out_of_messages():
    from zen.io.storage import shown

    uri = "s3://AKIAKEY:s3cr3t@bucket/zen?region=eu-west-1&endpoint_override=localhost:9000"
    assert shown(uri) == "s3://bucket/zen" and shown("/data/x y") == "/data/x y"
    with pytest.raises(ZenInputError) as err:
        Store.of(uri.replace("s3://", "nosuch://"))
    assert "s3cr3t" not in str(err.value) and "nosuch://bucket/zen" in str(err.value)


def test_cli_with_a_uri_it_cannot_open_is_one_line_and_exit_2(model_dir, tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    proc = subprocess.run([sys.executable, "-m", "zen.cli.generate", f"model_dir={model_dir}",
                           "out_dir=nosuch://bucket/zen", "n_users=10", "days=1", "network=synthetic_city",
                           f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, env=env,
                          timeout=300)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "out_dir is not a URI pyarrow can open" in lines[0] and "nosuch://bucket/zen" in lines[0]


def test_the_local_store_resolves_file_uris(tmp_path):
    assert Store.of((tmp_path / "a b").as_uri()).local == tmp_path / "a b"
    assert Store.of(tmp_path / "c").local == tmp_path / "c"
    assert Store.of(tmp_path / "c", fs.LocalFileSystem()).local == tmp_path / "c"


@pytest.mark.parametrize("extra", [{"format": "bandicoot", "write_stays": True}, {"format": "csv"},
                                   {"mode": "mobility"}])
def test_csv_bandicoot_stays_and_mobility_runs_in_a_bucket_are_the_local_ones(model_dir, tmp_path, extra):
    run = _settings(shard_users=20, **extra)
    local = zen.generate(model_dir, n_users=40, days=1, out_dir=tmp_path / "local", **run)
    bucket = fs.PyFileSystem(MemoryStore())
    remote = zen.generate(model_dir, n_users=40, days=1, out_dir="b/zen", filesystem=bucket, **run)
    files = local.manifest["checksums"]
    assert remote.manifest["checksums"] == files and len(files) > 3
    assert remote.records.equals(local.records)
    assert all(remote.extra[k].equals(local.extra[k]) for k in local.extra)
