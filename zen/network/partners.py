"""Which tie a started conversation goes to: a shared day-level activity state between partners.

In real data the conversations others start with a user fall on the days that user is active
(``experiments/conversations.md``: shifting each real user's own timeline by whole days keeps
every other statistic and puts burstiness at 2-3x the floor). A traffic model samples each
user alone, so the days its partners are busy are unknown to it. This module restores the
dependency with one fitted number.

When user ``u`` starts a conversation on day ``d``, the tie it goes to is drawn with

    P(v | u, d)  ∝  λ_uv · ((1 + a_vd) / (1 + ā_v)) ** β

* ``λ_uv``: how many of the window's conversations ``u`` starts with ``v`` (the tie's strength
  as ``u`` uses it);
* ``a_vd``: the conversations ``v`` starts on day ``d`` (with anyone), ``ā_v`` their mean over
  the window's days (so the factor is ``v``'s activity that day relative to ``v``'s own). The
  conversation being chosen is ``u``'s, so it is never among them;
* ``β`` (``SocialParams.partner_day_power``): fitted by maximum likelihood of this conditional
  logit on the real two-sided training data (:func:`fit_partner_day_power`); 0 leaves every
  conversation with the tie the traffic model chose.

Each user's choice depends on the others' own activity, not on their choices, so the draws are
independent; two users active on the same day each lean towards the other, which puts their
conversations on their common days as in real data.

In generation (:func:`choose_partners`) ``λ_uv`` is the count in ``u``'s sampled timeline and
``a_vd`` the conversations ``v``'s own sampled timeline starts that day, so the choice depends
only on the sampled timelines, never on which worker runs which shard.

**Pair level** (``partners=pair``): what real partners share is each other's day more than a
busy day in general (a user answers a conversation with one of their own to the same person
that day; experiments/conversations.md). The weight then has a second factor,

    P(v | u, d)  ∝  λ_uv · ((1 + a_vd) / (1 + ā_v)) ** β' · ((1 + c_vud) / (1 + c̄_vu)) ** γ

with ``c_vud`` the conversations ``v`` starts *with u* on day ``d`` and ``c̄_vu`` their mean over
the days (:class:`PairDays`); ``β', γ`` fitted jointly by the same maximum likelihood
(:func:`fit_partner_pair_powers`). In generation ``c_vud`` comes from ``v``'s sampled timeline,
and only the conversations a user starts with a tie of a *higher* index are drawn again: those
with a lower-index tie keep their tie, so the ``c_vud`` a draw reads are ``v``'s final
conversations to ``u`` (had both directions been drawn again, each draw would read the other's
days before that other draw moved them), and the draws still depend only on the sampled
timelines. Measured, it moves no row (experiments/conversations.md): a tie choice can only
permute the ties of days each user's own model fixed.

**Hour level** (``partners=hour``): a night conversation in real data is between two people who
are up at night; a tie drawn by the starter's model alone may never be. The weight then has an
hour factor,

    P(v | u, d, b)  ∝  λ_uv · ((1 + a_vd) / (1 + ā_v)) ** β'' · h_vb(η),
    h_vb(η) = g_vb / Σ_b' p_b' g_vb',   g_vb = ((1 + n_vb) / (1 + p_b n_v)) ** η

with ``b`` the hour-of-day bin of the conversation's start (``HOUR_BINS``: 00-06 h, the night
of the night share, 06-12, 12-18 and 18-24 h), ``n_vb`` the conversations ``v`` starts in bin
``b`` (with anyone, over the window), ``n_v`` their total and ``p_b`` the population's share of
started conversations in bin ``b`` (so a tie with the population's own hour profile has factor
about 1, one with no night start of many conversations a small one at night), the factor taken
over its mean so that it moves a tie's conversations between hours and leaves their number to
``λ_uv`` (:func:`hour_factor`); ``β'', η`` fitted jointly by the same maximum likelihood, with
the tie weights profiled out (:func:`fit_partner_hour_powers`; the conversation being chosen is
``u``'s, never among ``v``'s own starts, so no leave-one-out is needed). In generation the
conversations are then exchanged between ties within a shape of turns and reply only, not night
(:func:`conversation_shape` ``night=False``): with the night class, each tie would keep its
night conversations whatever the factor. Measured, it moves no row either
(experiments/conversations.md): the synthetic graph wires users up at night at random with
respect to each other, and a choice among a user's ties cannot change who they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.measures.conversations import CONVERSATION_GAP_S, conversations
from zen.measures.individual import NIGHT_HOURS

DAY_S = 86400.0
MAX_POWER = 5.0  # |β| bound of the fit (the factor is a ratio of counts; the fit lands well inside)
HOUR_BINS = (0, 6, 12, 18, 24)  # hour-of-day bin edges of the hour factor (the first: NIGHT_HOURS)


class PairDays:
    """Conversations each user starts with each counterpart per day, sparse, and the pair-day
    factor ``((1 + c_vud) / (1 + c̄_vu)) ** power`` of the module docstring.

    Args:
        keys: sorted unique int64 ``(starter * n_users + counterpart) * n_days + day``;
        counts: ``[len(keys)]`` conversations of each; n_users, n_days: the table's size;
        power: γ.
    """

    def __init__(self, keys: np.ndarray, counts: np.ndarray, n_users: int, n_days: int, power: float):
        self.keys, self.counts = np.asarray(keys, np.int64), np.asarray(counts, np.float64)
        self.n_users, self.n_days, self.power = int(n_users), int(n_days), float(power)
        pair = self.keys // self.n_days
        self.pairs, start = np.unique(pair, return_index=True)
        self.totals = np.add.reduceat(self.counts, start) if len(start) else np.zeros(0)

    @classmethod
    def count(cls, starter: np.ndarray, counterpart: np.ndarray, day: np.ndarray, n_users: int,
              n_days: int, power: float) -> PairDays:
        """From one row per started conversation (``[m]`` each; counterparts outside
        ``0..n_users-1`` and days outside ``0..n_days-1`` dropped)."""
        starter, counterpart, day = (np.asarray(x, np.int64) for x in (starter, counterpart, day))
        ok = (counterpart >= 0) & (counterpart < n_users) & (day >= 0) & (day < n_days)
        keys, counts = np.unique((starter[ok] * n_users + counterpart[ok]) * n_days + day[ok],
                                 return_counts=True)
        return cls(keys, counts, n_users, n_days, power)

    @staticmethod
    def _lookup(sorted_keys: np.ndarray, values: np.ndarray, key: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(sorted_keys, key), max(len(sorted_keys) - 1, 0))
        hit = (sorted_keys[at] == key) if len(sorted_keys) else np.zeros(key.shape, bool)
        return np.where(hit, values[at] if len(values) else 0.0, 0.0)

    def factor(self, starter: np.ndarray, counterpart: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The factor of ties ``starter`` (``[r, K]``, -1 or off-network: 1) as the partner of a
        conversation ``counterpart`` (``[r]``) starts on ``day`` (``[r]``). ``[r, K]`` float64."""
        v = np.where((starter >= 0) & (starter < self.n_users), starter, 0).astype(np.int64)
        pair = v * self.n_users + np.asarray(counterpart, np.int64)[:, None]
        c = self._lookup(self.keys, self.counts, pair * self.n_days + np.asarray(day, np.int64)[:, None])
        mean = self._lookup(self.pairs, self.totals, pair) / self.n_days
        return ((1.0 + c) / (1.0 + mean)) ** self.power


def day_activity(user: np.ndarray, t_s: np.ndarray, n_users: int, n_days: int) -> np.ndarray:
    """``[n_users, n_days]`` uint16 count per user and day of the times ``t_s`` (seconds from the
    first midnight; outside ``0..n_days`` days dropped): the conversations each user starts."""
    day = np.floor(np.asarray(t_s, float) / DAY_S).astype(np.int64)
    ok = (day >= 0) & (day < n_days)
    flat = np.asarray(user, np.int64)[ok] * n_days + day[ok]
    counts = np.bincount(flat, minlength=n_users * n_days)
    return np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16).reshape(n_users, n_days)


def day_factor(activity: np.ndarray, power: float) -> np.ndarray:
    """``[n_users, n_days]`` float32 ``((1 + a_vd) / (1 + ā_v)) ** power`` of :func:`day_activity`."""
    a = activity.astype(np.float32)
    return ((1.0 + a) / (1.0 + a.mean(axis=1, keepdims=True))) ** np.float32(power)


def hour_bin(start_s: np.ndarray, edges: tuple[int, ...] = HOUR_BINS) -> np.ndarray:
    """``[m]`` int64 hour-of-day bin (``edges``, hours) of each time ``start_s`` (seconds from a
    midnight of the clock)."""
    hour = np.floor(np.asarray(start_s, float) % DAY_S / 3600.0)
    return np.searchsorted(np.asarray(edges[1:-1], float), hour, side="right").astype(np.int64)


def hour_activity(user: np.ndarray, t_s: np.ndarray, n_users: int,
                  edges: tuple[int, ...] = HOUR_BINS) -> np.ndarray:
    """``[n_users, bins]`` int64 count per user and hour-of-day bin of the times ``t_s`` (seconds
    from the first midnight): the conversations each user starts, over the whole window."""
    n_bins = len(edges) - 1
    flat = np.asarray(user, np.int64) * n_bins + hour_bin(t_s, edges)
    return np.bincount(flat, minlength=n_users * n_bins).reshape(n_users, n_bins)


def hour_factor(hours: np.ndarray, power: float) -> np.ndarray:
    """``[n_users, bins]`` float32 hour factor (module docstring) of :func:`hour_activity` counts
    ``n``: ``g_vb = ((1 + n_vb) / (1 + p_b n_v)) ** power`` (``p_b``: every user's conversations' share
    in bin ``b``) over its mean ``Σ_b p_b g_vb``, so that it moves a tie's conversations between
    hours, not their number (as the day factor over the tie's own mean day)."""
    n = np.asarray(hours, np.float64)
    share = n.sum(axis=0) / max(n.sum(), 1.0)
    g = ((1.0 + n) / (1.0 + n.sum(axis=1, keepdims=True) * share)) ** power
    return (g / (g @ share)[:, None]).astype(np.float32)


def conversation_shape(turns: np.ndarray, replied: np.ndarray, start_s: np.ndarray,
                       night: bool = True) -> np.ndarray:
    """``[m]`` class of each conversation that :func:`choose_partners` keeps per tie: turns 1,
    2-3, 4-7 or 8+, times replied (the other side answered) or not, times (``night``) started at
    night (``zen.measures.individual.NIGHT_HOURS`` of the clock, ``start_s`` seconds from a
    midnight)."""
    hour = np.floor(np.asarray(start_s, float) % DAY_S / 3600.0)
    at_night = (hour >= NIGHT_HOURS[0]) & (hour < NIGHT_HOURS[1])
    turns_class = np.minimum(np.log2(np.maximum(turns, 1)).astype(np.int64), 3)
    shape = 4 * turns_class + 2 * np.asarray(replied, bool)
    return shape + at_night if night else shape


def fit_partner_day_power(choices: dict | None) -> float:
    """β of the module docstring, by maximum likelihood on the real choices of
    :func:`partner_choices`; 0 when there are too few (None)."""
    from scipy.optimize import minimize_scalar

    if choices is None:
        return 0.0
    x = _day_log_factor(choices)
    nll = _choice_nll(choices)
    return float(minimize_scalar(lambda beta: nll(beta * x), bounds=(-MAX_POWER, MAX_POWER),
                                 method="bounded").x)


def fit_partner_pair_powers(choices: dict | None) -> tuple[float, float]:
    """``(β', γ)`` of the pair-level rule (module docstring), jointly by maximum likelihood on
    the same choices as :func:`fit_partner_day_power`; ``(0, 0)`` when there are too few (None)."""
    from scipy.optimize import minimize

    if choices is None:
        return 0.0, 0.0
    v, u, d = choices["v"], choices["u"], choices["d"]
    x_day = _day_log_factor(choices)
    x_pair = np.log(choices["pairs"].factor(v[:, None], u, d)[:, 0])
    nll = _choice_nll(choices)
    best = minimize(lambda b: nll(b[0] * x_day + b[1] * x_pair), np.zeros(2), method="Nelder-Mead",
                    options={"xatol": 1e-5, "fatol": 1e-8})
    beta, gamma = np.clip(best.x, -MAX_POWER, MAX_POWER)
    return float(beta), float(gamma)


def fit_partner_hour_powers(choices: dict | None) -> tuple[float, float]:
    """``(β'', η)`` of the hour-level rule (module docstring), jointly by maximum likelihood on
    the same choices as :func:`fit_partner_day_power`; ``(0, 0)`` when there are too few (None)."""
    from scipy.optimize import minimize

    if choices is None:
        return 0.0, 0.0
    x_day, nll = _day_log_factor(choices), _tie_effect_nll(choices)
    best = minimize(lambda b: nll(b[0] * x_day + _hour_log_factor(choices, b[1])), np.zeros(2),
                    method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-8})
    beta, eta = np.clip(best.x, -MAX_POWER, MAX_POWER)
    return float(beta), float(eta)


def _hour_log_factor(choices: dict, power: float) -> np.ndarray:
    """``[rows]`` log of each candidate's hour factor at ``power`` (η; not linear in it: the
    factor is over its mean)."""
    return np.log(hour_factor(choices["hours"], power)[choices["v"], choices["b"]].astype(float))


def _day_log_factor(choices: dict) -> np.ndarray:
    """``[rows]`` log of each candidate's day factor at power 1 (the covariate β multiplies)."""
    return np.log(day_factor(choices["starts"], 1.0)[choices["v"], choices["d"]].astype(float))


def partner_choices(records: pd.DataFrame, user_ids: np.ndarray,
                    gap_s: float = CONVERSATION_GAP_S) -> dict | None:
    """The real choices both partner-choice fits use, built once: one row per (started
    conversation between two of ``user_ids``, candidate tie of its starter) for conversations
    whose starter has >= 2 ties; None when fewer than 50. ``records``: two-sided records (schema
    ``records``; Copenhagen has both ends); ``user_ids``: the users whose conversations and
    activity the fits use (the training users). Keys: ``u`` (starter), ``v`` (candidate), ``d`` (day),
    ``b`` (hour bin, :func:`hour_bin`), ``log_lam``, ``chosen``, ``group`` (the conversation),
    ``starts`` (:func:`day_activity`), ``hours`` (:func:`hour_activity` of the same
    conversations) and ``pairs`` (:class:`PairDays` of the same conversations, power 1)."""
    users = np.unique(np.asarray(user_ids, np.int64))
    talk = records[(records["event"].astype(str) != "data") & records["user_id"].isin(users)
                   & (records["counterpart_id"] >= 0)]
    if len(talk) == 0:
        return None
    first = talk["timestamp"].min().floor("D")
    conv = conversations(talk, gap_s)
    conv = conv[conv["started_out"].to_numpy()]
    day = ((conv["start"] - first).dt.total_seconds() // DAY_S).to_numpy(np.int64)
    index = pd.Series(np.arange(len(users)), index=users)
    n_days = int(day.max()) + 1
    starts = day_activity(index[conv["user_id"]].to_numpy(), day * DAY_S, len(users), n_days)
    t_s = (conv["start"] - first).dt.total_seconds().to_numpy()
    hours = hour_activity(index[conv["user_id"]].to_numpy(), t_s, len(users))
    on = conv["counterpart_id"].isin(users).to_numpy()
    u, v, d = index[conv["user_id"][on]].to_numpy(), index[conv["counterpart_id"][on]].to_numpy(), day[on]
    b = hour_bin(t_s[on])
    lam = pd.Series(1, index=pd.MultiIndex.from_arrays([u, v])).groupby(level=[0, 1]).sum()
    ties = lam.reset_index().set_axis(["u", "v", "lam"], axis=1)
    # one row per (conversation, candidate tie of its starter)
    cand = pd.DataFrame({"i": np.arange(len(u)), "u": u, "chosen": v, "d": d, "b": b}).merge(ties, on="u")
    size = cand.groupby("i").size()
    cand = cand[cand["i"].isin(size.index[size >= 2])]
    if cand["i"].nunique() < 50:
        return None
    cv = cand["v"].to_numpy()
    _, group = np.unique(cand["i"].to_numpy(), return_inverse=True)
    return {"u": cand["u"].to_numpy(), "v": cv, "d": cand["d"].to_numpy(), "b": cand["b"].to_numpy(),
            "hours": hours,
            "log_lam": np.log(cand["lam"].to_numpy(float)), "chosen": cv == cand["chosen"].to_numpy(),
            "group": group, "starts": starts, "pairs": PairDays.count(u, v, d, len(users), n_days, 1.0)}


def _tie_effect_nll(choices: dict, max_iter: int = 500, tol: float = 1e-9):
    """The conditional logit's negative log-likelihood with one free weight per tie (``λ_uv``
    profiled out), as a function of the factors' log-weight of every candidate row (``[rows]``).

    With ``λ_uv`` the tie's observed count as a fixed offset (:func:`_choice_nll`), a factor that
    is high at the hours a starter talks lifts the tie's count too, and the offset takes that part
    of the effect: on data simulated with known tie weights the hour power comes back about a
    third short. The free weights, at their maximum for the given factors, give every tie back
    its observed count in expectation — what generation keeps (each tie keeps its conversations,
    :func:`choose_partners`) — so the factor's power is fitted on *which* conversations go to a
    tie, not on how many. The weights are found by the fixed point ``λ ← λ · n / E[n]``."""
    chosen, group = choices["chosen"], choices["group"]
    _, tie = np.unique(choices["u"] * (choices["v"].max() + 1) + choices["v"], return_inverse=True)
    count = np.bincount(tie[chosen], minlength=tie.max() + 1).astype(float)
    ok = count > 0
    log_count = np.log(np.where(ok, count, 1.0))

    def probabilities(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        top = np.full(group.max() + 1, -np.inf)
        np.maximum.at(top, group, z)
        norm = np.log(np.bincount(group, np.exp(z - top[group]))) + top
        return np.exp(z - norm[group]), norm

    def nll(extra: np.ndarray) -> float:
        log_w = log_count.copy()
        for _ in range(max_iter):
            p, _ = probabilities(log_w[tie] + extra)
            step = np.where(ok, log_count - np.log(np.maximum(np.bincount(tie, p), 1e-300)), 0.0)
            log_w += step
            if np.abs(step).max() < tol:
                break
        z = log_w[tie] + extra
        _, norm = probabilities(z)
        return float(norm.sum() - z[chosen].sum())
    return nll


def _choice_nll(choices: dict):
    """The conditional logit's negative log-likelihood as a function of the extra log-weight
    ``z - log λ`` of every candidate row (``[rows]``)."""
    log_lam, chosen, group = choices["log_lam"], choices["chosen"], choices["group"]

    def nll(extra: np.ndarray) -> float:
        z = log_lam + extra
        top = np.full(group.max() + 1, -np.inf)
        np.maximum.at(top, group, z)
        norm = np.log(np.bincount(group, np.exp(z - top[group]))) + top
        return float(norm.sum() - z[chosen].sum())
    return nll


def choose_partners(conv_user: np.ndarray, conv_day: np.ndarray, conv_tie: np.ndarray,
                    contacts: np.ndarray, factor: np.ndarray, rng: np.random.Generator,
                    conv_shape: np.ndarray | None = None, pairs: PairDays | None = None,
                    hours: np.ndarray | None = None, conv_bin: np.ndarray | None = None) -> np.ndarray:
    """Draw the tie of each started on-network conversation (the module docstring's rule).

    Each starter keeps exactly as many conversations of each shape (:func:`conversation_shape`)
    with each tie as its timeline gave it (``λ`` per shape: the ties, tie strengths, who replies
    to whom, the volume and the night conversations per tie of the sampled timelines stay as
    they are); only *which* conversations go to which tie follows the ties' activity. The draw
    is sequential without replacement: the starter's conversations of a shape in a random
    order, each to tie ``j`` with probability ∝ (``j``'s conversations of that shape not yet
    placed) · factor of ``j`` that day.

    Args:
        conv_user: ``[m]`` population index of each conversation's starter.
        conv_day: ``[m]`` day of its first event (0-based, clipped to the factor's days).
        conv_tie: ``[m]`` the column of ``contacts`` the traffic model chose (its ``λ`` counts);
            an on-network user's.
        contacts: ``[n_users, K]`` counterpart ids by tie strength (-1 padded).
        factor: ``[n_users, n_days]`` :func:`day_factor` of every user's sampled timeline.
        rng: random generator (one uniform per conversation for the order, one for the draw).
        conv_shape: ``[m]`` small int class of each conversation (e.g. turns, replied or not):
            conversations are only exchanged within a class (None: one class).
        pairs: the ties' own conversations with the starter per day (the pair-level rule's
            second factor, :class:`PairDays`); None: the day factor alone.
        hours: ``[n_users, bins]`` :func:`hour_factor` of every user's sampled timeline (the
            hour-level rule's second factor), with ``conv_bin`` (``[m]``, :func:`hour_bin` of each
            conversation's start); None: no hour factor.

    Returns:
        ``[m]`` the chosen column of ``contacts`` for each conversation.
    """
    m, k = len(conv_user), contacts.shape[1]
    picked = np.zeros(m, np.int64)
    if m == 0:
        return picked
    shape = np.zeros(m, np.int64) if conv_shape is None else np.asarray(conv_shape, np.int64)
    starters, slot = np.unique(np.asarray(conv_user, np.int64) * (shape.max() + 1) + shape,
                               return_inverse=True)
    left = np.bincount(slot * k + conv_tie, minlength=len(starters) * k).reshape(len(starters), k)
    order = np.lexsort((rng.random(m), slot))  # each starter's conversations in a random order
    first = np.searchsorted(slot[order], np.arange(len(starters)))
    position = np.empty(m, np.int64)
    position[order] = np.arange(m) - first[slot[order]]
    by_round = np.argsort(position, kind="stable")
    bounds = np.searchsorted(position[by_round], np.arange(position.max() + 2))
    day = np.minimum(conv_day, factor.shape[1] - 1)
    draw = rng.random(m)
    for r in range(len(bounds) - 1):  # round r: every starter's r-th conversation, at once
        idx = by_round[bounds[r]:bounds[r + 1]]
        partner = contacts[conv_user[idx]]  # looked up per round: memory O(round x K), not O(m x K)
        here = (partner >= 0) & (partner < factor.shape[0])
        w = left[slot[idx]] * np.where(here, factor[np.where(here, partner, 0), day[idx, None]], 0.0)
        if pairs is not None:
            w = w * pairs.factor(partner, conv_user[idx], day[idx])
        if hours is not None:
            w = w * np.where(here, hours[np.where(here, partner, 0), conv_bin[idx, None]], 0.0)
        cum = np.cumsum(w, axis=1)
        pick = (cum <= draw[idx, None] * cum[:, -1:]).sum(axis=1)
        last = k - 1 - np.argmax(w[:, ::-1] > 0, axis=1)  # float rounding at the top end
        pick = np.minimum(pick, last)
        picked[idx] = pick
        left[slot[idx], pick] -= 1
    return picked
