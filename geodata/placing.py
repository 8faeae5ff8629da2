"""Placing generated features around a point: metre offsets on a local scale, a bounded Gaussian scatter,
a rotated rectangle and the ring around it in the metric CRS (the demo generator's geometry)."""

from __future__ import annotations

import numpy as np
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry import box as shapely_box

from geodata.crs import from_metric, metric_crs_for, to_metric

__all__ = ["control_zone", "metres_between", "multi", "offset", "pull_within", "rect_zone", "scatter"]

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQ = 111_320.0


def offset(lon, lat, dx, dy):
    """Shift lon/lat by metres east/north with a local equirectangular scale.

    Good to well under a metre over the few kilometres demo points are scattered by; exact metric work
    (protection ranges, control zones) goes through the Gauss-Kruger projection instead.

    Example
    -------
    >>> lon, lat = offset(116.4, 25.0, 0.0, 110_574.0)
    >>> float(lon), float(lat)
    (116.4, 26.0)
    """
    lat = np.asarray(lat, float)
    return (np.asarray(lon, float) + np.asarray(dx, float) / (_M_PER_DEG_LON_EQ * np.cos(np.radians(lat))),
            lat + np.asarray(dy, float) / _M_PER_DEG_LAT)


def metres_between(lon1, lat1, lon2, lat2):
    """Distance in metres on the same local scale as :func:`offset` (from the first point's latitude)."""
    dx = (np.asarray(lon2) - lon1) * _M_PER_DEG_LON_EQ * np.cos(np.radians(lat1))
    dy = (np.asarray(lat2) - lat1) * _M_PER_DEG_LAT
    return np.hypot(dx, dy)


def pull_within(lon, lat, centre_lon, centre_lat, limit_m: float):
    """Points moved straight towards their centres until none lies farther than ``limit_m`` from it."""
    ex = (lon - centre_lon) * _M_PER_DEG_LON_EQ * np.cos(np.radians(centre_lat))
    ny = (lat - centre_lat) * _M_PER_DEG_LAT
    r = np.hypot(ex, ny)
    shrink = np.where(r > limit_m, limit_m / np.maximum(r, 1e-9), 1.0)
    return offset(centre_lon, centre_lat, ex * shrink, ny * shrink)


def scatter(rng, n: int, sigma: float, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian offsets in metres, pulled in to at most ``limit`` from the centre."""
    dx, dy = rng.normal(0.0, sigma, n), rng.normal(0.0, sigma, n)
    r = np.hypot(dx, dy)
    shrink = np.where(r > limit, limit / np.maximum(r, 1e-9), 1.0)
    return dx * shrink, dy * shrink


def rect_zone(lon: float, lat: float, width: float, height: float, angle: float) -> tuple[Polygon, float]:
    """A rotated rectangle (metres) centred on a point, built in the metric CRS and returned in lon/lat."""
    epsg = metric_crs_for(lon, lat)
    centre, _ = to_metric(Point(lon, lat), epsg)
    rect = shapely_box(centre.x - width / 2, centre.y - height / 2, centre.x + width / 2, centre.y + height / 2)
    rect = affinity.rotate(rect, angle, origin=centre)
    return from_metric(rect, epsg), float(rect.area)


def control_zone(range_lonlat: Polygon, distance_m: float) -> tuple[Polygon, float]:
    """The construction-control zone: the ring ``distance_m`` wide around the protection range.

    Grown in the metric CRS (a Gauss-Kruger zone), since a buffer in degrees would be an ellipse.
    The range itself is cut out: a control zone (建设控制地带) is the land outside the protection range.
    """
    metric, epsg = to_metric(range_lonlat)
    ring = metric.buffer(distance_m, quad_segs=8).difference(metric)
    return from_metric(ring, epsg), float(ring.area)


def multi(poly: Polygon) -> MultiPolygon:
    """The polygon as a one-part MultiPolygon (the type of the zone columns)."""
    return MultiPolygon([poly])
