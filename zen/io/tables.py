"""Table IO: every write goes to a temporary file that is renamed into place on success.

A crash (or a validation error) therefore never leaves a half-written file behind.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import hashlib
import json
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zen.schema import ZenInputError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".dat", ".csv.gz", ".txt.gz", ".dat.gz")  # .dat: delimited text (Hangzhou)
GZIP_MAGIC = b"\x1f\x8b"


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
               chunksize: int | None = None, options_key: str = "read_options",
               **csv_kwargs) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a CSV or Parquet file (or a folder of Parquet files).

    Args:
        path: the file.
        fmt: ``csv`` or ``parquet``; guessed from the suffix when None.
        columns: only these columns (all when None).
        chunksize: when set, return an iterator of frames of at most this many rows.
        options_key: the config key that holds ``csv_kwargs``, named in the hints.
        **csv_kwargs: passed to :func:`pandas.read_csv` (``sep``, ``encoding``, ...).

    Raises:
        ZenInputError: file missing, empty, truncated, not in its encoding, or unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise ZenInputError("file not found; check the path in the config", str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise ZenInputError("the file is empty", str(path))
    fmt = _format_of(path, fmt)
    try:
        if fmt == "csv":
            return _read_csv(path, columns, chunksize, csv_kwargs)
        if chunksize is None:
            return pq.read_table(path, columns=columns).to_pandas()
        return _iter_parquet(path, columns, chunksize)
    except pd.errors.EmptyDataError as err:
        raise ZenInputError("the file is empty", str(path)) from err
    except UnicodeDecodeError as err:
        raise _decode_error(path, err, csv_kwargs.get("encoding") or "utf-8", options_key) from err
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ZenInputError(f"the file is truncated or not valid gzip ({err}); copy or compress it "
                            "again (gzip -t checks it)", str(path)) from err
    except pd.errors.ParserError as err:
        raise _parser_error(path, err) from err
    except ValueError as err:
        if "Usecols" in str(err) or "columns expected" in str(err):
            raise ZenInputError(f"missing column(s): {err}", str(path)) from err
        raise ZenInputError(f"cannot read the file: {err}", str(path)) from err
    except (pa.ArrowException, OSError) as err:
        raise ZenInputError(f"cannot read the file: {err}", str(path)) from err


def _read_csv(path: Path, columns: list[str] | None, chunksize: int | None,
              csv_kwargs: dict) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """``pandas.read_csv``, refusing files whose rows have one field more than the header.

    pandas would silently take the first column of such a file as the index, shifting every
    column by one.
    """
    frame = pd.read_csv(path, usecols=columns, chunksize=chunksize, **csv_kwargs)
    if isinstance(frame, pd.DataFrame) and not isinstance(frame.index, pd.RangeIndex) \
            and "index_col" not in csv_kwargs:
        raise ZenInputError(f"row 1 has {frame.shape[1] + 1} fields where the header has "
                            f"{frame.shape[1]}; fix the header or the rows", str(path), 1)
    return frame


def _parser_error(path: Path, err: pd.errors.ParserError) -> ZenInputError:
    """One line for a CSV the tokenizer rejected: a row with too many fields, a stray quote."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
    if fields:
        expected, line, saw = (int(g) for g in fields.groups())
        return ZenInputError(f"line {line} has {saw} fields where the header has {expected}; fix or "
                             "drop that row (quote fields that contain the separator)",
                             str(path), line - 1)
    return ZenInputError(f"cannot parse the file as CSV ({' '.join(str(err).split())}); check "
                         "its separator and quotes", str(path))


def _decode_error(path: Path, err: UnicodeDecodeError, encoding: str,
                  options_key: str) -> ZenInputError:
    """One line naming the first line of ``path`` that is not valid in ``encoding``."""
    src = str(path)
    with _open_bytes(path) as f:
        if f.read(2) == GZIP_MAGIC:
            return ZenInputError("the file is gzip-compressed; name it *.csv.gz", src)
    fix = f"save the file as UTF-8 or set its encoding, e.g. {options_key}.encoding=latin-1"
    try:
        found = _first_undecodable_line(path, encoding)
    except (OSError, EOFError, zlib.error):
        found = None
    if found is None:
        return ZenInputError(f"the file is not valid {encoding} ({err.reason}); {fix}", src)
    line, what = found
    where = "the header" if line == 1 else f"line {line}"
    return ZenInputError(f"{where} is not valid {encoding} ({what}); {fix}", src,
                         line - 1 if line > 1 else None)


def _open_bytes(path: Path):
    """The file's bytes, decompressed when it is named ``*.gz``."""
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _first_undecodable_line(path: Path, encoding: str) -> tuple[int, str] | None:
    """1-based number of the first line that ``encoding`` cannot decode, and which byte failed."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with _open_bytes(path) as f:
        for number, line in enumerate(f, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as err:
                return number, f"byte 0x{line[err.start]:02x} at position {err.start + 1}"
    return None


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
    except OSError as err:
        if err.filename in (None, str(tmp), tmp):  # name the file the user asked for
            err.filename = str(path)
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def table_format(name: str, fmt: str | None = None) -> str:
    """``fmt``, or the format a file name's suffix says: ``csv`` or ``parquet``."""
    return fmt or ("csv" if name.lower().endswith(CSV_SUFFIXES) else "parquet")


def json_text(obj: object) -> str:
    """``obj`` as the indented, key-sorted JSON text every Zen JSON file holds."""
    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


def write_table(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``df`` atomically as CSV or Parquet (guessed from the suffix). Returns the path."""
    path = Path(path)
    fmt = table_format(path.name, fmt)
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
        tmp.write_text(json_text(obj))
    return path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
