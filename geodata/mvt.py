"""Mapbox vector tiles for the embedded store: the Web Mercator tile grid, point thinning and encoding.

PostGIS encodes its own tiles with ``ST_AsMVT``; this module does the same job for the GeoPackage
store, with the ``mapbox-vector-tile`` package doing the protobuf encoding.
"""

from __future__ import annotations

import math
import struct

import mapbox_vector_tile
import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = ["EXTENT", "MAX_ZOOM", "ORIGIN", "check_tile", "encode", "encode_points", "lonlat_to_mercator",
           "thin_points", "tile_bounds", "tile_bounds_lonlat", "to_mercator"]

# Half the width of the Web Mercator square (EPSG:3857), in metres.
ORIGIN = 20037508.342789244
EXTENT = 4096
# Tiles beyond z22 are centimetre-sized: nothing in the registry needs them.
MAX_ZOOM = 22
# The buffer around a tile, in tile units, so that symbols and lines are not cut at tile edges.
BUFFER = 64

_TO_MERCATOR = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def check_tile(z, x, y) -> tuple[int, int, int]:
    """Return (z, x, y) as ints after checking the tile lies in the Web Mercator grid.

    Raises
    ------
    ValueError
        When z is outside 0..22 or x, y outside 0..2**z - 1.

    Example
    -------
    >>> check_tile(12, 3371, 1772)
    (12, 3371, 1772)
    """
    try:
        z, x, y = int(z), int(x), int(y)
    except (TypeError, ValueError):
        raise ValueError(f"tile {z}/{x}/{y} is not three integers") from None
    if not 0 <= z <= MAX_ZOOM:
        raise ValueError(f"zoom {z} is outside 0..{MAX_ZOOM}")
    size = 1 << z
    if not (0 <= x < size and 0 <= y < size):
        raise ValueError(f"tile {z}/{x}/{y} is outside the grid: at zoom {z}, x and y run 0..{size - 1}")
    return z, x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's bounds in EPSG:3857 metres (y counts down from the north, as XYZ tiles do).

    Example
    -------
    >>> [round(v) for v in tile_bounds(0, 0, 0)]
    [-20037508, -20037508, 20037508, 20037508]
    """
    size = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * size
    maxy = ORIGIN - y * size
    return minx, maxy - size, minx + size, maxy


def tile_bounds_lonlat(z: int, x: int, y: int, buffer: float = 0.0) -> tuple[float, float, float, float]:
    """The tile's bounds in longitude, latitude, grown by ``buffer`` (a fraction of the tile's width).

    Example
    -------
    >>> [round(v, 3) for v in tile_bounds_lonlat(1, 1, 0)]
    [0.0, 0.0, 180.0, 85.051]
    """
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    pad = (maxx - minx) * buffer
    minx, miny = max(minx - pad, -ORIGIN), max(miny - pad, -ORIGIN)
    maxx, maxy = min(maxx + pad, ORIGIN), min(maxy + pad, ORIGIN)

    def lon(mx):
        return mx / ORIGIN * 180.0

    def lat(my):
        return math.degrees(2 * math.atan(math.exp(my / ORIGIN * math.pi)) - math.pi / 2)

    return lon(minx), lat(miny), lon(maxx), lat(maxy)


def to_mercator(geoms) -> np.ndarray:
    """Project lon/lat shapely geometries (an array) to EPSG:3857, vectorised over every coordinate."""
    geoms = np.asarray(geoms, dtype=object)

    def project(coords):
        lon = coords[:, 0]
        # Web Mercator is undefined at the poles: clamp like every tile server does.
        lat = np.clip(coords[:, 1], -85.05112878, 85.05112878)
        mx, my = _TO_MERCATOR.transform(lon, lat)
        return np.column_stack([mx, my])

    return shapely.transform(geoms, project)


def lonlat_to_mercator(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Project longitude, latitude arrays to EPSG:3857 metres (latitudes clamped as for :func:`to_mercator`)."""
    lat = np.clip(np.asarray(lat, dtype=float), -85.05112878, 85.05112878)
    mx, my = _TO_MERCATOR.transform(np.asarray(lon, dtype=float), lat)
    return np.asarray(mx), np.asarray(my)


def thin_points(xs, ys, bounds, cell: int = 64, extent: int = EXTENT) -> tuple[np.ndarray, np.ndarray]:
    """Cluster points on a grid of ``cell``-unit squares of the tile: one point per occupied cell.

    Parameters
    ----------
    xs, ys : array-like
        EPSG:3857 coordinates of the points.
    bounds : tuple
        The tile's EPSG:3857 bounds.
    cell, extent : int
        The cell size and the tile extent, in tile units.

    Returns
    -------
    (keep, counts)
        Indices of the first point of each occupied cell (in input order) and how many points fell in it.

    Example
    -------
    >>> keep, counts = thin_points([0.0, 1.0, 5e6], [0.0, -1.0, 5e6], (-1e7, -1e7, 1e7, 1e7))
    >>> keep.tolist(), counts.tolist()
    ([0, 2], [2, 1])
    """
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if xs.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    minx, miny, maxx, maxy = bounds
    scale = extent / (maxx - minx)
    cx = np.floor((xs - minx) * scale / cell).astype(np.int64)
    cy = np.floor((maxy - ys) * scale / cell).astype(np.int64)
    keys = (cx + 1_000_000) * 4_000_000 + (cy + 1_000_000)
    _uniq, first, counts = np.unique(keys, return_index=True, return_counts=True)
    order = np.argsort(first)
    return first[order].astype(np.int64), counts[order].astype(np.int64)


def encode(layers: list[dict], bounds, extent: int = EXTENT) -> bytes:
    """Encode layers of EPSG:3857 features into one Mapbox vector tile.

    Parameters
    ----------
    layers : list of dict
        ``{"name": str, "features": [{"geometry": shapely geometry in EPSG:3857, "properties": dict,
        "id": int}]}``. Geometries are clipped to the tile and its buffer here.
    bounds : tuple
        The tile's EPSG:3857 bounds (see :func:`tile_bounds`).

    Returns
    -------
    bytes
        The protobuf tile; empty bytes when no layer has a feature.

    Example
    -------
    >>> from shapely import Point
    >>> tile = encode([{"name": "t", "features": [{"geometry": Point(0, 0), "properties": {"n": 1}}]}],
    ...               tile_bounds(0, 0, 0))
    >>> len(tile) > 0
    True
    """
    minx, miny, maxx, maxy = bounds
    pad = (maxx - minx) * BUFFER / extent
    clip = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    scale = np.array([extent / (maxx - minx), extent / (maxy - miny)])
    origin = np.array([minx, miny])

    def to_tile(coords):
        # Tile units with y up; the encoder flips y (y_coord_down=False) and rounds to integers.
        return (coords - origin) * scale

    out = []
    for layer in layers:
        features = []
        for feature in layer["features"]:
            geom: BaseGeometry = feature["geometry"]
            if geom is None or geom.is_empty:
                continue
            if geom.geom_type != "Point":
                geom = shapely.clip_by_rect(geom, *clip)
                if geom.is_empty:
                    continue
            props = {k: v for k, v in feature.get("properties", {}).items() if v is not None}
            item = {"geometry": shapely.transform(geom, to_tile), "properties": props}
            if feature.get("id") is not None:
                item["id"] = int(feature["id"])
            features.append(item)
        if features:
            out.append({"name": layer["name"], "features": features})
    if not out:
        return b""
    return mapbox_vector_tile.encode(
        out, default_options={"extents": extent, "y_coord_down": False,
                              "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid},
    )


# --- a direct protobuf writer for point layers ------------------------------------------------
# A tile of points is a flat list of (id, tags, one MoveTo): writing the protobuf here from numpy
# arrays is an order of magnitude faster than building a geometry object per point for the encoder.


def _varint_of(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # negative int64 values are written as their two's complement
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Tags, zigzagged tile coordinates and most lengths are below 2**14: look those up instead of looping.
_SMALL = [_varint_of(i) for i in range(1 << 14)]


def _varint(value: int) -> bytes:
    return _SMALL[value] if 0 <= value < 16384 else _varint_of(value)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _SMALL[number << 3 | 2] + _varint(len(payload)) + payload


def _value(value) -> bytes:
    """A vector tile Value message for a str, bool, int or float."""
    if isinstance(value, bool):
        return b"\x38" + _varint(int(value))
    if isinstance(value, int):
        return (b"\x20" + _varint(value)) if value >= 0 else (b"\x30" + _varint((value << 1) ^ (value >> 63)))
    if isinstance(value, float):
        return b"\x19" + struct.pack("<d", value)
    return _field(1, str(value).encode("utf-8"))


def encode_points(name: str, ids, xs, ys, properties: dict, bounds, extent: int = EXTENT) -> bytes:
    """Encode one layer of points (EPSG:3857 arrays) into a Mapbox vector tile.

    Parameters
    ----------
    name : str
        The layer's name.
    ids, xs, ys : array-like
        Feature ids and coordinates, one per point.
    properties : dict
        Property name -> list of values, one per point (None leaves the property out for that point).
    bounds : tuple
        The tile's EPSG:3857 bounds; points beyond the tile and its buffer are left out.

    Returns
    -------
    bytes
        The protobuf tile (decodes like one from :func:`encode`); empty bytes when no point is in the tile.

    Example
    -------
    >>> tile = encode_points("t", [7], [0.0], [0.0], {"n": [1]}, tile_bounds(0, 0, 0))
    >>> mapbox_vector_tile.decode(tile)["t"]["features"][0]["properties"]
    {'n': 1}
    """
    minx, miny, maxx, maxy = bounds
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    # Tile units, y counting down from the top edge, rounded half to even as the encoder does.
    tx = np.rint((xs - minx) * (extent / (maxx - minx)))
    ty = np.rint((maxy - ys) * (extent / (maxy - miny)))
    inside = (tx >= -BUFFER) & (tx <= extent + BUFFER) & (ty >= -BUFFER) & (ty <= extent + BUFFER)
    if not inside.any():
        return b""
    keys: dict[str, int] = {}
    values: dict[tuple, int] = {}
    columns = [(name_, list(column)) for name_, column in properties.items()]
    ids = list(ids)
    features = []
    for i, (x, y) in zip(np.flatnonzero(inside).tolist(),
                         np.column_stack([tx[inside], ty[inside]]).astype(np.int64).tolist(), strict=True):
        tags = bytearray()
        for key, column in columns:
            value = column[i]
            if value is None:
                continue
            key_index = keys.setdefault(key, len(keys))
            value_index = values.setdefault((type(value), value), len(values))
            tags += _varint(key_index) + _varint(value_index)
        geometry = b"\x09" + _varint((x << 1) ^ (x >> 63)) + _varint((y << 1) ^ (y >> 63))
        body = b"\x18\x01" + _field(4, geometry)
        if tags:
            body = _field(2, bytes(tags)) + body
        if ids[i] is not None:
            body = b"\x08" + _varint(int(ids[i])) + body
        features.append(_field(2, body))
    layer = bytearray(b"\x78\x02" + _field(1, name.encode("utf-8")))
    layer += b"".join(features)
    for key in keys:
        layer += _field(3, key.encode("utf-8"))
    for (_kind, value) in values:
        layer += _field(4, _value(value))
    layer += b"\x28" + _varint(extent)
    return _field(3, bytes(layer))
