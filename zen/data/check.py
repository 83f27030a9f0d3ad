"""What a model would see of a data config, and what would make training on it meaningless.

``zen-data check`` prints :func:`summary_lines` of :func:`summarize` and fails on
:func:`problems`; nothing is fitted.
"""

from __future__ import annotations

import pandas as pd

from zen.data.base import CDRData
from zen.data.rules import LoadReport
from zen.data.split import UserSplit

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
MIN_TRAIN_USERS = 10  # fewer cannot support a fitted population distribution of profiles (zen-train)


def summarize(data: CDRData, split: UserSplit) -> dict:
    """Counts of ``data`` as loaded (UTC records, ``meta`` from the loader) and its split.

    Returns:
        a JSON-friendly dict: ``rows_read``, ``dropped``, ``added``, ``double_logged``, ``users``,
        ``split``, ``period`` (local), ``days``, ``timezone``, ``events`` (kind -> direction ->
        rows), ``missed_calls``, ``events_per_user_day`` (quantile -> value), ``counterparts``,
        ``cells``.
    """
    rec = data.records
    report = data.meta.get("load") or LoadReport(rows_read=len(rec))
    tz = data.meta.get("timezone", "UTC")
    local = rec["timestamp"].dt.tz_convert(tz)
    events: dict[str, dict[str, int]] = {}
    for (e, d), n in rec.groupby(["event", "direction"], observed=True).size().items():
        events.setdefault(str(e), {})[str(d)] = int(n)
    calls = rec[rec["event"] == "call"]
    per_user = rec.groupby("user_id").size() / max(float(data.days), 1e-9)
    has_other = rec["counterpart_id"] >= 0
    on_net = has_other & rec["counterpart_id"].isin(rec["user_id"].unique())
    return {
        "files": len(report.files), "rows_read": int(report.rows_read), "dropped": dict(report.dropped),
        "added": dict(report.added), "double_logged": int(report.double_logged),
        "machine_users": len(report.machine_users), "records": int(len(rec)),
        "users": int(rec["user_id"].nunique()),
        "split": {k: len(getattr(split, k)) for k in ("train", "val", "holdout")},
        "period": [str(local.min()) if len(rec) else None, str(local.max()) if len(rec) else None],
        "start": str(pd.Timestamp(data.start).tz_convert(tz)), "days": float(data.days), "timezone": tz,
        "events": events,
        "missed_calls": float((~calls["answered"]).mean()) if len(calls) else 0.0,
        "zero_length_calls": float(((calls["duration_s"] == 0) & calls["answered"]).mean())
        if len(calls) else 0.0,
        "events_per_user_day": {f"{q:g}": float(v) for q, v in per_user.quantile(list(QUANTILES)).items()},
        "counterparts": {"with": float(has_other.mean()), "on_network": float(on_net.mean())},
        "cells": report.cells or ({"records_with_cell": int((rec["cell_id"] >= 0).sum())}
                                  if (rec["cell_id"] >= 0).any() else None),
    }


def summary_lines(s: dict) -> list[str]:
    """:func:`summarize`'s dict as the lines ``zen-data check`` prints."""
    out = [f"rows read        {s['rows_read']:,} from {s['files']} file(s)"]
    for rule, n in s["dropped"].items():
        out.append(f"  dropped        {n:,} ({rule})")
    for rule, n in s["added"].items():
        out.append(f"  added          {n:,} ({rule})")
    if s["double_logged"]:
        out.append(f"  double-logged  {s['double_logged']:,} events found in both parties' logs")
    if s["machine_users"]:
        out.append(f"  machine users  {s['machine_users']} dropped")
    out.append(f"records          {s['records']:,}")
    sp = s["split"]
    out.append(f"users            {s['users']:,} (train {sp['train']}, val {sp['val']}, "
               f"holdout {sp['holdout']})")
    out.append(f"time zone        {s['timezone']}")
    out.append(f"period           {s['period'][0]} .. {s['period'][1]} (window from {s['start']}, "
               f"{s['days']:g} days)")
    for event, by_dir in sorted(s["events"].items()):
        parts = "  ".join(f"{d} {n:,}" for d, n in sorted(by_dir.items()))
        out.append(f"events {event:<9s} {parts}")
    out.append(f"calls            missed {s['missed_calls']:.1%}, "
               f"answered with 0 s {s['zero_length_calls']:.1%}")
    q = s["events_per_user_day"]
    out.append("events/user/day  " + "  ".join(f"q{float(k) * 100:g} {v:.2f}" for k, v in q.items()))
    c = s["counterparts"]
    out.append(f"counterparts     {c['with']:.1%} of records have one, {c['on_network']:.1%} are users here")
    cells = s["cells"]
    out.append("cells            " + (", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in cells.items())
                                      if cells else "none"))
    return out


def problems(s: dict, min_train_users: int, expect_events: list[str] | None = None,
             social_from: bool = False) -> list[str]:
    """What in :func:`summarize`'s dict would make training (or evaluating) meaningless."""
    found = []
    if s["split"]["train"] < min_train_users:
        found.append(f"only {s['split']['train']} training user(s) after the split (zen-train needs "
                     f"{min_train_users}): bring more users or lower "
                     "data.split.val_fraction/holdout_fraction")
    if s["split"]["holdout"] == 0:
        found.append("no holdout users: zen-evaluate compares with them; set data.split.holdout_fraction > 0")
    missing = sorted(set(expect_events or []) - set(s["events"]))
    if missing:
        found.append(f"no {', '.join(missing)} events although expect_events names them: check "
                     "data.loader.mapping.event_values (the file's spellings) or the filters")
    if s["counterparts"]["with"] == 0 and not social_from:
        found.append("no record has a counterpart_id, so the social graph cannot be fitted: map "
                     "counterpart_id (data.loader.mapping.columns) or set data.social_from")
    if s["days"] < 1:
        found.append(f"the window is {s['days']:g} days: the weekly clock needs at least a day")
    return found


def warnings(s: dict) -> list[str]:
    """What looks odd but does not stop training."""
    found = []
    for event, by_dir in s["events"].items():
        if event != "data" and len(by_dir) == 1:
            found.append(f"every {event} is {next(iter(by_dir))}: check data.loader.mapping.direction_values")
    if s["zero_length_calls"] > 0.2:
        found.append(f"{s['zero_length_calls']:.0%} of answered calls last 0 s: if they are missed calls, "
                     "set data.loader.mapping.missed_if_zero_duration=true")
    if len(s["events"]) == 1:
        found.append(f"one event kind only ({next(iter(s['events']))}): the model will generate "
                     "that kind only")
    return found

