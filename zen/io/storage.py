"""Output folders on any filesystem pyarrow can write: a local path, ``file://``, ``s3://``,
``gs://``, ``hdfs://`` URIs (``pyarrow.fs.FileSystem.from_uri``), or a ``pyarrow.fs`` object.

A :class:`Store` is one such folder; Zen names the files in it by *key*, their path inside it
(``records/day=2013-02-04/shard-00000-own.parquet``). Zen's output rules, and how they hold where
there is no rename (object stores):

* **No partial file.** Locally every file is written to a temporary beside it and renamed
  (:func:`zen.io.tables.atomic_path`). On another filesystem a file is written in one piece at its
  key: S3, GCS and Azure show an object only once its upload has completed; a filesystem that
  shows a file while it grows (HDFS) may keep a short one after a kill, and the rule below says
  it is not complete.
* **Markers say what is complete, written last.** A shard's files count only once its
  done-marker exists (``.work/done/``, written after them; a rerun writes the same keys with the
  same bytes), the dataset only once ``manifest.json`` exists (written after every other file).
* **Never overwrite or delete what Zen did not write.** The same listing checks on every
  filesystem (:mod:`zen.io.ownership`): a folder or prefix holding anything but a Zen run is refused,
  and only the keys Zen wrote are deleted.
* **One run per folder.** The local lock (``flock``) has no counterpart on an object store: two
  runs on one prefix at once are not detected there.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import io
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from zen.io.model_files import read_json
from zen.io.ownership import TEMPORARY, check_out_dir, exclusive, refuse_foreign, remove_owned
from zen.io.tables import (
    CSV_SUFFIXES,
    atomic_path,
    json_text,
    read_table,
    sha256_file,
    table_format,
    write_json_atomic,
    write_table,
)
from zen.schema import ZenInputError

CREDENTIALS = {"s3": "AWS_* or ~/.aws", "gs": "GOOGLE_APPLICATION_CREDENTIALS",  # where credentials come from
               "gcs": "GOOGLE_APPLICATION_CREDENTIALS", "hdfs": "JAVA_HOME, HADOOP_HOME and CLASSPATH",
               "abfs": "AZURE_STORAGE_*"}


def _first_line(err: BaseException, limit: int = 240) -> str:
    line = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return line if len(line) <= limit else line[:limit] + "..."


def shown(where: str | Path) -> str:
    """``where`` as messages and manifests show it: a URI without its user, password and query
    (pyarrow takes access keys there; they stay out of Zen's lines and files)."""
    text = str(where)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


def _credentials(where: str) -> str:
    """The credentials hint for the scheme of ``where``."""
    scheme = where.split("://", 1)[0].lower() if "://" in where else ""
    return f"the credentials ({CREDENTIALS[scheme]})" if scheme in CREDENTIALS else "the credentials"


def _parts(key: str) -> tuple[str, ...]:
    return tuple(key.split("/"))


@dataclass(frozen=True)
class Store:
    """A folder on a filesystem.

    Attributes:
        root: the folder: a local path, or its path inside ``filesystem`` (``bucket/prefix``).
        filesystem: None for the local filesystem (files written through a temporary and a
            rename), else the ``pyarrow.fs.FileSystem`` that holds ``root``.
        label: how messages name the folder (the URI as given).
    """

    root: str
    filesystem: pafs.FileSystem | None = None
    label: str = ""

    @classmethod
    def of(cls, where: str | Path | Store, filesystem: pafs.FileSystem | None = None,
           key: str = "out_dir") -> Store:
        """The folder ``where``: a local path, a URI, or a path inside ``filesystem``.

        Raises:
            ZenInputError: a URI pyarrow cannot open, or a folder that cannot be reached
                (missing credentials, no network), in one line naming ``key``.
        """
        if isinstance(where, Store):
            return where
        text = str(where)
        if filesystem is None:
            if "://" not in text:
                return cls(text)
            try:
                filesystem, text = pafs.FileSystem.from_uri(text)
            except (ValueError, pa.ArrowException) as err:
                why = _first_line(err).replace(text, shown(text))
                raise ZenInputError(f"{key} is not a URI pyarrow can open ({why}); pass a local "
                                    "folder, a file:// URI (spaces written %20), or s3://, gs://, hdfs://",
                                    shown(where)) from err
            except OSError as err:
                why = _first_line(err).replace(text, shown(text))
                raise ZenInputError(f"{key} cannot be opened ({why}); check the URI, "
                                    f"{_credentials(text)} and the network", shown(where)) from err
        if isinstance(filesystem, pafs.LocalFileSystem):
            return cls(text)
        store = cls(text.rstrip("/"), filesystem, shown(where))
        try:  # a first request: a bucket that does not answer fails here, in one line
            filesystem.get_file_info(store.path())
        except OSError as err:
            raise ZenInputError(f"{key} cannot be reached ({_first_line(err)}); check the URI, "
                                f"{_credentials(str(where))} and the network", shown(where)) from err
        return store

    # ------------------------------------------------------------------------------ names
    @property
    def local(self) -> Path | None:
        """The folder as a local path (None on another filesystem)."""
        return Path(self.root) if self.filesystem is None else None

    def path(self, key: str = "") -> str:
        """``key``'s path on the filesystem."""
        return "/".join(p for p in (self.root, key) if p) if self.filesystem is not None \
            else str(Path(self.root) / key) if key else self.root

    def name(self, key: str = "") -> str:
        """``key`` as messages name it (the local path, or the URI as given plus the key)."""
        if self.filesystem is None:
            return self.path(key)
        return "/".join(p for p in (self.label.rstrip("/"), key) if p)

    # --------------------------------------------------------------------------- listing
    def _fail(self, key: str, doing: str, err: BaseException) -> ZenInputError:
        return ZenInputError(f"cannot {doing} ({_first_line(err)}); check {_credentials(self.label)}, the "
                             "network and the space left, then rerun the same command (it resumes)",
                             self.name(key))

    def _info(self, key: str) -> pafs.FileInfo:
        try:
            return self.filesystem.get_file_info(self.path(key))
        except OSError as err:
            raise self._fail(key, "reach it", err) from err

    def exists(self, key: str = "") -> bool:
        """Whether ``key`` (a file or a folder) is there."""
        if self.filesystem is None:
            return Path(self.path(key)).exists()
        return self._info(key).type != pafs.FileType.NotFound

    def is_file(self, key: str) -> bool:
        if self.filesystem is None:
            return Path(self.path(key)).is_file()
        return self._info(key).type == pafs.FileType.File

    def _below(self, under: str, recursive: bool) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(self.path(under), recursive=recursive, allow_not_found=True)
        try:
            return self.filesystem.get_file_info(selector)
        except OSError as err:
            raise self._fail(under, "list it", err) from err

    def _key(self, path: str) -> str:
        return path[len(self.root):].lstrip("/") if self.root else path.lstrip("/")

    def files(self, under: str = "") -> list[str]:
        """The keys of every file below ``under`` (every depth), in path order."""
        if self.filesystem is None:
            root, base = Path(self.root), Path(self.path(under))
            found = [p.relative_to(root).as_posix() for p in base.rglob("*") if not p.is_dir()] \
                if base.is_dir() else []
        else:
            found = [self._key(i.path) for i in self._below(under, True) if i.type == pafs.FileType.File]
        return sorted(found, key=_parts)

    def children(self) -> list[str]:
        """The names of what the folder holds at its top (files and folders)."""
        if self.filesystem is None:
            return [p.name for p in Path(self.root).iterdir()] if Path(self.root).is_dir() else []
        return [i.base_name for i in self._below("", False)]

    def glob(self, pattern: str) -> list[str]:
        """The keys of the files that match ``pattern`` (``*`` stays within one folder level)."""
        want, fixed = _parts(pattern), []
        for part in want[:-1]:  # list only below the pattern's leading folders without wildcards
            if any(c in part for c in "*?["):
                break
            fixed.append(part)
        return [k for k in self.files("/".join(fixed)) if len(_parts(k)) == len(want)
                and all(fnmatch.fnmatchcase(p, w) for p, w in zip(_parts(k), want, strict=True))]

    def temporaries(self) -> list[str]:
        """Temporary files that a killed local write left (:func:`zen.io.tables.atomic_path`)."""
        return [k for k in self.files() if TEMPORARY.match(k.rsplit("/", 1)[-1])]

    # ---------------------------------------------------------------------------- writing
    @contextlib.contextmanager
    def _output(self, key: str) -> Iterator[pa.NativeFile]:
        """A stream that becomes the file ``key`` when it is closed (parent folders made as needed:
        object stores have none to make)."""
        path = self.path(key)
        try:
            try:
                stream = self.filesystem.open_output_stream(path)
            except FileNotFoundError:
                self.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
                stream = self.filesystem.open_output_stream(path)
            with stream:
                yield stream
        except OSError as err:
            raise self._fail(key, "write it", err) from err

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write ``data`` as the file ``key`` (locally through a temporary and a rename)."""
        if self.filesystem is None:
            with atomic_path(self.path(key)) as tmp:
                tmp.write_bytes(data)
            return
        with self._output(key) as out:
            out.write(data)

    def touch(self, key: str) -> None:
        """An empty file ``key`` (a marker)."""
        if self.filesystem is None:
            path = Path(self.path(key))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            return
        self.write_bytes(key, b"")

    def write_table(self, df: pd.DataFrame, key: str, fmt: str | None = None) -> None:
        """``df`` as CSV or Parquet (from the suffix, or ``fmt``): the same bytes on every filesystem."""
        if self.filesystem is None:
            write_table(df, self.path(key), fmt=fmt)
            return
        if table_format(key, fmt) == "csv":
            self.write_bytes(key, df.to_csv(index=False).encode())
        else:
            self.write_parquet(pa.Table.from_pandas(df, preserve_index=False), key)

    def write_parquet(self, table: pa.Table, key: str) -> None:
        """An Arrow table as the Parquet file ``key``."""
        if self.filesystem is None:
            with atomic_path(self.path(key)) as tmp:
                pq.write_table(table, tmp)
            return
        with self._output(key) as out:
            pq.write_table(table, out)

    def write_json(self, obj: object, key: str) -> None:
        """``obj`` as indented JSON (:func:`zen.io.tables.write_json_atomic`)."""
        if self.filesystem is None:
            write_json_atomic(obj, self.path(key))
            return
        self.write_bytes(key, json_text(obj).encode())

    # ---------------------------------------------------------------------------- reading
    def _read_bytes(self, key: str) -> bytes:
        try:
            with self.filesystem.open_input_stream(self.path(key)) as f:
                return f.read()
        except FileNotFoundError as err:
            raise ZenInputError("file not found", self.name(key)) from err
        except OSError as err:
            raise self._fail(key, "read it", err) from err

    def read_table(self, key: str, columns: list[str] | None = None) -> pd.DataFrame:
        """A CSV or Parquet file (:func:`zen.io.tables.read_table` locally)."""
        if self.filesystem is None:
            return read_table(self.path(key), columns=columns)
        if key.lower().endswith(CSV_SUFFIXES):
            data = self._read_bytes(key)
            try:
                return pd.read_csv(io.BytesIO(data), usecols=columns)
            except (ValueError, pd.errors.ParserError) as err:
                raise ZenInputError(f"cannot read the file: {_first_line(err)}", self.name(key)) from err
        return self.read_parquet(key, columns).to_pandas()

    def read_parquet(self, key: str, columns: list[str] | None = None) -> pa.Table:
        """A Parquet file as an Arrow table."""
        if self.filesystem is None:
            try:
                return pq.read_table(self.path(key), columns=columns)
            except (OSError, pa.ArrowException) as err:
                raise ZenInputError(f"cannot read the file: {_first_line(err)}", self.name(key)) from err
        data = self._read_bytes(key)
        try:
            return pq.read_table(pa.BufferReader(data), columns=columns)
        except (OSError, pa.ArrowException) as err:
            raise ZenInputError(f"cannot read the file: {_first_line(err)}", self.name(key)) from err

    def read_json(self, key: str, what: str = "file") -> dict:
        """A JSON object Zen wrote (:func:`zen.io.model_files.read_json` locally)."""
        if self.filesystem is None:
            return read_json(self.path(key), what)
        if not self.is_file(key):
            raise ZenInputError(f"{what} not found", self.name(key))
        try:
            value = json.loads(self._read_bytes(key).decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ZenInputError(f"{what} is not valid JSON ({err}); rerun the stage that wrote it",
                                self.name(key)) from err
        if not isinstance(value, dict):
            raise ZenInputError(f"{what} is not a JSON object; rerun the stage that wrote it", self.name(key))
        return value

    def sha256(self, key: str) -> str:
        if self.filesystem is None:
            return sha256_file(self.path(key))
        return hashlib.sha256(self._read_bytes(key)).hexdigest()

    # ---------------------------------------------------------------------------- removing
    def refuse_foreign(self, owned: Iterable[str], key: str, what: str) -> None:
        """One line naming a file in the folder that is not in ``owned`` (keys), if there is one."""
        if self.filesystem is None:
            refuse_foreign(Path(self.root), [Path(self.path(k)) for k in owned], key, what)
            return
        mine = set(owned)
        foreign = [k for k in self.files() if k not in mine]
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise ZenInputError(f"{key} holds files Zen did not write ('{foreign[0]}'{more}); Zen replaces "
                                f"only its own {what}: move them, or choose another {key}=", self.name())

    def delete(self, keys: Iterable[str]) -> None:
        """Delete the files ``keys`` (those missing are skipped)."""
        for k in keys:
            if self.filesystem is None:
                Path(self.path(k)).unlink(missing_ok=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.filesystem.delete_file(self.path(k))

    def remove(self, owned: Iterable[str], keep_root: bool = False) -> None:
        """Delete the files ``owned`` (keys), then every folder left empty (the folder itself too,
        unless ``keep_root``); a folder that still holds another file stays."""
        if self.filesystem is None:
            remove_owned(Path(self.root), [Path(self.path(k)) for k in owned], keep_root)
            return
        self.delete(owned)
        folders = [i.path for i in self._below("", True) if i.type == pafs.FileType.Directory]
        folders = sorted(folders, key=lambda p: p.count("/"), reverse=True)
        for folder in folders if keep_root else [*folders, self.path()]:
            with contextlib.suppress(FileNotFoundError):  # S3: an empty folder is a marker object, or none
                if self.filesystem.get_file_info(folder).type == pafs.FileType.Directory and \
                        not self.filesystem.get_file_info(pafs.FileSelector(folder)):
                    self.filesystem.delete_dir(folder)

    def remove_tree(self, key: str) -> None:
        """Delete the folder ``key`` and all it holds (only for Zen's own ``.work``)."""
        if self.filesystem is None:
            shutil.rmtree(self.path(key), ignore_errors=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_dir(self.path(key))

    # ---------------------------------------------------------------------------- the run
    def for_output(self, key: str = "out_dir") -> Store:
        """This folder checked as an output folder: one line when it is a file. Local: resolved."""
        if self.filesystem is None:
            return Store(str(check_out_dir(self.root, key)))
        if self._info("").type == pafs.FileType.File:
            raise ZenInputError(f"{key} is a file, not a folder; pass {key}=<a new or Zen-written folder>",
                                self.name())
        return self

    def make(self) -> None:
        """Create the folder (locally; other filesystems make folders as files are written)."""
        if self.filesystem is None:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """The local folder's lock (:func:`zen.io.ownership.exclusive`); no lock elsewhere."""
        if self.filesystem is None:
            with exclusive(Path(self.root), what):
                yield
        else:
            yield
