"""Table schemas of Zen (CDR records, antennas, users, edges) and their validation.

Every table that enters or leaves Zen goes through :func:`validate`, which either returns a
frame with the canonical dtypes or raises :class:`ZenInputError` naming the file, the row, the
column and what is wrong, in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

EVENTS = ("call", "sms", "data")
DIRECTIONS = ("out", "in")
NO_ID = -1  # counterpart_id / cell_id / volume_bytes when unknown
INT64_MAX = 2 ** 63 - 1


class ZenInputError(ValueError):
    """A user error in an input: one line naming the file, row, column and the fix."""

    def __init__(self, message: str, source: str | None = None, row: int | None = None,
                 column: str | None = None):
        where = []
        if source:
            where.append(str(source))
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        self.source, self.row, self.column = source, row, column
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # int, float, bool, datetime, category
    required: bool = True
    default: object = None
    categories: tuple[str, ...] = ()
    nonnegative: bool = False
    nullable: bool = False  # floats only: blank (NaN) allowed, e.g. the azimuth of an omni cell


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    optional: tuple[Column, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


RECORDS = TableSchema("records", (
    Column("user_id", "int"),
    Column("timestamp", "datetime"),
    Column("event", "category", categories=EVENTS),
    Column("direction", "category", categories=DIRECTIONS),
    Column("duration_s", "float", required=False, default=0.0, nonnegative=True),
    Column("answered", "bool", required=False, default=True),
    Column("counterpart_id", "int", required=False, default=NO_ID),
    Column("cell_id", "int", required=False, default=NO_ID),
    Column("volume_bytes", "int", required=False, default=NO_ID),
), optional=(Column("service", "category", required=False),))  # XDR data sessions: service name, NA otherwise

ANTENNAS = TableSchema("antennas", (
    Column("cell_id", "int"),
    Column("site_id", "int", required=False, default=NO_ID),
    Column("lat", "float"),
    Column("lon", "float"),
), optional=(Column("azimuth", "float", required=False, nullable=True), Column("radio", "category")))

USERS = TableSchema("users", (
    Column("user_id", "int"),
    Column("home_cell", "int", required=False, default=NO_ID),
    Column("work_cell", "int", required=False, default=NO_ID),
    Column("profile", "int", required=False, default=0),
))

EDGES = TableSchema("edges", (
    Column("src", "int"),
    Column("dst", "int"),
    Column("weight", "float", required=False, default=1.0, nonnegative=True),
))

SCHEMAS = {s.name: s for s in (RECORDS, ANTENNAS, USERS, EDGES)}


def _first_bad(mask: np.ndarray) -> int:
    """Index (0-based, in the frame) of the first True in ``mask``."""
    return int(np.flatnonzero(mask)[0])


def is_empty(value: object) -> bool:
    """True for a blank cell: None, NaN, NaT or pandas' NA."""
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float | np.floating) and bool(np.isnan(value)))


def shown(value: object) -> str:
    """A cell as the user wrote it: the repr of the plain Python value (no ``np.float64(...)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _reject(series: pd.Series, i: int, col: Column, source: str, row_offset: int, problem: str,
            expected: str) -> ZenInputError:
    """The error for cell ``i``: ``problem`` (``{value}`` filled in), or 'empty value' if blank."""
    value = series.iloc[i]
    if is_empty(value):
        text = f"empty value; expected {expected}; fill it or drop that row"
    else:
        text = problem.format(value=shown(value))
    return ZenInputError(text, source, _row_number(series, i, row_offset), col.name)


def _beyond_int64(num: pd.Series) -> np.ndarray:
    """True where an integral number does not fit in int64 (pandas keeps those as uint64/object/float)."""
    if pd.api.types.is_signed_integer_dtype(num):
        return np.zeros(len(num), bool)
    if pd.api.types.is_unsigned_integer_dtype(num):
        return num.to_numpy() > INT64_MAX
    if pd.api.types.is_float_dtype(num):
        return np.abs(num.to_numpy(dtype="float64", na_value=0.0)) >= 2.0 ** 63
    return np.array([isinstance(v, int) and not -INT64_MAX - 1 <= v <= INT64_MAX for v in num], bool)


def _row_number(df: pd.DataFrame, position: int, row_offset: int) -> int:
    """1-based data row number as a user sees it in the file (header not counted)."""
    return position + 1 + row_offset


def _coerce_int(series: pd.Series, col: Column, source: str, row_offset: int) -> pd.Series:
    """``series`` as int64; refuses blanks, fractions, booleans and numbers beyond int64."""
    num = series
    if pd.api.types.is_bool_dtype(series):
        bad = np.ones(len(series), bool)
    elif pd.api.types.is_integer_dtype(series):
        bad = series.isna().to_numpy()
    else:
        num = pd.to_numeric(series, errors="coerce")
        vals = num.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(vals) | (np.floor(vals) != vals)
    if bad.any():
        raise _reject(series, _first_bad(bad), col, source, row_offset,
                      "expected an integer, got {value}; fix or drop that row", "an integer")
    huge = _beyond_int64(num)
    if huge.any():
        i = _first_bad(huge)
        raise ZenInputError(f"{shown(series.iloc[i])} does not fit in a 64-bit integer (at most "
                            f"{INT64_MAX}); renumber or hash such ids", source,
                            _row_number(series, i, row_offset), col.name)
    return num.astype("int64")


def _coerce(series: pd.Series, col: Column, source: str, row_offset: int) -> pd.Series:
    n = col.name
    if col.kind == "int":
        return _coerce_int(series, col, source, row_offset)
    if col.kind == "float":
        num = pd.to_numeric(series, errors="coerce")
        vals = num.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isfinite(vals) & ~(col.nullable & series.isna().to_numpy())
        if bad.any():
            raise _reject(series, _first_bad(bad), col, source, row_offset,
                          "expected a number, got {value}", "a number")
        if col.nonnegative and (np.nan_to_num(vals) < 0).any():
            i = _first_bad(vals < 0)
            raise ZenInputError(f"negative value {float(vals[i]):g}; {n} must be >= 0",
                                source, _row_number(series, i, row_offset), n)
        with np.errstate(over="ignore"):
            out = vals.astype("float32" if n == "duration_s" else "float64")
        too_large = np.isinf(out) & np.isfinite(vals)
        if too_large.any():
            i = _first_bad(too_large)
            raise ZenInputError(f"{float(vals[i]):g} is too large for {n}", source,
                                _row_number(series, i, row_offset), n)
        return pd.Series(out, index=series.index, name=n)
    if col.kind == "bool":
        if pd.api.types.is_bool_dtype(series) and not series.isna().any():
            return series.astype(bool)
        mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
        lowered = series.astype(str).str.strip().str.lower()
        mapped = lowered.map(mapping)
        bad = mapped.isna().to_numpy()
        if bad.any():
            raise _reject(series, _first_bad(bad), col, source, row_offset,
                          "expected true/false, got {value}", "true/false")
        return mapped.astype(bool)
    if col.kind == "datetime":
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out = series.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(series):
            out = series.dt.tz_localize("UTC")
        else:
            out = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
            bad = out.isna().to_numpy()
            if bad.any():
                raise _reject(series, _first_bad(bad), col, source, row_offset,
                              "unparsable timestamp {value}", "a timestamp")
        if out.isna().any():
            raise _reject(series, _first_bad(out.isna().to_numpy()), col, source, row_offset,
                          "missing timestamp", "a timestamp")
        return out.astype("datetime64[us, UTC]")
    if col.kind == "category":
        values = series.astype("string")
        if col.categories:
            bad = ~values.isin(col.categories).fillna(False).to_numpy()
            if bad.any():
                raise _reject(series, _first_bad(bad), col, source, row_offset,
                              f"unknown value {{value}}; expected one of {list(col.categories)}"
                              " (map other spellings in the loader's column mapping)",
                              f"one of {list(col.categories)}")
            return pd.Categorical(values.to_numpy(dtype=object), categories=list(col.categories))
        return values.astype("category")
    raise AssertionError(col.kind)


def validate(df: pd.DataFrame, table: str | TableSchema = "records", source: str = "<table>",
             row_offset: int = 0) -> pd.DataFrame:
    """Check ``df`` against a schema and return it with canonical dtypes and column order.

    Args:
        df: the table; optional columns may be missing and get their defaults.
        table: schema name (``records``, ``antennas``, ``users``, ``edges``) or a TableSchema.
        source: file name (or description) used in error messages.
        row_offset: rows before ``df`` in the file, so that chunked reads report true rows.

    Raises:
        ZenInputError: on the first problem found, naming file, row and column.
    """
    schema = SCHEMAS[table] if isinstance(table, str) else table
    if len(df) == 0:
        raise ZenInputError(f"the {schema.name} table is empty", source)
    out = {}
    for col in schema.columns:
        if col.name in df.columns:
            out[col.name] = _coerce(df[col.name].reset_index(drop=True), col, source, row_offset)
        elif col.required:
            raise ZenInputError(
                f"missing required column; the {schema.name} table needs {schema.names}, "
                f"got {list(df.columns)}", source, None, col.name)
        else:
            out[col.name] = np.full(len(df), col.default)
            out[col.name] = _coerce(pd.Series(out[col.name]), col, source, row_offset)
    for col in schema.optional:
        if col.name in df.columns:
            out[col.name] = _coerce(df[col.name].reset_index(drop=True), col, source, row_offset)
    result = pd.DataFrame(out)
    if schema.name == "records":
        _check_records(result, source, row_offset)
    if schema.name == "antennas":
        _check_coordinates(result, source, row_offset)
    return result


def _check_records(df: pd.DataFrame, source: str, row_offset: int) -> None:
    data_in = ((df["event"] == "data") & (df["direction"] == "in")).to_numpy()
    if data_in.any():
        i = _first_bad(data_in)
        raise ZenInputError("data sessions have direction 'out' only", source,
                            _row_number(df, i, row_offset), "direction")


def _check_coordinates(df: pd.DataFrame, source: str, row_offset: int) -> None:
    for name, lim in (("lat", 90.0), ("lon", 180.0)):
        bad = (df[name].abs() > lim).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise ZenInputError(f"{name} {df[name].iloc[i]} is outside [-{lim}, {lim}]", source,
                                _row_number(df, i, row_offset), name)

