"""Mapbox vector tiles of the public collections with a geometry (points thinned to one per cell below zoom 12)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import numpy as np
import shapely
from sqlalchemy import LargeBinary, type_coerce
from sqlalchemy.orm import Session

from geodata import gpkg as gpkg_blobs
from geodata import mvt
from registry.db import Store
from registry.services.base import NotFound
from registry.services.ogc.collections import COLLECTIONS, Collection
from registry.services.ogc.sql import base_select, bbox_clause
from registry.spatial.base import check_box

# Vector tiles: points at zooms below this are thinned to one per 64-unit cell, with a count.
CLUSTER_BELOW_ZOOM = 12


def tile_collections() -> list[Collection]:
    """Collections served as vector tiles: the public ones with a geometry."""
    return [c for c in COLLECTIONS.values() if c.public and c.has_geometry]


def get_tile_collection(collection_id: str) -> Collection:
    """The tiled collection called ``collection_id``, or NotFound naming those there are."""
    collection = COLLECTIONS.get(collection_id)
    if collection is None or not collection.public or not collection.has_geometry:
        raise NotFound(f"no tiles for {collection_id!r}; tiled collections are: "
                       f"{', '.join(c.id for c in tile_collections())}", field="collectionId")
    return collection


def _tile_where_sql(collection: Collection) -> str:
    parts = []
    for name, op, value in collection.conditions:
        # Names and values come from the fixed collection table above, never from a request.
        parts.append(f"t.\"{name}\" {op} '{value}'")
    return " AND ".join(parts) or "TRUE"


def tile_sql(collection: Collection, clustered: bool) -> str:
    """The PostGIS query of one tile of a collection, in the driver's own placeholders (z, x, y and cell)."""
    t = collection.table.name
    props = "".join(f', t."{name}"' for name in collection.tile_fields)
    where = _tile_where_sql(collection)
    envelope = "ST_TileEnvelope(%(z)s, %(x)s, %(y)s)"
    # The rows to read: the tile grown by its 64-unit buffer (1/64 of its width), in lon/lat for the index.
    around = "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625), 4326)"
    if clustered:
        return (
            f"WITH b AS (SELECT {envelope} AS e, {around} AS g), c AS (SELECT min(t.id) AS id, count(*) AS count, "
            f"ST_Centroid(ST_Collect(ST_Transform(t.geom, 3857))) AS m FROM \"{t}\" AS t, b WHERE t.geom && b.g AND "
            f"{where} GROUP BY ST_SnapToGrid(ST_Transform(t.geom, 3857), %(cell)s)), "
            f"q AS (SELECT c.id, c.count, ST_AsMVTGeom(c.m, b.e, 4096, 64, true) AS geom FROM c, b) "
            f"SELECT ST_AsMVT(q, '{collection.id}', 4096, 'geom', 'id') FROM q WHERE q.geom IS NOT NULL"
        )
    return (
        f"WITH b AS (SELECT {envelope} AS e, {around} AS g), "
        f"q AS (SELECT t.id{props}, ST_AsMVTGeom(ST_Transform(t.geom, 3857), b.e, 4096, 64, true) AS geom"
        f" FROM \"{t}\" AS t, b WHERE t.geom && b.g AND {where}) "
        f"SELECT ST_AsMVT(q, '{collection.id}', 4096, 'geom', 'id') FROM q WHERE q.geom IS NOT NULL"
    )


def _cluster(collection: Collection, z: int) -> bool:
    return collection.geometry_type == "POINT" and z < CLUSTER_BELOW_ZOOM


def tile(store: Store, session: Session, collection: Collection, z, x, y) -> bytes:
    """One Mapbox vector tile of a public collection (points clustered below zoom 12); empty bytes when empty."""
    try:
        z, x, y = mvt.check_tile(z, x, y)
    except ValueError as exc:
        raise NotFound(str(exc), field="tile") from None
    bounds = mvt.tile_bounds(z, x, y)
    clustered = _cluster(collection, z)
    cell = (bounds[2] - bounds[0]) / mvt.EXTENT * 64
    if store.kind == "postgis":
        # A plain pooled connection, straight to the driver: one statement, the tile back in binary
        # (SQLAlchemy's text results would carry the bytea hex-encoded, twice its size). The read
        # commits, because psycopg drops its prepared statements on a rollback, and a prepared tile
        # query skips the planner (a good part of a tile's time).
        with store.engine.connect() as connection:
            driver = connection.connection.driver_connection
            with driver.cursor(binary=True) as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute(tile_sql(collection, clustered), {"z": z, "x": x, "y": y, "cell": cell})
                data = cursor.fetchone()[0]
            driver.commit()
        return bytes(data or b"")
    lonlat = mvt.tile_bounds_lonlat(z, x, y, buffer=mvt.BUFFER / mvt.EXTENT)
    if collection.geometry_type == "POINT":
        return _gpkg_point_tile(session, store, collection, lonlat, bounds, clustered)
    t = collection.table
    cols = [t.c.id.label("id")] + [t.c[name].label(name) for name in collection.tile_fields] + [t.c.geom.label("geom")]
    stmt = base_select(collection, cols).where(bbox_clause(session, store, collection, check_box(*lonlat)))
    rows = session.execute(stmt.order_by(t.c.id)).all()
    if not rows:
        return b""
    geoms = mvt.to_mercator([r.geom for r in rows])
    if clustered:
        xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
        keep, counts = mvt.thin_points(xs, ys, bounds)
        features = [{"id": rows[i].id, "geometry": geoms[i], "properties": {"count": int(n)}}
                    for i, n in zip(keep.tolist(), counts.tolist(), strict=True)]
    else:
        features = [{"id": row.id, "geometry": geom,
                     "properties": {name: _tile_value(row._mapping[name]) for name in collection.tile_fields}}
                    for row, geom in zip(rows, geoms, strict=True)]
    return mvt.encode([{"name": collection.id, "features": features}], bounds)


def _gpkg_point_tile(session: Session, store: Store, collection: Collection, lonlat, bounds, clustered: bool):
    """A point tile on the GeoPackage: raw rows from the R*Tree, coordinates read from the blobs, one encoder pass."""
    t = collection.table
    cols = ([t.c.id.label("id")] + [t.c[name].label(name) for name in collection.tile_fields]
            + [type_coerce(t.c.geom, LargeBinary).label("geom")])
    stmt = base_select(collection, cols).where(bbox_clause(session, store, collection, check_box(*lonlat)))
    rows = session.connection().execute(stmt.order_by(t.c.id)).all()
    if not rows:
        return b""
    blobs = [row[-1] for row in rows]
    lon, lat = gpkg_blobs.point_xy_many(blobs)
    odd = np.isnan(lon) | np.isnan(lat)
    if odd.any():  # blobs other than plain points (an envelope, big-endian): let shapely read them
        geoms = gpkg_blobs.decode_many([blobs[i] for i in np.flatnonzero(odd)])
        present = ~shapely.is_empty(geoms)
        lon[np.flatnonzero(odd)[present]] = shapely.get_x(geoms[present])
        lat[np.flatnonzero(odd)[present]] = shapely.get_y(geoms[present])
    keep = np.flatnonzero(~(np.isnan(lon) | np.isnan(lat)))
    xs, ys = mvt.lonlat_to_mercator(lon[keep], lat[keep])
    ids = [rows[i][0] for i in keep.tolist()]
    if clustered:
        first, counts = mvt.thin_points(xs, ys, bounds)
        return mvt.encode_points(collection.id, [ids[i] for i in first.tolist()], xs[first], ys[first],
                                 {"count": counts.tolist()}, bounds)
    properties = {name: [_tile_value(rows[i][n]) for i in keep.tolist()]
                  for n, name in enumerate(collection.tile_fields, start=1)}
    return mvt.encode_points(collection.id, ids, xs, ys, properties, bounds)


def _tile_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def tile_etag(data: bytes) -> str:
    """The ETag of a tile: a digest of its bytes."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()
