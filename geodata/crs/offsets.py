"""GCJ-02 and BD-09: the offsets Chinese web maps apply to WGS 84 coordinates, and their exact inverses.

Every function takes scalars or array_like longitudes/latitudes in degrees and gives back floats for scalar
input, else arrays of the broadcast shape (:func:`lonlat_arrays`, :func:`lonlat_result`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "GCJ02_BOX",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_gcj02_area",
    "lonlat_arrays",
    "lonlat_result",
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


def lonlat_arrays(lon, lat):
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


def lonlat_result(x, y, scalar):
    """Give back floats when the input was two scalars, else the arrays as they are."""
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
    x, y, scalar = lonlat_arrays(lon, lat)
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
    x, y, scalar = lonlat_arrays(lon, lat)
    gx, gy = _gcj_forward(x, y)
    return lonlat_result(gx, gy, scalar)


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
    x, y, scalar = lonlat_arrays(lon, lat)
    dlon, dlat = _gcj02_delta(x, y)
    wx, wy = _invert(_gcj_forward, x, y, x - dlon, y - dlat)
    return lonlat_result(wx, wy, scalar)


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
    x, y, scalar = lonlat_arrays(lon, lat)
    bx, by = _bd_forward(x, y)
    return lonlat_result(bx, by, scalar)


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
    x, y, scalar = lonlat_arrays(lon, lat)
    sx, sy = _bd_approx_inverse(x, y)
    gx, gy = _invert(_bd_forward, x, y, sx, sy)
    return lonlat_result(gx, gy, scalar)


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
