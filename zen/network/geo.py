"""Old home of the geometry helpers: they live in :mod:`zen.geo` (kept so old imports work)."""

from zen.geo import EARTH_RADIUS_M, LocalProjection, haversine_m

__all__ = ["EARTH_RADIUS_M", "LocalProjection", "haversine_m"]
