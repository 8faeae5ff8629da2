"""The PostGIS backend: GiST-indexed `&&` filters with exact ST_Intersects / ST_DWithin in the database."""

from __future__ import annotations

import functools

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from registry.spatial.base import Box, Layer, SpatialBackend

_ENVELOPE = "ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"
_QUERY = "ST_GeomFromWKB(:wkb, 4326)"


@functools.lru_cache(maxsize=64)
def _sql(kind: str, layer: str, include_retired: bool) -> TextClause:
    """The SQL of one query kind for one layer; ``layer`` has been checked against the whitelist.

    Only the table name is put into the text; every value travels as a bound parameter.
    """
    table = f'"{layer}"'
    live = "" if include_retired else " AND t.status <> 'retired'"
    if kind == "box":
        sql = f"SELECT t.id FROM {table} AS t WHERE ST_Intersects(t.geom, {_ENVELOPE}){live} ORDER BY t.id"
    elif kind == "intersecting":
        sql = f"SELECT t.id FROM {table} AS t WHERE ST_Intersects(t.geom, {_QUERY}){live} ORDER BY t.id"
    elif kind == "within":
        # The query is projected once in q; `&&` on the lon/lat window lets the GiST index choose
        # the candidates before any row is projected.
        sql = (
            f"WITH q AS (SELECT ST_Transform({_QUERY}, CAST(:epsg AS integer)) AS g) "
            f"SELECT t.id FROM {table} AS t, q WHERE t.geom && {_ENVELOPE}"
            f" AND ST_DWithin(ST_Transform(t.geom, CAST(:epsg AS integer)), q.g, :metres){live} ORDER BY t.id"
        )
    elif kind == "distances":
        sql = (
            f"WITH q AS (SELECT ST_Transform({_QUERY}, CAST(:epsg AS integer)) AS g) "
            f"SELECT t.id, ST_Distance(ST_Transform(t.geom, CAST(:epsg AS integer)), q.g) "
            f"FROM {table} AS t, q WHERE t.geom && {_ENVELOPE}{live}"
        )
    elif kind == "knn":
        # The k nearest by the index's own (degree) distance are k rows; their largest metric
        # distance bounds the k-th nearest metric distance, which the caller then searches exactly.
        sql = (
            f"SELECT count(*), max(ST_Distance(ST_Transform(c.geom, CAST(:epsg AS integer)), "
            f"ST_Transform({_QUERY}, CAST(:epsg AS integer)))) FROM (SELECT t.geom FROM {table} AS t "
            f"WHERE t.geom IS NOT NULL{live} ORDER BY t.geom <-> {_QUERY} LIMIT :k) AS c"
        )
    elif kind == "raw":
        sql = f"SELECT t.id FROM {table} AS t WHERE t.geom && {_ENVELOPE} ORDER BY t.id"
    else:
        raise ValueError(f"kind {kind!r} is not a query kind")
    return text(sql)


def _params(box: Box, **extra) -> dict:
    minx, miny, maxx, maxy = box
    return {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy, **extra}


def _wkb(geom: BaseGeometry) -> bytes:
    return shapely.to_wkb(geom, flavor="iso", byte_order=1)


class PostGISBackend(SpatialBackend):
    """Spatial queries on the PostgreSQL + PostGIS store."""

    kind = "postgis"

    def _by_box(self, session: Session, lyr: Layer, box: Box, include_retired: bool) -> list[int]:
        return list(session.execute(_sql("box", lyr.name, include_retired), _params(box)).scalars())

    def _intersecting(self, session: Session, lyr: Layer, geom: BaseGeometry, include_retired: bool) -> list[int]:
        stmt = _sql("intersecting", lyr.name, include_retired)
        return list(session.execute(stmt, {"wkb": _wkb(geom)}).scalars())

    def _within_distance(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry, epsg: int,
                         metres: float, window: Box, include_retired: bool) -> list[int]:
        params = _params(window, wkb=_wkb(geom), epsg=epsg, metres=metres)
        return list(session.execute(_sql("within", lyr.name, include_retired), params).scalars())

    def _distances(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry, epsg: int,
                   window: Box, include_retired: bool) -> tuple[np.ndarray, np.ndarray]:
        params = _params(window, wkb=_wkb(geom), epsg=epsg)
        rows = session.execute(_sql("distances", lyr.name, include_retired), params).all()
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        dists = np.array([row[1] for row in rows], dtype=np.float64)
        return ids, dists

    def _seed_radius(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry,
                     epsg: int, k: int, include_retired: bool) -> float | None:
        # One index-ordered (<->) query finds k rows at once; see the "knn" SQL for why it is a bound.
        params = {"wkb": _wkb(geom), "epsg": epsg, "k": k}
        count, largest = session.execute(_sql("knn", lyr.name, include_retired), params).one()
        return None if count < k else float(largest)

    def _box_ids_raw(self, session: Session, lyr: Layer, box: Box) -> list[int]:
        return list(session.execute(_sql("raw", lyr.name, False), _params(box)).scalars())
