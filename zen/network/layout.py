"""Synthetic tower layouts for users without tower data.

Sites follow population: by default a monocentric city whose density falls exponentially with
distance from the centre (Clark's model, J. R. Stat. Soc. A 114:490, 1951), which gives urban
inter-site distances of a few hundred metres and rural ones of a few km; or a population grid file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zen.geo import LocalProjection
from zen.io import read_table
from zen.schema import ZenInputError, validate


def sample_city_points(n: int, scale_km: float, radius_km: float, rng: np.random.Generator) -> np.ndarray:
    """``[n, 2]`` points (metres from the centre) with density ∝ exp(-r / scale) inside ``radius``.

    The radius of a 2-D exponential density is Gamma(2, scale) distributed; draws beyond the
    radius are redrawn (vectorised rejection).
    """
    r = np.empty(0)
    while len(r) < n:
        draw = rng.gamma(2.0, scale_km, size=2 * (n - len(r)) + 16)
        r = np.concatenate([r, draw[draw <= radius_km]])
    r = r[:n] * 1000.0
    theta = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def thin_to_spacing(xy_m: np.ndarray, density_per_m2: np.ndarray, n: int, rng: np.random.Generator,
                    spacing_factor: float = 0.5) -> np.ndarray:
    """Keep ``n`` of the candidate points ``[m, 2]``, none closer than a local minimum spacing.

    Matérn type-II thinning: each candidate gets a random mark and is dropped when a candidate
    with a lower mark lies within ``spacing_factor / sqrt(n * density)`` of it (the local mean
    inter-point distance, scaled), so dense areas stay dense but no two sites sit on top of each
    other, as in real networks. ``density_per_m2`` is the normalised target density at each
    candidate. Returns the indices of the kept candidates, ``[<= n]``.
    """
    mark = rng.random(len(xy_m))
    radius = spacing_factor / np.sqrt(n * density_per_m2)
    from scipy.spatial import cKDTree

    tree = cKDTree(xy_m)
    neighbours = tree.query_ball_point(xy_m, r=radius)
    owner = np.repeat(np.arange(len(xy_m)), [len(nb) for nb in neighbours])
    other = np.concatenate([np.asarray(nb, dtype=np.int64) for nb in neighbours])
    beaten = np.zeros(len(xy_m), bool)
    beaten[owner[mark[other] < mark[owner]]] = True
    survivors = np.flatnonzero(~beaten)
    return survivors[np.argsort(mark[survivors])][:n]


def city_density(xy_m: np.ndarray, scale_km: float) -> np.ndarray:
    """Relative population density exp(-r / scale) at points ``[n, 2]`` (metres from the centre)."""
    return np.exp(-np.hypot(xy_m[:, 0], xy_m[:, 1]) / (scale_km * 1000.0))


def synthetic_layout(n_sites: int, center_lat: float, center_lon: float, radius_km: float,
                     scale_km: float = 4.0, sectors: int = 3, population_grid: str | Path | None = None,
                     grid_cell_m: float = 1000.0, seed: int = 0) -> pd.DataFrame:
    """Place ``n_sites`` sites with density following population; ``sectors`` cells per site.

    Args:
        n_sites: number of sites.
        center_lat: city centre latitude (degrees).
        center_lon: city centre longitude (degrees).
        radius_km: sites lie within this distance of the centre (km).
        scale_km: e-folding distance of the density (km); smaller = more compact city.
        sectors: cells per site, with azimuths 360/sectors apart (random rotation per site);
            1 gives omni cells without azimuth.
        population_grid: optional CSV/Parquet with ``lat, lon, population`` per grid cell; sites
            are then drawn ∝ population, uniformly within each cell (``center``/``radius``/``scale``
            are ignored).
        grid_cell_m: side of a population grid cell (metres).
        seed: random seed.

    Returns:
        Antennas (``cell_id, site_id, lat, lon, radio`` [+ ``azimuth`` degrees]); cell ids are
        ``site_id * sectors + sector``. Sites keep a minimum distance of half the local mean
        spacing (:func:`thin_to_spacing`); in a very compact city this can leave a few fewer than
        ``n_sites`` sites.
    """
    if n_sites < 1:
        raise ZenInputError(f"n_sites must be >= 1, got {n_sites}", "synthetic_layout")
    rng = np.random.default_rng(seed)
    if population_grid is not None:
        lat, lon = _sites_from_grid(Path(population_grid), n_sites, grid_cell_m, rng)
    else:
        proj = LocalProjection(center_lat, center_lon)
        candidates = sample_city_points(3 * n_sites, scale_km, radius_km, rng)
        density = city_density(candidates, scale_km) / (2 * np.pi * (scale_km * 1000.0) ** 2)
        lat, lon = proj.to_latlon(candidates[thin_to_spacing(candidates, density, n_sites, rng)])
        n_sites = len(lat)
    site = np.repeat(np.arange(n_sites, dtype=np.int64), sectors)
    frame = pd.DataFrame({"cell_id": site * sectors + np.tile(np.arange(sectors), n_sites), "site_id": site,
                          "lat": np.repeat(lat, sectors), "lon": np.repeat(lon, sectors), "radio": "LTE"})
    if sectors > 1:
        rotation = rng.uniform(0.0, 360.0 / sectors, n_sites)
        frame["azimuth"] = (np.repeat(rotation, sectors) + np.tile(np.arange(sectors), n_sites)
                            * 360.0 / sectors) % 360.0
    return validate(frame, "antennas", "synthetic_layout")


def _sites_from_grid(path: Path, n_sites: int, cell_m: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    grid = read_population_grid(path)
    p = grid["population"].to_numpy(float)
    cell = rng.choice(len(grid), size=n_sites, p=p / p.sum())
    proj = LocalProjection(float(grid["lat"].mean()), float(grid["lon"].mean()))
    xy = proj.to_xy(grid["lat"].to_numpy()[cell], grid["lon"].to_numpy()[cell])
    xy += rng.uniform(-cell_m / 2, cell_m / 2, size=xy.shape)
    return proj.to_latlon(xy)


def read_population_grid(path: Path) -> pd.DataFrame:
    """A population grid file (``lat, lon, population``), checked: one-line errors on bad rows."""
    grid = read_table(path)
    for col in ("lat", "lon", "population"):
        if col not in grid.columns:
            raise ZenInputError(f"missing column; a population grid needs lat, lon, population, got "
                                f"{list(grid.columns)}", str(path), None, col)
    validate(grid.rename(columns={"population": "cell_id"}).assign(cell_id=0), "antennas", str(path))
    pop = pd.to_numeric(grid["population"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(pop) | (pop < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ZenInputError(f"population must be a number >= 0, got {grid['population'].iloc[i]!r}",
                            str(path), i + 1, "population")
    if pop.sum() <= 0:
        raise ZenInputError("the population grid sums to zero", str(path), None, "population")
    return pd.DataFrame({"lat": grid["lat"].astype(float), "lon": grid["lon"].astype(float),
                         "population": pop})
