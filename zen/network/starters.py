"""Who starts a pair's conversations: the split between the two sides, as in real pairs.

In real two-sided records the two directions of a tie are balanced: on Copenhagen the numbers
of conversations each side of a pair starts correlate (Spearman 0.65 over pairs that talk both
ways), and a user's share of the conversations they started spreads over 0.31-0.88 (10-90 %).
Zen's users are sampled on their own, so a pair's two counts come from two independent
timelines (correlation ~0.0) and the started shares spread over 0.17-1.0: the per-user
started-share row of ``experiments/conversations.md`` at 2.8× the floor.

In generation (``pairing=starter``, ``starters=auto``), for each pair of users the side that
started more of the pair's conversations hands some of its own to the other: their events
change direction (every ``out`` becomes ``in`` and the reverse, at both ends), so the other side
starts them, until the larger side's share is one drawn from the real shares of pairs with as
many conversations (:func:`fit`). Only conversations with events in both directions are handed
over, so the set of directed ties (and reciprocity) stays as it was; times, turns, reply delays
and every user's events are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = (1, 2, 3, 5, 9, 17, 33)  # lower edges of the pair-size bins (conversations of the pair)
N_QUANTILES = 41  # quantiles of the larger side's share kept per bin in social.json


def size_bin(n: np.ndarray) -> np.ndarray:
    """``[m]`` index of the :data:`BINS` bin of each pair size ``n`` (≥ 1)."""
    return np.searchsorted(np.asarray(BINS), np.asarray(n), side="right") - 1


def fit(starter: np.ndarray, counterpart: np.ndarray, n_users: int) -> dict:
    """The split law of real pairs from their conversations (one entry per conversation: its
    starter and counterpart, both real users ``0..n_users-1``).

    Returns ``{"bins": BINS, "quantiles": [[…], …], "pairs": [...]}``: per pair-size bin,
    ``N_QUANTILES`` quantiles of the larger side's share of the pair's conversations (``[]``
    for a bin without pairs) and the number of pairs.
    """
    starter, counterpart = np.asarray(starter, np.int64), np.asarray(counterpart, np.int64)
    lo, hi = np.minimum(starter, counterpart), np.maximum(starter, counterpart)
    pair, inverse = np.unique(lo * n_users + hi, return_inverse=True)
    total = np.bincount(inverse, minlength=len(pair))
    forward = np.bincount(inverse, weights=starter == lo, minlength=len(pair))
    share = np.maximum(forward, total - forward) / np.maximum(total, 1)
    b = size_bin(total)
    grid = np.linspace(0, 1, N_QUANTILES)
    return {"bins": list(BINS),
            "quantiles": [np.quantile(share[b == k], grid).tolist() if (b == k).any() else []
                          for k in range(len(BINS))],
            "pairs": [int((b == k).sum()) for k in range(len(BINS))]}


def handed_over(n_own: np.ndarray, n_other: np.ndarray, law: dict, rng: np.random.Generator) -> np.ndarray:
    """``[m]`` how many of its conversations each pair's side hands to the other: where it started
    more (``n_own > n_other``), down to the larger share drawn from the law for the pair's size
    (never below half); 0 elsewhere."""
    n_own, n_other = np.asarray(n_own, np.int64), np.asarray(n_other, np.int64)
    total = n_own + n_other
    out = np.zeros(len(n_own), np.int64)
    larger = np.flatnonzero(n_own > n_other)
    if len(larger) == 0:
        return out
    table = _quantile_table(law["quantiles"])
    b = size_bin(total[larger])
    x = rng.random(len(larger)) * (table.shape[1] - 1)
    j = np.minimum(x.astype(np.int64), table.shape[1] - 2)
    share = table[b, j] + (x - j) * (table[b, j + 1] - table[b, j])
    keep = np.maximum(np.round(share * total[larger]), np.ceil(total[larger] / 2)).astype(np.int64)
    out[larger] = np.maximum(n_own[larger] - keep, 0)
    return out


def _quantile_table(quantiles: list[list[float]]) -> np.ndarray:
    """``[bins, N_QUANTILES]``: each bin's quantiles, an empty bin taking the nearest smaller
    filled one's (the nearest larger one's below the first filled)."""
    filled = [k for k, q in enumerate(quantiles) if len(q)]
    if not filled:
        return np.ones((len(quantiles), N_QUANTILES))
    rows = [quantiles[max([f for f in filled if f <= k], default=filled[0])] for k in range(len(quantiles))]
    return np.asarray(rows, np.float64)


def fit_records(records, user_ids: np.ndarray, gap_s: float | None = None) -> dict:
    """:func:`fit` on real two-sided records (schema ``records``): the conversations
    (``zen.measures.conversations``) between two of ``user_ids``, each by its starter's copy."""
    from zen.network.startbacks import started_between

    starter, counterpart, _, _, n = started_between(records, user_ids, gap_s)
    return fit(starter, counterpart, n)


@dataclass
class StarterPlan:
    """What generation hands conversations over by: every user's kept conversations per
    counterpart (``key`` = starter × n_users + counterpart, sorted, with ``count``) and the
    fitted law (``social.json`` ``starter_split``)."""

    key: np.ndarray
    count: np.ndarray
    law: dict

    @classmethod
    def of(cls, starter: np.ndarray, counterpart: np.ndarray, count: np.ndarray, n_users: int,
           law: dict) -> StarterPlan:
        key = np.asarray(starter, np.int64) * n_users + np.asarray(counterpart, np.int64)
        order = np.argsort(key, kind="stable")
        return cls(key[order], np.asarray(count, np.int64)[order], law)

    def started(self, key: np.ndarray) -> np.ndarray:
        """``[m]`` the conversations of each ``key`` (0 when none)."""
        pos = np.minimum(np.searchsorted(self.key, key), max(len(self.key) - 1, 0))
        hit = (self.key[pos] == key) if len(self.key) else np.zeros(len(key), bool)
        return np.where(hit, self.count[pos] if len(self.key) else 0, 0)
