"""Coverage: which cell serves a point. Nearest site (a Voronoi tessellation), then the sector.

A cKDTree over the sites in projected metres answers millions of points per second; when the
antennas have an ``azimuth`` the serving cell of the nearest site is the sector whose azimuth is
closest to the bearing from the site to the point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.geo import LocalProjection


class Coverage:
    """Nearest-site coverage of an antennas table.

    Args:
        antennas: the antennas table (``cell_id, site_id, lat, lon`` [+ ``azimuth`` degrees
            clockwise from north]). Cells of one site share a position (their mean is used).

    Attributes:
        projection: the local metric projection used for distances.
        site_ids: ``[sites]`` site id of each tree point.
        site_xy: ``[sites, 2]`` site positions in metres.
    """

    def __init__(self, antennas: pd.DataFrame):
        ant = antennas.sort_values(["site_id", "cell_id"], kind="stable")
        lat, lon = ant["lat"].to_numpy(float), ant["lon"].to_numpy(float)
        self.projection = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
        self.site_ids, site_index = np.unique(ant["site_id"].to_numpy(np.int64), return_inverse=True)
        xy = self.projection.to_xy(lat, lon)
        counts = np.bincount(site_index)
        self.site_xy = np.stack([np.bincount(site_index, xy[:, k]) / counts for k in (0, 1)], axis=1)
        from scipy.spatial import cKDTree  # here: the shard workers import this module, never build one

        self._tree = cKDTree(self.site_xy)
        # [sites, max_cells] cell ids and azimuths per site, padded with -1 / NaN
        rank = np.arange(len(ant)) - np.repeat(np.cumsum(counts) - counts, counts)
        self._cells = np.full((len(counts), counts.max()), -1, dtype=np.int64)
        self._cells[site_index, rank] = ant["cell_id"].to_numpy(np.int64)
        self._azimuth = np.full(self._cells.shape, np.nan)
        if "azimuth" in ant.columns:
            self._azimuth[site_index, rank] = ant["azimuth"].to_numpy(float)
        self._sectored = bool(np.isfinite(self._azimuth).any())

    @property
    def n_sites(self) -> int:
        return len(self.site_ids)

    def nearest_site(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index (into ``site_ids``) of the nearest site and the distance to it in metres, ``[n]`` each."""
        dist, idx = self._tree.query(self.projection.to_xy(lat, lon), k=1, workers=1)
        return idx.astype(np.int64), dist

    def serving_cell(self, lat: np.ndarray, lon: np.ndarray, return_distance: bool = False
                     ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Cell id serving each point (degrees in, ``[n]`` int64 out; optionally metres to the site)."""
        idx, dist = self.nearest_site(lat, lon)
        column = np.zeros(len(idx), dtype=np.int64)
        if self._sectored:
            d = self.projection.to_xy(lat, lon) - self.site_xy[idx]
            bearing = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0  # clockwise from north
            diff = np.abs((self._azimuth[idx] - bearing[:, None] + 180.0) % 360.0 - 180.0)
            column = np.argmin(np.where(np.isnan(diff), np.inf, diff), axis=1)
        cells = self._cells[idx, column]
        return (cells, dist) if return_distance else cells
