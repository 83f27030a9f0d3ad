"""The generic loader: any CSV/Parquet of CDRs plus a column mapping from the config.

This is how users bring their own data. Example (the CRAWDAD ctu/personal phone log)::

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
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from zen.data.base import CDRData
from zen.data.stream import SqlFilter, UserChoice, load_records, resolve_engine, select_frame
from zen.io import read_table
from zen.io.tables import CSV_SUFFIXES
from zen.schema import RECORDS, ZenInputError, is_empty, shown, validate

OPTIONS_KEY = "data.loader.mapping.read_options"  # where the CLI sets read_options
SEPARATORS = (",", ";", "\t", "|")
EPOCH_UNITS = ("s", "ms", "us", "ns")
MAX_EPOCH_SECONDS = 9.0e9  # ~285 years either side of 1970: what a nanosecond timestamp holds
MAX_SCANNED_ROWS = 100_000  # rows an error message may scan, one by one, to find the culprit
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
        timezone: zone of naive timestamps; converted to UTC.
        event_values / direction_values: file spelling -> ``call``/``sms``/``data`` and
            ``out``/``in``.
        missed_values: direction or event spellings that mean a missed call (answered=False).
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
    timezone: str = "UTC"
    event_values: Mapping[str, str] = field(default_factory=dict)
    direction_values: Mapping[str, str] = field(default_factory=dict)
    missed_values: list[str] = field(default_factory=list)
    constants: Mapping[str, object] = field(default_factory=dict)
    zero_pad: Mapping[str, int] = field(default_factory=dict)
    read_options: Mapping[str, object] = field(default_factory=dict)


def _map_values(series: pd.Series, values: Mapping[str, str]) -> pd.Series:
    if not values:
        return series.astype("string").str.strip().str.lower()
    text = series.astype("string").str.strip()
    return text.map(lambda v: values.get(v, v), na_action="ignore").astype("string")


def load_generic(path: str | Path, mapping: ColumnMapping | Mapping | None = None,
                 days: float | None = None, name: str = "generic", cells: Mapping | None = None,
                 calendar: Mapping | None = None, engine: str = "pandas", users: Mapping | None = None,
                 split: Mapping | None = None, keep: Sequence[str] | None = None,
                 sql_filters: Sequence[SqlFilter] = ()) -> CDRData:
    """Load a user's CDR file into Zen's schema.

    Args:
        path: CSV or Parquet file.
        mapping: a :class:`ColumnMapping` (or a dict of its fields, as Hydra gives it).
        days: observation window in days; the span of the data (rounded up) when None.
        name: a short name for reports.
        cells: join ``cell_id`` to an antennas file (:func:`zen.data.cells.join_cells`).
        calendar: local clock, dump-artefact rule, observed days (:func:`zen.data.cells.apply_calendar`).
        engine: ``pandas``, ``duckdb`` (a file, folder or glob streamed; :mod:`zen.data.stream`) or ``auto``.
        users: ``{max, seed}``: load a seeded sample of at most ``max`` users.
        split / keep: the user split (``split_users`` arguments) and the parts of it to load.
        sql_filters: row filters DuckDB applies before the mapping (engine ``duckdb`` only).

    Raises:
        ZenInputError: one line naming file, row and column for any problem.
    """
    path = Path(path)
    if mapping is None:
        mapping = ColumnMapping()
    elif not isinstance(mapping, ColumnMapping):
        mapping = ColumnMapping(**{k: v for k, v in dict(mapping).items() if v is not None})
    src = str(path)
    options = _read_options(mapping)
    choice = UserChoice.of(users, split, keep)
    if resolve_engine(engine, path) == "duckdb":
        return _finish(*load_records(path, mapping, options, choice, sql_filters), src, days, name,
                       cells, calendar)
    if sql_filters:
        raise ZenInputError(f"sql_filters need engine=duckdb (not {engine})", src)
    raw = read_table(path, options_key=OPTIONS_KEY, **options)
    if len(raw) == 0:
        raise ZenInputError("the file has a header but no rows", src)
    _check_mapped_columns(raw, mapping, path, options)
    try:
        records = validate(_to_schema(raw, mapping, src), "records", src)
    except ZenInputError as err:
        short = _short_row(path, err.row, raw.shape[1], options)
        if short is None:
            raise
        raise short from err
    return _finish(*select_frame(records, choice), src, days, name, cells, calendar)


def _finish(records: pd.DataFrame, meta: dict, src: str, days: float | None, name: str,
            cells: Mapping | None, calendar: Mapping | None) -> CDRData:
    """Schema records -> CDRData: cells and calendar joined, sorted by user then time."""
    if cells or calendar:
        from zen.data.cells import load_operator_export
        data = load_operator_export(records, src, cells, calendar, days, name)
        data.meta.update(meta)
        return data
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    start = records["timestamp"].min().floor("D")
    span = (records["timestamp"].max() - start).total_seconds() / 86400.0
    return CDRData(records, start, float(days) if days else float(np.ceil(span + 1e-9)),
                   name=name, meta=meta)


def _read_options(mapping: ColumnMapping) -> dict:
    """``read_options`` for pandas; a separator written ``\\t`` on the command line is a tab."""
    options = dict(mapping.read_options)
    for key in ("sep", "delimiter"):
        if options.get(key) == "\\t":
            options[key] = "\t"
    return options


def _check_mapped_columns(raw: pd.DataFrame, mapping: ColumnMapping, path: Path,
                          options: dict) -> None:
    """Every file column the mapping names must be in the file (else: a separator hint)."""
    wanted = dict(mapping.columns)
    if mapping.timestamp_columns:
        wanted.pop("timestamp", None)
    for file_col in list(wanted.values()) + list(mapping.timestamp_columns or []):
        if file_col not in raw.columns:
            sep = _sniff_separator(path, options)
            if sep is not None:
                name, value = ("tab", r"'\t'") if sep == "\t" else (repr(sep), repr(sep))
                raise ZenInputError(f"the file looks {name}-separated; set {OPTIONS_KEY}.sep={value}",
                                    str(path), None, file_col)
            raise ZenInputError(f"the column mapping names a column that is not in the file; "
                                f"the file has {list(raw.columns)}", str(path), None, file_col)


def _to_schema(raw: pd.DataFrame, mapping: ColumnMapping, src: str) -> pd.DataFrame:
    """The file's columns renamed, joined and value-mapped onto the records schema."""
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
    _map_events(out, mapping)
    return out


def _map_events(out: pd.DataFrame, mapping: ColumnMapping) -> None:
    """File spellings of event and direction -> Zen's, in place; missed calls -> answered=False."""
    missed = np.zeros(len(out), bool)
    for col, values in (("direction", mapping.direction_values), ("event", mapping.event_values)):
        if col in out and col not in mapping.constants:
            original = out[col].astype("string").str.strip()
            missed |= original.isin(mapping.missed_values).fillna(False).to_numpy()
            out[col] = _map_values(out[col], values)
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
        raise _mixed_zones(ts, mapping, src) from err
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
