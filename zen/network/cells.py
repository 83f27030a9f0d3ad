"""Real cell towers: read a tower file into Zen's antennas table.

Formats:
    ``opencellid``        OpenCellID export (``radio,mcc,net,area,cell,unit,lon,lat,range,...``,
                          with or without the header line).
    ``milan_aggregated``  ``aggregated_bs_data-*.csv`` of the Milan folder: one row per aggregated
                          site (``aggregated_bs_id,type,n_base_stations,lng,lat``).
    ``milan_mapped``      ``cell_base_stations_mapped-LTE.csv``: one row per (LTE cell, Milan grid
                          square) pair (``bs_id,type,range,created,lng,lat,cellId,distance``).
    ``generic``           any CSV/Parquet plus ``mapping`` {schema column: file column}.

Duplicate cell ids are never dropped silently: ``duplicates="first"`` keeps the first row of each
id (file order) and reports how many rows it dropped (log line + ``df.attrs``);
``duplicates="error"`` raises a :class:`ZenInputError` naming the second occurrence.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from zen.io import read_table
from zen.schema import ZenInputError, validate

log = logging.getLogger(__name__)

OPENCELLID_COLUMNS = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
                      "changeable", "created", "updated", "averageSignal"]

# format -> {schema column: file column}
FORMAT_COLUMNS: dict[str, dict[str, str]] = {
    "opencellid": {"cell_id": "cell", "lat": "lat", "lon": "lon", "radio": "radio"},
    "milan_aggregated": {"cell_id": "aggregated_bs_id", "site_id": "aggregated_bs_id", "lat": "lat",
                         "lon": "lng", "radio": "type"},
    "milan_mapped": {"cell_id": "bs_id", "lat": "lat", "lon": "lng", "radio": "type"},
}
SITE_DECIMALS = 5  # cells within ~1 m (1e-5 degree) of each other share a site when no site column


def load_towers(path: str | Path, fmt: str = "opencellid", mapping: Mapping[str, str] | None = None,
                duplicates: str = "first", read_options: Mapping | None = None,
                bbox: list[float] | None = None) -> pd.DataFrame:
    """Read a cell-tower file into the antennas table (``cell_id, site_id, lat, lon, radio``).

    Args:
        path: CSV or Parquet file.
        fmt: ``opencellid``, ``milan_aggregated``, ``milan_mapped`` or ``generic``.
        mapping: {schema column: file column}; required for ``generic``, overrides the format's
            columns otherwise. Schema columns: ``cell_id, site_id, lat, lon, radio, azimuth``.
        duplicates: ``first`` (keep the first row of a repeated cell id, report the rest) or
            ``error``. In ``milan_mapped`` a cell repeated at the same position is one cell mapped
            onto several grid squares, not a duplicate; only repeats at other positions count.
        read_options: extra ``pandas.read_csv`` arguments (e.g. ``header: null, names: [...]`` for
            a file without a header line).
        bbox: ``[lon_min, lat_min, lon_max, lat_max]``: cells outside (mislocated ones, e.g. at
            0°N 0°E) are dropped and counted in ``df.attrs["outside_bbox"]``.

    Returns:
        Antennas validated with ``zen.schema.validate(df, "antennas")``; ``site_id`` groups cells
        at the same position when the file has no site column. ``df.attrs`` holds ``source``,
        ``rows_read``, ``duplicates_dropped``.

    Raises:
        ZenInputError: missing file or columns, empty file, missing or out-of-range coordinates,
            duplicate ids under ``duplicates="error"``; one line naming file, row and column.
    """
    path = Path(path)
    source = str(path)
    if fmt not in (*FORMAT_COLUMNS, "generic"):
        raise ZenInputError(f"unknown tower format {fmt!r}; choose one of "
                            f"{[*FORMAT_COLUMNS, 'generic']}", source)
    if duplicates not in ("first", "error"):
        raise ZenInputError(f"duplicates must be 'first' or 'error', got {duplicates!r}", source)
    if fmt == "generic" and not mapping:
        raise ZenInputError("the generic tower format needs a column mapping "
                            "(e.g. {cell_id: CellID, lat: Latitude, lon: Longitude})", source)
    raw = _read_raw(path, fmt, dict(read_options or {}))
    columns = {**FORMAT_COLUMNS.get(fmt, {}), **dict(mapping or {})}
    missing = [file_col for file_col in columns.values() if file_col not in raw.columns]
    if missing:
        raise ZenInputError(f"missing column; expected {sorted(set(columns.values()))}, got "
                            f"{list(raw.columns)} (set the tower mapping)", source, None, missing[0])
    frame = pd.DataFrame({schema_col: raw[file_col].to_numpy() for schema_col, file_col in columns.items()})
    antennas = validate(frame, "antennas", source)  # row numbers still match the file here
    rows_read = len(antennas)
    if fmt == "milan_mapped":
        antennas = antennas.drop_duplicates(["cell_id", "lat", "lon"])
    antennas, dropped = _resolve_duplicates(antennas, duplicates, source)
    outside = 0
    if bbox is not None:
        lon_min, lat_min, lon_max, lat_max = (float(b) for b in bbox)
        inside = antennas["lon"].between(lon_min, lon_max) & antennas["lat"].between(lat_min, lat_max)
        outside = int((~inside).sum())
        antennas = antennas[inside.to_numpy()]
        if outside:
            log.warning("%s: %d cells outside the bbox %s dropped", source, outside, list(bbox))
    if "site_id" not in columns:
        antennas["site_id"] = _colocated_sites(antennas["lat"].to_numpy(), antennas["lon"].to_numpy())
    antennas = antennas.reset_index(drop=True)
    antennas.attrs.update(source=source, rows_read=rows_read, duplicates_dropped=dropped,
                          outside_bbox=outside)
    return antennas


def _read_raw(path: Path, fmt: str, read_options: dict) -> pd.DataFrame:
    raw = read_table(path, **read_options)
    if fmt == "opencellid" and "lat" not in raw.columns and raw.shape[1] <= len(OPENCELLID_COLUMNS):
        raw = read_table(path, header=None, names=OPENCELLID_COLUMNS[:raw.shape[1]])
    raw.columns = [str(c).lstrip("# ").strip() for c in raw.columns]
    return raw


def _resolve_duplicates(antennas: pd.DataFrame, rule: str, source: str) -> tuple[pd.DataFrame, int]:
    repeated = antennas["cell_id"].duplicated(keep="first").to_numpy()
    n = int(repeated.sum())
    if n == 0:
        return antennas, 0
    if rule == "error":
        i = int(np.flatnonzero(repeated)[0])
        cell = int(antennas["cell_id"].iloc[i])
        raise ZenInputError(f"duplicate cell id {cell} ({n} repeated rows); de-duplicate the file or "
                            "load it with duplicates='first'", source, int(antennas.index[i]) + 1, "cell_id")
    log.warning("%s: %d rows repeat an earlier cell id; kept the first row of each id", source, n)
    return antennas[~repeated], n


def _colocated_sites(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Site id per cell: cells at the same rounded position share one id (0..S-1)."""
    key = np.stack([np.round(lat, SITE_DECIMALS), np.round(lon, SITE_DECIMALS)], axis=1)
    _, site = np.unique(key, axis=0, return_inverse=True)
    return site.reshape(-1).astype(np.int64)
