"""The serving place while a user stays put: what a cell sequence sees of a stationary phone.

A phone that does not move is not served by one cell throughout: idle-mode reselection, load
balancing between layers and sectors and radio fading hand it between the cells around it. In
the Hangzhou data three quarters of consecutive events are in different cells, most of them a few
hundred metres apart, while a user's stays last hours. :func:`serving_stays` adds this to the
emulator's stays: each stay is cut at the points of a Poisson process (mean gap
``serving_dwell_h``); each piece is served by the stay's own place with probability
``serving_main_prob``, otherwise by one of its ``serving_neighbours`` nearest places within
``serving_radius_m`` (uniformly). Consecutive pieces at one place are merged again, so the result
is an ordinary :class:`~zen.mobility.stays.Stays` whose places are the *serving* places; it is
vectorised over all stays (numpy, no loop per user).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zen.mobility.params import HOUR, MobilityParams
from zen.mobility.stays import Stays, stays_from_segments
from zen.network.geo import LocalProjection


def neighbour_table(places: pd.DataFrame, k: int, radius_m: float) -> np.ndarray:
    """``[places, k]`` indices of each place's k nearest other places within ``radius_m``, -1 padded."""
    lat, lon = places["lat"].to_numpy(float), places["lon"].to_numpy(float)
    xy = LocalProjection(float(np.mean(lat)), float(np.mean(lon))).to_xy(lat, lon)
    k_query = min(k + 1, len(places))
    dist, idx = cKDTree(xy).query(xy, k=k_query, distance_upper_bound=radius_m, workers=1)
    dist, idx = np.atleast_2d(dist)[:, 1:], np.atleast_2d(idx)[:, 1:]  # column 0: the place itself
    table = np.where(np.isfinite(dist), idx, -1).astype(np.int64)
    if table.shape[1] < k:
        table = np.pad(table, ((0, 0), (0, k - table.shape[1])), constant_values=-1)
    return table


def serving_stays(stays: Stays, places: pd.DataFrame, params: MobilityParams, seed: int) -> Stays:
    """Stays of the serving places (see the module docstring). Same seed, same output."""
    rng = np.random.default_rng([int(seed), 0x5E4])
    duration = stays.end_s - stays.start_s
    n_cuts = rng.poisson(duration / (params.serving_dwell_h * HOUR))
    stay_of_cut = np.repeat(np.arange(len(stays)), n_cuts)
    cut = stays.start_s[stay_of_cut] + rng.random(len(stay_of_cut)) * duration[stay_of_cut]
    order = np.lexsort((cut, stay_of_cut))
    stay_of_cut, cut = stay_of_cut[order], cut[order]
    # pieces: each stay contributes 1 + n_cuts pieces, in time order
    n_pieces = 1 + n_cuts
    piece_stay = np.repeat(np.arange(len(stays)), n_pieces)
    first_piece = np.cumsum(n_pieces) - n_pieces
    start = stays.start_s[piece_stay].copy()
    later = np.ones(len(piece_stay), dtype=bool)
    later[first_piece] = False
    start[later] = cut
    end = np.r_[start[1:], 0.0]
    last_piece = first_piece + n_pieces - 1
    end[last_piece] = stays.end_s
    neighbours = neighbour_table(places, params.serving_neighbours, params.serving_radius_m)
    place = stays.place[piece_stay].copy()
    other = rng.random(len(place)) >= params.serving_main_prob
    pick = neighbours[place[other], rng.integers(0, neighbours.shape[1], other.sum())]
    place[np.flatnonzero(other)[pick >= 0]] = pick[pick >= 0]  # no neighbour in range: the place itself
    return stays_from_segments(stays.user[piece_stay], start, end, place, stays.period_s, stays.n_users)
