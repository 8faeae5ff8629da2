"""Items of a collection: the conditions of a checked query, one page of features, one feature, the extent."""

from __future__ import annotations

import functools

import numpy as np
from sqlalchemy import (
    JSON,
    LargeBinary,
    Text,
    case,
    cast,
    column,
    func,
    literal_column,
    null,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from geodata import gpkg as gpkg_blobs
from registry.db import Store
from registry.services.base import NotFound
from registry.services.ogc.collections import COLLECTIONS, Collection, queryables, scope_clause
from registry.services.ogc.cql2_sql import filter_clause
from registry.services.ogc.features import (
    ItemsPage,
    geojson_geometries,
    rows_to_features,
    transform_geometries,
)
from registry.services.ogc.kinds import column_kind, utc_stamp
from registry.services.ogc.parameters import CRS, CRS84, ItemsQuery
from registry.services.ogc.sql import base_select, bbox_clause, build_select, temporal_clause


def where_clauses(session: Session, store: Store, collection: Collection, query: ItemsQuery) -> list:
    """The SQL conditions of a checked items query: bbox, datetime, filter, equalities and a manager's counties."""
    clauses = []
    if query.bbox is not None:
        clauses.append(bbox_clause(session, store, collection, query.bbox))
    if query.datetime is not None:
        clauses.append(temporal_clause(collection, *query.datetime))
    if query.filter is not None:
        clauses.append(filter_clause(collection, query.filter, query.filter_limits))
    props = queryables(collection)
    for name, value in sorted(query.equals.items()):
        clauses.append(props[name][0] == value)
    if collection.scope_counties is not None:
        clauses.append(scope_clause(collection))
    return clauses



def items(store: Store, session: Session, collection: Collection, query: ItemsQuery, *,
          as_json: bool = False) -> ItemsPage:
    """One page of a collection's features matching the query, ordered by id, with the number matched.

    With ``as_json`` on PostGIS the database writes the GeoJSON of the page itself, in the same
    statement that counts the matches, and the page carries it as text (``features_json``).
    """
    clauses = where_clauses(session, store, collection, query)
    if as_json and store.kind == "postgis" and len(collection.properties()) <= _MAX_JSON_PAIRS:
        return _items_postgis_json(session, collection, query, clauses)
    t = collection.table
    counted = base_select(collection, [func.count()]).where(*clauses)
    matched = session.execute(counted).scalar_one()
    raw = store.kind == "geopackage" and collection.has_geometry
    # On the GeoPackage the geometry blobs come back as they are and are read in one pass below.
    stmt = (_raw_select(collection.id) if raw else base_select(collection)).where(*clauses)
    stmt = stmt.order_by(t.c.id).offset(query.offset)
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    rows = session.connection().execute(stmt).all()
    geometries = _gpkg_geometries(rows, collection, query.crs) if raw else None
    return ItemsPage(rows_to_features(rows, collection, query.crs, geometries), matched, query.offset, query.limit,
                     query.crs)


@functools.lru_cache(maxsize=64)
def _raw_select(collection_id: str):
    """The published SELECT with the geometry as the stored GeoPackage blob (no per-row decoding)."""
    collection = COLLECTIONS[collection_id]
    cols = [expr.label(name) for name, expr in collection.properties().items()]
    cols.append(type_coerce(collection.table.c.geom, LargeBinary).label("geom"))
    return build_select(collection, cols)


def _gpkg_geometries(rows, collection: Collection, crs: str) -> list:
    """GeoJSON geometries of GeoPackage blobs: plain points straight from their bytes, the rest via shapely."""
    blobs = [row.geom for row in rows]
    if collection.geometry_type == "POINT" and crs == CRS84:
        xs, ys = gpkg_blobs.point_xy_many(blobs)
        if not (np.isnan(xs).any() or np.isnan(ys).any()):
            return [{"type": "Point", "coordinates": [x, y]} for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    return geojson_geometries(transform_geometries(list(gpkg_blobs.decode_many(blobs)), crs), collection)


# json_build_object takes at most 100 arguments, a name and a value per property.
_MAX_JSON_PAIRS = 50


def _json_value(col, kind: str):
    """A column as json_build_object should see it, so the text equals what Python's json.dumps writes."""
    if kind != "datetime":
        return col
    # Python writes an aware UTC datetime as 2026-01-01T00:00:00+00:00, with .ffffff only when non-zero.
    utc = func.timezone("UTC", col)
    micro = func.to_char(utc, "US")
    written = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS') + case((micro == "000000", ""), else_="." + micro)
    return case((col.is_(None), null()), else_=written + "+00:00")


def _geojson_geometry(geom, crs: str):
    code, lat_first = CRS[crs]
    if code == 3857:
        geom = func.ST_Transform(geom, 3857)
    elif lat_first:
        geom = func.ST_FlipCoordinates(geom)
    # 15 decimals keep every digit of a double in degrees or metres (the output is the shortest exact form).
    return cast(func.ST_AsGeoJSON(geom, 15), JSON)


def _items_postgis_json(session: Session, collection: Collection, query: ItemsQuery, clauses) -> ItemsPage:
    """The PostGIS items page in one round trip: the count and the page's GeoJSON, written by the database."""
    # Referenced twice (the count and the page), the matched rows are read from the table once.
    matched = base_select(collection).where(*clauses).cte("matched")
    page = select(matched).order_by(matched.c.id).offset(query.offset)
    if query.limit is not None:
        page = page.limit(query.limit)
    page = page.subquery("page")
    pairs = []
    for name, expr in collection.properties().items():
        if name != "id":
            # Property names come from the fixed collection definitions, never from a request.
            pairs += [literal_column(f"'{name}'"), _json_value(page.c[name], column_kind(expr))]
    geometry = _geojson_geometry(page.c.geom, query.crs) if collection.has_geometry else null()
    feature = func.json_build_object(literal_column("'type'"), literal_column("'Feature'"),
                                     literal_column("'id'"), page.c.id, literal_column("'geometry'"), geometry,
                                     literal_column("'properties'"), func.json_build_object(*pairs))
    stmt = select(select(func.count()).select_from(matched).scalar_subquery(), func.count(),
                  cast(func.json_agg(aggregate_order_by(feature, page.c.id)), Text)).select_from(page)
    # Its own pooled connection, committed: psycopg keeps the statement prepared only past a commit
    # (a rollback drops them all), so repeated pages skip the planner.
    with session.get_bind().connect() as connection:
        # PostGIS function costs are high enough to trigger JIT, and compiling takes longer than the query.
        connection.execute(text("SET LOCAL jit = off"))
        number_matched, returned, features_json = connection.execute(stmt).one()
        connection.commit()
    return ItemsPage(None, number_matched, query.offset, query.limit, query.crs,
                     features_json=features_json or "[]", returned=returned)


def item(session: Session, collection: Collection, feature_id: str, crs: str = CRS84) -> dict:
    """One feature by id, or NotFound (also for a row the collection does not publish)."""
    try:
        key = int(feature_id)
    except (TypeError, ValueError):
        raise NotFound(f"feature {feature_id!r} is not in {collection.id}", field="featureId") from None
    stmt = base_select(collection).where(collection.table.c.id == key)
    if collection.scope_counties is not None:
        stmt = stmt.where(scope_clause(collection))
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(f"feature {feature_id!r} is not in {collection.id}", field="featureId")
    return rows_to_features([row], collection, crs)[0]


def extent(session: Session, store: Store, collection: Collection) -> dict:
    """The spatial (and temporal, when there is one) extent of a collection's published rows."""
    out = {}
    if collection.has_geometry:
        t = collection.table
        if store.kind == "postgis":
            box = session.execute(base_select(collection, [
                func.ST_XMin(func.ST_Extent(t.c.geom)), func.ST_YMin(func.ST_Extent(t.c.geom)),
                func.ST_XMax(func.ST_Extent(t.c.geom)), func.ST_YMax(func.ST_Extent(t.c.geom))])).first()
        else:
            rtree = table(f"rtree_{t.name}_geom", column("id"), column("minx"), column("maxx"), column("miny"),
                          column("maxy"))
            box = session.execute(
                base_select(collection, [func.min(rtree.c.minx), func.min(rtree.c.miny), func.max(rtree.c.maxx),
                                         func.max(rtree.c.maxy)]).join(rtree, rtree.c.id == t.c.id)).first()
        if box is not None and box[0] is not None:
            out["spatial"] = {"bbox": [[float(v) for v in box]], "crs": CRS84}
        else:
            out["spatial"] = {"bbox": [[73.0, 18.0, 135.0, 54.0]], "crs": CRS84}
    if collection.temporal:
        col = collection.table.c[collection.temporal]
        low, high = session.execute(base_select(collection, [func.min(col), func.max(col)])).first()
        out["temporal"] = {"interval": [[utc_stamp(low), utc_stamp(high)]],
                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return out
