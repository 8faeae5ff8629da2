"""Input checks for coordinates and geometries that say exactly what is wrong.

``errors`` holds :class:`GeometryError` and the rough box of China, ``coords`` the checks of one lon/lat pair
(numbers, degrees-minutes-seconds), ``shapes`` the checks of outlines and lines. Import from ``geodata.checks``.
"""

from geodata.checks.coords import check_lonlat, parse_dms
from geodata.checks.errors import CHINA_BOUNDS, GeometryError
from geodata.checks.shapes import check_linestring, check_polygon

__all__ = [
    "CHINA_BOUNDS",
    "GeometryError",
    "check_linestring",
    "check_lonlat",
    "check_polygon",
    "parse_dms",
]
