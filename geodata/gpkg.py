"""GeoPackage geometry blobs: encoding, decoding and envelopes, without GDAL or a database."""

from __future__ import annotations

import math
import struct

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# Header flags byte: bit 0 little-endian, bits 1-3 envelope kind, bit 4 empty geometry.
_LITTLE_ENDIAN = 0x01
_ENVELOPE_XY = 0x02
_EMPTY = 0x10
_ENVELOPE_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

_HEADER = struct.Struct("<2sBBi")
_XY_ENVELOPE = struct.Struct("<4d")
# A point's blob as GDAL writes it: 8-byte header, no envelope, ISO WKB (byte order, type, x, y).
_POINT_BLOB_LEN = 8 + 21


def encode(geom: BaseGeometry | None, srs_id: int = 4326) -> bytes | None:
    """Encode a shapely geometry as a GeoPackage geometry blob.

    Points carry no envelope (as GDAL writes them); other geometries carry their
    XY envelope so readers can skip parsing the WKB. Empty geometries set the
    empty flag and carry no envelope.

    Parameters
    ----------
    geom : shapely geometry or None
        Geometry in the table's CRS (longitude, latitude for this registry).
    srs_id : int
        The ``gpkg_spatial_ref_sys`` id written into the header.

    Returns
    -------
    bytes or None
        ``None`` when ``geom`` is ``None``.

    Example
    -------
    >>> from shapely import Point
    >>> encode(Point(116.8, 25.2))[:2]
    b'GP'
    """
    if geom is None:
        return None
    wkb = shapely.to_wkb(geom, byte_order=1, flavor="iso", include_srid=False)
    if geom.is_empty:
        return _HEADER.pack(b"GP", 0, _LITTLE_ENDIAN | _EMPTY, srs_id) + wkb
    if geom.geom_type == "Point":
        return _HEADER.pack(b"GP", 0, _LITTLE_ENDIAN, srs_id) + wkb
    minx, miny, maxx, maxy = geom.bounds
    return (
        _HEADER.pack(b"GP", 0, _LITTLE_ENDIAN | _ENVELOPE_XY, srs_id)
        + _XY_ENVELOPE.pack(minx, maxx, miny, maxy)
        + wkb
    )


def _wkb_offset(blob: bytes) -> tuple[int, int]:
    """Return (flags, offset of the WKB) after checking the blob's magic bytes."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob (missing 'GP' magic)")
    flags = blob[3]
    kind = (flags >> 1) & 0x07
    if kind not in _ENVELOPE_SIZES:
        raise ValueError(f"GeoPackage blob has an invalid envelope indicator {kind}")
    return flags, 8 + _ENVELOPE_SIZES[kind]


def decode(blob: bytes | None) -> BaseGeometry | None:
    """Decode a GeoPackage geometry blob into a shapely geometry.

    Example
    -------
    >>> from shapely import Point
    >>> decode(encode(Point(1, 2))).x
    1.0
    """
    if blob is None:
        return None
    _, offset = _wkb_offset(bytes(blob[:8]))
    return shapely.from_wkb(bytes(blob[offset:]))


def decode_many(blobs) -> np.ndarray:
    """Decode a sequence of blobs into a numpy array of shapely geometries (vectorised WKB parse).

    Example
    -------
    >>> from shapely import Point
    >>> decode_many([encode(Point(1, 2)), None])[1] is None
    True
    """
    wkbs = []
    for blob in blobs:
        if blob is None:
            wkbs.append(None)
        else:
            _, offset = _wkb_offset(blob[:8])
            wkbs.append(bytes(blob[offset:]))
    return shapely.from_wkb(np.array(wkbs, dtype=object))


def point_xy_many(blobs) -> tuple[np.ndarray, np.ndarray]:
    """Read x and y of many envelope-less little-endian point blobs without building geometries.

    Blobs that are not such points get NaN, so callers can fall back to :func:`decode_many`.

    Example
    -------
    >>> from shapely import Point
    >>> x, y = point_xy_many([encode(Point(116.5, 25.0))])
    >>> float(x[0]), float(y[0])
    (116.5, 25.0)
    """
    n = len(blobs)
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    for i, blob in enumerate(blobs):
        if blob is not None and len(blob) == _POINT_BLOB_LEN and blob[3] == _LITTLE_ENDIAN and blob[8] == 1:
            xs[i], ys[i] = struct.unpack_from("<2d", blob, 13)
    return xs, ys


def is_empty(blob: bytes | None) -> bool:
    """Tell whether a blob holds an empty geometry (the ``ST_IsEmpty`` of the R*Tree triggers).

    Runs on every inserted row, so it answers from the header where it can: the empty flag, an
    envelope (only non-empty geometries carry one), or a plain point's coordinates (NaN when empty).
    """
    if blob is None:
        return True
    flags, offset = _wkb_offset(bytes(blob[:8]))
    if flags & _EMPTY:
        return True
    if offset > 8:
        return False
    if len(blob) == _POINT_BLOB_LEN and blob[8] == 1:
        x, y = struct.unpack_from("<2d", blob, 13)
        return math.isnan(x) and math.isnan(y)
    return decode(blob).is_empty


def envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """Return (minx, maxx, miny, maxy) of a blob, from its header envelope when it has one.

    Example
    -------
    >>> from shapely import box
    >>> envelope(encode(box(1, 2, 3, 4)))
    (1.0, 3.0, 2.0, 4.0)
    """
    if blob is None:
        return None
    blob = bytes(blob)
    flags, offset = _wkb_offset(blob[:8])
    if flags & _EMPTY:
        return None
    if (flags >> 1) & 0x07 and flags & _LITTLE_ENDIAN:
        return _XY_ENVELOPE.unpack_from(blob, 8)
    if len(blob) == _POINT_BLOB_LEN and blob[8] == 1:
        x, y = struct.unpack_from("<2d", blob, 13)
        return (x, x, y, y)
    geom = decode(blob)
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return (minx, maxx, miny, maxy)


def _bound(index: int):
    def fn(blob):
        env = envelope(blob)
        if env is None:
            return None
        value = env[index]
        return None if math.isnan(value) else value

    return fn


# The SQL functions GeoPackage's R*Tree triggers call, by name.
SQL_FUNCTIONS = {
    "ST_MinX": _bound(0),
    "ST_MaxX": _bound(1),
    "ST_MinY": _bound(2),
    "ST_MaxY": _bound(3),
    "ST_IsEmpty": lambda blob: None if blob is None else int(is_empty(blob)),
}
