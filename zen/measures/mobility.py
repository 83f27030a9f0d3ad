"""Measures of where users are: located records, radius of gyration, cell entropy, and the
cell-level measures of located events (top-cell share, jumps, dwell runs, weekly distinct cells,
home cell, away share by hour, clusters, cluster density, origin-destination flows).

Shared by the evaluation (individual features), the CDR calibration of the mobility model and
the emulator's own measures (:mod:`zen.mobility.measures`), so each is defined once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.geo import haversine_m


def cell_coordinates(records: pd.DataFrame, antennas: pd.DataFrame) -> pd.DataFrame:
    """Records that have a known cell with coordinates, with ``lat``/``lon`` (degrees) joined."""
    cells = antennas.drop_duplicates("cell_id").set_index("cell_id")[["lat", "lon"]]
    located = records[records["cell_id"].isin(cells.index)]
    coords = cells.loc[located["cell_id"].to_numpy()]
    return located.assign(lat=coords["lat"].to_numpy(), lon=coords["lon"].to_numpy())


def radius_of_gyration(user_ids: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                       weights: np.ndarray | None = None) -> pd.Series:
    """Radius of gyration (metres) of each user's locations (González et al., Nature 453, 2008).

    The root mean square great-circle distance of a user's locations to their (weighted) centre
    of mass. Events count once each; pass ``weights`` (e.g. stay durations) to weight them.

    Args:
        user_ids, lat, lon: ``[n]`` the user of each location and its coordinates (degrees).
        weights: ``[n]`` non-negative weights (None: all 1).
    Returns:
        Series indexed by user id, named ``radius_of_gyration_m``.
    """
    user = np.asarray(user_ids)
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    w = np.ones(len(user)) if weights is None else np.asarray(weights, dtype=np.float64)
    sums = pd.DataFrame({"w": w, "wlat": w * lat, "wlon": w * lon}).groupby(user).sum()
    centre_lat = (sums["wlat"] / sums["w"]).reindex(user).to_numpy()
    centre_lon = (sums["wlon"] / sums["w"]).reindex(user).to_numpy()
    d2 = haversine_m(lat, lon, centre_lat, centre_lon) ** 2
    mean_square = pd.Series(w * d2).groupby(user).sum() / sums["w"]
    return np.sqrt(mean_square).rename("radius_of_gyration_m").rename_axis("user_id")


def cell_entropy(user_ids: np.ndarray, cell_ids: np.ndarray) -> pd.Series:
    """Shannon entropy (nats) of each user's distribution of events over cells."""
    counts = pd.DataFrame({"user_id": user_ids, "cell_id": cell_ids}).groupby(
        ["user_id", "cell_id"]).size()
    p = counts / counts.groupby(level=0).transform("sum")
    return (-(p * np.log(p))).groupby(level=0).sum()


def has_cells(records: pd.DataFrame, antennas: pd.DataFrame | None) -> bool:
    """True when at least half the records have a cell that the antennas table locates."""
    if antennas is None or len(antennas) == 0 or len(records) == 0:
        return False
    return bool(records["cell_id"].isin(antennas["cell_id"]).mean() >= 0.5)


# Cell-level measures of located events (records with a cell and its lat/lon, sorted by user then
# time): what zen-evaluate's cells/... rows and the CDR calibration compare.

NIGHT = (22, 6)  # hours [start, end) of the clock that vote for the home cell (wraps midnight)
CLUSTER_DEG = 0.02  # side of the squares that cells are clustered into (degrees, ~2 km)
WEEK_S = 7 * 86400.0


def top_cell_share(user_ids: np.ndarray, cell_ids: np.ndarray) -> pd.Series:
    """Share of each user's events at their most frequent cell. ``[events]`` in, Series by user."""
    counts = pd.DataFrame({"u": user_ids, "c": cell_ids}).groupby(["u", "c"]).size()
    by_user = counts.groupby(level=0)
    return (by_user.max() / by_user.sum()).rename("top_cell_share")


def jump_lengths_m(user_ids: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Distances (metres) between consecutive events of a user at different positions. ``[jumps]``."""
    user_ids, lat, lon = np.asarray(user_ids), np.asarray(lat, float), np.asarray(lon, float)
    same = user_ids[1:] == user_ids[:-1]
    d = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])[same]
    return d[d > 0]


def dwell_times_s(user_ids: np.ndarray, t_s: np.ndarray, cell_ids: np.ndarray) -> np.ndarray:
    """Last minus first event time (s) of each run of >= 2 consecutive events in one cell. ``[runs]``."""
    user_ids, cell_ids, t_s = np.asarray(user_ids), np.asarray(cell_ids), np.asarray(t_s, float)
    head = np.r_[True, (user_ids[1:] != user_ids[:-1]) | (cell_ids[1:] != cell_ids[:-1])]
    run = np.cumsum(head) - 1
    first, last = np.full(run[-1] + 1, np.inf), np.full(run[-1] + 1, -np.inf)
    np.minimum.at(first, run, t_s)
    np.maximum.at(last, run, t_s)
    size = np.bincount(run)
    return (last - first)[size >= 2]


def distinct_cells_per_week(user_ids: np.ndarray, t_s: np.ndarray, cell_ids: np.ndarray) -> pd.Series:
    """Mean over a user's observed weeks (weeks with an event) of their distinct cells that week."""
    week = np.floor(np.asarray(t_s, float) / WEEK_S).astype(np.int64)
    per_week = pd.DataFrame({"u": user_ids, "w": week, "c": cell_ids}).groupby(["u", "w"])["c"].nunique()
    return per_week.groupby(level=0).mean().rename("distinct_cells_per_week")


def home_cells(user_ids: np.ndarray, hours: np.ndarray, cell_ids: np.ndarray) -> pd.Series:
    """Each user's most frequent cell at night (:data:`NIGHT`), or overall when never seen at night."""
    hours = np.asarray(hours)
    night = (hours >= NIGHT[0]) | (hours < NIGHT[1])
    frame = pd.DataFrame({"u": user_ids, "c": cell_ids, "night": night})
    counts = frame.groupby(["u", "c"]).agg(n=("night", "size"), night=("night", "sum")).reset_index()
    counts = counts.sort_values(["u", "night", "n", "c"], ascending=[True, False, False, True], kind="stable")
    return counts.groupby("u")["c"].first().rename("home_cell")


def away_share_by_hour(user_ids: np.ndarray, hours: np.ndarray, cell_ids: np.ndarray) -> np.ndarray:
    """``[24]`` share of events away from the user's home cell, per hour of day (NaN: no event)."""
    home = home_cells(user_ids, hours, cell_ids).reindex(user_ids).to_numpy()
    away = np.asarray(cell_ids) != home
    n = np.bincount(hours, minlength=24).astype(float)
    with np.errstate(invalid="ignore"):
        return np.bincount(hours, weights=away.astype(float), minlength=24) / n


def clusters(lat: np.ndarray, lon: np.ndarray, size_deg: float = CLUSTER_DEG) -> np.ndarray:
    """Cluster key of each position: the ``size_deg`` square it falls in (the same for any data). int64."""
    row = np.floor(np.asarray(lat, float) / size_deg).astype(np.int64)
    col = np.floor(np.asarray(lon, float) / size_deg).astype(np.int64)
    return row * 100_000 + col


def cluster_density(lat: np.ndarray, lon: np.ndarray, size_deg: float = CLUSTER_DEG) -> pd.Series:
    """Share of events per cluster (sums to 1), indexed by cluster key."""
    counts = pd.Series(clusters(lat, lon, size_deg)).value_counts()
    return counts / counts.sum()


def od_flows(user_ids: np.ndarray, lat: np.ndarray, lon: np.ndarray,
             size_deg: float = CLUSTER_DEG) -> pd.Series:
    """Share of moves per (origin, destination) cluster pair, between consecutive events of a user
    in different clusters (sums to 1; empty when nobody moves between clusters)."""
    key = clusters(lat, lon, size_deg)
    user_ids = np.asarray(user_ids)
    move = (user_ids[1:] == user_ids[:-1]) & (key[1:] != key[:-1])
    pairs = pd.Series(list(zip(key[:-1][move], key[1:][move], strict=True)), dtype=object).value_counts()
    return pairs / pairs.sum() if len(pairs) else pairs
