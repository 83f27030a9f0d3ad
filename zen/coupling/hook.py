"""Generation with the dependency: a shard's sampled events re-weighted by its generated moves.

The traffic model and the emulator still sample independently (neither imports the other);
between them, :func:`couple_timelines` reads each user's mobility state per 30-minute slot off
the emulator's stays (:func:`stay_states`), asks the fitted chain how intense an active slot is
in that state sequence relative to the same slot with mobility unseen
(:meth:`zen.coupling.CouplingModel.traffic_weights`), and thins or copies events by that weight:
each event is kept ``floor(w)`` or ``floor(w) + 1`` times (expectation ``w``), copies at a uniform
time in the same slot. Weights are rescaled per user to mean 1 over the user's events, so the
traffic model's per-user activity (expected events) is kept; only *when*, relative to the
user's moves, the events fall changes. Calls, SMS and data alike (the chain was fitted on all of
a user's events).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.coupling.model import CouplingModel
from zen.geo import haversine_m
from zen.measures.slots import ANCHOR_M, MOVE_M, SLOT_S, n_slots, slot_calendar
from zen.traffic.timeline import Timelines

CHUNK_USERS = 2000  # users whose [users, slots] state and weight tables are held at once


def stay_states(stays, places: pd.DataFrame, home: np.ndarray, work: np.ndarray, slots: int,
                first: int = 0, end: int | None = None) -> np.ndarray:
    """Mobility state (:data:`zen.measures.slots.MOBILITY_STATES`) of users ``first..end-1`` of the
    stays and each slot ``[end - first, T]``.

    ``moving``: a change of place of more than :data:`MOVE_M` metres inside the slot; otherwise the
    place at the slot's middle, within :data:`ANCHOR_M` of the user's home / work place (``home``,
    ``work``: ``[U]`` place indices, work -1 for none) or elsewhere. Stays' own places are used,
    not the serving cells.
    """
    lat, lon = places["lat"].to_numpy(float), places["lon"].to_numpy(float)
    end = stays.n_users if end is None else end
    n = end - first
    span = float(stays.period_s) + 1.0
    key = stays.user.astype(np.float64) * span + stays.start_s
    mid = (np.arange(slots) + 0.5) * SLOT_S
    q = (np.arange(first, end)[:, None] * span + mid[None, :]).ravel()
    place = stays.place[np.clip(np.searchsorted(key, q, side="right") - 1, 0, len(key) - 1)].reshape(n, slots)
    users = np.broadcast_to(np.arange(first, end)[:, None], (n, slots))
    hp, wp = home[users], work[users]
    at_home = haversine_m(lat[place], lon[place], lat[hp], lon[hp]) <= ANCHOR_M
    w = np.maximum(wp, 0)
    at_work = (wp >= 0) & (haversine_m(lat[place], lon[place], lat[w], lon[w]) <= ANCHOR_M)
    state = np.where(at_home, 0, np.where(at_work, 1, 2)).astype(np.int8)
    change = np.flatnonzero(np.r_[False, stays.user[1:] == stays.user[:-1]]
                            & (stays.user >= first) & (stays.user < end))
    jump = haversine_m(lat[stays.place[change - 1]], lon[stays.place[change - 1]],
                       lat[stays.place[change]], lon[stays.place[change]]) > MOVE_M
    s = np.floor(stays.start_s[change] / SLOT_S).astype(np.int64)
    ok = jump & (s < slots)
    state[stays.user[change][ok] - first, s[ok]] = 3
    return state


def couple_timelines(tl: Timelines, stays, places: pd.DataFrame, home: np.ndarray, work: np.ndarray,
                     activity: np.ndarray, model: CouplingModel, start: pd.Timestamp, days: float,
                     rng: np.random.Generator) -> Timelines:
    """The shard's timelines thinned / copied by the coupled weights (see the module docstring).

    Args:
        tl: the shard's sampled events (``tl.user`` 0..U-1). stays: the shard's stays.
        places: the places table; home, work: ``[U]`` the shard users' places.
        activity: ``[U]`` expected events per day (the signature of a generated user).
        model: the fitted dependency. start, days: the generated window. rng: for the draws.
    """
    slots = n_slots(days)
    hour, _ = slot_calendar(start, slots)
    sig = model.signatures_from_activity(activity)
    slot = np.clip(np.floor(tl.t_s / SLOT_S).astype(np.int64), 0, slots - 1)
    w = np.empty(len(tl))
    for lo in range(0, len(activity), CHUNK_USERS):  # [users, slots] tables a chunk at a time
        hi = min(lo + CHUNK_USERS, len(activity))
        states = stay_states(stays, places, home, work, slots, lo, hi)
        weights = model.traffic_weights(states, sig[lo:hi], hour)
        mine = (tl.user >= lo) & (tl.user < hi)
        w[mine] = weights[tl.user[mine] - lo, slot[mine]]
    total = np.bincount(tl.user, weights=w, minlength=len(activity))
    count = np.bincount(tl.user, minlength=len(activity))
    w = w * (count / np.maximum(total, 1e-12))[tl.user]
    copies = np.floor(w).astype(np.int64) + (rng.random(len(w)) < w - np.floor(w))
    index = np.repeat(np.arange(len(w)), copies)
    out = tl.take(index)
    first = np.r_[True, index[1:] != index[:-1]]
    extra = np.flatnonzero(~first)
    t = (slot[index[extra]] + rng.random(len(extra))) * SLOT_S
    out.t_s[extra] = np.minimum(t, days * 86400.0 - 1e-3)
    return out.sorted()
