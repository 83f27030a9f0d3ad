"""Old home of the individual features: they live in :mod:`zen.measures.individual` (kept so old
imports work)."""

from zen.measures.individual import (
    MOBILITY_FEATURES,
    TRAFFIC_FEATURES,
    cell_coordinates,
    cell_entropy,
    has_cells,
    radius_of_gyration,
    user_features,
)

__all__ = ["MOBILITY_FEATURES", "TRAFFIC_FEATURES", "cell_coordinates", "cell_entropy", "has_cells",
           "radius_of_gyration", "user_features"]
