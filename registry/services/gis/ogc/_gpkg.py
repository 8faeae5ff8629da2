"""The OGC queries on the GeoPackage: R*Tree boxes refined in shapely, raw geometry blobs read in one pass.

A box condition takes an R*Tree entry inside the box as an answer as it stands (its bounds are rounded
outward, so the geometry is inside too); only the few entries crossing an edge are read and tested
exactly. Items pages read the raw blobs and take point coordinates straight from their bytes. Point
tiles are written by ``geodata.mvt.encode_points``, a direct protobuf writer (the ``mapbox-vector-tile``
encoder remains for lines and polygons).
"""

from __future__ import annotations

import functools
from datetime import date, datetime

import numpy as np
import shapely
from sqlalchemy import LargeBinary, and_, column, func, not_, or_, select, table, type_coerce
from sqlalchemy.orm import Session

from geodata import gpkg as gpkg_blobs
from geodata import mvt
from registry.db import Store
from registry.services.gis.ogc.backend import OgcBackend
from registry.services.gis.ogc.collections import COLLECTIONS, Collection
from registry.services.gis.ogc.features import geojson_geometries, transform_geometries
from registry.services.gis.ogc.parameters import CRS84
from registry.services.gis.ogc.sql import base_select, build_select
from registry.spatial.base import box_geometry, check_box


def _rtree(collection: Collection):
    return table(f"rtree_{collection.table.name}_geom", column("id"), column("minx"), column("maxx"),
                 column("miny"), column("maxy"))


class GeoPackageQueries(OgcBackend):
    """The GeoPackage store: R*Tree candidates, geometry blobs decoded in bulk."""

    kind = "geopackage"

    def bbox_clause(self, session: Session, collection: Collection, box):
        t = collection.table
        query = box_geometry(box)
        rtree = _rtree(collection)
        minx, miny, maxx, maxy = box
        inside = and_(rtree.c.minx >= minx, rtree.c.maxx <= maxx, rtree.c.miny >= miny, rtree.c.maxy <= maxy)
        overlap = and_(rtree.c.maxx >= minx, rtree.c.minx <= maxx, rtree.c.maxy >= miny, rtree.c.miny <= maxy)
        edge_rows = session.execute(
            select(t.c.id, t.c.geom).join(rtree, rtree.c.id == t.c.id).where(overlap, not_(inside))).all()
        edge_ids = []
        if edge_rows:
            shapely.prepare(query)
            hits = shapely.intersects(query, np.array([r.geom for r in edge_rows], dtype=object))
            edge_ids = [r.id for r, hit in zip(edge_rows, hits, strict=True) if hit]
        inside_ids = select(rtree.c.id).where(inside)
        return or_(t.c.id.in_(inside_ids), t.c.id.in_(edge_ids)) if edge_ids else t.c.id.in_(inside_ids)

    def extent_box(self, session: Session, collection: Collection):
        rtree = _rtree(collection)
        return session.execute(
            base_select(collection, [func.min(rtree.c.minx), func.min(rtree.c.miny), func.max(rtree.c.maxx),
                                     func.max(rtree.c.maxy)]).join(rtree, rtree.c.id == collection.table.c.id)
        ).first()

    def page_select(self, collection: Collection):
        # The geometry blobs come back as they are and are read in one pass (page_geometries).
        return _raw_select(collection.id) if collection.has_geometry else base_select(collection)

    def page_geometries(self, rows, collection: Collection, crs: str) -> list | None:
        """GeoJSON geometries of GeoPackage blobs: plain points straight from their bytes, the rest via shapely."""
        if not collection.has_geometry:
            return None
        blobs = [row.geom for row in rows]
        if collection.geometry_type == "POINT" and crs == CRS84:
            xs, ys = gpkg_blobs.point_xy_many(blobs)
            if not (np.isnan(xs).any() or np.isnan(ys).any()):
                return [{"type": "Point", "coordinates": [x, y]}
                        for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
        return geojson_geometries(transform_geometries(list(gpkg_blobs.decode_many(blobs)), crs), collection)

    def tile(self, store: Store, session: Session, collection: Collection, tile: tuple[int, int, int],
             bounds, clustered: bool) -> bytes:
        lonlat = mvt.tile_bounds_lonlat(*tile, buffer=mvt.BUFFER / mvt.EXTENT)
        if collection.geometry_type == "POINT":
            return self._point_tile(session, collection, lonlat, bounds, clustered)
        t = collection.table
        cols = ([t.c.id.label("id")] + [t.c[name].label(name) for name in collection.tile_fields]
                + [t.c.geom.label("geom")])
        stmt = base_select(collection, cols).where(self.bbox_clause(session, collection, check_box(*lonlat)))
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

    def _point_tile(self, session: Session, collection: Collection, lonlat, bounds, clustered: bool) -> bytes:
        """A point tile: raw rows from the R*Tree, coordinates read from the blobs, one encoder pass."""
        t = collection.table
        cols = ([t.c.id.label("id")] + [t.c[name].label(name) for name in collection.tile_fields]
                + [type_coerce(t.c.geom, LargeBinary).label("geom")])
        stmt = base_select(collection, cols).where(self.bbox_clause(session, collection, check_box(*lonlat)))
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


@functools.lru_cache(maxsize=64)
def _raw_select(collection_id: str):
    """The published SELECT with the geometry as the stored GeoPackage blob (no per-row decoding)."""
    collection = COLLECTIONS[collection_id]
    cols = [expr.label(name) for name, expr in collection.properties().items()]
    cols.append(type_coerce(collection.table.c.geom, LargeBinary).label("geom"))
    return build_select(collection, cols)


def _tile_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value
