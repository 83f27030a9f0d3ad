"""Combine the traffic model, the mobility emulator and the social graph into CDR records.

How on-network events are counted once. The traffic model is trained on two-sided records, so
it samples each user's whole timeline, outgoing and incoming: an on-network call or SMS between
``u`` and ``v`` is sampled twice, once in each timeline. For a user ``u`` of a shard:

* counterparts come from ranks: ``u``'s k-th strongest tie when the model says "k-th contact"
  (k folded onto ``u``'s degree), a new on- or off-network contact when it says "new";
* with ``pairing="starter"`` (the default for models trained on the *starter view*, see
  ``zen-train conversations=starter``) the traffic model samples the conversations each user
  starts, turns of both sides included: every on-network conversation is sampled once, by its
  starter, and written at both ends (``mirror_on_network``); a sampled conversation that opens
  with an incoming event (the model's rare slip: its partner would have started it) is dropped.
  Nothing is thinned and nothing is halved, and each user's timeline is, as in real data, the
  conversations they start plus those others start with them. When the population carries a
  day-level activity factor (``Population.day_factor``, ``zen.network.partners``), the tie each
  started conversation goes to is drawn again among the starter's on-network ties, weighted by
  how often the starter's timeline chose each and by that tie's own activity on the day: the
  conversations others start with a user then fall on the days that user is active;
* with ``pairing="conversation"`` (the default for models trained on whole timelines) the
  on-network events of ``u``'s timeline are grouped
  into conversations with each counterpart (``zen.measures.conversations``: a pair's events less
  than ``conversation_gap_s`` apart), and each conversation is kept whole with probability 1/2
  and written on both sides (``mirror_on_network``). Its turns, reply delays in both directions
  and its starter come from one draw of the traffic model, so no conversation is thinned and
  both ends see the same exchange. ``pairing="half"`` keeps each on-network event on its own
  with probability 1/2 (which thins conversations: the partner's half comes from their own
  timeline, interleaved); ``pairing="outgoing"`` keeps sampled outgoing events and drops
  sampled on-network incoming ones, the callee's ``in`` coming from the mirror;
* off-network events and data sessions are kept as sampled (data sessions have no counterpart).

So each on-network call or SMS appears exactly twice (``out`` for the caller, ``in`` for the
callee), and a user's expected number of records matches what the model sampled.

The cell of every record is the cell serving its user's place at the event time (the
mobility emulator's stays). An incoming record whose receiver belongs to another shard is
handed to that shard ("pending"), where the receiver's stays are known; see
``zen.generation.pipeline``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from zen.measures.conversations import (
    CONVERSATION_GAP_S,
    conversation_ends,
    conversation_ids,
    conversation_starts,
    in_started_conversation,
)
from zen.network.partners import DAY_S, PairDays, choose_partners, conversation_shape, day_activity, hour_bin
from zen.network.startbacks import StartbackPlan, place
from zen.network.starters import StarterPlan, handed_over
from zen.schema import DIRECTIONS, EVENTS
from zen.sessions import SessionModel, add_sessions
from zen.traffic.timeline import CONTACT_NEW, Timelines

DIR_IN = DIRECTIONS.index("in")
DIR_OUT = DIRECTIONS.index("out")
EV_DATA = EVENTS.index("data")


@dataclass
class Population:
    """Population-wide state shared by all shards (arrays ``[n_users]`` unless stated).

    Attributes:
        activity: expected events per day of each user (from the traffic model).
        home, work: place index of each user's home and work (-1: no work place).
        contacts: ``[n_users, K]`` counterpart ids by tie strength, -1 padded.
        degree: number of ties of each user (non -1 entries of ``contacts``).
        offnet_base: first off-network id; off-network ids are ``offnet_base + j``.
        offnet_pool: number of distinct off-network ids new contacts are drawn from.
        new_on_network_share: probability that a new contact is an on-network user.
        day_factor: ``[n_users, n_days]`` float32 weight of each user as the partner of a
            conversation started that day (``zen.network.partners.day_factor``); None keeps the
            traffic model's ties.
        pairs: each user's started conversations per counterpart and day, for the pair-level
            partner choice (``zen.network.partners.PairDays``); None: the day factor alone.
        hour_factor: ``[n_users, bins]`` float32 weight of each user as the partner of a
            conversation started in each hour-of-day bin, for the hour-level partner choice
            (``zen.network.partners.hour_factor``); None: no hour factor.
        startbacks: the start-back plan (``zen.network.startbacks``): the conversations users
            start with higher-index ties move next to the ties' own with them; None: none.
        starters: every user's conversations per counterpart and the split law
            (``zen.network.starters``): the side of a pair that started more hands some of its
            two-way conversations to the other; None: none.
    """

    activity: np.ndarray
    home: np.ndarray
    work: np.ndarray
    contacts: np.ndarray
    degree: np.ndarray
    offnet_base: int
    offnet_pool: int
    new_on_network_share: float
    day_factor: np.ndarray | None = None
    pairs: PairDays | None = None
    hour_factor: np.ndarray | None = None
    startbacks: StartbackPlan | None = None
    starters: StarterPlan | None = None

    @property
    def n_users(self) -> int:
        return len(self.activity)


def resolve_counterparts(user: np.ndarray, rank: np.ndarray, pop: Population,
                         rng: np.random.Generator) -> np.ndarray:
    """Counterpart id of each event from its contact rank.

    Args:
        user: population index of each event's user ``[n]``.
        rank: contact rank (k ≥ 0, ``CONTACT_NEW`` or ``CONTACT_NONE``) ``[n]``.
        pop: the population (ties).
        rng: random generator for new contacts.

    Returns:
        ``[n]`` int64 ids: on-network users 0..n_users-1, off-network ≥ ``offnet_base``,
        -1 for no counterpart.
    """
    rank = rank.astype(np.int64)
    out = np.full(len(user), -1, dtype=np.int64)
    deg = pop.degree[user]
    tie = (rank >= 0) & (deg > 0)
    k = np.where(tie, rank % np.maximum(deg, 1), 0)
    out[tie] = pop.contacts[user[tie], k[tie]]
    new = (rank == CONTACT_NEW) | ((rank >= 0) & (deg == 0))
    n_new = int(new.sum())
    on = rng.random(n_new) < pop.new_on_network_share
    ids = np.where(on, rng.integers(0, pop.n_users, n_new),
                   pop.offnet_base + rng.integers(0, pop.offnet_pool, n_new))
    self_pick = on & (ids == user[new])
    ids[self_pick] = (ids[self_pick] + 1) % pop.n_users
    out[new] = ids
    return out


def started_per_day(tl: Timelines, first_user: int, n_shard_users: int, pop: Population,
                    rng: np.random.Generator, n_days: int,
                    conversation_gap_s: float = CONVERSATION_GAP_S) -> np.ndarray:
    """``[n_shard_users, n_days]`` uint16: the conversations (calls and SMS with any counterpart)
    each of the shard's users starts per day in their sampled timeline.

    ``rng`` must be seeded as :func:`assemble_shard`'s, so the counterparts are the ones it draws.
    """
    user, _, t_s = started_conversations(tl, first_user, pop, rng, conversation_gap_s)
    return day_activity(user, t_s, n_shard_users, n_days)


def started_conversations(tl: Timelines, first_user: int, pop: Population, rng: np.random.Generator,
                          conversation_gap_s: float = CONVERSATION_GAP_S
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The conversations (calls and SMS with any counterpart) the shard's users start in their
    sampled timelines: shard user index, counterpart id and first event's time (s), ``[m]`` each.

    ``rng`` must be seeded as :func:`assemble_shard`'s, so the counterparts are the ones it draws.
    """
    user = tl.user + first_user
    counterpart = resolve_counterparts(user, tl.contact_rank, pop, rng)
    talk = np.where((tl.event != EV_DATA) & (counterpart >= 0), counterpart, -1)
    conv, first = conversation_starts(user, talk, tl.t_s, conversation_gap_s)
    first = first[tl.direction[first] != DIR_IN]
    return tl.user[first], talk[first], tl.t_s[first]


def kept_conversations(tl: Timelines, first_user: int, counterpart: np.ndarray, keep: np.ndarray,
                       n_users: int, conversation_gap_s: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kept on-network conversations of a shard's timelines: each event's conversation id
    (``[n]``, -1 none), each conversation's first event and last event time (s) (``[m]``)."""
    talk = keep & (tl.event != EV_DATA) & (counterpart >= 0) & (counterpart < n_users)
    conv, first = conversation_starts(tl.user + first_user, np.where(talk, counterpart, -1), tl.t_s,
                                      conversation_gap_s)
    return conv, first, conversation_ends(conv, tl.t_s, len(first))


def move_startbacks(tl: Timelines, first_user: int, counterpart: np.ndarray, keep: np.ndarray,
                    pop: Population, rng: np.random.Generator, conversation_gap_s: float
                    ) -> tuple[Timelines, np.ndarray, np.ndarray]:
    """The timelines (re-sorted by user and time), counterparts and ``keep`` mask with the kept
    on-network conversations to higher-index ties moved next to the ties' own conversations
    with the user (``zen.network.startbacks.place``; all of a conversation's events by the same
    offset)."""
    conv, first, end = kept_conversations(tl, first_user, counterpart, keep, pop.n_users, conversation_gap_s)
    if len(first) == 0:
        return tl, counterpart, keep
    plan = pop.startbacks
    starter, partner = tl.user[first] + first_user, counterpart[first]
    offset = place(starter, partner, tl.t_s[first], end, partner > starter, plan.partner, pop.n_users,
                   plan.law, plan.window_s, rng, conversation_gap_s)
    t_s = tl.t_s.copy()
    t_s[conv >= 0] += offset[conv[conv >= 0]].astype(t_s.dtype)
    order = np.lexsort((t_s, tl.user))
    return replace(tl, t_s=t_s).take(order), counterpart[order], keep[order]


def hand_over(tl: Timelines, first_user: int, counterpart: np.ndarray, keep: np.ndarray, pop: Population,
              rng: np.random.Generator, conversation_gap_s: float) -> Timelines:
    """The timelines with the directions of the kept on-network conversations each pair's larger
    side hands to the other swapped, every event of them (``zen.network.starters``): chosen at
    random among its conversations with events in both directions."""
    conv, first, _ = kept_conversations(tl, first_user, counterpart, keep, pop.n_users, conversation_gap_s)
    if len(first) == 0:
        return tl
    n = pop.n_users
    starter, partner = (tl.user[first] + first_user).astype(np.int64), counterpart[first].astype(np.int64)
    pairs, pair = np.unique(starter * n + partner, return_inverse=True)
    n_own = np.bincount(pair, minlength=len(pairs))
    n_other = pop.starters.started((pairs % n) * n + pairs // n)
    give = handed_over(n_own, n_other, pop.starters.law, rng)
    has = conv >= 0
    two_way = np.bincount(conv[has], weights=tl.direction[has] == DIR_IN, minlength=len(first)) > 0
    order = np.lexsort((rng.random(len(first)), ~two_way, pair))  # each pair's two-way ones first
    rank = np.empty(len(first), np.int64)
    rank[order] = np.arange(len(first)) - np.searchsorted(pair[order], pair[order])
    swap = two_way & (rank < give[pair])
    flip = np.zeros(len(tl), bool)
    flip[has] = swap[conv[has]]
    direction = tl.direction.copy()
    direction[flip] = np.where(direction[flip] == DIR_IN, DIR_OUT, DIR_IN).astype(direction.dtype)
    return replace(tl, direction=direction)


def repoint_started(user: np.ndarray, counterpart: np.ndarray, t_s: np.ndarray, keep: np.ndarray,
                    rank: np.ndarray, incoming: np.ndarray, pop: Population, rng: np.random.Generator,
                    conversation_gap_s: float) -> np.ndarray:
    """``counterpart`` with each kept on-network conversation that went to a tie given the tie
    :func:`zen.network.partners.choose_partners` draws (all its events move together).

    Conversations are exchanged between ties only within a shape (turns, replied or not, night or
    not: :func:`zen.network.partners.conversation_shape`), so each tie keeps the kind of
    exchanges the traffic model gave it; with ``pop.hour_factor`` (the hour-level rule) the shape
    leaves out night, so that the factor can move night conversations to ties up at night."""
    deg = pop.degree[user].astype(np.int64)
    tie = (rank >= 0) & (deg > 0) & (counterpart >= 0) & (counterpart < pop.n_users) & keep
    conv, first = conversation_starts(user, np.where(tie, counterpart, -1), t_s, conversation_gap_s)
    if len(first) == 0:
        return counterpart
    column = rank[first].astype(np.int64) % deg[first]
    day = np.floor(t_s[first] / DAY_S).astype(np.int64).clip(0)
    has = conv >= 0
    turns = np.bincount(conv[has], minlength=len(first))
    replied = np.bincount(conv[has], incoming[has], minlength=len(first)) > 0
    hours = pop.hour_factor  # the hour-level rule: night conversations may move between ties
    shape = conversation_shape(turns, replied, t_s[first], night=hours is None)
    conv_bin = hour_bin(t_s[first]) if hours is not None else None
    # pair level: only conversations to a tie with a higher index are drawn again, so the tie's
    # own conversations to the user, which the factor reads, are the ones it keeps
    free = np.ones(len(first), bool) if pop.pairs is None else pop.contacts[user[first], column] > user[first]
    picked = column.copy()
    picked[free] = choose_partners(user[first][free], day[free], column[free], pop.contacts, pop.day_factor,
                                   rng, shape[free], pop.pairs, hours,
                                   None if conv_bin is None else conv_bin[free])
    out = counterpart.copy()
    out[conv >= 0] = pop.contacts[user[first], picked][conv[conv >= 0]]
    return out


def mirror_on_network(records: pd.DataFrame, n_users: int) -> pd.DataFrame:
    """The other side's records of the on-network calls/SMS in ``records``.

    Same timestamp, event, duration and answered flag; user and counterpart swapped, direction
    flipped (an ``out`` of u to v is an ``in`` of v from u, and the reverse); the other user's
    cell is left -1 (it is filled where that user's stays are known).
    """
    m = ((records["event"] != "data") & (records["counterpart_id"] >= 0)
         & (records["counterpart_id"] < n_users)).to_numpy()
    src = records.loc[m]
    flipped = np.where(src["direction"].astype(str).to_numpy() == "out", "in", "out")
    return pd.DataFrame({
        "user_id": src["counterpart_id"].to_numpy(),
        "timestamp": src["timestamp"].array,  # keeps the UTC dtype when no record is on-network
        "event": src["event"].array,
        "direction": pd.Categorical(flipped, categories=list(DIRECTIONS)),
        "duration_s": src["duration_s"].to_numpy(),
        "answered": src["answered"].to_numpy(),
        "counterpart_id": src["user_id"].to_numpy(),
        "cell_id": np.full(len(src), -1, np.int64),
        "volume_bytes": np.full(len(src), -1, np.int64),
    })


def shard_counterparts(tl: Timelines, first_user: int, pop: Population, rng: np.random.Generator,
                       pairing: str = "conversation", conversation_gap_s: float = CONVERSATION_GAP_S,
                       partner_rng: np.random.Generator | None = None,
                       chosen: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each timeline event's counterpart id and whether the pairing rule keeps it (``[n]`` each):
    :func:`assemble_shard`'s first step (its arguments). ``chosen``: the counterparts an earlier
    call gave with the same streams (the partner choice is then not drawn again)."""
    user = tl.user + first_user
    counterpart = resolve_counterparts(user, tl.contact_rank, pop, rng)
    on_network = (counterpart >= 0) & (counterpart < pop.n_users)
    if pairing == "starter":
        keep = in_started_conversation(user, np.where(on_network, counterpart, -1), tl.t_s,
                                       tl.direction != DIR_IN, conversation_gap_s)
    elif pairing == "conversation":
        conv = conversation_ids(user, np.where(on_network, counterpart, -1), tl.t_s, conversation_gap_s)
        kept = rng.random(int(conv.max(initial=-1)) + 1) < 0.5
        keep = ~on_network
        keep[on_network] = kept[conv[on_network]]
    elif pairing == "half":
        keep = ~on_network | (rng.random(len(on_network)) < 0.5)
    elif pairing == "outgoing":
        keep = ~((tl.direction == DIR_IN) & on_network)
    else:
        raise ValueError(f"unknown pairing {pairing!r}; use starter, conversation, half or outgoing")
    if chosen is not None:
        counterpart = chosen
    elif pairing == "starter" and pop.day_factor is not None:
        counterpart = repoint_started(user, counterpart, tl.t_s, keep, tl.contact_rank,
                                      tl.direction == DIR_IN, pop, partner_rng or rng, conversation_gap_s)
    return counterpart, keep


def assemble_shard(tl: Timelines, first_user: int, pop: Population, start: pd.Timestamp,
                   stays, place_cell: np.ndarray, rng: np.random.Generator,
                   pairing: str = "conversation",
                   conversation_gap_s: float = CONVERSATION_GAP_S,
                   sessions: SessionModel | None = None,
                   partner_rng: np.random.Generator | None = None,
                   startback_rng: np.random.Generator | None = None,
                   chosen: np.ndarray | None = None,
                   starter_rng: np.random.Generator | None = None) -> pd.DataFrame:
    """Records of one shard's users (their outgoing, data and off-network incoming events).

    Args:
        tl: the shard's sampled timelines (``tl.user`` indexes the shard, 0..shard_size-1).
        first_user: population index of the shard's first user.
        pop: population-wide state.
        start: first instant of the generated period (UTC).
        stays: the shard's mobility stays (``stays.locate(shard_user, t_s) -> place``).
        place_cell: cell serving each place ``[n_places]``.
        rng: random generator (new contacts, the on-network halving).
        pairing: ``starter`` keeps each sampled on-network conversation that the user starts
            (the model samples starter views); ``conversation`` keeps each sampled on-network
            conversation whole with probability 1/2 (the other half comes from the other user's
            own timeline); ``half`` does the same per event; ``outgoing`` keeps the sampled
            outgoing events and drops the incoming ones.
        conversation_gap_s: a pause (seconds) that ends a conversation, for ``conversation``.
        sessions: when given, every data record gets a service, volume and duration from it
            (:mod:`zen.sessions`); the records then carry a ``service`` column.
        partner_rng: random generator of the partner choice (``pairing="starter"`` with
            ``pop.day_factor``; ``rng`` when None).
        startback_rng: random generator of the start-backs (``pairing="starter"`` with
            ``pop.startbacks``; ``rng`` when None).
        chosen: the counterparts :func:`shard_counterparts` gave for these timelines and streams
            (None: drawn here).
        starter_rng: random generator of the hand-over (``pairing="starter"`` with
            ``pop.starters``; ``rng`` when None).

    Returns:
        records (schema ``records``) sorted by (user, time), with cells and counterparts.
    """
    counterpart, keep = shard_counterparts(tl, first_user, pop, rng, pairing, conversation_gap_s,
                                           partner_rng, chosen)
    if pairing == "starter" and pop.startbacks is not None:
        tl, counterpart, keep = move_startbacks(tl, first_user, counterpart, keep, pop,
                                                startback_rng or rng, conversation_gap_s)
    if pairing == "starter" and pop.starters is not None:
        tl = hand_over(tl, first_user, counterpart, keep, pop, starter_rng or rng, conversation_gap_s)
    tl = tl.take(np.flatnonzero(keep))
    records = tl.to_records(start)
    records["user_id"] = records["user_id"] + first_user
    records["counterpart_id"] = counterpart[keep]
    records["cell_id"] = place_cell[stays.locate(tl.user, tl.t_s)]
    return records if sessions is None else add_sessions(records, sessions, rng)
