"""Cell infrastructure (real or synthetic towers, coverage, places) and the social graph."""

from zen.network.cells import load_towers
from zen.network.coverage import Coverage
from zen.network.infrastructure import build_infrastructure
from zen.network.layout import synthetic_layout
from zen.network.places import grid_places, read_places

__all__ = ["Coverage", "build_infrastructure", "grid_places", "load_towers", "read_places",
           "synthetic_layout"]
