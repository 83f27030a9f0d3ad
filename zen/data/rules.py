"""Row filters and two-sided logging: what the generic loader does to rows after the mapping.

Every rule counts what it did in a :class:`LoadReport`, which travels with the data
(``CDRData.meta['load']``) so the log and ``zen-data check`` can print it.

* ``filters`` (``data.loader.filters``): ``where`` (a condition on the file's columns; rows where
  it is false are dropped), ``self_calls`` (a record whose counterpart is its own user, e.g.
  voicemail), ``period`` (rows outside the first..last local day), ``max_events_per_day``
  (users whose mean events per active day exceed it are machines, gnuper's level-0 rule: all
  their rows are dropped).
* ``two_sided`` (``data.loader.two_sided``): ``tolerance_s`` matches a call or SMS logged by both
  parties (out in one log, in in the other, within the tolerance) as one event; ``complete``
  adds each event's other end (``all`` counterparts, or only ``users`` that have rows of their
  own) unless that party's own log already has it. The Copenhagen loader completes its
  one-row-per-call files with the same :func:`mirror`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from zen.schema import NO_ID, ZenInputError

FILTERS_KEY = "data.loader.filters"
TWO_SIDED_KEY = "data.loader.two_sided"
FILTER_KEYS = ("where", "self_calls", "period", "max_events_per_day")
TWO_SIDED_KEYS = ("complete", "tolerance_s")


@dataclass
class LoadReport:
    """What the loader read and what each rule dropped or added (row counts).

    Attributes:
        files: the files read, in order.
        rows_read: data rows in the files.
        dropped: rule -> rows it dropped (``where``, ``self_calls``, ``period``, ``machines``, ...).
        added: rule -> rows it added (``two_sided``: the other ends completed).
        double_logged: events found in both parties' logs (matched within ``tolerance_s``).
        machine_users: ids of the users dropped as machines.
        timezone: the data's local time zone.
        cells: ``{"antennas": n, "records_with_cell": n, "unknown": n}`` when a cells file was joined.
    """

    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    double_logged: int = 0
    machine_users: list[int] = field(default_factory=list)
    timezone: str = "UTC"
    cells: dict[str, int] | None = None

    def drop(self, rule: str, n: int) -> None:
        self.dropped[rule] = self.dropped.get(rule, 0) + int(n)

    def lines(self) -> list[str]:
        """The report as short lines for the log."""
        out = [f"{self.rows_read:,} rows read from {len(self.files)} file(s)"]
        out += [f"dropped {n:,} rows: {rule}" for rule, n in self.dropped.items() if n]
        out += [f"added {n:,} rows: {rule}" for rule, n in self.added.items()]
        if self.double_logged:
            out.append(f"{self.double_logged:,} events logged by both parties (kept once per party)")
        return out


def _rule_error(key: str, message: str) -> ZenInputError:
    return ZenInputError(f"{key}: {message}")


def _check_keys(given: Mapping, known: tuple[str, ...], key: str) -> None:
    for k in given:
        if k not in known:
            raise _rule_error(f"{key}.{k}", f"unknown key; {key} takes {', '.join(known)}")


def where_mask(raw: pd.DataFrame, condition: str | None, src: str) -> np.ndarray:
    """Rows of the raw file where ``condition`` (a pandas query on its columns) holds. ``[n]`` bool."""
    if not condition:
        return np.ones(len(raw), bool)
    try:
        mask = raw.eval(str(condition), engine="python")
    except Exception as err:  # a query that does not parse or names a column that is not there
        reason = " ".join(str(err).split())[:200]
        raise ZenInputError(f"{FILTERS_KEY}.where {condition!r} cannot be evaluated ({reason}); write a "
                            "condition on the file's columns, e.g. \"status != 'test'\" (column names "
                            f"with spaces in `backticks`); the file has {list(raw.columns)}", src) from err
    if not isinstance(mask, pd.Series) or not pd.api.types.is_bool_dtype(mask):
        raise ZenInputError(f"{FILTERS_KEY}.where {condition!r} is not a true/false condition; write a "
                            "comparison such as \"duration >= 0\"", src)
    return mask.fillna(False).to_numpy(bool)


def _local_day(ts: pd.Series, tz: str) -> pd.Series:
    return ts.dt.tz_convert(tz).dt.tz_localize(None).dt.floor("D")


def period_bounds(period, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[first, last]`` local days (inclusive) as UTC instants ``[start, end)``."""
    try:
        first, last = (pd.Timestamp(str(d)).normalize() for d in period)
    except (TypeError, ValueError) as err:
        raise _rule_error(f"{FILTERS_KEY}.period", f"{period!r} is not [first day, last day]; write "
                          "e.g. ['2024-03-04', '2024-03-31']") from err
    if last < first:
        raise _rule_error(f"{FILTERS_KEY}.period", f"the last day {last.date()} is before the first "
                          f"{first.date()}")
    start = first.tz_localize(tz, nonexistent="shift_forward", ambiguous=True).tz_convert("UTC")
    end = (last + pd.Timedelta(days=1)).tz_localize(tz, nonexistent="shift_forward",
                                                    ambiguous=True).tz_convert("UTC")
    return start, end


def apply_filters(records: pd.DataFrame, filters: Mapping | None, tz: str,
                  report: LoadReport) -> pd.DataFrame:
    """Drop self-calls, rows outside the period and machine-like users (counts in ``report``)."""
    filters = dict(filters or {})
    _check_keys(filters, FILTER_KEYS, FILTERS_KEY)
    rule = filters.get("self_calls", "drop")
    if rule not in ("drop", "keep"):
        raise _rule_error(f"{FILTERS_KEY}.self_calls", f"must be drop or keep, not {rule!r}")
    if rule == "drop":
        own = (records["counterpart_id"] == records["user_id"]).to_numpy()
        report.drop("self_calls", own.sum())
        records = records[~own]
    if filters.get("period"):
        start, end = period_bounds(filters["period"], tz)
        inside = ((records["timestamp"] >= start) & (records["timestamp"] < end)).to_numpy()
        report.drop("period", (~inside).sum())
        records = records[inside]
    limit = filters.get("max_events_per_day")
    if limit is not None:
        try:
            limit = float(limit)
        except (TypeError, ValueError) as err:
            raise _rule_error(f"{FILTERS_KEY}.max_events_per_day", f"{limit!r} is not a number") from err
        day = _local_day(records["timestamp"], tz)
        per_day = records.groupby([records["user_id"], day]).size().groupby(level=0).mean()
        machines = per_day.index[per_day > limit].to_numpy()
        hit = records["user_id"].isin(machines).to_numpy()
        report.drop("machines", hit.sum())
        report.machine_users = sorted(int(u) for u in machines)
        records = records[~hit]
    return records


def mirror(records: pd.DataFrame) -> pd.DataFrame:
    """The other end of each record: user and counterpart swapped, direction flipped.

    The other party's cell and data volume are not known (-1).
    """
    direction = np.where(records["direction"].astype(str).to_numpy() == "out", "in", "out")
    out = records.assign(user_id=records["counterpart_id"].to_numpy(),
                         counterpart_id=records["user_id"].to_numpy(), direction=direction)
    for col in ("cell_id", "volume_bytes"):
        if col in out:
            out[col] = NO_ID
    if isinstance(records["direction"].dtype, pd.CategoricalDtype):
        out["direction"] = pd.Categorical(direction, categories=records["direction"].cat.categories)
    return out


def double_logged(records: pd.DataFrame, tolerance_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows that are one event in both parties' logs: A's ``out`` to B and B's ``in``
    from A, same event kind, timestamps within ``tolerance_s`` (nearest first, one to one).

    Returns:
        (out_rows, in_rows): positions in ``records`` of the matched pairs. ``[m]`` each.
    """
    pos = np.arange(len(records))
    has = (records["counterpart_id"] >= 0).to_numpy() & (records["event"].astype(str) != "data").to_numpy()
    d = records["direction"].astype(str).to_numpy()
    t = records["timestamp"].astype("int64").to_numpy()  # us since 1970
    key = ["a", "b", "event"]
    user, other = records["user_id"].to_numpy(), records["counterpart_id"].to_numpy()
    event = records["event"].astype(str).to_numpy()
    outs = pd.DataFrame({"a": user, "b": other, "event": event, "t": t, "out_pos": pos})[has & (d == "out")]
    ins = pd.DataFrame({"a": other, "b": user, "event": event, "t": t, "in_pos": pos})[has & (d == "in")]
    if len(outs) == 0 or len(ins) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    unit = pd.Timedelta(1, unit=records["timestamp"].dtype.unit).total_seconds()
    merged = pd.merge_asof(outs.sort_values("t"), ins.sort_values("t"), on="t", by=key, direction="nearest",
                           tolerance=int(round(float(tolerance_s) / unit)))
    merged = merged.dropna(subset=["in_pos"]).drop_duplicates("in_pos")
    return merged["out_pos"].to_numpy(np.int64), merged["in_pos"].to_numpy(np.int64)


def apply_two_sided(records: pd.DataFrame, two_sided: Mapping | None, report: LoadReport,
                    excluded: list[int] | None = None) -> pd.DataFrame:
    """Match double-logged events and complete the other ends (see the module docstring)."""
    spec = dict(two_sided or {})
    _check_keys(spec, TWO_SIDED_KEYS, TWO_SIDED_KEY)
    complete = spec.get("complete", False)
    complete = "all" if complete is True else (complete or "none")
    if complete not in ("none", "all", "users"):
        raise _rule_error(f"{TWO_SIDED_KEY}.complete", f"must be false, all or users, not {complete!r}")
    tolerance = spec.get("tolerance_s")
    records = records.reset_index(drop=True)
    matched = np.zeros(len(records), bool)
    if tolerance is not None:
        try:
            tolerance = float(tolerance)
        except (TypeError, ValueError) as err:
            raise _rule_error(f"{TWO_SIDED_KEY}.tolerance_s",
                              f"{tolerance!r} is not a number of seconds") from err
        if tolerance < 0:
            raise _rule_error(f"{TWO_SIDED_KEY}.tolerance_s", "must be >= 0 seconds")
        out_rows, in_rows = double_logged(records, tolerance)
        matched[out_rows] = matched[in_rows] = True
        report.double_logged = len(out_rows)
    if complete == "none":
        return records
    candidates = (records["counterpart_id"] >= 0).to_numpy() & ~matched \
        & (records["event"].astype(str) != "data").to_numpy()
    targets = records["counterpart_id"].to_numpy()
    if complete == "users":
        candidates &= np.isin(targets, records["user_id"].unique())
    if excluded:
        candidates &= ~np.isin(targets, excluded)
    other = mirror(records[candidates])
    report.added["two_sided"] = len(other)
    return pd.concat([records, other], ignore_index=True)
