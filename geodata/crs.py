"""Coordinate systems: Chinese map offsets (GCJ-02, BD-09) and metric projections."""

from __future__ import annotations

import functools
import math

import numpy as np
import pyproj
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

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

# --- GCJ-02 -----------------------------------------------------------------
# GCJ-02 is defined by the published obfuscation formula, which works on the
# Krasovsky 1940 ellipsoid; using WGS 84 constants here would disagree with
# every map provider by a few millimetres to centimetres.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323

# The rough "is it in China" rectangle used by the common GCJ-02 implementations.
# It is deliberately the same box the map providers' client libraries use, not an
# accurate border: it also covers parts of neighbouring countries, and it is only
# used to decide whether to apply the offset, never to validate input.
GCJ02_BOX = (72.004, 0.8293, 137.8347, 55.8271)

# BD-09 is GCJ-02 pushed through a small polar-coordinate distortion.
_BD_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# The inverses stop when the forward transform of the estimate is this close to
# the input. 1e-10 degrees is about 0.01 mm, far inside the 1e-7 round-trip goal,
# and still well above float64 resolution at longitude ~120 (about 1.4e-14).
_INVERSE_TOLERANCE = 1e-10
# Each fixed-point step shrinks the error by roughly 1000x (the offset's
# gradient is tiny), so 3 steps normally suffice; the cap only matters at the
# edge of GCJ02_BOX, where the offset jumps and no exact inverse exists.
_INVERSE_MAX_STEPS = 30


def _as_arrays(lon, lat):
    """Return float64 arrays broadcast to a common shape and whether both were scalars."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    try:
        x = np.asarray(lon, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"lon {lon!r} is not numeric") from None
    try:
        y = np.asarray(lat, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"lat {lat!r} is not numeric") from None
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(f"lon shape {x.shape} and lat shape {y.shape} cannot be broadcast together") from None
    return x, y, scalar


def _result(x, y, scalar):
    if scalar:
        return float(x), float(y)
    return x, y


def in_gcj02_area(lon, lat):
    """Tell whether points lie inside the rough rectangle where GCJ-02 applies.

    The rectangle is ``GCJ02_BOX`` (lon 72.004..137.8347, lat 0.8293..55.8271),
    the one shared by the usual GCJ-02 implementations. It is rough: it covers
    parts of neighbouring countries as well, which is harmless because Chinese
    map providers offset everything inside it.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitude and latitude in degrees.

    Returns
    -------
    bool or numpy.ndarray of bool
        A Python bool for scalar input, else an array of the broadcast shape.

    Examples
    --------
    >>> in_gcj02_area(117.03, 25.09)
    True
    >>> in_gcj02_area(2.35, 48.85)
    False
    """
    x, y, scalar = _as_arrays(lon, lat)
    west, south, east, north = GCJ02_BOX
    inside = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    return bool(inside) if scalar else inside


def _gcj02_delta(x, y):
    """GCJ-02 offset (dlon, dlat) in degrees at WGS 84 position (x, y); zero outside the box."""
    u = x - 105.0
    v = y - 35.0
    pi = math.pi
    # The published formula mixes a polynomial with sine "noise" terms; the
    # results are distances along the Krasovsky ellipsoid in metres.
    shared = (20.0 * np.sin(6.0 * pi * u) + 20.0 * np.sin(2.0 * pi * u)) * 2.0 / 3.0
    north_m = (
        -100.0
        + 2.0 * u
        + 3.0 * v
        + 0.2 * v * v
        + 0.1 * u * v
        + 0.2 * np.sqrt(np.abs(u))
        + shared
        + (20.0 * np.sin(pi * v) + 40.0 * np.sin(pi * v / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(pi * v / 12.0) + 320.0 * np.sin(pi * v / 30.0)) * 2.0 / 3.0
    )
    east_m = (
        300.0
        + u
        + 2.0 * v
        + 0.1 * u * u
        + 0.1 * u * v
        + 0.1 * np.sqrt(np.abs(u))
        + shared
        + (20.0 * np.sin(pi * u) + 40.0 * np.sin(pi * u / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(pi * u / 12.0) + 300.0 * np.sin(pi * u / 30.0)) * 2.0 / 3.0
    )
    phi = np.radians(y)
    w = 1.0 - _KRASOVSKY_EE * np.sin(phi) ** 2
    sqrt_w = np.sqrt(w)
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (w * sqrt_w)
    parallel_radius = _KRASOVSKY_A / sqrt_w * np.cos(phi)
    dlat = np.degrees(north_m / meridian_radius)
    dlon = np.degrees(east_m / parallel_radius)
    west, south, east, north = GCJ02_BOX
    inside = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _gcj_forward(x, y):
    dlon, dlat = _gcj02_delta(x, y)
    return x + dlon, y + dlat


def _bd_forward(x, y):
    r = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT


def _bd_approx_inverse(x, y):
    # The widely used closed-form inverse: good to about 1e-6 degrees, which
    # makes it an excellent starting point for the exact iteration.
    u = x - _BD_DLON
    v = y - _BD_DLAT
    r = np.hypot(u, v) - 0.00002 * np.sin(v * _BD_X_PI)
    theta = np.arctan2(v, u) - 0.000003 * np.cos(u * _BD_X_PI)
    return r * np.cos(theta), r * np.sin(theta)


def _invert(forward, target_x, target_y, start_x, start_y):
    """Solve forward(x, y) == target by fixed-point iteration from a start estimate."""
    x = np.array(start_x, dtype=np.float64, copy=True)
    y = np.array(start_y, dtype=np.float64, copy=True)
    for _ in range(_INVERSE_MAX_STEPS):
        fx, fy = forward(x, y)
        ex = fx - target_x
        ey = fy - target_y
        x -= ex
        y -= ey
        # NaN inputs compare False here, so they never hold the loop open.
        if not (np.any(np.abs(ex) > _INVERSE_TOLERANCE) or np.any(np.abs(ey) > _INVERSE_TOLERANCE)):
            break
    return x, y


def wgs84_to_gcj02(lon, lat):
    """Convert WGS 84 longitude/latitude to GCJ-02, as used by Amap (Gaode) and Tencent maps.

    Points outside the rough China rectangle ``GCJ02_BOX`` are returned
    unchanged, as the map providers do. Scalars give a ``(float, float)``
    tuple; arrays (any broadcastable shapes) give a tuple of arrays.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS 84 longitude and latitude in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)
    >>> round(lon, 6), round(lat, 6)
    (121.531542, 31.175304)
    """
    x, y, scalar = _as_arrays(lon, lat)
    gx, gy = _gcj_forward(x, y)
    return _result(gx, gy, scalar)


def gcj02_to_wgs84(lon, lat):
    """Convert GCJ-02 longitude/latitude back to WGS 84, precisely.

    The forward offset has no closed-form inverse, so this iterates
    ``w <- w - (gcj(w) - target)`` until the forward transform of the answer
    reproduces the input within 1e-10 degrees (about 0.01 mm). Points outside
    ``GCJ02_BOX`` come back unchanged.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS 84.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(121.531541859215, 31.17530398364597)
    >>> round(lon, 7), round(lat, 7)
    (121.5272106, 31.1774276)
    """
    x, y, scalar = _as_arrays(lon, lat)
    dlon, dlat = _gcj02_delta(x, y)
    wx, wy = _invert(_gcj_forward, x, y, x - dlon, y - dlat)
    return _result(wx, wy, scalar)


def gcj02_to_bd09(lon, lat):
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu Maps).

    Like the usual implementations, the Baidu distortion is applied everywhere,
    with no China test.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(lon, 6), round(lat, 6)
    (116.410369, 39.921337)
    """
    x, y, scalar = _as_arrays(lon, lat)
    bx, by = _bd_forward(x, y)
    return _result(bx, by, scalar)


def bd09_to_gcj02(lon, lat):
    """Convert BD-09 longitude/latitude back to GCJ-02, precisely.

    Starts from the usual closed-form approximation (good to about 1e-6
    degrees) and refines it by fixed-point iteration to 1e-10 degrees.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09(117.03, 25.09))
    >>> round(lon, 9), round(lat, 9)
    (117.03, 25.09)
    """
    x, y, scalar = _as_arrays(lon, lat)
    sx, sy = _bd_approx_inverse(x, y)
    gx, gy = _invert(_bd_forward, x, y, sx, sy)
    return _result(gx, gy, scalar)


def wgs84_to_bd09(lon, lat):
    """Convert WGS 84 longitude/latitude to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS 84 longitude and latitude in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09.

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(117.03, 25.09)
    >>> 117.03 < lon < 117.06 and 25.09 < lat < 25.10
    True
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Convert BD-09 longitude/latitude back to WGS 84 (through GCJ-02), precisely.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS 84.

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(117.03, 25.09))
    >>> round(lon, 9), round(lat, 9)
    (117.03, 25.09)
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# --- CRS names --------------------------------------------------------------

#: Canonical names accepted by :func:`to_wgs84`, :func:`from_wgs84` and friends.
ACCEPTED_CRS = ("EPSG:4326", "EPSG:4490", "GCJ-02", "BD-09")

# Keys are upper-cased with spaces, hyphens and underscores removed.
_CRS_ALIASES = {
    "EPSG:4326": "EPSG:4326",
    "4326": "EPSG:4326",
    "WGS84": "EPSG:4326",
    "EPSG:4490": "EPSG:4490",
    "4490": "EPSG:4490",
    "CGCS2000": "EPSG:4490",
    "GCJ02": "GCJ-02",
    "BD09": "BD-09",
    "BD09LL": "BD-09",
}

# CGCS2000 and WGS 84 agree to a few centimetres, far below anything a map of
# memorial sites can show, so both are handled as plain WGS 84 here.
_WGS_LIKE = frozenset({"EPSG:4326", "EPSG:4490"})


def normalise_crs(crs) -> str:
    """Return the canonical name of a supported lon/lat CRS.

    Parameters
    ----------
    crs : str or int
        ``"EPSG:4326"``, ``"EPSG:4490"``, ``"GCJ-02"`` or ``"BD-09"``, in any
        case, or one of the aliases ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``,
        ``"bd09"`` (also ``"bd09ll"``, ``4326`` and ``4490``).

    Returns
    -------
    str
        One of :data:`ACCEPTED_CRS`.

    Raises
    ------
    ValueError
        If the name is not recognised; the message lists the accepted names.

    Examples
    --------
    >>> normalise_crs("gcj02")
    'GCJ-02'
    >>> normalise_crs("epsg:4490")
    'EPSG:4490'
    """
    key = str(crs).strip().upper()
    for junk in (" ", "-", "_"):
        key = key.replace(junk, "")
    try:
        return _CRS_ALIASES[key]
    except KeyError:
        raise ValueError(
            f"crs {crs!r} is not supported; accepted: 'EPSG:4326' (alias 'wgs84'), "
            "'EPSG:4490' (alias 'cgcs2000'), 'GCJ-02' (alias 'gcj02'), 'BD-09' (alias 'bd09')"
        ) from None


def to_wgs84(lon, lat, crs):
    """Convert longitude/latitude from a supported CRS to WGS 84.

    EPSG:4490 (CGCS2000) is treated as identical to WGS 84; they differ by
    centimetres.

    Parameters
    ----------
    lon, lat : float or array_like
        Coordinates in degrees, in ``crs``.
    crs : str
        Any name accepted by :func:`normalise_crs`.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS 84; floats for scalar input, else arrays.

    Examples
    --------
    >>> to_wgs84(117.03, 25.09, "cgcs2000")
    (117.03, 25.09)
    >>> lon, lat = to_wgs84(121.531541859215, 31.17530398364597, "GCJ-02")
    >>> round(lon, 7), round(lat, 7)
    (121.5272106, 31.1774276)
    """
    name = normalise_crs(crs)
    if name == "GCJ-02":
        return gcj02_to_wgs84(lon, lat)
    if name == "BD-09":
        return bd09_to_wgs84(lon, lat)
    x, y, scalar = _as_arrays(lon, lat)
    return _result(x.copy(), y.copy(), scalar)


def from_wgs84(lon, lat, crs):
    """Convert WGS 84 longitude/latitude into a supported CRS.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS 84 coordinates in degrees.
    crs : str
        Any name accepted by :func:`normalise_crs`.

    Returns
    -------
    tuple
        ``(lon, lat)`` in ``crs``; floats for scalar input, else arrays.

    Examples
    --------
    >>> lon, lat = from_wgs84(121.5272106, 31.1774276, "gcj02")
    >>> round(lon, 6), round(lat, 6)
    (121.531542, 31.175304)
    """
    name = normalise_crs(crs)
    if name == "GCJ-02":
        return wgs84_to_gcj02(lon, lat)
    if name == "BD-09":
        return wgs84_to_bd09(lon, lat)
    x, y, scalar = _as_arrays(lon, lat)
    return _result(x.copy(), y.copy(), scalar)


def convert(lon, lat, src, dst):
    """Convert longitude/latitude between any two supported CRS.

    Parameters
    ----------
    lon, lat : float or array_like
        Coordinates in degrees, in ``src``.
    src, dst : str
        Names accepted by :func:`normalise_crs`.

    Returns
    -------
    tuple
        ``(lon, lat)`` in ``dst``.

    Examples
    --------
    >>> lon, lat = convert(116.404, 39.915, "gcj02", "bd09")
    >>> round(lon, 6), round(lat, 6)
    (116.410369, 39.921337)
    """
    src_name = normalise_crs(src)
    dst_name = normalise_crs(dst)
    # GCJ-02 <-> BD-09 directly: going through WGS 84 would only add two
    # iterative inverses' worth of rounding.
    if src_name == "GCJ-02" and dst_name == "BD-09":
        return gcj02_to_bd09(lon, lat)
    if src_name == "BD-09" and dst_name == "GCJ-02":
        return bd09_to_gcj02(lon, lat)
    return from_wgs84(*to_wgs84(lon, lat, src_name), dst_name)


def shift_geometry(geom, src, dst):
    """Convert every coordinate of a shapely geometry between lon/lat CRS.

    Z values, if any, are kept. A geometry (or array of geometries) between two
    WGS 84-like names is returned as is.

    Parameters
    ----------
    geom : shapely.Geometry or array_like of shapely.Geometry
        Geometry in ``src`` lon/lat.
    src, dst : str
        Names accepted by :func:`normalise_crs`.

    Returns
    -------
    shapely.Geometry or numpy.ndarray
        The geometry in ``dst``.

    Examples
    --------
    >>> from shapely import Point
    >>> p = shift_geometry(Point(117.03, 25.09), "wgs84", "gcj02")
    >>> round(p.x, 4), round(p.y, 4)
    (117.0349, 25.0873)
    """
    src_name = normalise_crs(src)
    dst_name = normalise_crs(dst)
    if src_name == dst_name or {src_name, dst_name} <= _WGS_LIKE:
        return geom

    def move(x, y, z=None):
        nx, ny = convert(x, y, src_name, dst_name)
        return (nx, ny) if z is None else (nx, ny, z)

    return shapely.transform(geom, move, include_z=None, interleaved=False)


# --- metric projections -----------------------------------------------------

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
