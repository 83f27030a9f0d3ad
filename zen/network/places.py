"""Places: the population-weighted locations the mobility emulator moves between.

A regular grid over the covered area; each grid point carries a ``home_weight`` (residential
population) and a ``work_weight`` (activity), each summing to 1, and the cell serving it.
Weights come from the density of sites (towers are built where people are), from the
monocentric city profile of a synthetic layout, or from a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zen.geo import LocalProjection
from zen.io import read_table
from zen.network.coverage import Coverage
from zen.network.layout import city_density
from zen.schema import ZenInputError, validate


def grid_places(coverage: Coverage, spacing_m: float = 250.0, max_serving_m: float = 3000.0,
                weights: str = "site_density", kernel_m: float = 1000.0, work_concentration: float = 1.5,
                center: tuple[float, float] | None = None, scale_km: float = 4.0) -> pd.DataFrame:
    """A grid of places over the area served by ``coverage``.

    Args:
        coverage: the cells.
        spacing_m: grid step (metres).
        max_serving_m: grid points farther than this from every site are dropped (metres).
        weights: ``site_density`` (home weight ∝ sites within ``kernel_m``) or ``city``
            (∝ exp(-r / scale_km) around ``center`` = (lat, lon)).
        kernel_m: radius of the site-density kernel (metres).
        work_concentration: work weight ∝ home weight ** this; > 1 puts jobs more in the centre
            than homes, as in real cities.
        center: city centre for ``city`` weights (degrees).
        scale_km: density e-folding distance for ``city`` weights (km).

    Returns:
        Places table (``place_id`` = row 0..P-1, ``lat, lon, home_weight, work_weight, cell_id``).
    """
    lo, hi = coverage.site_xy.min(axis=0), coverage.site_xy.max(axis=0)
    gx, gy = np.meshgrid(np.arange(lo[0], hi[0] + spacing_m, spacing_m),
                         np.arange(lo[1], hi[1] + spacing_m, spacing_m))
    xy = np.stack([gx.ravel(), gy.ravel()], axis=1)
    lat, lon = coverage.projection.to_latlon(xy)
    cell, dist = coverage.serving_cell(lat, lon, return_distance=True)
    keep = dist <= max_serving_m
    xy, lat, lon, cell = xy[keep], lat[keep], lon[keep], cell[keep]
    if weights == "site_density":
        home = cKDTree(coverage.site_xy).query_ball_point(xy, r=kernel_m, return_length=True).astype(float)
        home += 0.1  # rural floor: a point with no site nearby still has some population
    elif weights == "city":
        if center is None:
            raise ZenInputError("city place weights need a center (lat, lon)", "places")
        home = city_density(LocalProjection(*center).to_xy(lat, lon), scale_km)
    else:
        raise ZenInputError(f"unknown place weights {weights!r}; use site_density, city or a places file",
                            "places")
    work = home ** work_concentration
    return pd.DataFrame({"place_id": np.arange(len(lat), dtype=np.int64), "lat": lat, "lon": lon,
                         "home_weight": home / home.sum(), "work_weight": work / work.sum(),
                         "cell_id": cell.astype(np.int64)})


def site_places(coverage: Coverage, kernel_m: float = 1000.0, work_concentration: float = 1.5,
                home_concentration: float = 0.0) -> pd.DataFrame:
    """One place per site, at the site: the places an operator's data can tell apart.

    Towers are built where people are, so a uniform weight per site already puts residents ∝
    site density; ``home_concentration`` > 0 multiplies it by the local site density (sites
    within ``kernel_m``) to that power. On Hangzhou 0.5 brings the event density per cell
    cluster closer to the real one but worsens the cell-sequence fit of the mobility emulator
    as a whole (experiments/mobility_real.md), so 0 is the default. The work weight is the home
    weight times the density to the power ``work_concentration - 1``: jobs more central than
    homes, as in :func:`grid_places`.

    Returns:
        Places table (``place_id`` = row 0..P-1, ``lat, lon, home_weight, work_weight, cell_id``).
    """
    lat, lon = coverage.projection.to_latlon(coverage.site_xy)
    density = cKDTree(coverage.site_xy).query_ball_point(coverage.site_xy, r=kernel_m,
                                                          return_length=True).astype(float)
    home = density ** home_concentration
    work = home * density ** (work_concentration - 1.0)
    return pd.DataFrame({"place_id": np.arange(len(lat), dtype=np.int64), "lat": lat, "lon": lon,
                         "home_weight": home / home.sum(), "work_weight": work / work.sum(),
                         "cell_id": coverage.serving_cell(lat, lon).astype(np.int64)})


def read_places(path: str | Path, coverage: Coverage) -> pd.DataFrame:
    """Places from a file with ``lat, lon, home_weight, work_weight``; the serving cell is added."""
    source = str(path)
    raw = read_table(path)
    for col in ("lat", "lon", "home_weight", "work_weight"):
        if col not in raw.columns:
            raise ZenInputError(f"missing column; a places file needs lat, lon, home_weight, work_weight, "
                                f"got {list(raw.columns)}", source, None, col)
    validate(raw.assign(cell_id=0), "antennas", source)
    out = {}
    for col in ("home_weight", "work_weight"):
        w = pd.to_numeric(raw[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ZenInputError(f"weight must be a number >= 0, got {raw[col].iloc[i]!r}", source, i + 1, col)
        if w.sum() <= 0:
            raise ZenInputError("weights sum to zero", source, None, col)
        out[col] = w / w.sum()
    lat, lon = raw["lat"].to_numpy(float), raw["lon"].to_numpy(float)
    return pd.DataFrame({"place_id": np.arange(len(lat), dtype=np.int64), "lat": lat, "lon": lon, **out,
                         "cell_id": coverage.serving_cell(lat, lon).astype(np.int64)})
