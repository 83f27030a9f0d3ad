"""Small but realistic exports of one's own CDRs, written by the tests (docs/own-data.md's examples).

:func:`simulate` draws a population of users calling and texting each other (a few contacts
each, some off-network, daily rhythms on a local clock, lognormal call lengths, missed calls);
the writers lay it out as real exports do:

* :func:`write_operator_export` — one row per party (MO for the caller, MT for the callee),
  local naive times, one gzipped CSV per day, voicemail self-calls and one bulk-SMS machine;
* :func:`write_study_log` — one tab-separated log per study: each subject's phone logs its own
  calls (epoch seconds, UTC), calls between subjects appear in both logs with the phones' clocks
  a minute apart, some subjects lost a week of log, missed calls are 0 s, voicemail self-calls;
* :func:`write_sessions` — data sessions with their serving cell (Parquet, ISO times with a UTC
  offset) and the cells file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIRST_ID = 4_600_000  # subscriber numbers of the simulated users
OFFNET_ID = 9_100_000  # numbers outside the network / the study
MACHINE_ID = 5_555_555
VOICEMAIL = "voicemail"


def simulate(n_users: int = 48, days: int = 21, start: str = "2024-03-18", tz: str = "Europe/Copenhagen",
             sms: bool = True, seed: int = 0, office_hours: bool = False) -> pd.DataFrame:
    """One row per call/SMS: ``caller, callee, local`` (naive local time), ``kind``, ``duration``,
    ``missed``, ``utc``. Users are ``FIRST_ID + i``; callees beyond the users are off-network.

    ``office_hours``: every event between 09:00 and 17:00 local (a clock that is easy to check).
    """
    rng = np.random.default_rng(seed)
    users = FIRST_ID + np.arange(n_users)
    rows = []
    for u in users:
        contacts = np.concatenate([rng.choice(users[users != u], rng.integers(3, 8), replace=False),
                                   OFFNET_ID + rng.integers(0, 400, 2)])
        weight = rng.dirichlet(np.ones(len(contacts)) * 0.8)
        n = rng.poisson(rng.lognormal(np.log(3.0), 0.5) * days)
        peak = rng.normal(15.0, 2.5)
        day = rng.integers(0, days, n)
        hour = rng.uniform(9, 17, n) if office_hours else 7 + (rng.normal(peak, 3.5, n) - 7) % 17
        local = pd.Timestamp(start) + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour * 3600, unit="s")
        kind = np.where(rng.random(n) < (0.6 if sms else 1.0), "call", "sms")
        missed = (kind == "call") & (rng.random(n) < 0.15)
        duration = np.where((kind == "call") & ~missed, np.ceil(rng.lognormal(4.0, 1.1, n)), 0)
        callee = rng.choice(contacts, n, p=weight)
        outgoing = rng.random(n) < 0.5
        caller = np.where(outgoing, u, callee)
        callee = np.where(outgoing, callee, u)
        keep = outgoing | (caller >= OFFNET_ID)  # a call between users is drawn by its caller only
        rows.append(pd.DataFrame({"caller": caller, "callee": callee, "local": local.floor("s"), "kind": kind,
                                  "duration": duration.astype(int), "missed": missed})[keep])
    calls = pd.concat(rows, ignore_index=True).sort_values("local", kind="stable").reset_index(drop=True)
    calls["utc"] = calls["local"].dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward") \
        .dt.tz_convert("UTC")
    return calls


def users_of(calls: pd.DataFrame) -> np.ndarray:
    ids = np.unique(np.concatenate([calls["caller"], calls["callee"]]))
    return ids[ids < OFFNET_ID]


def write_operator_export(calls: pd.DataFrame, folder: Path, voicemail_share: float = 0.1,
                          machine_per_day: int = 300, seed: int = 1) -> Path:
    """One gzipped CSV per local day: ``msisdn,other_party,start_time,service,dir,duration,status``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    on_net = calls["callee"] < OFFNET_ID
    status = np.where(calls["missed"], "NO ANSWER", "ANSWERED")
    service = np.where(calls["kind"] == "call", "VOICE", "SMS")
    base = {"start_time": calls["local"], "service": service, "duration": calls["duration"], "status": status}
    mo = pd.DataFrame({"msisdn": calls["caller"], "other_party": calls["callee"], "dir": "MO", **base})
    mt = pd.DataFrame({"msisdn": calls["callee"], "other_party": calls["caller"], "dir": "MT", **base})
    rows = pd.concat([mo[calls["caller"] < OFFNET_ID], mt[on_net]], ignore_index=True)
    users = users_of(calls)
    n_vm = int(voicemail_share * len(rows))
    vm_user = rng.choice(users, n_vm)
    vm = pd.DataFrame({"msisdn": vm_user, "other_party": vm_user, "dir": "MO",
                       "start_time": rows["start_time"].sample(n_vm, random_state=seed).to_numpy(),
                       "service": "VOICE", "duration": rng.integers(5, 40, n_vm), "status": "ANSWERED"})
    days = pd.date_range(calls["local"].min().normalize(), calls["local"].max().normalize(), freq="D")
    n_bulk = machine_per_day * len(days)
    bulk = pd.DataFrame({"msisdn": MACHINE_ID, "other_party": OFFNET_ID + rng.integers(0, 5000, n_bulk),
                         "dir": "MO", "start_time": np.repeat(days, machine_per_day)
                         + pd.to_timedelta(rng.uniform(8, 20, n_bulk) * 3600, unit="s").floor("s"),
                         "service": "SMS", "duration": 0, "status": "ANSWERED"})
    rows = pd.concat([rows, vm, bulk], ignore_index=True).sort_values("start_time", kind="stable")
    day = rows["start_time"].dt.strftime("%Y-%m-%d")
    for d in day.unique():
        part = rows[day == d].assign(start_time=lambda f: f["start_time"].dt.strftime("%Y-%m-%d %H:%M:%S"))
        part[["msisdn", "other_party", "start_time", "service", "dir", "duration", "status"]].to_csv(
            folder / f"cdr_{d}.csv.gz", index=False)
    return folder


def write_study_log(calls: pd.DataFrame, path: Path, jitter_s: float = 60.0, lost_share: float = 0.2,
                    voicemail_share: float = 0.25, seed: int = 2) -> Path:
    """Tab-separated ``subject, contact, epoch_s, direction, duration`` (one side per subject)."""
    rng = np.random.default_rng(seed)
    users = users_of(calls)
    t = (calls["utc"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy().astype(np.int64)
    shift = rng.integers(-int(jitter_s), int(jitter_s) + 1, len(calls))  # the other phone's clock
    caller_rows = pd.DataFrame({"subject": calls["caller"], "contact": calls["callee"], "epoch_s": t,
                                "direction": "outgoing", "duration": calls["duration"]})
    callee_rows = pd.DataFrame({"subject": calls["callee"], "contact": calls["caller"], "epoch_s": t + shift,
                                "direction": "incoming", "duration": calls["duration"]})
    rows = pd.concat([caller_rows[calls["caller"] < OFFNET_ID], callee_rows[calls["callee"] < OFFNET_ID]],
                     ignore_index=True)
    lost = rng.choice(users, int(lost_share * len(users)), replace=False)  # a week of log lost
    week2 = (rows["epoch_s"] >= t.min() + 7 * 86400) & (rows["epoch_s"] < t.min() + 14 * 86400)
    rows = rows[~(rows["subject"].isin(lost) & week2)]
    n_vm = int(voicemail_share * len(rows) / (1 - voicemail_share))
    vm_user = rng.choice(users, n_vm)
    vm = pd.DataFrame({"subject": vm_user, "contact": vm_user, "epoch_s": rng.choice(t, n_vm),
                       "direction": "outgoing", "duration": rng.integers(5, 40, n_vm)})
    rows = pd.concat([rows, vm], ignore_index=True).sort_values(["subject", "epoch_s"], kind="stable")
    rows.to_csv(path, sep="\t", index=False)
    return path


def write_sessions(n_users: int, days: int, folder: Path, start: str = "2024-03-18",
                   tz: str = "Europe/Copenhagen", seed: int = 3) -> tuple[Path, Path]:
    """``sessions.parquet`` (``imsi, start, cell, bytes``; ISO local times with offset) and
    ``cells.csv`` (``cell, lat, lon``) of a small city."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_cells = 60
    cells = pd.DataFrame({"cell": 7000 + np.arange(n_cells), "lat": 55.68 + rng.normal(0, 0.03, n_cells),
                          "lon": 12.57 + rng.normal(0, 0.05, n_cells)})
    rows = []
    for i in range(n_users):
        home, work = rng.choice(cells["cell"], 2, replace=False)
        n = rng.poisson(rng.lognormal(np.log(8), 0.4) * days)
        hour = 6 + (rng.normal(14, 4, n) - 6) % 18
        local = pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n), unit="D") \
            + pd.to_timedelta(hour * 3600, unit="s")
        at_work = (hour > 9) & (hour < 17) & (rng.random(n) < 0.7)
        other = rng.choice(cells["cell"], n)
        cell = np.where(at_work, work, np.where(rng.random(n) < 0.7, home, other))
        rows.append(pd.DataFrame({"imsi": 2380100000 + i, "local": local.floor("s"), "cell": cell,
                                  "bytes": np.ceil(rng.lognormal(11, 1.5, n)).astype(np.int64)}))
    sessions = pd.concat(rows, ignore_index=True).sort_values("local", kind="stable")
    aware = sessions.pop("local").dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    sessions.insert(1, "start", aware.map(lambda ts: ts.isoformat()))
    sessions.to_parquet(folder / "sessions.parquet", index=False)
    cells.to_csv(folder / "cells.csv", index=False)
    return folder / "sessions.parquet", folder / "cells.csv"
