"""What an operator export needs beyond the column mapping: its cells and its calendar.

Two steps of the generic loader (:func:`zen.data.generic.load_generic`), each driven by a block
of ``data.loader`` in the config:

* ``cells`` — the records' cell column joined to an antennas file (``bs_index -> lon, lat``):
  every record's ``cell_id`` must be a cell of that file (else one line naming the id, the row
  and the file); the antennas table travels with the data, so the evaluation locates cells.
* ``calendar`` — where the clock is and which rows are real activity:

  - ``timezone`` + ``clock: local``: timestamps are kept as *local wall-clock time* (written with
    Zen's UTC label), so every hour Zen reads from them — the traffic model's clock, the
    emulator's diary, night shares, hour-of-day profiles — is local. ``clock: utc`` keeps UTC.
  - ``whole_hours: drop``: rows whose time is an exact whole hour (``hh:00:00.000``) are log-dump
    artefacts, not user activity (Hangzhou: 10 % of rows, nearly all at 03:00 local); they are
    dropped, for timing and location alike (a dump time says nothing about when the user was
    where). ``keep`` keeps them.
  - ``min_day_share``: a local day is *observed* when it holds at least this share of the median
    day's rows; rows of other days (partial log days) are dropped, and the window length
    (``days``, the denominator of every per-day rate) counts observed days only.
  - ``compact: true``: observed days are laid one after another from the first one (time of day
    kept; later days' weekdays shift), so calendar holes (Hangzhou: September absent) become
    neither empty days in the traffic model's window nor month-long inter-event gaps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from zen.schema import ZenInputError


def join_cells(records: pd.DataFrame, cells: Mapping, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check the records' ``cell_id`` against an antennas file and return both.

    Args:
        records: validated records (index = row number in the file, 0-based, before sorting).
        cells: ``{path, columns: {cell_id, lat, lon[, site_id]}: file column, read_options, bbox}``.
        source: the records file, for the error.
    Returns:
        (records, antennas): records unchanged; antennas in Zen's schema.
    Raises:
        ZenInputError: a record whose cell is not in the antennas file (``missing: error``, the
            default), or whose cell lies outside ``bbox``: one line with the id and the row.
    """
    from zen.network.cells import load_towers

    cells = dict(cells)
    if not cells.get("path"):
        raise ZenInputError("data.loader.cells needs a path to the antennas file", source, None, "cell_id")
    antennas = load_towers(Path(str(cells["path"])), fmt="generic", mapping=dict(cells.get("columns") or {}),
                           duplicates=cells.get("duplicates", "error"),
                           read_options=cells.get("read_options"), bbox=cells.get("bbox"))
    cell = records["cell_id"].to_numpy()
    known = np.isin(cell, antennas["cell_id"].to_numpy()) | (cell < 0)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        if cells.get("missing", "error") == "error":
            raise ZenInputError(f"cell {int(cell[i])} is not in the antennas file {cells['path']} (or lies "
                                "outside its bbox); fix the id, or set data.loader.cells.missing=unknown",
                                source, int(records.index[i]) + 1, "cell_id")
        records = records.assign(cell_id=np.where(known, cell, -1))
    return records, antennas


def apply_calendar(records: pd.DataFrame,
                   calendar: Mapping) -> tuple[pd.DataFrame, pd.Timestamp, float, dict]:
    """Local clock, artefact rule, observed days and compaction (see the module docstring).

    Args:
        records: validated records with UTC timestamps, sorted by user then time.
        calendar: ``{timezone, clock, whole_hours, min_day_share, compact}``.
    Returns:
        (records, start, days, meta): records sorted by user then time, the window start (the
        first observed day's midnight), its length in observed days and what was done (counts).
    """
    calendar = dict(calendar)
    tz = calendar.get("timezone") or "UTC"
    clock = calendar.get("clock", "local")
    if clock not in ("local", "utc"):
        raise ZenInputError(f"calendar.clock must be local or utc, not {clock!r}", "data.loader.calendar")
    ts = records["timestamp"]
    if clock == "local":
        ts = ts.dt.tz_convert(tz).dt.tz_localize(None).dt.tz_localize("UTC")
    records = records.assign(timestamp=ts)
    meta: dict = {"timezone": tz, "clock": clock, "rows_read": int(len(records))}
    rule = calendar.get("whole_hours", "keep")
    if rule not in ("drop", "keep"):
        raise ZenInputError(f"calendar.whole_hours must be drop or keep, not {rule!r}",
                            "data.loader.calendar")
    if rule == "drop":
        t = records["timestamp"].dt
        whole = ((t.minute == 0) & (t.second == 0) & (t.microsecond == 0) & (t.nanosecond == 0)).to_numpy()
        meta["whole_hour_rows_dropped"] = int(whole.sum())
        records = records[~whole]
    day = records["timestamp"].dt.floor("D")
    counts = day.value_counts().sort_index()
    share = float(calendar.get("min_day_share") or 0.0)
    observed = counts.index[counts >= share * counts.median()]
    keep = day.isin(observed).to_numpy()
    meta["unobserved_days"] = [str(d.date()) for d in counts.index.difference(observed)]
    meta["unobserved_day_rows_dropped"] = int((~keep).sum())
    meta["observed_days"] = [str(d.date()) for d in observed]
    records = records[keep]
    start = observed.min()
    if calendar.get("compact", False):
        rank = pd.Series(np.arange(len(observed)), index=observed)
        shift = (pd.to_timedelta(rank.reindex(day[keep]).to_numpy(), unit="D")
                 - pd.TimedeltaIndex(day[keep] - start))
        records = records.assign(timestamp=records["timestamp"] + shift.to_numpy())
        days = float(len(observed))
    else:
        days = float(len(observed)) if share > 0 else float(np.ceil((observed.max() - start).days + 1))
    meta["days"] = days
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    return records, start, days, meta


def load_operator_export(records: pd.DataFrame, source: str, cells: Mapping | None, calendar: Mapping | None,
                         days: float | None, name: str):
    """The end of :func:`zen.data.generic.load_generic` when ``cells`` or ``calendar`` is given."""
    from zen.data.base import CDRData

    antennas = None
    if cells:
        records, antennas = join_cells(records, cells, source)
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    if calendar:
        records, start, span, meta = apply_calendar(records, calendar)
    else:
        start = records["timestamp"].min().floor("D")
        span = float(np.ceil((records["timestamp"].max() - start).total_seconds() / 86400.0 + 1e-9))
        meta = {}
    if len(records) == 0:
        raise ZenInputError("no rows left after the calendar rules (data.loader.calendar)", source)
    return CDRData(records, start, float(days) if days else span, antennas=antennas, name=name,
                   meta={"calendar": meta} if meta else {})
