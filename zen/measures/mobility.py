"""Measures of where users are: located records, radius of gyration, cell entropy.

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
