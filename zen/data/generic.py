"""The generic loader: any CSV/Parquet of CDRs plus a column mapping from the config.

This is how users bring their own data (``docs/own-data.md`` documents every key). The file
options (``format``, ``sep``, ``encoding``, ``compression``, ``header``, ``names``), the data's
``timezone``, the row ``filters`` and the ``two_sided`` rules are arguments of
:func:`load_generic` (``data.loader.*``); :func:`map_frame` maps one raw frame onto the records
schema. Example (the CRAWDAD ctu/personal phone log)::

    mapping = ColumnMapping(
        columns={"event": "Type", "direction": "Direction", "duration_s": "Duration"},
        timestamp_columns=["YYYYMMDD", "hhmmss (UTC+0)"], timestamp_format="%Y%m%d %H%M%S",
        event_values={"Voice": "call", "SMS": "sms", "Data": "data"},
        direction_values={"Outgoing": "out", "Incoming": "in", "Missed call": "in"},
        missed_values=["Missed call"], constants={"user_id": 0})
"""

from __future__ import annotations

import csv
import gzip
import itertools
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from zen.data.base import CDRData
from zen.data.local_time import check_timezone, to_local_clock, utc_start
from zen.data.rules import LoadReport, apply_filters, apply_two_sided, period_bounds, where_mask
from zen.data.stream import SqlFilter, UserChoice, load_records, resolve_engine, select_frame
from zen.io import read_table
from zen.io.tables import CSV_SUFFIXES, PARQUET_SUFFIXES
from zen.schema import RECORDS, ZenInputError, is_empty, shown, validate

LOADER_KEY = "data.loader"  # where the CLI sets the file options (sep, encoding, ...)
OPTIONS_KEY = LOADER_KEY
TSV_SUFFIXES = (".tsv", ".tsv.gz")  # tab-separated text: read as CSV with sep='\t'
FORMATS = ("csv", "parquet")
SEPARATORS = (",", ";", "\t", "|")
EPOCH_UNITS = ("s", "ms", "us", "ns")
MAX_EPOCH_SECONDS = 9.0e9  # ~285 years either side of 1970: what a nanosecond timestamp holds
MAX_SCANNED_ROWS = 100_000  # rows an error message may scan, one by one, to find the culprit
log = logging.getLogger("zen.data")
UTC_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"  # time + zone: Z, +01:00
PLAIN_CSV_OPTIONS = {"sep", "delimiter", "encoding", "dtype", "lineterminator", "quotechar"}


@dataclass
class ColumnMapping:
    """How a user's file maps onto Zen's records schema.

    Attributes:
        columns: schema column -> file column (``user_id``, ``timestamp``, ``event``,
            ``direction``, ``duration_s``, ``answered``, ``counterpart_id``, ``cell_id``,
            ``volume_bytes``). Unmapped schema columns with the same name in the file are used.
        timestamp_columns: file columns joined with a space to form the timestamp (e.g. a date
            and a time column); used instead of ``columns['timestamp']`` when given.
        timestamp_format: ``strftime`` format of the timestamp text; None lets pandas guess.
        epoch_unit: ``s``/``ms``/``us`` when timestamps are numbers since 1970 (or since
            ``relative_to`` when that is set).
        relative_to: a date that numeric timestamps count from (e.g. a study start).
        timezone: zone naive timestamps are written in (None: the loader's ``timezone``, the
            data's local zone); converted to UTC.
        event_values / direction_values: file spelling -> ``call``/``sms``/``data`` and
            ``out``/``in``.
        missed_values: direction, event or ``missed_column`` spellings that mean a missed call
            (answered=False).
        missed_if_zero_duration: a call of 0 s is a missed call.
        missed_column: a file column (e.g. a status) whose value in ``missed_values``, or
            true/1/yes, marks a missed call.
        constants: schema column -> constant value, for files with one kind of event or one user.
        zero_pad: file column -> width, for time columns written without leading zeros
            (``38`` for ``000038``).
        read_options: extra keyword arguments for ``pandas.read_csv`` (``sep``, ``lineterminator``).
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    timestamp_columns: list[str] | None = None
    timestamp_format: str | None = None
    epoch_unit: str | None = None
    relative_to: str | None = None
    timezone: str | None = None
    event_values: Mapping[str, str] = field(default_factory=dict)
    direction_values: Mapping[str, str] = field(default_factory=dict)
    missed_values: list[str] = field(default_factory=list)
    missed_if_zero_duration: bool = False
    missed_column: str | None = None
    constants: Mapping[str, object] = field(default_factory=dict)
    zero_pad: Mapping[str, int] = field(default_factory=dict)
    read_options: Mapping[str, object] = field(default_factory=dict)


def _map_values(series: pd.Series, values: Mapping[str, str]) -> pd.Series:
    if not values:
        return series.astype("string").str.strip().str.lower()
    text = series.astype("string").str.strip()
    return text.map(lambda v: values.get(v, v), na_action="ignore").astype("string")



def as_mapping(mapping: ColumnMapping | Mapping | None) -> ColumnMapping:
    """A :class:`ColumnMapping` from itself, a dict of its fields (as Hydra gives it) or None."""
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    known = set(ColumnMapping.__dataclass_fields__)
    for key in dict(mapping):
        if key not in known:
            raise ZenInputError(f"data.loader.mapping.{key}: unknown key; the mapping takes "
                                f"{', '.join(sorted(known))} (docs/own-data.md)")
    return ColumnMapping(**{k: v for k, v in dict(mapping).items() if v is not None})


def load_generic(path: str | Path, mapping: ColumnMapping | Mapping | None = None,
                 days: float | None = None, name: str = "generic", cells: Mapping | None = None,
                 calendar: Mapping | None = None, *, format: str | None = None, sep: str | None = None,
                 encoding: str | None = None, compression: str | None = None, header: bool = True,
                 names: list[str] | None = None, timezone: str | None = None,
                 filters: Mapping | None = None, two_sided: Mapping | None = None,
                 engine: str = "pandas", users: Mapping | None = None, split: Mapping | None = None,
                 keep: Sequence[str] | None = None, sql_filters: Sequence[SqlFilter] = ()) -> CDRData:
    """Load a user's CDR file(s) into Zen's schema.

    Args:
        path: a CSV/TSV/Parquet file (gzip allowed), a folder of them, or a glob (``days/*.csv.gz``);
            many files are read in sorted path order and concatenated.
        mapping: a :class:`ColumnMapping` (or a dict of its fields, as Hydra gives it).
        days: observation window in days; the period's length, else the data's span (rounded up).
        name: a short name for reports.
        cells: join ``cell_id`` to an antennas file (:func:`zen.data.cells.join_cells`).
        calendar: local clock, dump-artefact rule, observed days (:func:`zen.data.cells.apply_calendar`).
        format: ``csv`` or ``parquet``; from the file suffix when None.
        sep, encoding, compression: of text files (``sep='\t'`` for tabs; ``compression``: ``gzip``,
            ``bz2``, ``zip``, ``xz``, ``zstd``; from the suffix when None).
        header: whether text files have a header row; without one, ``names`` names the columns.
        timezone: the users' local time zone (IANA name): naive timestamps are read in it (unless
            ``mapping.timezone`` says otherwise) and the models' weekly clock is local.
        filters: row filters (:func:`zen.data.rules.apply_filters`).
        two_sided: double-logging match and completion (:func:`zen.data.rules.apply_two_sided`).
        engine: ``pandas``, ``duckdb`` (streamed: only the chosen users' rows reach pandas;
            :mod:`zen.data.stream`) or ``auto`` (DuckDB for large inputs and CSV folders/globs).
        users: ``{max, seed}``: load a seeded sample of at most ``max`` users.
        split / keep: the user split (``split_users`` arguments) and the parts of it to load. The
            users are chosen among those with rows after ``sql_filters`` (and, with pandas, the
            ``where`` filter); the other ``filters`` and the ``two_sided`` rules then see only the
            chosen users' rows, so a completion from a left-out user's log does not happen.
        sql_filters: row filters DuckDB applies before the users are chosen (engine ``duckdb``).

    Returns:
        UTC records; ``meta['timezone']``, ``meta['load']`` (a :class:`LoadReport`) and, from the
        user choice, ``meta['loading']``, ``meta['split']``, ``meta['observed_ids']``.
    Raises:
        ZenInputError: one line naming file, row and column (or the config key) for any problem.
    """
    mapping = as_mapping(mapping)
    tz = check_timezone(timezone)
    mapping = replace(mapping, timezone=check_timezone(mapping.timezone or tz,
                                                       "data.loader.mapping.timezone"))
    filters = dict(filters or {})
    report = LoadReport(timezone=tz)
    options = _read_options(mapping, sep, encoding, compression, header, names)
    if format is not None and format not in FORMATS:
        raise ZenInputError(f"data.loader.format {format!r} is not one of {list(FORMATS)}", str(path))
    choice = UserChoice.of(users, split, keep)
    src = str(path)
    if resolve_engine(engine, path, format) == "duckdb":
        records, loaded = load_records(path, mapping, options, choice, sql_filters,
                                       where=filters.get("where"), report=report, fmt=format)
    else:
        if sql_filters:
            raise ZenInputError(f"sql_filters need data.loader.engine=duckdb (not {engine})", src)
        frames = []
        for file in list_files(path, format):
            report.files.append(str(file))
            frames.append(_load_file(file, mapping, format, options, filters.get("where"), report))
        records, loaded = select_frame(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0],
                                       choice)
    records = apply_filters(records, filters, tz, report)
    records = apply_two_sided(records, two_sided, report, report.machine_users)
    if len(records) == 0:
        raise ZenInputError(f"no rows left after the filters ({', '.join(report.lines()[1:])}); loosen "
                            "data.loader.filters", src)
    for line in report.lines():
        log.info("data %s: %s", name, line)
    antennas = None
    if cells:
        from zen.data.cells import join_cells
        records, antennas = join_cells(records, cells, src)
        report.cells = {"antennas": len(antennas), "records_with_cell": int((records["cell_id"] >= 0).sum()),
                        "unknown": int((records["cell_id"] < 0).sum())}
    if calendar:
        from zen.data.cells import load_operator_export
        data = load_operator_export(records, src, None, calendar, days, name)
        report.timezone = str(dict(calendar).get("timezone") or tz)
        data.antennas = antennas
        data.meta.update(timezone=tz, load=report, **loaded)
        return data
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    # the window in days of the local wall clock (a DST day counts as one day, as the models see it)
    if filters.get("period"):
        start, end = period_bounds(filters["period"], tz)
        first = to_local_clock(start, tz)
        span = float((to_local_clock(end, tz) - first).days)
    else:
        first = to_local_clock(records["timestamp"].min(), tz).floor("D")
        start = utc_start(first, tz)
        last = to_local_clock(records["timestamp"].max(), tz)
        span = float(np.ceil((last - first).total_seconds() / 86400.0 + 1e-9))
    return CDRData(records, start, float(days) if days else span, antennas=antennas,
                   name=name, meta={"timezone": tz, "load": report, **loaded})


def list_files(path: str | Path, fmt: str | None = None) -> list[Path]:
    """The files ``path`` names: itself, the data files of a folder, or a glob's matches (sorted)."""
    text = str(path)
    if any(ch in text for ch in "*?["):
        root = Path(text)
        anchor = next(i for i, part in enumerate(root.parts) if any(ch in part for ch in "*?["))
        base = Path(*root.parts[:anchor]) if anchor else Path(".")
        files = sorted(f for f in base.glob(str(Path(*root.parts[anchor:]))) if f.is_file())
        if not files:
            raise ZenInputError("no file matches this pattern; check data.loader.path", text)
        return files
    path = Path(path)
    if path.is_dir() and not (fmt == "parquet" or _is_parquet_dataset(path)):
        files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith(".")
                       and (fmt or _format_of(f)) is not None)
        if not files:
            raise ZenInputError("the folder holds no CSV, TSV or Parquet file; check data.loader.path "
                                "(or set data.loader.format)", text)
        return files
    return [path]


def _is_parquet_dataset(path: Path) -> bool:
    """A folder of Parquet parts (``part-0.parquet`` ...), read as one table."""
    return any(f.name.lower().endswith(PARQUET_SUFFIXES) for f in path.iterdir()) and \
        all(f.name.lower().endswith(PARQUET_SUFFIXES) or f.name.startswith((".", "_"))
            for f in path.iterdir() if f.is_file())


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES + TSV_SUFFIXES):
        return "csv"
    return None


def _load_file(file: Path, mapping: ColumnMapping, fmt: str | None, options: dict, where: str | None,
               report: LoadReport) -> pd.DataFrame:
    """One file read, filtered by ``where`` and mapped onto validated records."""
    src = str(file)
    fmt = fmt or _format_of(file) or ("parquet" if file.is_dir() else None)
    if fmt is None and file.exists():
        raise ZenInputError("unknown file type; name it .csv, .tsv or .parquet (.gz allowed), or set "
                            "data.loader.format=csv (and data.loader.sep) or parquet", src)
    if fmt == "csv" and file.name.lower().endswith(TSV_SUFFIXES) and "sep" not in options:
        options = {**options, "sep": "\t"}
    if fmt == "parquet":
        options = {}
    raw = read_table(file, fmt=fmt, options_key=OPTIONS_KEY, **options)
    if len(raw) == 0:
        raise ZenInputError("the file has a header but no rows", src)
    report.rows_read += len(raw)
    _check_mapped_columns(raw, mapping, file, options)
    keep = where_mask(raw, where, src)
    if where:
        report.drop("where", (~keep).sum())
    kept = np.flatnonzero(keep)
    try:
        return validate(map_frame(raw.iloc[kept].reset_index(drop=True), mapping, src), "records", src)
    except ZenInputError as err:
        row = None if err.row is None else int(kept[err.row - 1]) + 1
        short = _short_row(file, row, raw.shape[1], options)
        if short is not None:
            raise short from err
        if row is None or row == err.row:
            raise
        where = ", ".join(w for w in (err.source, f"row {err.row}", err.column and f"column '{err.column}'")
                          if w)
        raise ZenInputError(str(err)[len(where) + 2:], err.source, row, err.column) from err


def _read_options(mapping: ColumnMapping, sep: str | None = None, encoding: str | None = None,
                  compression: str | None = None, header: bool = True,
                  names: list[str] | None = None) -> dict:
    """Options for ``pandas.read_csv``: ``mapping.read_options`` and the loader's file keys (which win);
    a separator written ``\\t`` on the command line is a tab."""
    options = dict(mapping.read_options)
    given = {"sep": sep, "encoding": encoding, "compression": compression,
             "names": list(names) if names else None}
    options.update({k: v for k, v in given.items() if v is not None})
    if header is False or header is None:
        options["header"] = None
        if "names" not in options:
            raise ZenInputError("data.loader.header=false needs data.loader.names: the column names, in "
                                "file order, e.g. data.loader.names=[caller,callee,time,duration]")
    for key in ("sep", "delimiter"):
        if options.get(key) == "\\t":
            options[key] = "\t"
    return options


def _check_mapped_columns(raw: pd.DataFrame, mapping: ColumnMapping, path: Path,
                          options: dict) -> None:
    """Every file column the mapping names must be in the file (else: a separator hint)."""
    wanted = {f"columns.{k}": v for k, v in mapping.columns.items()}
    if mapping.timestamp_columns:
        wanted.pop("columns.timestamp", None)
    wanted.update({f"timestamp_columns[{i}]": c for i, c in enumerate(mapping.timestamp_columns or [])})
    if mapping.missed_column:
        wanted["missed_column"] = mapping.missed_column
    for key, file_col in wanted.items():
        if file_col not in raw.columns:
            sep = _sniff_separator(path, options)
            if sep is not None:
                name, value = ("tab", r"'\t'") if sep == "\t" else (repr(sep), repr(sep))
                raise ZenInputError(f"the file looks {name}-separated; set {OPTIONS_KEY}.sep={value}",
                                    str(path), None, file_col)
            raise ZenInputError(f"data.loader.mapping.{key} names a column that is not in the file; "
                                f"the file has {list(raw.columns)}: fix the mapping", str(path), None,
                                file_col)


def map_frame(raw: pd.DataFrame, mapping: ColumnMapping, src: str) -> pd.DataFrame:
    """The file's columns renamed, joined and value-mapped onto the records schema.

    The one place a raw frame (a whole file or a batch of one) becomes records; the result still
    goes through :func:`zen.schema.validate`.
    """
    wanted = dict(mapping.columns)
    if mapping.timestamp_columns:
        wanted.pop("timestamp", None)
    out = pd.DataFrame(index=raw.index)
    for col in RECORDS.names:
        if col in mapping.constants:
            out[col] = mapping.constants[col]
        elif col in wanted:
            out[col] = raw[wanted[col]]
        elif col in raw.columns and col not in wanted.values():
            out[col] = raw[col]
    if mapping.timestamp_columns:
        parts = [raw[c].astype("string").str.strip() for c in mapping.timestamp_columns]
        parts = [p.str.zfill(mapping.zero_pad[c]) if c in mapping.zero_pad else p
                 for p, c in zip(parts, mapping.timestamp_columns, strict=False)]
        ts = parts[0].str.cat(parts[1:], sep=" ") if len(parts) > 1 else parts[0]
        out["timestamp"] = ts
    if "timestamp" not in out:
        raise ZenInputError("no timestamp: map 'timestamp' or give timestamp_columns", src, None,
                            "timestamp")
    out["timestamp"] = _parse_timestamps(out["timestamp"], mapping, src)
    _map_events(out, mapping, raw)
    return out


def _map_events(out: pd.DataFrame, mapping: ColumnMapping, raw: pd.DataFrame) -> None:
    """File spellings of event and direction -> Zen's, in place; missed calls -> answered=False."""
    missed = np.zeros(len(out), bool)
    for col, values in (("direction", mapping.direction_values), ("event", mapping.event_values)):
        if col in out and col not in mapping.constants:
            original = out[col].astype("string").str.strip()
            missed |= original.isin(mapping.missed_values).fillna(False).to_numpy()
            out[col] = _map_values(out[col], values)
    if mapping.missed_column:
        status = raw[mapping.missed_column].astype("string").str.strip()
        missed |= (status.isin(mapping.missed_values) | status.str.lower().isin(["true", "1", "yes"])
                   ).fillna(False).to_numpy()
    if mapping.missed_if_zero_duration and "duration_s" in out and "event" in out:
        zero = pd.to_numeric(out["duration_s"], errors="coerce") == 0
        missed |= (zero & (out["event"].astype("string") == "call")).fillna(False).to_numpy()
    if "answered" not in out:
        out["answered"] = ~missed
    elif missed.any():
        out["answered"] = out["answered"].astype(bool) & ~missed
    if "direction" in out and "event" in out:
        is_data = (out["event"] == "data").fillna(False).to_numpy()
        out["direction"] = out["direction"].astype("string").where(~is_data, "out")

def _header_line(path: Path, options: Mapping) -> str | None:
    """The first line of a CSV file (None for Parquet or an unreadable file)."""
    if not path.is_file() or not path.name.lower().endswith(CSV_SUFFIXES):
        return None
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding=options.get("encoding") or "utf-8", errors="replace",
                    newline="") as f:
            line = f.readline(1 << 16)
    except (OSError, EOFError, zlib.error):
        return None
    return line.splitlines()[0] if line.strip() else None


def _sniff_separator(path: Path, options: Mapping) -> str | None:
    """Another separator that splits the header into more fields than the one in use, if any."""
    header = _header_line(path, options)
    if header is None:
        return None
    current = options.get("sep") or options.get("delimiter") or ","
    counts = {sep: header.count(sep) for sep in SEPARATORS if sep != current}
    best = max(counts, key=counts.get)
    return best if counts[best] > header.count(current) else None


def _short_row(path: Path, row: int | None, n_header: int, options: Mapping) -> ZenInputError | None:
    """An error for data row ``row`` if it has fewer fields than the header (pandas fills blanks)."""
    if row is None or set(options) - PLAIN_CSV_OPTIONS or _header_line(path, options) is None:
        return None
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    sep = options.get("sep") or options.get("delimiter") or ","
    if len(sep) != 1:
        return None
    try:
        with opener(path, "rt", encoding=options.get("encoding") or "utf-8", newline="") as f:
            records = (r for r in csv.reader(f, delimiter=sep, quotechar=options.get("quotechar", '"'))
                       if r)
            fields = next(itertools.islice(records, row, None), None)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error):
        return None
    if fields is None or len(fields) >= n_header:
        return None
    return ZenInputError(f"the row has {len(fields)} fields where the header has {n_header}; "
                         "fix or drop that row", str(path), row)


def _parse_timestamps(ts: pd.Series, mapping: ColumnMapping, src: str) -> pd.Series:
    if mapping.epoch_unit:
        return _parse_epochs(ts, mapping, src)
    try:
        parsed = pd.to_datetime(ts, format=mapping.timestamp_format or "mixed", errors="coerce")
    except ValueError as err:  # mixed time zones, or offsets pandas cannot combine
        if not ts.astype("string").str.strip().str.contains(UTC_OFFSET, regex=True).fillna(False).all():
            raise _mixed_zones(ts, mapping, src) from err
        # every value has its own UTC offset (e.g. +01:00 in winter, +02:00 in summer)
        parsed = pd.to_datetime(ts, format=mapping.timestamp_format or "mixed", errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        expected = f"format {mapping.timestamp_format!r}" if mapping.timestamp_format else "a date and time"
        raise _timestamp_error(ts, bad, expected, src)
    if getattr(parsed.dt, "tz", None) is None:
        parsed = parsed.dt.tz_localize(mapping.timezone)
    return parsed.dt.tz_convert("UTC")


def _parse_epochs(ts: pd.Series, mapping: ColumnMapping, src: str) -> pd.Series:
    """Numeric timestamps: ``epoch_unit``s since 1970 (or since ``relative_to``), in UTC."""
    if mapping.epoch_unit not in EPOCH_UNITS:
        raise ZenInputError(f"epoch_unit {shown(mapping.epoch_unit)} is not one of {list(EPOCH_UNITS)}; set "
                            "data.loader.mapping.epoch_unit", src, None, "timestamp")
    num = pd.to_numeric(ts, errors="coerce")
    bad = num.isna().to_numpy()
    if bad.any():
        raise _timestamp_error(ts, bad, f"a number of {mapping.epoch_unit}", src)
    origin = pd.Timestamp(mapping.relative_to, tz=mapping.timezone) if mapping.relative_to \
        else pd.Timestamp(0, tz="UTC")
    unit_s = pd.to_timedelta(1, unit=mapping.epoch_unit).total_seconds()
    seconds = num.to_numpy(dtype="float64") * unit_s + origin.timestamp()
    out_of_range = ~(np.abs(seconds) < MAX_EPOCH_SECONDS)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise ZenInputError(f"timestamp {shown(ts.iloc[i])} {mapping.epoch_unit} is out of range; check "
                            "epoch_unit (s, ms or us)", src, i + 1, "timestamp")
    return origin.tz_convert("UTC") + pd.to_timedelta(num, unit=mapping.epoch_unit)


def _timestamp_error(ts: pd.Series, bad: np.ndarray, expected: str, src: str) -> ZenInputError:
    """The error for the first bad timestamp: blank, or unparsable as ``expected``."""
    i = int(np.flatnonzero(bad)[0])
    value = ts.iloc[i]
    text = f"empty value; expected a timestamp ({expected}); fill it or drop that row" if is_empty(value) \
        else f"unparsable timestamp {shown(value)} (expected {expected})"
    return ZenInputError(text, src, i + 1, "timestamp")


def _mixed_zones(ts: pd.Series, mapping: ColumnMapping, src: str) -> ZenInputError:
    """The error for timestamps where some carry a time zone (or UTC offset) and others do not."""
    fmt = mapping.timestamp_format or "mixed"
    first_aware = None
    for i, value in enumerate(ts.iloc[:MAX_SCANNED_ROWS]):
        try:
            aware = pd.to_datetime(value, format=fmt).tzinfo is not None
        except (ValueError, TypeError, OverflowError):
            continue
        if first_aware is None:
            first_aware = aware
        elif aware != first_aware:
            what = "has a time zone" if aware else "has no time zone"
            return ZenInputError(f"timestamp {shown(value)} {what}, unlike the rows before it; write "
                                 "all timestamps with the same zone or none", src, i + 1, "timestamp")
    return ZenInputError("timestamps mix time zones; write all timestamps with the same zone or none "
                         f"(naive ones are read in timezone={mapping.timezone})", src, None, "timestamp")
