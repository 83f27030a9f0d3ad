"""The turns of a conversation: a Markov chain over the events of an exchange, fitted on real pairs.

The traffic model decides when a user's conversation with which tie starts: its first event
(time, call or SMS, direction, duration), and whether the tie answers. What happens inside it --
who writes next, after how long, call or SMS, when it stops -- is what this chain is fitted on,
for both sides at once (``zen-train``, ``social.json`` ``turns``). Measured on Copenhagen
(``experiments/conversations.md``), the LSTM's own turns pause too long on the same side (median
99 s against 32-48 s real) and too briefly before some replies, which kept the reply-delay,
inter-event and per-user median-gap rows at 2-3x the real-vs-real floor.

The chain, after event ``i`` of a conversation (``i`` = 1 for its first), in state

* the user's *chattiness class* (terciles of their mean events per conversation, among users
  with at least ``MIN_CONVERSATIONS`` conversations; the others are the middle class),
* whether the conversation opened at night (before ``NIGHT_END_H`` on the clock) and whether it
  is two-way (has a reply; in generation: the traffic model's conversation had one),
* the kind of event ``i`` (:data:`KINDS`: SMS, answered call, missed call) and how it came
  (:data:`HOW`: it opened the conversation, same side before any reply, a reply, same side after
  a reply), and the bin of ``i`` (:data:`TURN_BINS`),

draws the next outcome: the end, or event ``i + 1`` of a kind from the same or the other side
(a two-way conversation never ends before its first reply; a one-way one never replies). Event
``i + 1`` starts at the end of event ``i`` (start + duration) plus a *pause* drawn from 41 fitted
quantiles by (class, night, kind of ``i``, same side or reply); an answered call lasts a duration
drawn from the answered calls' quantiles. A state seen fewer than ``MIN_COUNT`` times borrows the
pooled classes' law, then the pooled turn bins', then night and day pooled.

Generation (``turns``, ``zen.generation.pipeline.sample_shard``, on each sampled timeline before
any assembly rule sees it; data sessions and events with new contacts are kept as sampled):

* ``pauses`` (the default, :func:`repace`): every conversation with a tie keeps the traffic
  model's turns (events, kinds, sides, durations); the pauses between them are drawn from the
  fitted law. An event that would come within the conversation gap of the pair's next
  conversation, or past the window, is dropped (2 % of the records at 100k x 7 d).
* ``chain`` (:func:`refill`): each conversation keeps only its first event and the chain draws
  the rest; a continuation never reaches within the gap of the pair's next conversation nor
  past the window. Each user's conversations then share out, in a random order, the user's
  sampled events with ties (night and day apart): each keeps its first events up to what is
  left, so a user's sampled timeline keeps its number of events with ties. (The records written
  after the starter rule are still fewer: 14 % at 100k x 7 d against ``none``, not yet explained.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from zen.measures.conversations import CONVERSATION_GAP_S, conversation_starts
from zen.schema import DIRECTIONS, EVENTS
from zen.traffic.timeline import Timelines

KINDS = ("sms", "call", "missed")  # kinds of event inside a conversation (missed: call, not answered)
HOW = ("opened", "same", "reply", "same after a reply")  # how an event came after the one before it
TURN_BINS = (1, 2, 3, 5, 9)  # lower edges of the bins of an event's position in its conversation
NIGHT_END_H = 6  # a conversation opened before this hour of the clock (from midnight) is a night one
N_CLASSES = 3  # chattiness classes of users
N_QUANTILES = 41  # quantiles kept per pause law and for the call durations
N_OUTCOMES = 1 + 2 * len(KINDS)  # end, or (kind, same side / other side) of the next event
MIN_COUNT = 30  # a state with fewer training continuations borrows a pooled law
MIN_CONVERSATIONS = 3  # users with fewer conversations are in the middle chattiness class
MAX_TURNS = 400  # a conversation never gets more events than this
EV_CALL, EV_SMS, EV_DATA = (EVENTS.index(e) for e in ("call", "sms", "data"))
DIR_OUT, DIR_IN = DIRECTIONS.index("out"), DIRECTIONS.index("in")
DAY_S = 86400.0


def event_kinds(event: np.ndarray, answered: np.ndarray) -> np.ndarray:
    """``[n]`` index into :data:`KINDS` of calls and SMS (data sessions: SMS; never asked)."""
    return np.where(np.asarray(event) == EV_CALL, np.where(np.asarray(answered, bool), 1, 2), 0)


def turn_bin(position: np.ndarray) -> np.ndarray:
    """``[n]`` index of the :data:`TURN_BINS` bin of each event position (1 = first event)."""
    return np.searchsorted(np.asarray(TURN_BINS), np.asarray(position), side="right") - 1


def is_night(t_s: np.ndarray) -> np.ndarray:
    """``[n]`` 0/1: the time (seconds from a midnight of the clock) is before :data:`NIGHT_END_H`."""
    return (np.asarray(t_s, np.float64) % DAY_S < NIGHT_END_H * 3600.0).astype(np.int64)


def chattiness(user: np.ndarray, conversation_size: np.ndarray, n_users: int,
               rng: np.random.Generator | None = None) -> np.ndarray:
    """``[n_users]`` class 0..2 of each user: the tercile of their mean events per conversation
    among the users with ``MIN_CONVERSATIONS`` or more (ties broken at random with ``rng``, in
    index order without); the others are class 1.

    Args:
        user: ``[m]`` user index 0..n_users-1 of each conversation.
        conversation_size: ``[m]`` its number of events.
    """
    count = np.bincount(user, minlength=n_users)
    mean = np.bincount(user, weights=conversation_size, minlength=n_users) / np.maximum(count, 1)
    classes = np.ones(n_users, np.int64)
    ranked = np.flatnonzero(count >= MIN_CONVERSATIONS)
    if len(ranked) >= N_CLASSES:
        jitter = rng.random(len(ranked)) if rng is not None else np.arange(len(ranked)) / len(ranked)
        order = np.lexsort((jitter, mean[ranked]))
        classes[ranked[order]] = np.arange(len(ranked)) * N_CLASSES // len(ranked)
    return classes


@dataclass
class Turns:
    """The events of conversations laid out turn by turn (``[n]`` each, conversations in order).

    Attributes:
        conversation: index of each event's conversation, non-decreasing.
        position: 1 for a conversation's first event, 2 for the next, ...
        kind: index into :data:`KINDS`.
        how: index into :data:`HOW`.
        pause_s: seconds from the end of the event before (start + duration) to this one's
            start, 0 or more (NaN for first events).
        last: the conversation's last event.
        night: 1 where the conversation opened at night (:func:`is_night`).
        two_way: 1 where the conversation has a reply.
    """

    conversation: np.ndarray
    position: np.ndarray
    kind: np.ndarray
    how: np.ndarray
    pause_s: np.ndarray
    last: np.ndarray
    night: np.ndarray
    two_way: np.ndarray

    @classmethod
    def of(cls, user: np.ndarray, counterpart: np.ndarray, t_s: np.ndarray, event: np.ndarray,
           direction: np.ndarray, duration_s: np.ndarray, answered: np.ndarray,
           gap_s: float = CONVERSATION_GAP_S) -> tuple[Turns, np.ndarray]:
        """The turns of the conversations of the events with ``counterpart >= 0`` (calls and SMS;
        ``t_s``: seconds from a midnight of the clock) and the index of each turn's event in the
        input (``[n]``)."""
        conv, _ = conversation_starts(user, counterpart, t_s, gap_s)
        has = np.flatnonzero(conv >= 0)
        order = has[np.lexsort((t_s[has], conv[has]))]
        c = conv[order]
        new = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, bool)
        starts = np.flatnonzero(new)
        lengths = np.diff(np.r_[starts, len(c)])
        position = np.arange(len(c)) - np.repeat(starts, lengths) + 1
        side = np.asarray(direction)[order]
        reply = np.r_[False, side[1:] != side[:-1]] & ~new
        replied_before = (np.cumsum(reply) - np.repeat(np.cumsum(reply)[starts] - reply[starts], lengths)
                          - reply) > 0
        how = np.where(new, 0, np.where(reply, 2, np.where(replied_before, 3, 1)))
        t, dur = np.asarray(t_s, np.float64)[order], np.asarray(duration_s, np.float64)[order]
        pause = np.full(len(c), np.nan)
        pause[~new] = np.maximum(t[1:] - (t[:-1] + dur[:-1]), 0.0)[~new[1:]]
        last = np.r_[c[1:] != c[:-1], True] if len(c) else np.zeros(0, bool)
        kind = event_kinds(np.asarray(event)[order], np.asarray(answered)[order])
        two_way = np.repeat(np.add.reduceat(reply, starts) > 0, lengths).astype(np.int64) if len(c) \
            else np.zeros(0, np.int64)
        night = np.repeat(is_night(t[starts]), lengths) if len(c) else np.zeros(0, np.int64)
        return cls(c, position, kind, how, pause, last, night, two_way), order


@dataclass
class TurnLaw:
    """The fitted chain (``social.json`` ``turns``; see the module docstring).

    Attributes:
        next_probs: ``[N_CLASSES, 2 (night), 2 (two-way), len(KINDS), len(HOW), len(TURN_BINS),
            N_OUTCOMES]`` probability of each outcome after an event: 0 the end,
            ``1 + 2 * kind + other_side`` the next event.
        pause_quantiles: ``[N_CLASSES, 2 (night), len(KINDS), 2, N_QUANTILES]`` seconds from the
            end of an event of that kind to the next event's start, same side (0) or reply (1).
        duration_quantiles: ``[N_QUANTILES]`` seconds of an answered call.
    """

    next_probs: np.ndarray
    pause_quantiles: np.ndarray
    duration_quantiles: np.ndarray

    def to_dict(self, conversations: int) -> dict:
        return {"kinds": list(KINDS), "how": list(HOW), "turn_bins": list(TURN_BINS),
                "night_end_h": NIGHT_END_H,
                "next_probs": self.next_probs.tolist(), "pause_quantiles": self.pause_quantiles.tolist(),
                "duration_quantiles": self.duration_quantiles.tolist(), "conversations": int(conversations)}

    @classmethod
    def from_dict(cls, law: dict) -> TurnLaw:
        return cls(np.asarray(law["next_probs"], np.float64), np.asarray(law["pause_quantiles"], np.float64),
                   np.asarray(law["duration_quantiles"], np.float64))


def _backed_off(counts: np.ndarray, pooled_axes: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """``counts`` (last axis: outcomes) where a state has ``MIN_COUNT`` or more, else the sums
    over the first of ``pooled_axes`` that has, in order."""
    out = counts.copy()
    for axes in pooled_axes:
        pooled = np.broadcast_to(counts.sum(axis=axes, keepdims=True), counts.shape)
        out = np.where(out.sum(-1, keepdims=True) >= MIN_COUNT, out, pooled)
    return out


def fit(turns: Turns, user_class: np.ndarray) -> TurnLaw:
    """The chain of real conversations' turns (``user_class``: ``[n]`` class of each turn's user)."""
    shape = (N_CLASSES, 2, 2, len(KINDS), len(HOW), len(TURN_BINS))
    nxt = np.r_[turns.kind[1:] * 2 + 1 + (turns.how[1:] == 2), 0] if len(turns.kind) else turns.kind
    outcome = np.where(turns.last, 0, nxt)
    state = np.ravel_multi_index((user_class, turns.night, turns.two_way, turns.kind, turns.how,
                                  turn_bin(turns.position)), shape)
    counts = np.bincount(state * N_OUTCOMES + outcome, minlength=int(np.prod(shape)) * N_OUTCOMES
                         ).reshape(*shape, N_OUTCOMES).astype(np.float64)
    probs = _backed_off(counts, ((0,), (0, 5), (0, 1, 5)))
    probs[..., 0] += probs.sum(-1) == 0  # never seen at all: the conversation ends
    probs = probs / probs.sum(-1, keepdims=True)

    follows = np.flatnonzero(turns.position > 1)  # each event after the first, and the one before it
    prev, reply = follows - 1, (turns.how[follows] == 2).astype(np.int64)
    pause, grid = turns.pause_s[follows], np.linspace(0, 1, N_QUANTILES)
    g, night, kind = user_class[prev], turns.night[prev], turns.kind[prev]
    pause_q = np.zeros((N_CLASSES, 2, len(KINDS), 2, N_QUANTILES))
    for i in np.ndindex(pause_q.shape[:-1]):
        c, n, k, r = i
        same = (kind == k) & (reply == r)
        every = np.ones(len(pause), bool)
        for m in (same & (g == c) & (night == n), same & (night == n), same, reply == r, every):
            if m.sum() >= MIN_COUNT or (m.all() and m.any()):
                pause_q[i] = np.quantile(pause[m], grid)
                break
    return TurnLaw(probs, pause_q, np.zeros(N_QUANTILES))


def fit_records(records, user_ids: np.ndarray, gap_s: float | None = None) -> dict:
    """:func:`fit` on real two-sided records (schema ``records``) of ``user_ids``: every
    conversation of each user with any counterpart, in their own records, on the clock of the
    timestamps (``social.json`` ``turns``; ``{}`` when they have none)."""
    from zen.measures.traffic import epoch_seconds

    rec = records[records["user_id"].isin(np.asarray(user_ids)) & (records["counterpart_id"] >= 0)
                  & (records["event"].astype(str) != "data")]
    if len(rec) == 0:
        return {}
    user = np.unique(rec["user_id"].to_numpy(np.int64), return_inverse=True)[1]
    event = np.where(rec["event"].astype(str).to_numpy() == "call", EV_CALL, EV_SMS)
    direction = (rec["direction"].astype(str) == DIRECTIONS[DIR_IN]).to_numpy().astype(np.int64)
    answered = rec["answered"].to_numpy(bool)
    turns, order = Turns.of(user, rec["counterpart_id"].to_numpy(np.int64), epoch_seconds(rec["timestamp"]),
                            event, direction, rec["duration_s"].to_numpy(np.float64), answered,
                            gap_s or CONVERSATION_GAP_S)
    first = turns.position == 1
    classes = chattiness(user[order][first], np.bincount(turns.conversation), int(user.max()) + 1)
    law = fit(turns, classes[user[order]])
    durations = rec["duration_s"].to_numpy(np.float64)[order][(event[order] == EV_CALL) & answered[order]]
    if len(durations):
        law.duration_quantiles = np.quantile(durations, np.linspace(0, 1, N_QUANTILES))
    return law.to_dict(int(first.sum()))


def _draw(quantiles: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``[n]`` values at probability ``u`` of each row of ``quantiles`` (``[n, N_QUANTILES]``),
    linear between them in log(1 + x)."""
    pos = u * (quantiles.shape[1] - 1)
    j = np.minimum(pos.astype(np.int64), quantiles.shape[1] - 2)
    lo = np.log1p(np.maximum(quantiles[np.arange(len(u)), j], 0.0))
    hi = np.log1p(np.maximum(quantiles[np.arange(len(u)), j + 1], 0.0))
    return np.expm1(lo + (pos - j) * (hi - lo))


@dataclass
class _Sampled:
    """A shard's sampled conversations with ties: each event's conversation (``[n]``, -1 none),
    and per conversation (``[m]``) its first event, user, rank, the latest start a continuation
    may have (s), the user's chattiness class, night flag and whether it has a reply."""

    conv: np.ndarray
    first: np.ndarray
    user: np.ndarray
    rank: np.ndarray
    limit: np.ndarray
    group: np.ndarray
    night: np.ndarray
    two_way: np.ndarray


def _sampled(tl: Timelines, window_s: float, rng: np.random.Generator, gap_s: float) -> _Sampled:
    talk = (tl.event != EV_DATA) & (tl.contact_rank >= 0)
    conv, first = conversation_starts(tl.user, np.where(talk, tl.contact_rank, -1), tl.t_s, gap_s)
    user, rank, t0 = tl.user[first], tl.contact_rank[first], tl.t_s[first]
    same_pair_next = np.r_[(user[1:] == user[:-1]) & (rank[1:] == rank[:-1]), False]
    limit = np.minimum(np.where(same_pair_next, np.r_[t0[1:], np.inf] - gap_s, np.inf), window_s)
    has = conv >= 0
    size = np.bincount(conv[has], minlength=len(first))
    group = chattiness(user, size, int(tl.user.max()) + 1 if len(tl) else 0, rng)[user]
    turned = tl.direction[has] != tl.direction[first][conv[has]]
    other = np.bincount(conv[has], weights=turned, minlength=len(first))
    return _Sampled(conv, first, user, rank, limit, group, is_night(t0), (other > 0).astype(np.int64))


def refill(tl: Timelines, law: TurnLaw, window_s: float, rng: np.random.Generator,
           gap_s: float = CONVERSATION_GAP_S) -> Timelines:
    """The timelines with every conversation with a tie continued by the chain after its first
    event, two-way where the traffic model's was, and each user's conversations, in a random
    order, kept up to their number of sampled events in conversations with ties (module
    docstring); sorted by (user, time)."""
    sc = _sampled(tl, window_s, rng, gap_s)
    first = sc.first
    if len(first) == 0:
        return tl
    t = tl.t_s[first].astype(np.float64)
    kind = event_kinds(tl.event[first], tl.answered[first])
    dur = tl.duration_s[first].astype(np.float64)
    how, side, replied = (np.zeros(len(first), np.int64) for _ in range(3))
    parts: list[tuple[np.ndarray, ...]] = []
    alive = np.arange(len(first))
    for position in range(1, MAX_TURNS):
        if len(alive) == 0:
            break
        g, k, n = sc.group[alive], kind[alive], sc.night[alive]
        at = turn_bin(np.full(len(alive), position))
        probs = law.next_probs[g, n, sc.two_way[alive], k, how[alive], at]
        outcome = (probs.cumsum(1) < rng.random((len(alive), 1))).sum(1).clip(0, N_OUTCOMES - 1)
        reply = (outcome - 1) % 2
        start = t[alive] + dur[alive] + _draw(law.pause_quantiles[g, n, k, reply], rng.random(len(alive)))
        go = (outcome > 0) & (start - t[alive] < gap_s) & (start < sc.limit[alive])
        alive, start, outcome, reply = alive[go], start[go], outcome[go], reply[go]
        kind[alive] = (outcome - 1) // 2
        answered_call = np.flatnonzero(kind[alive] == 1)
        dur[alive] = 0.0
        durations = np.broadcast_to(law.duration_quantiles, (len(answered_call), N_QUANTILES))
        dur[alive[answered_call]] = _draw(durations, rng.random(len(answered_call)))
        replied[alive] |= reply
        how[alive] = np.where(reply == 1, 2, np.where(replied[alive] == 1, 3, 1))
        side[alive], t[alive] = side[alive] ^ reply, start
        parts.append((alive, start, kind[alive].copy(), side[alive].copy(), dur[alive].copy(),
                      np.full(len(alive), position)))
    keep = sc.conv < 0
    keep[first] = True
    c, start, k, s, d, p = ((np.concatenate(x) for x in zip(*parts, strict=True)) if parts
                            else (np.zeros(0, np.int64),) * 6)  # p: events before this one
    # each user's conversations, in a random order, share out the user's sampled events with ties,
    # at night and by day apart: each keeps its first events up to what is left
    size = 1 + np.bincount(c, minlength=len(first))
    key = sc.user * 2 + sc.night
    allowed = np.bincount(key[sc.conv[sc.conv >= 0]], minlength=2 * int(tl.user.max()) + 2)
    order = np.lexsort((rng.random(len(first)), key))
    before = np.cumsum(size[order]) - size[order]
    before = before - before[np.searchsorted(key[order], key[order])]
    take = np.zeros(len(first), np.int64)
    take[order] = np.clip(allowed[key[order]] - before, 0, size[order])
    keep[first[take == 0]] = False
    within = p < take[c]
    c, start, k, s, d = c[within], start[within], k[within], s[within], d[within]
    opened = tl.direction[first][c]
    direction = np.where(s == 0, opened, DIR_OUT + DIR_IN - opened)
    added = Timelines(user=sc.user[c], t_s=start.astype(np.float64),
                      event=np.where(k == 0, EV_SMS, EV_CALL).astype(tl.event.dtype),
                      direction=direction.astype(tl.direction.dtype),
                      duration_s=d.astype(tl.duration_s.dtype), answered=k != 2,
                      contact_rank=sc.rank[c].astype(tl.contact_rank.dtype),
                      volume_bytes=np.full(len(c), -1, tl.volume_bytes.dtype))
    return Timelines.concat([tl.take(np.flatnonzero(keep)), added]).sorted()


def repace(tl: Timelines, law: TurnLaw, window_s: float, rng: np.random.Generator,
           gap_s: float = CONVERSATION_GAP_S) -> Timelines:
    """The timelines with the pauses inside every conversation with a tie drawn from the chain's
    pause law (the traffic model's turns, kinds, sides and durations kept); an event that would
    reach within the gap of the pair's next conversation, or past the window, is dropped."""
    sc = _sampled(tl, window_s, rng, gap_s)
    if len(sc.first) == 0:
        return tl
    has = np.flatnonzero(sc.conv >= 0)
    order = has[np.lexsort((tl.t_s[has], sc.conv[has]))]
    c = sc.conv[order]
    new = np.r_[True, c[1:] != c[:-1]]
    kind = event_kinds(tl.event[order], tl.answered[order])
    side, dur = tl.direction[order], tl.duration_s[order].astype(np.float64)
    step = np.zeros(len(order))
    nxt = np.flatnonzero(~new)
    reply = (side[nxt] != side[nxt - 1]).astype(np.int64)
    cn = c[nxt]
    pause = _draw(law.pause_quantiles[sc.group[cn], sc.night[cn], kind[nxt - 1], reply], rng.random(len(nxt)))
    step[nxt] = np.minimum(dur[nxt - 1] + pause, gap_s - 1.0)
    step[new] = tl.t_s[sc.first[c[new]]]
    csum = np.cumsum(step)
    t_new = csum - np.repeat(csum[new] - step[new], np.diff(np.r_[np.flatnonzero(new), len(order)]))
    t_s = tl.t_s.copy()
    t_s[order] = t_new
    keep = np.ones(len(tl), bool)
    keep[order[~(new | (t_new < sc.limit[c]))]] = False
    return replace(tl, t_s=t_s).take(np.flatnonzero(keep)).sorted()


def with_turns(tl: Timelines, law: dict | None, window_s: float, rng: np.random.Generator,
               gap_s: float = CONVERSATION_GAP_S, mode: str = "pauses") -> Timelines:
    """:func:`repace` (``mode="pauses"``) or :func:`refill` (``"chain"``) with the ``social.json``
    law (``tl`` unchanged when there is none or ``mode="none"``)."""
    if not law or mode == "none":
        return tl
    return (repace if mode == "pauses" else refill)(tl, TurnLaw.from_dict(law), window_s, rng, gap_s)


__all__ = ["HOW", "KINDS", "TurnLaw", "Turns", "chattiness", "fit", "fit_records", "refill", "repace",
           "with_turns"]
