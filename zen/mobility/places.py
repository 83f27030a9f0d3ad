"""Places the users move between, and the gravity choice of a destination without a places² matrix.

The gravity rule of d-EPR (Pappalardo et al. 2015) picks destination j from origin i with
probability ``a_j / max(r_ij, r_min)**k``. An exact row per origin needs ``places²`` memory (10⁴
places -> 10⁸ floats). :class:`GravityIndex` instead groups places into at most ``max_cells``
spatial cells (quantile bins of latitude x longitude, so dense areas get small cells), draws the
destination *cell* from the cell-to-cell gravity matrix (``max_cells²`` floats, 16 MB at 2,048
cells), then a place inside that cell in proportion to ``a_j``. With at most ``max_cells`` places
every place is its own cell and the rule is exact. Both draws are one ``searchsorted`` over a flat
array of cumulative probabilities offset by the row number, so a batch of users costs
O(batch · log(cells²)) and never a per-user loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from zen.geo import EARTH_RADIUS_M, haversine_m  # noqa: F401  (EARTH_RADIUS_M: its old import path)
from zen.schema import ZenInputError

PLACE_COLUMNS = ("place_id", "lat", "lon", "home_weight", "work_weight", "cell_id")
#: Place ids in written tables (``stays/``, ``places.parquet``) start here, so that a place id is
#: never a cell id: a stays table joined to the antennas by mistake matches nothing.
PLACE_ID_BASE = 10**15


def published_places(places: pd.DataFrame) -> pd.DataFrame:
    """The places table as a dataset writes it: ``place_id`` = :data:`PLACE_ID_BASE` + row index
    (the ids of the written stays), ``cell_id`` the place's serving cell."""
    return places.assign(place_id=PLACE_ID_BASE + np.arange(len(places), dtype=np.int64))


def check_places(places: pd.DataFrame, source: str = "places") -> pd.DataFrame:
    """Validate a places table; return it with canonical dtypes.

    Columns: ``place_id`` (int64, equal to the row index 0..P-1, or to
    :data:`PLACE_ID_BASE` + it as a dataset's ``places.parquet`` has it), ``lat``, ``lon``
    (degrees), ``home_weight``, ``work_weight`` (>= 0), ``cell_id`` (int64). The ids returned
    are the row indices.

    Raises:
        ZenInputError: a missing column, or the first bad row and column.
    """
    for name in PLACE_COLUMNS:
        if name not in places.columns:
            raise ZenInputError(f"missing column; a places table needs {list(PLACE_COLUMNS)}", source,
                                column=name)
    if len(places) == 0:
        raise ZenInputError("no places; the emulator needs at least one", source)
    out = places.reset_index(drop=True)
    pid = out["place_id"].to_numpy()
    rows = np.arange(len(out))
    published = pid[0] == PLACE_ID_BASE  # a dataset's places.parquet
    bad = np.flatnonzero(pid != rows + (PLACE_ID_BASE if published else 0))
    if len(bad):
        raise ZenInputError(f"place_id must equal the row index 0..P-1 (or {PLACE_ID_BASE:,} + it), found "
                            f"{pid[bad[0]]}", source, row=int(bad[0]), column="place_id")
    out["place_id"] = rows
    rules = {"lat": lambda x: np.abs(x) <= 90, "lon": lambda x: np.abs(x) <= 180,
             "home_weight": lambda x: x >= 0, "work_weight": lambda x: x >= 0}
    for name, rule in rules.items():
        values = pd.to_numeric(out[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(np.isfinite(values) & rule(values)))
        if len(bad):
            raise ZenInputError(f"invalid value {out[name].iloc[bad[0]]!r}", source, row=int(bad[0]),
                                column=name)
        out[name] = values
    if out["home_weight"].sum() <= 0:
        raise ZenInputError("all home weights are 0; at least one place must have residents", source,
                            column="home_weight")
    cell = pd.to_numeric(out["cell_id"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(cell) | (cell != np.round(cell)))
    if len(bad):
        raise ZenInputError(f"cell_id must be an integer, found {out['cell_id'].iloc[bad[0]]!r}", source,
                            row=int(bad[0]), column="cell_id")
    out["place_id"] = out["place_id"].astype("int64")
    out["cell_id"] = cell.astype("int64")
    return out


def _quantile_cells(lat: np.ndarray, lon: np.ndarray, max_cells: int) -> np.ndarray:
    """Cell index per place: quantile bins of lat x lon, empty cells dropped. ``[places]`` int64."""
    if len(lat) <= max_cells:
        return np.arange(len(lat), dtype=np.int64)
    bins = max(1, int(np.sqrt(max_cells)))
    q = np.linspace(0, 1, bins + 1)[1:-1]
    row = np.searchsorted(np.quantile(lat, q), lat, side="right")
    col = np.searchsorted(np.quantile(lon, q), lon, side="right")
    return np.unique(row * bins + col, return_inverse=True)[1].astype(np.int64)


class GravityIndex:
    """Batched gravity choice of a destination place (see the module docstring).

    Args:
        lat, lon: ``[places]`` degrees.
        attractiveness: ``[places]`` >= 0 (``a_j``); all zero means uniform.
        exponent: distance exponent ``k``.
        min_distance_m: distance floor ``r_min`` in metres.
        max_cells: at most this many cells (memory ``max_cells²`` floats).
        device: where the sampling tensors live.
    """

    def __init__(self, lat: np.ndarray, lon: np.ndarray, attractiveness: np.ndarray, exponent: float,
                 min_distance_m: float, max_cells: int, device: torch.device | str = "cpu"):
        a = np.asarray(attractiveness, dtype=np.float64)
        a = np.ones_like(a) if a.sum() <= 0 else a
        self.cell_of = _quantile_cells(lat, lon, max_cells)
        n_cells = int(self.cell_of.max()) + 1
        mass = np.bincount(self.cell_of, weights=a, minlength=n_cells)
        w = a + 1e-12  # centroids also of zero-weight cells
        wsum = np.bincount(self.cell_of, weights=w, minlength=n_cells)
        clat = np.bincount(self.cell_of, weights=w * lat, minlength=n_cells) / wsum
        clon = np.bincount(self.cell_of, weights=w * lon, minlength=n_cells) / wsum
        spread = haversine_m(lat, lon, clat[self.cell_of], clon[self.cell_of])
        size = np.bincount(self.cell_of, minlength=n_cells)
        within = np.sqrt(np.bincount(self.cell_of, weights=spread**2, minlength=n_cells) / size)
        dist = haversine_m(clat[:, None], clon[:, None], clat[None, :], clon[None, :])
        np.fill_diagonal(dist, within)
        prob = mass[None, :] / np.maximum(dist, min_distance_m) ** exponent
        prob[np.arange(n_cells), np.arange(n_cells)] *= size > 1  # a lone place never draws itself
        self.cell_cum = _flat_cumulative(prob, device)
        order = np.argsort(self.cell_of, kind="stable")
        for_cells = self.cell_of[order]
        csum = np.cumsum(a[order])
        base = np.r_[0.0, csum][np.searchsorted(for_cells, for_cells, side="left")]
        total = np.maximum(mass[for_cells], 1e-300)
        within_cum = np.where(mass[for_cells] > 0, (csum - base) / total, 1.0)
        last = np.r_[for_cells[1:] != for_cells[:-1], True]
        within_cum[last] = 1.0
        self.place_cum = torch.as_tensor(for_cells + within_cum, dtype=torch.float64, device=device)
        self.place_order = torch.as_tensor(order, dtype=torch.int64, device=device)
        self.cell_of_t = torch.as_tensor(self.cell_of, dtype=torch.int64, device=device)
        self.n_cells = n_cells

    def sample(self, origin: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Destination place for each origin place. ``origin``: ``[...]`` int64 -> ``[...]`` int64."""
        device = origin.device
        u = torch.rand((2, *origin.shape), generator=generator, device=device, dtype=torch.float64)
        row = self.cell_of_t[origin]
        pos = _sorted_search(self.cell_cum, row.double() + u[0])
        cell = (pos - row * self.n_cells).clamp_(0, self.n_cells - 1)
        pos = torch.searchsorted(self.place_cum, cell.double() + u[1], right=True)
        return self.place_order[pos.clamp_(max=len(self.place_order) - 1)]


def _sorted_search(sorted_seq: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``torch.searchsorted(sorted_seq, values, right=True)``, searched in sorted order.

    The same result; sorting the queries first makes neighbouring searches walk the same part of a
    large ``sorted_seq`` (the cells x cells table is ~32 MiB), so they hit the cache: ~2x faster.
    """
    flat = values.reshape(-1)
    sorted_values, order = torch.sort(flat)
    pos = torch.empty_like(order)
    pos[order] = torch.searchsorted(sorted_seq, sorted_values, right=True)
    return pos.view(values.shape)


def _flat_cumulative(prob: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """Row-normalised cumulative sums of ``prob`` [rows, cols], flattened with ``+ row`` offsets.

    Row r then occupies the interval ``(r, r+1]``, so ``searchsorted(flat, r + u)`` with ``u`` in
    [0, 1) draws a column of row r. Rows of zeros become uniform.
    """
    rows, cols = prob.shape
    total = prob.sum(axis=1, keepdims=True)
    prob = np.where(total > 0, prob / np.where(total > 0, total, 1.0), 1.0 / cols)
    cum = np.cumsum(prob, axis=1)
    cum[:, -1] = 1.0
    return torch.as_tensor((cum + np.arange(rows)[:, None]).ravel(), dtype=torch.float64, device=device)
