"""Metric projections: the Gauss-Kruger or UTM zone for a place, and lengths, areas and distances in metres."""

from __future__ import annotations

import functools
import math

import pyproj
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

__all__ = [
    "area_m2",
    "distance_m",
    "from_metric",
    "length_m",
    "metres_to_degrees_margin",
    "metric_crs_for",
    "to_metric",
]

# CGCS2000 / Gauss-Kruger 6-degree zones with zone-prefixed eastings:
# EPSG:4491 is zone 13 (central meridian 75E) up to EPSG:4501, zone 23 (135E).
_GK_FIRST_ZONE = 13
_GK_LAST_ZONE = 23
_GK_FIRST_EPSG = 4491


def metric_crs_for(lon, lat=30.0) -> int:
    """Choose a metric projected CRS (EPSG code) suited to a longitude.

    Within China's longitudes this is the CGCS2000 6-degree Gauss-Kruger zone,
    with the zone number prefixed to the easting: zone = floor(lon / 6) + 1 and
    EPSG = 4491 + (zone - 13) for zones 13..23 (lon 72..138). A region
    at lon 114..120 falls in zone 20, EPSG:4498, central meridian 117E.
    Elsewhere the WGS 84 UTM zone is used, north (326xx) or south (327xx)
    depending on ``lat``.

    Parameters
    ----------
    lon : float
        Longitude in degrees, -180..180.
    lat : float, default 30.0
        Latitude in degrees, -90..90; only used to pick the UTM hemisphere.

    Returns
    -------
    int
        EPSG code.

    Raises
    ------
    ValueError
        If ``lon`` or ``lat`` is not a finite number in range.

    Examples
    --------
    >>> metric_crs_for(117.03)
    4498
    >>> metric_crs_for(2.35, 48.85)
    32631
    """
    lon = float(lon)
    lat = float(lat)
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"lon {lon} is outside -180..180 (were longitude and latitude swapped?)")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"lat {lat} is outside -90..90 (were longitude and latitude swapped?)")
    gk_zone = math.floor(lon / 6.0) + 1
    if _GK_FIRST_ZONE <= gk_zone <= _GK_LAST_ZONE:
        return _GK_FIRST_EPSG + gk_zone - _GK_FIRST_ZONE
    # lon = 180 would be zone 61; it is the same meridian as zone 60's edge.
    utm_zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return (32600 if lat >= 0.0 else 32700) + utm_zone


@functools.lru_cache(maxsize=64)
def _projection(epsg: int) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    """Forward and inverse transformers between a projected CRS and its own lon/lat.

    Going from the projection's own geodetic CRS (CGCS2000 for the Gauss-Kruger
    zones) rather than EPSG:4326 keeps this a pure map projection with no datum
    step, so the result cannot depend on which datum shifts PROJ has installed.
    """
    try:
        projected = pyproj.CRS.from_epsg(epsg)
    except pyproj.exceptions.CRSError:
        raise ValueError(f"epsg {epsg} is not a known EPSG code") from None
    if not projected.is_projected:
        raise ValueError(f"epsg {epsg} is not a projected CRS")
    geographic = projected.geodetic_crs
    forward = pyproj.Transformer.from_crs(geographic, projected, always_xy=True)
    inverse = pyproj.Transformer.from_crs(projected, geographic, always_xy=True)
    return forward, inverse


def _check_epsg(epsg) -> int:
    try:
        code = int(epsg)
    except (TypeError, ValueError):
        raise ValueError(f"epsg {epsg!r} is not an integer EPSG code") from None
    if code != epsg:
        raise ValueError(f"epsg {epsg!r} is not an integer EPSG code")
    return code


def _lonlat_anchor(geom: BaseGeometry) -> tuple[float, float]:
    """A representative (lon, lat) of a geometry for choosing its projection."""
    if geom.is_empty:
        raise ValueError("geom is empty; it has no position to choose a projection from")
    west, south, east, north = geom.bounds
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise ValueError(f"geom bounds {geom.bounds} are not finite")
    if west < -180.0 or east > 180.0 or south < -90.0 or north > 90.0:
        raise ValueError(
            f"geom bounds {tuple(round(v, 3) for v in geom.bounds)} are not lon/lat degrees "
            "(already projected, or longitude and latitude swapped?)"
        )
    centroid = geom.centroid
    if centroid.is_empty:
        # Degenerate shapes (zero area or length) can have an empty centroid.
        return (west + east) / 2.0, (south + north) / 2.0
    return centroid.x, centroid.y


def to_metric(geom, epsg=None):
    """Project a lon/lat (EPSG:4326) shapely geometry into a metric CRS.

    Parameters
    ----------
    geom : shapely.Geometry
        Geometry in longitude/latitude degrees.
    epsg : int, optional
        Target projected CRS. When omitted, :func:`metric_crs_for` picks one
        from the geometry's centroid.

    Returns
    -------
    tuple
        ``(projected_geometry, epsg)``; coordinates in metres.

    Raises
    ------
    ValueError
        If the geometry is empty or its coordinates are not lon/lat.

    Examples
    --------
    >>> from shapely import Point
    >>> p, code = to_metric(Point(117.0, 25.0))
    >>> code, round(p.x)
    (4498, 20500000)
    """
    if epsg is None:
        lon, lat = _lonlat_anchor(geom)
        epsg = metric_crs_for(lon, lat)
    else:
        epsg = _check_epsg(epsg)
    forward, _ = _projection(epsg)
    projected = shapely.transform(geom, forward.transform, interleaved=False)
    return projected, epsg


def from_metric(geom, epsg):
    """Unproject a shapely geometry from a metric CRS back to lon/lat degrees.

    Parameters
    ----------
    geom : shapely.Geometry
        Geometry in the projected CRS ``epsg`` (metres).
    epsg : int
        The projected CRS, e.g. from :func:`to_metric`.

    Returns
    -------
    shapely.Geometry
        The geometry in longitude/latitude degrees.

    Examples
    --------
    >>> from shapely import Point
    >>> p = from_metric(Point(20500000.0, 2765000.0), 4498)
    >>> round(p.x, 6)
    117.0
    """
    _, inverse = _projection(_check_epsg(epsg))
    return shapely.transform(geom, inverse.transform, interleaved=False)


def length_m(geom) -> float:
    """Length in metres of a lon/lat geometry (perimeter for polygons).

    Measured in the projection chosen by :func:`to_metric`; within a county the
    Gauss-Kruger scale error is below 0.02 %.

    Parameters
    ----------
    geom : shapely.Geometry
        Geometry in longitude/latitude degrees.

    Returns
    -------
    float
        Length in metres.

    Examples
    --------
    >>> from shapely import LineString
    >>> round(length_m(LineString([(117.0, 25.0), (117.0, 25.01)])))
    1108
    """
    return float(to_metric(geom)[0].length)


def area_m2(geom) -> float:
    """Area in square metres of a lon/lat geometry.

    Parameters
    ----------
    geom : shapely.Geometry
        Geometry in longitude/latitude degrees.

    Returns
    -------
    float
        Area in square metres (0 for points and lines).

    Examples
    --------
    >>> from shapely import box
    >>> round(area_m2(box(117.0, 25.0, 117.001, 25.001)))
    11182
    """
    return float(to_metric(geom)[0].area)


def distance_m(a, b) -> float:
    """Shortest distance in metres between two lon/lat geometries.

    Both are projected into the one metric CRS chosen for the midpoint of
    their centroids, so the figure is accurate for local distances (tens of
    kilometres); it is not a geodesic for points a continent apart.

    Parameters
    ----------
    a, b : shapely.Geometry or (lon, lat) pair
        Geometries in longitude/latitude degrees.

    Returns
    -------
    float
        Distance in metres; 0 when they touch or overlap.

    Examples
    --------
    >>> round(distance_m((117.0, 25.0), (117.01, 25.0)))
    1010
    """
    a = a if isinstance(a, BaseGeometry) else Point(*a)
    b = b if isinstance(b, BaseGeometry) else Point(*b)
    lon_a, lat_a = _lonlat_anchor(a)
    lon_b, lat_b = _lonlat_anchor(b)
    epsg = metric_crs_for((lon_a + lon_b) / 2.0, (lat_a + lat_b) / 2.0)
    return float(to_metric(a, epsg)[0].distance(to_metric(b, epsg)[0]))


# The smallest radius of curvature anywhere on the WGS 84 ellipsoid is the
# meridional radius at the equator, a * (1 - e^2) = b^2 / a. Turning metres
# into an angle with it over-estimates the angle everywhere.
_MIN_CURVATURE_RADIUS = 6335439.327
# Extra headroom for the spherical approximation used below.
_MARGIN_SAFETY = 1.01


def metres_to_degrees_margin(metres, lat) -> float:
    """A margin in degrees that safely covers ``metres`` around latitude ``lat``.

    Expanding a lon/lat bounding box by this margin on every side guarantees
    that every point within ``metres`` of the box is inside the expanded box, so
    the expanded box can pre-filter candidates before an exact metric distance
    check. The margin over-estimates on purpose: it uses the smallest radius of
    curvature of the ellipsoid, the longitude reach of a great circle at the
    given latitude (which grows towards the poles) and a 1 % safety factor.

    Parameters
    ----------
    metres : float
        Distance, >= 0.
    lat : float
        Latitude in degrees, -90..90. For a bounding box pass the edge farthest
        from the equator, ``max(abs(south), abs(north))``, since degrees of
        longitude shrink towards the poles.

    Returns
    -------
    float
        Margin in degrees for both longitude and latitude; 180 when the circle
        reaches a pole and no longitude bound exists.

    Examples
    --------
    >>> m = metres_to_degrees_margin(1000.0, 25.0)
    >>> 0.0099 < m < 0.0105
    True
    """
    metres = float(metres)
    lat = float(lat)
    if not (math.isfinite(metres) and metres >= 0.0):
        raise ValueError(f"metres {metres} must be a finite distance >= 0")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"lat {lat} is outside -90..90 (were longitude and latitude swapped?)")
    angle = metres / _MIN_CURVATURE_RADIUS
    if angle >= math.pi / 2.0:
        return 180.0
    cos_lat = math.cos(math.radians(abs(lat)))
    reach = math.sin(angle) / cos_lat if cos_lat > 0.0 else math.inf
    if reach >= 1.0:
        return 180.0
    # On a sphere the largest longitude change within angular distance d of a
    # point at latitude phi satisfies sin(dlon) = sin(d) / cos(phi); it always
    # exceeds the latitude change d, so one number serves both axes.
    margin = math.degrees(math.asin(reach)) * _MARGIN_SAFETY
    return min(margin, 180.0)
