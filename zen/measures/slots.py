"""Users on 30-minute slots: per-slot traffic and mobility states, and per-user features of both.

The observation window is cut into slots of :data:`SLOT_S` seconds from its start. For every
user and slot, from the records alone (real and synthetic data are measured alike):

* **traffic state** — ``idle`` (no event), ``low`` (1..``high_from - 1`` events) or ``high``
  (``high_from`` events or more; ``high_from`` is fitted on the training users as one more than
  the median events of an active slot);
* **mobility state** — ``home`` / ``work`` / ``elsewhere`` (stationary) or ``moving``, known
  only in slots with a located event (a CDR sees where a user is only when they use the
  network). A slot is *moving* when its located events span more than :data:`MOVE_M` metres, or
  its first event lies more than :data:`MOVE_M` from the last event of the slot before (when that
  slot was active); otherwise its first event's position decides: within :data:`ANCHOR_M` of the
  home cell (most used cell at night, :func:`zen.evaluation.mobility.home_cells`) is ``home``,
  within :data:`ANCHOR_M` of the work cell (most used cell of weekday working hours farther
  than :data:`ANCHOR_M` from home, at least :data:`MIN_WORK_EVENTS` events) is ``work``, else
  ``elsewhere``.

:func:`slot_features` gives one row per user (the study's spirit: Kouam, Viana, Beiró, Ferres,
Pappalardo, "Characterizing User Behavior: The Interplay Between Mobility Patterns and Mobile
Traffic", 13 individual features at 30-minute granularity); see :data:`FEATURE_UNITS`.
Radius of gyration, cell entropy, inter-event statistics and night / weekend shares are the
definitions of :mod:`zen.evaluation.individual` (``user_features``); the home cell is
:func:`zen.evaluation.mobility.home_cells`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zen.geo import haversine_m
from zen.measures.individual import cell_coordinates, cell_entropy, radius_of_gyration, user_features
from zen.measures.mobility import home_cells
from zen.mobility.measures import WORK_HOURS

SLOT_S = 1800.0  # one slot: 30 minutes
MOVE_M = 1000.0  # a slot whose positions span more than this (metres) is "moving"
ANCHOR_M = 500.0  # a position this close (metres) to the home / work cell is at home / work
MIN_WORK_EVENTS = 3  # a work cell needs at least this many weekday working-hour events
MOBILITY_STATES = ("home", "work", "elsewhere", "moving")
TRAFFIC_STATES = ("idle", "low", "high")
UNKNOWN = -1

#: Per-user features of :func:`slot_features` and their units.
FEATURE_UNITS = {
    # traffic
    "events_per_slot": "events per 30-min slot of the window",
    "active_slot_share": "share of slots with >= 1 event, [0, 1]",
    "events_per_active_slot": "events per active slot",
    "data_share": "share of events that are data sessions, [0, 1]",
    "inter_event_median_s": "median time between consecutive events, seconds",
    "burstiness": "(sigma - mu) / (sigma + mu) of inter-event times, [-1, 1]",
    "night_share": "share of events at 00:00-06:00 of the records' clock, [0, 1]",
    "weekend_share": "share of events on Saturday/Sunday, [0, 1]",
    # mobility
    "radius_of_gyration_m": "RMS distance of event positions to their centre, metres",
    "distinct_cells": "number of distinct cells of the events",
    "cell_entropy": "Shannon entropy of the events over cells, nats",
    "home_slot_share": "share of located active slots at home, [0, 1]",
    "moving_slot_share": "share of located active slots moving, [0, 1]",
    "cell_changes_per_slot": "changes of cell between consecutive events per active slot",
}
TRAFFIC_FEATURES = tuple(list(FEATURE_UNITS)[:8])
MOBILITY_FEATURES = tuple(list(FEATURE_UNITS)[8:])


@dataclass
class SlotGrid:
    """Per user and slot states of one sample (arrays ``[n_users, n_slots]`` unless stated).

    Attributes:
        users: ``[n_users]`` user ids (row order).
        events: events per slot (int32).
        mobility: index into :data:`MOBILITY_STATES`, :data:`UNKNOWN` where no event is located.
        slot_hour: ``[n_slots]`` hour of day (0..23) at each slot's start, on the records' clock.
        weekday: ``[n_slots]`` day of week (0 = Monday) of each slot.
    """

    users: np.ndarray
    events: np.ndarray
    mobility: np.ndarray
    slot_hour: np.ndarray
    weekday: np.ndarray

    def traffic(self, high_from: int) -> np.ndarray:
        """Traffic state per slot: 0 idle, 1 low (< ``high_from`` events), 2 high. int8."""
        return np.where(self.events == 0, 0, np.where(self.events < high_from, 1, 2)).astype(np.int8)


def n_slots(days: float) -> int:
    """Slots in a window of ``days`` days."""
    return int(np.ceil(float(days) * 86400.0 / SLOT_S - 1e-9))


def slot_calendar(start: pd.Timestamp, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Hour of day and weekday of each slot's start (``[slots]`` each)."""
    t = pd.Timestamp(start) + pd.to_timedelta(np.arange(slots) * SLOT_S, unit="s")
    return t.hour.to_numpy(np.int64), t.day_of_week.to_numpy(np.int64)


def work_cells(user_ids: np.ndarray, hours: np.ndarray, weekdays: np.ndarray, cell_ids: np.ndarray,
               lat: np.ndarray, lon: np.ndarray, home_lat: np.ndarray, home_lon: np.ndarray) -> pd.Series:
    """Each user's most used cell on weekdays in :data:`WORK_HOURS`, farther than :data:`ANCHOR_M`
    from home (``home_lat/lon``: ``[events]``, the home of each event's user); users without one
    (fewer than :data:`MIN_WORK_EVENTS` such events) are left out."""
    (a, b), = WORK_HOURS
    hours = np.asarray(hours)
    ok = ((hours >= a) & (hours < b) & (np.asarray(weekdays) < 5)
          & (haversine_m(lat, lon, home_lat, home_lon) > ANCHOR_M))
    counts = pd.DataFrame({"u": user_ids[ok], "c": cell_ids[ok]}).groupby(["u", "c"]).size()
    counts = counts[counts >= MIN_WORK_EVENTS].rename("n").reset_index()
    counts = counts.sort_values(["u", "n", "c"], ascending=[True, False, True], kind="stable")
    return counts.groupby("u")["c"].first().rename("work_cell")


def slot_grid(records: pd.DataFrame, start: pd.Timestamp, days: float,
              antennas: pd.DataFrame | None) -> SlotGrid:
    """The per-slot event counts and mobility states of every user with records.

    Args:
        records: records in Zen's schema (any order).
        start: the window's first instant (slot 0 starts there).
        days: window length in days; events outside the window are ignored.
        antennas: antennas with ``lat``/``lon``; without them every mobility state is unknown.
    """
    records = records.sort_values(["user_id", "timestamp"], kind="stable")
    users = np.unique(records["user_id"].to_numpy())
    slots = n_slots(days)
    hour, weekday = slot_calendar(start, slots)
    row = np.searchsorted(users, records["user_id"].to_numpy())
    s = np.floor((records["timestamp"] - start).dt.total_seconds().to_numpy() / SLOT_S).astype(np.int64)
    inside = (s >= 0) & (s < slots)
    events = np.zeros((len(users), slots), np.int32)
    np.add.at(events, (row[inside], s[inside]), 1)
    mobility = np.full((len(users), slots), UNKNOWN, np.int8)
    if antennas is not None and len(antennas):
        ev = cell_coordinates(records[inside], antennas)
        if len(ev):
            _mobility_states(ev, users, start, mobility)
    return SlotGrid(users, events, mobility, hour, weekday)


def _mobility_states(ev: pd.DataFrame, users: np.ndarray, start: pd.Timestamp, out: np.ndarray) -> None:
    """Fill ``out[user, slot]`` with the mobility state of every slot holding located events."""
    uid, cell = ev["user_id"].to_numpy(), ev["cell_id"].to_numpy()
    lat, lon = ev["lat"].to_numpy(float), ev["lon"].to_numpy(float)
    ts = ev["timestamp"]
    hours, weekdays = ts.dt.hour.to_numpy(), ts.dt.day_of_week.to_numpy()
    home = home_cells(uid, hours, cell)
    where = ev.drop_duplicates("cell_id").set_index("cell_id")[["lat", "lon"]]
    h_lat = where["lat"].reindex(home.reindex(uid).to_numpy()).to_numpy()
    h_lon = where["lon"].reindex(home.reindex(uid).to_numpy()).to_numpy()
    work = work_cells(uid, hours, weekdays, cell, lat, lon, h_lat, h_lon).reindex(uid).to_numpy()
    has_work = np.isfinite(work)
    w_cell = np.where(has_work, work, cell[0]).astype(cell.dtype)
    w_lat = np.where(has_work, where["lat"].reindex(w_cell).to_numpy(), np.nan)
    w_lon = np.where(has_work, where["lon"].reindex(w_cell).to_numpy(), np.nan)
    slot = np.floor((ts - start).dt.total_seconds().to_numpy() / SLOT_S).astype(np.int64)
    key = pd.DataFrame({"u": uid, "s": slot})
    head = np.r_[True, (uid[1:] != uid[:-1]) | (slot[1:] != slot[:-1])]
    group = np.cumsum(head) - 1
    g = pd.DataFrame({"g": group, "lat": lat, "lon": lon}).groupby("g")
    lo, hi = g.min(), g.max()
    moving = haversine_m(lo["lat"].to_numpy(), lo["lon"].to_numpy(),
                         hi["lat"].to_numpy(), hi["lon"].to_numpy()) > MOVE_M
    first = np.flatnonzero(head)
    prev = np.maximum(first - 1, 0)  # the event before each slot's first one
    adjacent = (first > 0) & (uid[prev] == uid[first]) & (slot[prev] == slot[first] - 1)
    jump = haversine_m(lat[prev], lon[prev], lat[first], lon[first])
    moving |= adjacent & (jump > MOVE_M)
    at_home = haversine_m(lat[first], lon[first], h_lat[first], h_lon[first]) <= ANCHOR_M
    at_work = has_work[first] & (haversine_m(lat[first], lon[first], w_lat[first], w_lon[first]) <= ANCHOR_M)
    state = np.where(moving, 3, np.where(at_home, 0, np.where(at_work, 1, 2))).astype(np.int8)
    rows = np.searchsorted(users, key["u"].to_numpy()[first])
    out[rows, key["s"].to_numpy()[first]] = state


def slot_features(records: pd.DataFrame, start: pd.Timestamp, days: float,
                  antennas: pd.DataFrame | None = None, grid: SlotGrid | None = None) -> pd.DataFrame:
    """Per-user traffic and mobility features on 30-minute slots (:data:`FEATURE_UNITS`).

    Args:
        records: records in Zen's schema; ``start``/``days``: the window.
        antennas: antennas with ``lat``/``lon``; without them the mobility columns are NaN.
        grid: the sample's :func:`slot_grid` when already computed.
    Returns:
        Frame indexed by ``user_id``, one column per feature, ``[users, 14]``; NaN where a
        feature is undefined (e.g. inter-event statistics of a user with one event).
    """
    records = records.sort_values(["user_id", "timestamp"], kind="stable")
    grid = grid if grid is not None else slot_grid(records, start, days, antennas)
    users = pd.Index(grid.users, name="user_id")
    out = pd.DataFrame(index=users)
    n = grid.events.sum(axis=1).astype(float)
    active = (grid.events > 0).sum(axis=1).astype(float)
    out["events_per_slot"] = n / grid.events.shape[1]
    out["active_slot_share"] = active / grid.events.shape[1]
    out["events_per_active_slot"] = n / np.maximum(active, 1)
    out["data_share"] = (records["event"] == "data").groupby(records["user_id"]).mean().reindex(users)
    shared = user_features(records, days)  # the same definitions as zen-evaluate's individual rows
    for name in ("inter_event_median_s", "burstiness", "night_share", "weekend_share"):
        out[name] = shared[name].reindex(users).to_numpy(float)
    for name in MOBILITY_FEATURES:
        out[name] = np.nan
    if antennas is None or not len(antennas):
        return out
    ev = cell_coordinates(records, antennas)
    if not len(ev):
        return out
    u, cell = ev["user_id"].to_numpy(), ev["cell_id"].to_numpy()
    rg = radius_of_gyration(u, ev["lat"].to_numpy(), ev["lon"].to_numpy())
    out["radius_of_gyration_m"] = rg.reindex(users)
    out["distinct_cells"] = ev.groupby("user_id")["cell_id"].nunique().reindex(users)
    out["cell_entropy"] = cell_entropy(u, cell).reindex(users)
    located = (grid.mobility >= 0).sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["home_slot_share"] = np.where(located > 0, (grid.mobility == 0).sum(axis=1) / located, np.nan)
        out["moving_slot_share"] = np.where(located > 0, (grid.mobility == 3).sum(axis=1) / located, np.nan)
    change = (u[1:] == u[:-1]) & (cell[1:] != cell[:-1])
    changes = pd.Series(change.astype(float), index=u[1:]).groupby(level=0).sum()
    changes = changes.reindex(users, fill_value=0.0)
    out["cell_changes_per_slot"] = np.where(located > 0, changes.to_numpy() / np.maximum(located, 1), np.nan)
    return out
