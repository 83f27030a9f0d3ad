"""The data's local time: records are stored in UTC; the model sees the users' wall clock.

A CDR's hour of the day and day of the week are those of its user's clock, not of UTC. The
loader keeps UTC timestamps and records the data's zone in ``CDRData.meta['timezone']``;
:func:`local_clock` is the view the models and the evaluation read (local wall-clock time,
written with Zen's UTC label, so every hour-of-week, hour-of-day and night share Zen computes
is local), and :func:`utc_from_local_clock` places generated wall-clock times back on UTC.

Daylight saving time: the wall clock has no 02:00-03:00 on the spring-forward day and two on
the fall-back day. Real events of the repeated hour both read 01:xx; generated times inside the
missing hour are moved forward to the first valid instant, and a repeated hour is read as its
first (summer-time) occurrence, so no event is lost or doubled.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from zen.schema import ZenInputError

UTC = "UTC"


def check_timezone(tz: str | None, key: str = "data.loader.timezone") -> str:
    """``tz`` as an IANA zone name (``UTC`` when empty); one line naming ``key`` when unknown."""
    tz = str(tz or UTC)
    try:
        pd.Timestamp("2020-01-01").tz_localize(tz)
    except Exception as err:  # pytz and zoneinfo raise different types for an unknown zone
        raise ZenInputError(f"unknown time zone {tz!r}; set {key} to an IANA name such as "
                            "Europe/Copenhagen, America/New_York or UTC") from err
    return tz


def to_local_clock(ts: pd.Series | pd.Timestamp, tz: str) -> pd.Series | pd.Timestamp:
    """UTC instants -> the wall-clock time of zone ``tz``, labelled UTC (identity for UTC)."""
    if tz == UTC:
        return ts
    if isinstance(ts, pd.Timestamp):
        return ts.tz_convert(tz).tz_localize(None).tz_localize(UTC)
    return ts.dt.tz_convert(tz).dt.tz_localize(None).dt.tz_localize(UTC)


def utc_from_local_clock(ts: pd.Series, tz: str) -> pd.Series:
    """Wall-clock times of zone ``tz`` (labelled UTC) -> UTC instants; DST-safe (see module)."""
    if tz == UTC or len(ts) == 0:
        return ts
    naive = ts.dt.tz_localize(None)
    local = naive.dt.tz_localize(tz, ambiguous=np.ones(len(ts), bool), nonexistent="shift_forward")
    return local.dt.tz_convert(UTC).astype(ts.dtype)


def utc_start(start: pd.Timestamp, tz: str) -> pd.Timestamp:
    """A window start on the wall clock of ``tz`` (labelled UTC) as a UTC instant."""
    if tz == UTC:
        return start
    return pd.Timestamp(start).tz_localize(None).tz_localize(tz, ambiguous=True,
                                                             nonexistent="shift_forward").tz_convert(UTC)


def local_clock(data):
    """``data`` (a :class:`~zen.data.base.CDRData`) seen on its users' wall clock.

    Timestamps and ``start`` move to local wall-clock time (records re-sorted by user then time:
    the fall-back hour interleaves); ``meta['clock']`` says ``local``. Data without a zone, or
    already on the local clock, is returned as is.
    """
    tz = data.meta.get("timezone", UTC)
    if tz == UTC or data.meta.get("clock") == "local":
        return data
    records = data.records.assign(timestamp=to_local_clock(data.records["timestamp"], tz))
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    return replace(data, records=records, start=to_local_clock(pd.Timestamp(data.start), tz),
                   meta={**data.meta, "clock": "local"})
