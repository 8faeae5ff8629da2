"""Coordinate systems: Chinese map offsets (GCJ-02, BD-09), CRS names and conversion, metric projections.

``offsets`` holds the GCJ-02/BD-09 formulas and their inverses, ``names`` the accepted lon/lat CRS names and
conversion between them, ``metric`` the projected zones and measures in metres. Import from ``geodata.crs``.
"""

from geodata.crs.metric import (
    area_m2,
    distance_m,
    from_metric,
    length_m,
    metres_to_degrees_margin,
    metric_crs_for,
    to_metric,
)
from geodata.crs.names import ACCEPTED_CRS, convert, from_wgs84, normalise_crs, shift_geometry, to_wgs84
from geodata.crs.offsets import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_gcj02_area,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

__all__ = [
    "ACCEPTED_CRS",
    "area_m2",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert",
    "distance_m",
    "from_metric",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_gcj02_area",
    "length_m",
    "metres_to_degrees_margin",
    "metric_crs_for",
    "normalise_crs",
    "shift_geometry",
    "to_metric",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
