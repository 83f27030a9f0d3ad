"""Build the cells and places of a run from a ``configs/network/<name>.yaml`` dict."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from zen.network.cells import load_towers
from zen.network.coverage import Coverage
from zen.network.layout import synthetic_layout
from zen.network.places import grid_places, read_places, site_places
from zen.schema import ZenInputError


def _resolve(path: str | Path, shared_data: Path) -> Path:
    path = Path(str(path))
    return path if path.is_absolute() or path.exists() else Path(shared_data) / path


def build_infrastructure(cfg: Mapping, shared_data: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Antennas and places from a network config (``cfg.network`` of the generate stage).

    Args:
        cfg: ``{kind: towers|synthetic, towers: {...}, layout: {...}, places: {...}}`` as in
            ``configs/network/milan.yaml`` and ``configs/network/synthetic_city.yaml``.
        shared_data: folder that relative tower / grid / places paths are read from.
        seed: random seed (synthetic layouts only; real towers and grid places are deterministic).

    Returns:
        ``(antennas, places)``: the antennas table and the places table (see ``zen.network.places``).
    """
    kind = cfg.get("kind", "towers")
    places_cfg = dict(cfg.get("places") or {})
    center = None
    if kind == "towers":
        towers = dict(cfg["towers"])
        antennas = load_towers(_resolve(towers["path"], shared_data), fmt=towers.get("format", "opencellid"),
                               mapping=towers.get("mapping"), duplicates=towers.get("duplicates", "first"),
                               read_options=towers.get("read_options"), bbox=towers.get("bbox"))
    elif kind == "synthetic":
        layout = dict(cfg["layout"])
        grid = layout.pop("population_grid", None)
        antennas = synthetic_layout(**layout, population_grid=_resolve(grid, shared_data) if grid else None,
                                    seed=seed)
        center = (layout["center_lat"], layout["center_lon"])
    else:
        raise ZenInputError(f"unknown network kind {kind!r}; use towers or synthetic", "network config")
    coverage = Coverage(antennas)
    path = places_cfg.pop("path", None)
    if path:
        return antennas, read_places(_resolve(path, shared_data), coverage)
    if places_cfg.pop("at", "grid") == "sites":
        return antennas, site_places(coverage, **places_cfg)
    if places_cfg.get("weights") == "city":
        places_cfg.setdefault("center", center)
        places_cfg.setdefault("scale_km", dict(cfg.get("layout") or {}).get("scale_km", 4.0))
    return antennas, grid_places(coverage, **places_cfg)
