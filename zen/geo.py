"""Geometry on the Earth: one Earth radius, one local metric projection, great-circle distances.

Every module that turns degrees into metres imports from here.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (metres, IUGG R1)


class LocalProjection:
    """Equirectangular projection around a reference point: degrees -> metres.

    Accurate to well under 1 % within a few tens of km of the reference, which is all a city
    needs; nearest-site queries in these metres agree with great-circle nearest sites.

    Args:
        lat0: reference latitude (degrees).
        lon0: reference longitude (degrees).
    """

    def __init__(self, lat0: float, lon0: float):
        self.lat0, self.lon0 = float(lat0), float(lon0)
        self._kx = np.deg2rad(1.0) * EARTH_RADIUS_M * np.cos(np.deg2rad(self.lat0))
        self._ky = np.deg2rad(1.0) * EARTH_RADIUS_M

    def to_xy(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Degrees -> metres east/north of the reference, shape ``[n, 2]``."""
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        return np.stack([(lon - self.lon0) * self._kx, (lat - self.lat0) * self._ky], axis=-1)

    def to_latlon(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metres ``[n, 2]`` -> (lat, lon) in degrees."""
        xy = np.asarray(xy, dtype=np.float64)
        return xy[..., 1] / self._ky + self.lat0, xy[..., 0] / self._kx + self.lon0


def haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between points given in degrees (broadcasts)."""
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dp, dl = p2 - p1, np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
