"""Start-backs: the conversations two partners start with each other, placed close in time.

In real two-sided records a pair's conversations cluster: after ``u``'s conversation with
``v`` ends, ``v`` often starts one with ``u`` within hours (a call-back, the next SMS thread).
A conversation is *near its partner* when the partner starts one with the user within
``horizon_s`` after it ends, or ended one within ``horizon_s`` before it starts. On Copenhagen
66 % of the conversations of pairs that talk both ways are near their partner within 24 h; with
each user's timeline shifted by whole days (users made independent, as sampled users are)
44 %, by whole weeks 49 % (``scripts/bench_conversations.py``). That difference is most of the
burstiness of real users that independent sampling loses (``experiments/conversations.md``).

Zen samples each user's timeline on its own, so in generation (``pairing=starter``,
``startbacks=auto``) the conversations a user starts with a *higher-index* tie may be moved in
time, all their events together, next to one that the tie started with them (those, started
with a lower-index tie, never move; a step between the passes keeps them once every partner
is drawn): just after it or just before it, by a delay drawn from the real delays, inside the
window, never within the conversation gap of another of the pair's conversations, with its
first and last events in the same hour-of-day bins as where the traffic model put them
(``zen.network.partners.hour_bin``: night stays night). Of the movable conversations not
already near their partner, as many are moved (tried in a random order; one that finds no place
in ``TRIES`` tries gives way to the next) as bring the share near their partner of all the
conversations of those pairs, the tie's included (a moved one makes the tie's it lands by near
too), to the fitted real one (:func:`fit`). Nothing is added or removed: each user keeps the number,
kind and hours of their conversations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zen.network.partners import hour_bin

HORIZON_S = 86400.0  # a partner's conversation within this many seconds counts as near (s)
N_QUANTILES = 41  # quantiles of the delay law kept in social.json
TRIES = 16  # placements tried per moved conversation before it stays where it was


@dataclass
class Spans:
    """Conversations of one direction per pair, sorted by (``key``, ``start``).

    ``key`` = starter × n_users + counterpart (int64); ``start``, ``end``: first and last
    event times (s). ``[m]`` each. Within a key the conversations do not overlap, so ``end`` is
    sorted too.
    """

    key: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, starter: np.ndarray, counterpart: np.ndarray, start: np.ndarray, end: np.ndarray,
           n_users: int) -> Spans:
        key = np.asarray(starter, np.int64) * n_users + np.asarray(counterpart, np.int64)
        return cls(*_sorted_spans(key, np.asarray(start, np.float64), np.asarray(end, np.float64)))

    def segments(self, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[lo, hi)`` index range of each ``key``'s conversations (empty when it has none)."""
        return np.searchsorted(self.key, key, "left"), np.searchsorted(self.key, key, "right")


def _first_above(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray,
                 strict: bool) -> np.ndarray:
    """Per query, the first index ``p`` in ``[lo, hi)`` with ``values[p] > x`` (``>=`` when not
    ``strict``), ``hi`` when none: a bisection over sorted segments, all queries at once."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        v = values[np.minimum(mid, len(values) - 1)]
        below = open_ & ((v <= x) if strict else (v < x))
        lo = np.where(below, mid + 1, lo)
        hi = np.where(open_ & ~below, mid, hi)


def near_partner(starter: np.ndarray, counterpart: np.ndarray, start: np.ndarray, end: np.ndarray,
                 partner: Spans, n_users: int, horizon_s: float = HORIZON_S
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Whether each conversation's partner started any with the user (``[m]`` bool), and whether
    one of those starts within ``horizon_s`` after it ends or ends within ``horizon_s`` before
    it starts (``[m]`` bool)."""
    lo, hi = partner.segments(np.asarray(counterpart, np.int64) * n_users + np.asarray(starter, np.int64))
    has = hi > lo
    after = _first_above(partner.start, lo, hi, end, strict=True)
    near = (after < hi) & (partner.start[np.minimum(after, len(partner.start) - 1)] <= end + horizon_s)
    before = _first_above(partner.end, lo, hi, start, strict=False) - 1  # last one ending before
    near |= (before >= lo) & (partner.end[np.maximum(before, 0)] >= start - horizon_s)
    return has, near & has


def fit(starter: np.ndarray, counterpart: np.ndarray, start: np.ndarray, end: np.ndarray,
        n_users: int, horizon_s: float = HORIZON_S) -> dict:
    """The start-back law of real conversations (one row per conversation, by its starter, both
    ends real users indexed ``0..n_users-1``).

    Returns ``{"share": …, "delay_quantiles_s": […], "horizon_s": …, "conversations": …}``:
    the share of the ``conversations`` of pairs that talk both ways that are near their partner
    (:func:`near_partner`; 0 when no pair does), and ``N_QUANTILES`` quantiles of the delay (s)
    from the end of a conversation to the partner's next start within ``horizon_s`` (none when
    fewer than two such delays: then generation moves nothing).
    """
    spans = Spans.of(starter, counterpart, start, end, n_users)
    has, near = near_partner(starter, counterpart, start, end, spans, n_users, horizon_s)
    lo, hi = spans.segments(np.asarray(counterpart, np.int64) * n_users + np.asarray(starter, np.int64))
    after = _first_above(spans.start, lo, hi, np.asarray(end, np.float64), strict=True)
    ok = after < hi
    delay = spans.start[after[ok]] - np.asarray(end, np.float64)[ok]
    delay = delay[delay <= horizon_s]
    return {"share": float(near[has].mean()) if has.any() else 0.0,
            "delay_quantiles_s": np.quantile(delay, np.linspace(0, 1, N_QUANTILES)).tolist()
            if len(delay) >= 2 else [],
            "horizon_s": float(horizon_s), "conversations": int(has.sum())}


def draw_delays(quantiles: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """``[n]`` delays (s) from the quantiles of the law, log-linear between them."""
    q = np.log(np.maximum(np.asarray(quantiles, np.float64), 1.0))
    return np.exp(np.interp(rng.random(n), np.linspace(0, 1, len(q)), q))


def place(starter: np.ndarray, counterpart: np.ndarray, start: np.ndarray, end: np.ndarray,
          movable: np.ndarray, partner: Spans, n_users: int, law: dict, window_s: float,
          rng: np.random.Generator, gap_s: float = 3600.0) -> np.ndarray:
    """``[m]`` time offsets (s, 0: stays) of the conversations, so that the conversations of the
    pairs that may move, both ways, are near their partner in the fitted share, as far as places
    are found (module docstring).

    Args:
        starter, counterpart, start, end: the conversations, by their starters ``[m]`` (times
            in seconds from the window's first local midnight).
        movable: ``[m]`` bool, the ones that may move (the partner's are final in ``partner``).
        partner: the partners' conversations with the starters.
        law: :func:`fit`'s dictionary (``social.json`` ``startbacks``).
        window_s: length of the window (s); a conversation is only placed inside it.
        gap_s: a conversation is never placed less than this (s) from another of the same
            pair, either way, so that it stays one conversation of its own.
    """
    offset = np.zeros(len(start))
    quantiles = np.asarray(law.get("delay_quantiles_s") or [], np.float64)
    if len(start) == 0 or len(quantiles) < 2 or law.get("share", 0.0) <= 0:
        return offset
    horizon = float(law.get("horizon_s", HORIZON_S))
    has, near = near_partner(starter, counterpart, start, end, partner, n_users, horizon)
    movable = movable & has
    if not movable.any():
        return offset
    starter, counterpart = np.asarray(starter, np.int64), np.asarray(counterpart, np.int64)
    key = starter * n_users + counterpart
    mates = np.flatnonzero(movable)  # the conversations of the pairs that may move
    alo, ahi = partner.segments(np.unique(counterpart[mates] * n_users + starter[mates]))
    anchors = _ranges(alo, ahi)  # the partners' conversations with them: the rest of those pairs
    a_starter, a_partner = partner.key[anchors] // n_users, partner.key[anchors] % n_users
    target = int(round(law["share"] * (len(mates) + len(anchors))))  # near ones wanted in those pairs
    near_mates = int(near[mates].sum())

    def still_needed() -> tuple[int, Spans]:
        own = Spans(*_sorted_spans(key[mates], start[mates] + offset[mates], end[mates] + offset[mates]))
        _, anchor_near = near_partner(a_starter, a_partner, partner.start[anchors], partner.end[anchors], own,
                                      n_users, horizon)
        return target - near_mates - int(anchor_near.sum()), own

    queue = rng.permutation(np.flatnonzero(movable & ~near))  # tried in this order until enough
    need, own = still_needed()
    tries = np.zeros(0, np.int64)
    todo = np.zeros(0, np.int64)
    while True:
        more = min(max((need + 1) // 2 - len(todo), 0), len(queue))  # a placement makes one or two near
        todo, tries = np.r_[todo, queue[:more]], np.r_[tries, np.zeros(more, np.int64)]
        queue = queue[more:]
        if need <= 0 or len(todo) == 0:
            return offset
        lo, hi = partner.segments(counterpart[todo] * n_users + starter[todo])
        length = end[todo] - start[todo]
        j = lo + np.minimum((rng.random(len(todo)) * (hi - lo)).astype(np.int64), hi - lo - 1)
        delay = draw_delays(quantiles, rng, len(todo))
        after = rng.random(len(todo)) < 0.5
        new = np.where(after, partner.end[j] + delay, partner.start[j] - delay - length)
        ok = (new >= 0) & (new + length < window_s) & (hour_bin(new) == hour_bin(start[todo])) \
            & (hour_bin(new + length) == hour_bin(end[todo]))
        ok &= ~_meets(own, own.segments(key[todo]), new, new + length, gap_s)
        ok &= ~_meets(partner, (lo, hi), new, new + length, gap_s)
        placed = np.zeros(len(todo), bool)  # one per pair and round: two placed at once could meet
        placed[np.flatnonzero(ok)[np.unique(key[todo[ok]], return_index=True)[1]]] = True
        offset[todo[placed]] = new[placed] - start[todo[placed]]
        near_mates += int(placed.sum())
        tries += ~ok
        stay = ~placed & (tries < TRIES)
        todo, tries = todo[stay], tries[stay]
        need, own = still_needed()


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The indices ``lo[k] .. hi[k] - 1`` of every segment, concatenated."""
    size = hi - lo
    if size.sum() == 0:
        return np.zeros(0, np.int64)
    starts = np.repeat(lo - np.r_[0, np.cumsum(size)[:-1]], size)
    return starts + np.arange(size.sum())


def _meets(spans: Spans, segments: tuple[np.ndarray, np.ndarray], start: np.ndarray, end: np.ndarray,
           gap_s: float) -> np.ndarray:
    """``[q]`` bool: a conversation of the segment comes less than ``gap_s`` before ``start`` or
    after ``end`` (or overlaps them): a conversation placed there would merge with it."""
    lo, hi = segments
    first = _first_above(spans.end, lo, hi, start - gap_s, strict=True)
    return (first < hi) & (spans.start[np.minimum(first, len(spans.start) - 1)] < end + gap_s)


def _sorted_spans(key: np.ndarray, start: np.ndarray, end: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((start, key))
    return key[order], start[order], end[order]


def started_between(records, user_ids: np.ndarray, gap_s: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The conversations (``zen.measures.conversations``) between two of ``user_ids`` in two-sided
    records (schema ``records``), each by its starter's copy: starter and counterpart (indices
    into the sorted unique ids), first and last event times (s, from the first record), ``[m]``
    each, and the number of ids."""
    from zen.measures.conversations import CONVERSATION_GAP_S, conversation_ends, conversation_starts

    ids = np.unique(np.asarray(user_ids, np.int64))
    talk = records[(records["event"].astype(str) != "data") & records["user_id"].isin(ids)
                   & records["counterpart_id"].isin(ids)]
    talk = talk.sort_values(["user_id", "timestamp"], kind="stable")
    if len(talk) == 0:
        return (*(np.zeros(0, np.int64),) * 4, len(ids))
    t = (talk["timestamp"] - talk["timestamp"].min()).dt.total_seconds().to_numpy()
    user = np.searchsorted(ids, talk["user_id"].to_numpy(np.int64))
    counterpart = np.searchsorted(ids, talk["counterpart_id"].to_numpy(np.int64))
    conv, first = conversation_starts(user, counterpart, t, gap_s or CONVERSATION_GAP_S)
    end = conversation_ends(conv, t, len(first))
    started = (talk["direction"].astype(str) == "out").to_numpy()[first]
    return user[first][started], counterpart[first][started], t[first][started], end[started], len(ids)


def fit_records(records, user_ids: np.ndarray, gap_s: float | None = None) -> dict:
    """:func:`fit` on real two-sided records (schema ``records``): the conversations between two
    of ``user_ids`` (:func:`started_between`)."""
    return fit(*started_between(records, user_ids, gap_s))


def startback_share(records) -> float:
    """The share of the conversations of pairs that talk both ways that are near one by the
    partner (:func:`fit_records` over the users of ``records``; NaN when no pair of them talks
    both ways): the evaluation's ``conversation/startback_share``."""
    ids = np.unique(records["user_id"].to_numpy(np.int64)) if len(records) else np.zeros(0, np.int64)
    law = fit_records(records, ids)
    return law["share"] if law["conversations"] else float("nan")


@dataclass
class StartbackPlan:
    """What generation moves conversations by: the partners' final conversations, the fitted law
    (``social.json`` ``startbacks``) and the window's length (s)."""

    partner: Spans
    law: dict
    window_s: float
