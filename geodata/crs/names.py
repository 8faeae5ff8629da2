"""CRS names: the lon/lat systems the registry accepts, their aliases, and conversion between any two."""

from __future__ import annotations

import shapely

from geodata.crs.offsets import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    lonlat_arrays,
    lonlat_result,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

__all__ = ["ACCEPTED_CRS", "convert", "from_wgs84", "normalise_crs", "shift_geometry", "to_wgs84"]


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
    x, y, scalar = lonlat_arrays(lon, lat)
    return lonlat_result(x.copy(), y.copy(), scalar)


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
    x, y, scalar = lonlat_arrays(lon, lat)
    return lonlat_result(x.copy(), y.copy(), scalar)


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
