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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zen.geo import LocalProjection
from zen.mobility.params import HOUR, MobilityParams

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def neighbour_table(places: pd.DataFrame, k: int, radius_m: float) -> np.ndarray:
    """``[places, k]`` indices of each place's k nearest other places within ``radius_m``, -1 padded."""
    lat, lon = places["lat"].to_numpy(float), places["lon"].to_numpy(float)
    xy = LocalProjection(float(np.mean(lat)), float(np.mean(lon))).to_xy(lat, lon)
    k_query = min(k + 1, len(places))
    dist, idx = cKDTree(xy).query(xy, k=k_query, distance_upper_bound=radius_m, workers=1)
    dist = np.asarray(dist).reshape(len(places), -1)[:, 1:]  # column 0: the place itself
    idx = np.asarray(idx).reshape(len(places), -1)[:, 1:]
    table = np.where(np.isfinite(dist), idx, -1).astype(np.int64)
    if table.shape[1] < k:
        table = np.pad(table, ((0, 0), (0, k - table.shape[1])), constant_values=-1)
    return table


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
    """

    neighbours: np.ndarray
    dwell_s: float
    main_prob: float
    seed: int

    @classmethod
    def from_params(cls, places: pd.DataFrame, params: MobilityParams, seed: int) -> ServingProcess:
        table = neighbour_table(places, params.serving_neighbours, params.serving_radius_m)
        return cls(table, params.serving_dwell_h * HOUR, params.serving_main_prob, int(seed))

    def observe(self, stay: np.ndarray, t_s: np.ndarray, place: np.ndarray) -> np.ndarray:
        """Serving place of each observation (``stay`` index, time, the stay's place). ``[n]`` int64."""
        if len(stay) == 0:
            return place.astype(np.int64)
        order = np.lexsort((t_s, stay))
        s, t, p = stay[order], t_s[order], place[order]
        ticks = np.round(t * 1000.0).astype(np.int64)  # milliseconds: the hash key of a time
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
