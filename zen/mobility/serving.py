"""The serving place while a user stays put: what a cell sequence sees of a stationary phone.

A phone that does not move is not served by one cell throughout: idle-mode reselection, load
balancing between layers and sectors and radio fading hand it between the cells around it. In
the Hangzhou data three quarters of consecutive events are in different cells, most of them a few
hundred metres apart, while a user's stays last hours. The model: within a stay, the serving
place changes at the points of a Poisson process (mean gap ``serving_dwell_h``); after each
change it is the stay's own place with probability ``serving_main_prob``, else one of its
``serving_neighbours`` nearest places within ``serving_radius_m`` (uniformly).

It is applied where positions are *observed*, in :meth:`zen.mobility.stays.Stays.locate`, not by
cutting the stays into pieces: by memorylessness, two consecutive observations of one stay ``g``
seconds apart see the same serving place with probability ``exp(-g / dwell)`` and a fresh draw
otherwise, and the first observation of a stay is a fresh draw — exactly the observed law of the
cut process, at O(observations) cost, so the stays (and their memory) stay what the emulator made.
The draws are counter-based hashes of (seed, stay, time), so the same query gives the same cell
whatever shard order; observations are correlated only with those in the same ``locate`` call.

**Activity-aware law** (``MobilityParams.serving_activity``, fitted by
:func:`zen.mobility.cdr_calibration.fit_cell_sequences` with ``activity=True``). In real data the
serving cell changes far more often between events close in time than between events an hour
apart (a phone in a burst of use is handed between cells; a quiet one camps on one), which no
process independent of the user's events can reproduce. Then the chance that an observation keeps
the serving place of the user's previous one (same stay) is read from a table ``keep[gap bin,
burst bin]`` instead of ``exp(-gap / dwell)``: the gap to the previous event and the nearest other
event around the pair (:func:`pair_bins`), both of the user's events in the ``locate`` call. When
it does not keep, it *changes*: a place drawn as above but never the current one (renormalised).

**Handover distance law** (``serving_activity["handover"]``, fitted with ``handover=True``): the
neighbour a change goes to is not uniform among the 8 nearest but drawn among the ``neighbours``
nearest within ``serving_radius_m`` with weight ``weight[distance bin]`` (bins ``edges_m``), so
serving hops follow the distances real phones are handed over (see
:class:`zen.mobility.cdr_calibration.HandoverLaw`). Absent, the uniform choice is kept byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zen.geo import LocalProjection
from zen.mobility.params import HOUR, MobilityParams

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
#: bins of the activity-aware law (seconds): the gap to the user's previous event, and how busy the
#: user is around the pair (the nearest other event before or after it: a burst, a session, alone)
GAP_EDGES_S = (60.0, 300.0, 900.0, 3600.0, 14400.0, 43200.0)
BURST_EDGES_S = (300.0, 3600.0)


def pair_bins(user: np.ndarray, t_s: np.ndarray, gap_edges_s=GAP_EDGES_S,
              burst_edges_s=BURST_EDGES_S) -> np.ndarray:
    """Bin of each observation's pair with the same user's previous observation. ``[n]`` int64.

    Observations sorted by (user, time). The bin is ``gap_bin * (len(burst_edges_s) + 1) +
    burst_bin``: the gap between the two, and the smaller of the gap before the first and the gap
    after the second (infinite where there is none); -1 for a user's first observation.
    """
    user, t = np.asarray(user), np.asarray(t_s, dtype=np.float64)
    same = np.concatenate([[False], user[1:] == user[:-1]])
    before = np.where(same, np.concatenate([[np.inf], np.diff(t)]), np.inf)  # [n] gap to the previous one
    around = np.minimum(np.concatenate([[np.inf], before[:-1]]), np.concatenate([before[1:], [np.inf]]))
    b = np.digitize(before, gap_edges_s) * (len(burst_edges_s) + 1) + np.digitize(around, burst_edges_s)
    return np.where(same, b, -1).astype(np.int64)


def neighbour_table(places: pd.DataFrame, k: int, radius_m: float) -> np.ndarray:
    """``[places, k]`` indices of each place's k nearest other places within ``radius_m``, -1 padded."""
    return neighbours_with_distance(places, k, radius_m)[0]


def neighbours_with_distance(places: pd.DataFrame, k: int, radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbour_table` and ``[places, k]`` the distances to them (metres; inf where -1)."""
    lat, lon = places["lat"].to_numpy(float), places["lon"].to_numpy(float)
    xy = LocalProjection(float(np.mean(lat)), float(np.mean(lon))).to_xy(lat, lon)
    k_query = min(k + 1, len(places))
    dist, idx = cKDTree(xy).query(xy, k=k_query, distance_upper_bound=radius_m, workers=1)
    dist = np.asarray(dist).reshape(len(places), -1)[:, 1:]  # column 0: the place itself
    idx = np.asarray(idx).reshape(len(places), -1)[:, 1:]
    table = np.where(np.isfinite(dist), idx, -1).astype(np.int64)
    if table.shape[1] < k:
        table = np.pad(table, ((0, 0), (0, k - table.shape[1])), constant_values=-1)
        dist = np.pad(dist, ((0, 0), (0, k - dist.shape[1])), constant_values=np.inf)
    return table, dist


def handover_weights(dist: np.ndarray, law: dict) -> np.ndarray:
    """Weight of each candidate at distance ``dist`` (metres, any shape) under the handover ``law``
    (``edges_m``, ``weight`` per bin); 0 outside the bins or where there is no candidate."""
    edges, weight = np.asarray(law["edges_m"], float), np.asarray(law["weight"], float)
    b = np.searchsorted(edges, dist, side="right") - 1
    ok = np.isfinite(dist) & (b >= 0) & (b < len(weight))
    return np.where(ok, weight[np.clip(b, 0, len(weight) - 1)], 0.0)


def _uniform(seed: int, a: np.ndarray, b: np.ndarray, salt: int) -> np.ndarray:
    """Uniforms in [0, 1) from a splitmix64 hash of (seed, a, b, salt), elementwise. ``[n]``."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(salt)) & _MASK
        x = x ^ (a.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9))
        x = x ^ (b.astype(np.uint64) * np.uint64(0x94D049BB133111EB))
        for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            x = (x ^ (x >> np.uint64(shift))) * np.uint64(mult)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass
class ServingProcess:
    """The serving process of one simulation (see the module docstring).

    Attributes:
        neighbours: ``[places, k]`` candidate serving places of each place (-1: none).
        dwell_s: mean time between serving changes within a stay (seconds).
        main_prob: probability that a change lands on the stay's own place.
        seed: seeds the hashed draws.
        keep: ``[gap bins, burst bins]`` the activity-aware law (None: the exponential one).
        gap_edges_s, burst_edges_s: the bins of ``keep`` (:func:`pair_bins`).
        weights: ``[places, k]`` handover weight of each candidate (None: uniform among them).
    """

    neighbours: np.ndarray
    dwell_s: float
    main_prob: float
    seed: int
    keep: np.ndarray | None = None
    gap_edges_s: tuple = field(default=GAP_EDGES_S)
    burst_edges_s: tuple = field(default=BURST_EDGES_S)
    weights: np.ndarray | None = None

    @classmethod
    def for_params(cls, places: pd.DataFrame, params: MobilityParams, seed: int) -> ServingProcess | None:
        """The serving process ``params`` ask for (a serving dwell or the activity-aware law),
        None when they ask for none (an event is then served by its stay's own place)."""
        if params.serving_dwell_h > 0 or params.serving_activity:
            return cls.from_params(places, params, seed)
        return None

    @classmethod
    def from_params(cls, places: pd.DataFrame, params: MobilityParams, seed: int) -> ServingProcess:
        table = neighbour_table(places, params.serving_neighbours, params.serving_radius_m)
        act = params.serving_activity
        if act:
            weights = None
            if act.get("handover"):
                law = act["handover"]
                k, radius = int(law["neighbours"]), params.serving_radius_m
                table, dist = neighbours_with_distance(places, k, radius)
                weights = handover_weights(dist, law)
                table = np.where(weights > 0, table, -1)
            return cls(table, params.serving_dwell_h * HOUR, params.serving_main_prob, int(seed),
                       np.asarray(act["keep"], dtype=np.float64), tuple(act["gap_edges_s"]),
                       tuple(act["burst_edges_s"]), weights)
        return cls(table, params.serving_dwell_h * HOUR, params.serving_main_prob, int(seed))

    def observe(self, stay: np.ndarray, t_s: np.ndarray, place: np.ndarray,
                user: np.ndarray | None = None) -> np.ndarray:
        """Serving place of each observation (``stay`` index, time, the stay's place; ``user``, for
        the activity-aware law: whose events they are, else the stays'). ``[n]`` int64."""
        if len(stay) == 0:
            return place.astype(np.int64)
        order = np.lexsort((t_s, stay))
        s, t, p = stay[order], t_s[order], place[order]
        ticks = np.round(t * 1000.0).astype(np.int64)  # milliseconds: the hash key of a time
        if self.keep is not None:
            served = self._observe_activity(s, t, p, ticks, (stay if user is None else user)[order])
            out = np.empty_like(served)
            out[order] = served
            return out
        gap = np.r_[0.0, np.maximum(np.diff(t), 0.0)]  # across stays: unused (a change anyway)
        stay_on = _uniform(self.seed, s, ticks, 1) < np.exp(-gap / self.dwell_s)  # no change since the last
        change = np.r_[True, s[1:] != s[:-1]] | ~stay_on
        head = np.flatnonzero(change)
        main = _uniform(self.seed, s[head], ticks[head], 2) < self.main_prob
        n_nb = self.neighbours.shape[1]
        k = np.minimum((_uniform(self.seed, s[head], ticks[head], 3) * n_nb).astype(np.int64), n_nb - 1)
        pick = self.neighbours[p[head], k]
        served = np.where(main | (pick < 0), p[head], pick)[np.cumsum(change) - 1]
        out = np.empty_like(served)
        out[order] = served
        return out

    def _observe_activity(self, s: np.ndarray, t: np.ndarray, p: np.ndarray, ticks: np.ndarray,
                          user: np.ndarray) -> np.ndarray:
        """The activity-aware law on observations sorted by (stay, time). ``[n]`` int64."""
        bins = pair_bins(user, t, self.gap_edges_s, self.burst_edges_s)
        same = np.concatenate([[False], s[1:] == s[:-1]])
        keep_p = np.where(bins >= 0, self.keep.ravel()[np.maximum(bins, 0)], 0.0)
        change = ~(same & (_uniform(self.seed, s, ticks, 1) < keep_p))
        head = np.flatnonzero(change)
        if self.weights is not None:
            return self._weighted_changes(s, p, ticks, same, head)[np.cumsum(change) - 1]
        n_nb = (self.neighbours >= 0).sum(1)[p[head]]  # a row's valid neighbours come first
        u = _uniform(self.seed, s[head], ticks[head], 2)
        rank, by_rank, bounds = _change_ranks(same, head)
        choice = np.zeros(len(head), dtype=np.int64)  # 0: the stay's own place, k >= 1: neighbour k - 1
        main = self.main_prob
        for r in range(rank.max() + 1):  # a change excludes the place it changes from: rank by rank
            sel = by_rank[bounds[r]:bounds[r + 1]]
            n, x = n_nb[sel], u[sel]
            prev = choice[sel - 1] if r > 0 else np.zeros(len(sel), dtype=np.int64)
            if r == 0:  # a stay's first observation: own place w.p. main_prob, else a neighbour
                q, m, skip, rest = np.where(n > 0, main, 1.0), n, prev, np.ones(len(sel))
            else:
                from_own = prev == 0
                others = (1.0 - main) * np.maximum(n - 1, 0) / np.maximum(n, 1)  # the other neighbours' mass
                rest = np.where(from_own, np.where(n > 0, 1.0 - main, 0.0), main + others)  # mass left
                q = np.where(from_own, 0.0, main / np.maximum(rest, 1e-12))
                m, skip = np.where(from_own, n, n - 1), np.where(from_own, 0, prev)
            k = np.minimum(((x - q) / np.maximum(1.0 - q, 1e-12) * m).astype(np.int64),
                           np.maximum(m - 1, 0)) + 1
            pick = np.where((x < q) | (m <= 0), 0, k + ((skip > 0) & (k >= skip)))
            choice[sel] = np.where(rest > 0, pick, prev)  # nowhere else to go: no change
        served = np.where(choice == 0, p[head], self.neighbours[p[head], np.maximum(choice - 1, 0)])
        return served[np.cumsum(change) - 1]

    def _weighted_changes(self, s: np.ndarray, p: np.ndarray, ticks: np.ndarray, same: np.ndarray,
                          head: np.ndarray) -> np.ndarray:
        """Serving place after each change (``head``) with the handover weights: the stay's own place
        with mass ``main_prob``, neighbour j with ``(1 - main_prob) w_j / sum w``, the current one
        excluded (renormalised). ``[len(head)]`` int64."""
        w = self.weights[p[head]]  # [changes, k]
        total = w.sum(1, keepdims=True)
        has = total[:, 0] > 0
        mass = np.concatenate([np.where(has, self.main_prob, 1.0)[:, None],
                               (1.0 - self.main_prob) * w / np.where(total > 0, total, 1.0)], axis=1)
        u = _uniform(self.seed, s[head], ticks[head], 2)
        rank, by_rank, bounds = _change_ranks(same, head)
        choice = np.zeros(len(head), dtype=np.int64)  # 0: the stay's own place, k >= 1: neighbour k - 1
        for r in range(rank.max() + 1):  # a change excludes the place it changes from: rank by rank
            sel = by_rank[bounds[r]:bounds[r + 1]]
            m = mass[sel]
            if r > 0:
                prev = choice[sel - 1]
                m = m.copy()
                m[np.arange(len(sel)), prev] = 0.0
            cum = np.cumsum(m, axis=1)
            x = u[sel] * cum[:, -1]
            pick = np.minimum((cum <= x[:, None]).sum(1), m.shape[1] - 1)
            choice[sel] = np.where(cum[:, -1] > 0, pick, choice[sel - 1] if r > 0 else 0)
        nb = self.neighbours[p[head], np.maximum(choice - 1, 0)]
        return np.where((choice == 0) | (nb < 0), p[head], nb)


def _change_ranks(same: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the changes ``head`` (indices into observations; ``same``: an observation continues the
    previous one's stay): each change's rank since its stay began, the changes sorted by rank,
    and where each rank starts in that order (``[rank.max() + 2]``)."""
    idx = np.arange(len(head))
    rank = idx - np.maximum.accumulate(np.where(~same[head], idx, 0))
    by_rank = np.argsort(rank, kind="stable")
    return rank, by_rank, np.searchsorted(rank[by_rank], np.arange(rank.max() + 2))
