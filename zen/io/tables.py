"""Table IO: every write goes to a temporary file that is renamed into place on success.

A crash (or a validation error) therefore never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zen.schema import ZenInputError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".csv.gz", ".txt.gz")


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES) or path.is_dir():
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise ZenInputError("unknown file type; use .csv or .parquet (or set format=)", str(path))


def read_table(path: str | Path, fmt: str | None = None, columns: list[str] | None = None,
               chunksize: int | None = None, **csv_kwargs) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a CSV or Parquet file (or a folder of Parquet files).

    Args:
        path: the file.
        fmt: ``csv`` or ``parquet``; guessed from the suffix when None.
        columns: only these columns (all when None).
        chunksize: when set, return an iterator of frames of at most this many rows.

    Raises:
        ZenInputError: file missing, empty, or unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise ZenInputError("file not found; check the path in the config", str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise ZenInputError("the file is empty", str(path))
    fmt = _format_of(path, fmt)
    try:
        if fmt == "csv":
            reader = pd.read_csv(path, usecols=columns, chunksize=chunksize, **csv_kwargs)
            return reader
        if chunksize is None:
            return pq.read_table(path, columns=columns).to_pandas()
        return _iter_parquet(path, columns, chunksize)
    except pd.errors.EmptyDataError as err:
        raise ZenInputError("the file is empty", str(path)) from err
    except ValueError as err:
        if "Usecols" in str(err) or "columns expected" in str(err):
            raise ZenInputError(f"missing column(s): {err}", str(path)) from err
        raise ZenInputError(f"cannot read the file: {err}", str(path)) from err
    except (pa.ArrowInvalid, OSError) as err:
        raise ZenInputError(f"cannot read the file: {err}", str(path)) from err


def _iter_parquet(path: Path, columns: list[str] | None, chunksize: int) -> Iterator[pd.DataFrame]:
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=chunksize, columns=columns):
            yield batch.to_pandas()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``df`` atomically as CSV or Parquet (guessed from the suffix). Returns the path."""
    path = Path(path)
    fmt = fmt or ("csv" if path.name.lower().endswith(CSV_SUFFIXES) else "parquet")
    with atomic_path(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
    return path


def write_json_atomic(obj: object, path: str | Path) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    return path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
