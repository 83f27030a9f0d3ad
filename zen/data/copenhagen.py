"""Loader for the Copenhagen Networks Study (Sapiezynski et al., Sci. Data 6:315, 2019).

``calls.csv`` (timestamp, caller, callee, duration) and ``sms.csv`` (timestamp, sender,
recipient) hold relative seconds from the study start. Each call or SMS becomes two records:
``out`` for the caller and ``in`` for the callee. Duration -1 is a missed call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zen.data.base import CDRData
from zen.data.rules import mirror
from zen.io import read_table
from zen.schema import ZenInputError, validate


def _read_ints(path: Path, expected: list[str]) -> pd.DataFrame:
    df = read_table(path)
    df.columns = [c.lstrip("# ").strip() for c in df.columns]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ZenInputError(f"missing required column; expected {expected}", str(path), None,
                            missing[0])
    for c in expected:
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna().to_numpy() | (np.floor(num.fillna(0)) != num.fillna(0)).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ZenInputError(f"expected an integer, got {df[c].iloc[i]!r}", str(path), i + 1, c)
        df[c] = num.astype("int64")
    return df[expected]


def load_copenhagen(path: str | Path = "../shared/data/copenhagen",
                    start_date: str = "2013-02-04", days: float = 28.0,
                    include_sms: bool = True) -> CDRData:
    """Load the Copenhagen calls and SMS as two-sided CDR records.

    Args:
        path: folder holding ``calls.csv``, ``sms.csv`` and ``fb_friends.csv``.
        start_date: the date (UTC midnight) that relative second 0 is placed on. The study's
            exact dates are not published; the default is a Monday so that day-of-week
            profiles line up with weekdays.
        days: length of the observation window (days).
        include_sms: also load ``sms.csv``.
    """
    root = Path(path)
    if not root.is_dir():
        raise ZenInputError("Copenhagen data folder not found; set data.loader.path "
                            "(or ZEN_DATA)", str(root))
    start = pd.Timestamp(start_date, tz="UTC")
    calls = _read_ints(root / "calls.csv", ["timestamp", "caller", "callee", "duration"])
    if (calls["duration"] < -1).any():
        i = int(np.flatnonzero((calls["duration"] < -1).to_numpy())[0])
        raise ZenInputError("negative duration (only -1, a missed call, is allowed)",
                            str(root / "calls.csv"), i + 1, "duration")
    frames = [_two_sided(calls["timestamp"], calls["caller"], calls["callee"], "call",
                         calls["duration"].clip(lower=0).astype("float32"),
                         (calls["duration"] >= 0).to_numpy())]
    if include_sms:
        sms = _read_ints(root / "sms.csv", ["timestamp", "sender", "recipient"])
        frames.append(_two_sided(sms["timestamp"], sms["sender"], sms["recipient"], "sms",
                                 np.zeros(len(sms), "float32"), np.ones(len(sms), bool)))
    raw = pd.concat(frames, ignore_index=True)
    raw["timestamp"] = start + pd.to_timedelta(raw.pop("t_s"), unit="s")
    records = validate(raw, "records", str(root))
    records = records.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)
    friendships = None
    fb = root / "fb_friends.csv"
    if fb.exists():
        friendships = _read_ints(fb, ["user_a", "user_b"]).rename(
            columns={"user_a": "src", "user_b": "dst"})
    return CDRData(records, start, days, friendships=friendships, name="copenhagen")


def _two_sided(t, src, dst, event: str, duration, answered) -> pd.DataFrame:
    """The caller's ``out`` records, then their other ends (:func:`zen.data.rules.mirror`)."""
    out = pd.DataFrame({
        "user_id": np.asarray(src),
        "t_s": np.asarray(t).astype("float64"),
        "event": event,
        "direction": "out",
        "duration_s": np.asarray(duration),
        "answered": np.asarray(answered),
        "counterpart_id": np.asarray(dst),
    })
    return pd.concat([out, mirror(out)], ignore_index=True)
