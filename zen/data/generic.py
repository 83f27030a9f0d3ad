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

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from zen.data.base import CDRData
from zen.io import read_table
from zen.schema import RECORDS, ZenInputError, validate


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
    return text.map(lambda v: values.get(v, v), na_action="ignore")


def load_generic(path: str | Path, mapping: ColumnMapping | Mapping | None = None,
                 days: float | None = None, name: str = "generic") -> CDRData:
    """Load a user's CDR file into Zen's schema.

    Args:
        path: CSV or Parquet file.
        mapping: a :class:`ColumnMapping` (or a dict of its fields, as Hydra gives it).
        days: observation window in days; the span of the data (rounded up) when None.
        name: a short name for reports.

    Raises:
        ZenInputError: one line naming file, row and column for any problem.
    """
    path = Path(path)
    if mapping is None:
        mapping = ColumnMapping()
    elif not isinstance(mapping, ColumnMapping):
        mapping = ColumnMapping(**{k: v for k, v in dict(mapping).items() if v is not None})
    src = str(path)
    raw = read_table(path, **dict(mapping.read_options))
    if len(raw) == 0:
        raise ZenInputError("the file has a header but no rows", src)
    wanted = dict(mapping.columns)
    if mapping.timestamp_columns:
        wanted.pop("timestamp", None)
    for file_col in list(wanted.values()) + list(mapping.timestamp_columns or []):
        if file_col not in raw.columns:
            raise ZenInputError(f"the column mapping names a column that is not in the file; "
                                f"the file has {list(raw.columns)}", src, None, file_col)
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
        out.loc[is_data, "direction"] = "out"
    records = validate(out, "records", src)
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    start = records["timestamp"].min().floor("D")
    span = (records["timestamp"].max() - start).total_seconds() / 86400.0
    return CDRData(records, start, float(days) if days else float(np.ceil(span + 1e-9)),
                   name=name)


def _parse_timestamps(ts: pd.Series, mapping: ColumnMapping, src: str) -> pd.Series:
    if mapping.epoch_unit:
        num = pd.to_numeric(ts, errors="coerce")
        bad = num.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ZenInputError(f"unparsable timestamp {ts.iloc[i]!r} (expected a number of "
                                f"{mapping.epoch_unit})", src, i + 1, "timestamp")
        origin = pd.Timestamp(mapping.relative_to, tz=mapping.timezone) if mapping.relative_to \
            else pd.Timestamp(0, tz="UTC")
        return origin.tz_convert("UTC") + pd.to_timedelta(num, unit=mapping.epoch_unit)
    parsed = pd.to_datetime(ts, format=mapping.timestamp_format or "mixed", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        hint = f" (expected format {mapping.timestamp_format!r})" if mapping.timestamp_format else ""
        raise ZenInputError(f"unparsable timestamp {ts.iloc[i]!r}{hint}", src, i + 1, "timestamp")
    if getattr(parsed.dt, "tz", None) is None:
        parsed = parsed.dt.tz_localize(mapping.timezone)
    return parsed.dt.tz_convert("UTC")
