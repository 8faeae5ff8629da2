"""The OGC queries on PostGIS: GiST-indexed boxes, items pages and tiles written by the database.

A GeoJSON items page is one statement: the matched rows are read once (a CTE), counted, and the
page's features written by the database (``json_build_object``, ``ST_AsGeoJSON``, date-times formatted
as Python writes them), so the view only splices the text into the document; HTML pages and exports
still build dicts. A tile is the one ``ST_AsMVT`` statement, sent through the driver on a plain pooled
connection (binary result). Both run with ``SET LOCAL jit = off`` (PostGIS function costs trigger JIT,
and compiling costs more than the query) in a transaction that commits, because psycopg drops its
prepared statements on a rollback.
"""

from __future__ import annotations

from sqlalchemy import JSON, Text, case, cast, func, literal_column, null, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from geodata import mvt
from registry.db import Store
from registry.services.gis.ogc.backend import OgcBackend
from registry.services.gis.ogc.collections import Collection
from registry.services.gis.ogc.features import ItemsPage
from registry.services.gis.ogc.kinds import column_kind
from registry.services.gis.ogc.parameters import CRS, ItemsQuery
from registry.services.gis.ogc.sql import base_select
from registry.spatial.base import box_geometry

# json_build_object takes at most 100 arguments, a name and a value per property.
_MAX_JSON_PAIRS = 50


class PostGISQueries(OgcBackend):
    """The PostGIS store: conditions and documents written in SQL."""

    kind = "postgis"

    def bbox_clause(self, session: Session, collection: Collection, box):
        return func.ST_Intersects(collection.table.c.geom, func.ST_GeomFromText(box_geometry(box).wkt, 4326))

    def extent_box(self, session: Session, collection: Collection):
        geom = collection.table.c.geom
        return session.execute(base_select(collection, [
            func.ST_XMin(func.ST_Extent(geom)), func.ST_YMin(func.ST_Extent(geom)),
            func.ST_XMax(func.ST_Extent(geom)), func.ST_YMax(func.ST_Extent(geom))])).first()

    def page(self, session: Session, collection: Collection, query: ItemsQuery, clauses, *,
             as_json: bool = False) -> ItemsPage:
        """With ``as_json`` the database writes the page's GeoJSON in the statement that counts the matches."""
        if as_json and len(collection.properties()) <= _MAX_JSON_PAIRS:
            return _json_page(session, collection, query, clauses)
        return super().page(session, collection, query, clauses)

    def tile(self, store: Store, session: Session, collection: Collection, tile: tuple[int, int, int],
             bounds, clustered: bool) -> bytes:
        z, x, y = tile
        cell = (bounds[2] - bounds[0]) / mvt.EXTENT * 64
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


def _json_page(session: Session, collection: Collection, query: ItemsQuery, clauses) -> ItemsPage:
    """The items page in one round trip: the count and the page's GeoJSON, written by the database."""
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


def _tile_where_sql(collection: Collection) -> str:
    parts = []
    for name, op, value in collection.conditions:
        # Names and values come from the fixed collection table, never from a request.
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
