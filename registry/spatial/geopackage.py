"""The GeoPackage backend: R*Tree candidates joined to the feature table in SQL, refined with numpy and shapely."""

from __future__ import annotations

import functools
import sqlite3

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from geodata.crs import to_metric
from geodata.gpkg import decode_many, point_xy_many
from registry.spatial.base import WORLD, Box, Layer, SpatialBackend, box_geometry, expand

# R*Tree rows whose bounds overlap the box :minx..:maxx, :miny..:maxy (boundary inclusive).
_OVERLAP = "r.maxx >= :minx AND r.minx <= :maxx AND r.maxy >= :miny AND r.miny <= :maxy"
# R*Tree bounds entirely inside the box. The R*Tree rounds bounds outward to float32, so the real
# bounds are inside too and the (non-empty) geometry certainly meets the box: no exact test needed.
_INSIDE = "r.minx >= :minx AND r.maxx <= :maxx AND r.miny >= :miny AND r.maxy <= :maxy"


# The four ways a candidate can fail to lie inside the box: its bounds cross the west, east, south or
# north edge. Each is a thin strip of the R*Tree, cheap to walk however large the box is.
_CROSSINGS = ("r.minx < :minx", "r.maxx > :maxx", "r.miny < :miny", "r.maxy > :maxy")

# The first search radius of nearest(); each round multiplies it by _GROWTH until k rows are found.
# 250 m holds a few tombs where they are dense and grows to a county in four rounds where they are sparse.
_FIRST_RADIUS_M = 250.0
_GROWTH = 4.0


@functools.lru_cache(maxsize=64)
def _sql(kind: str, layer: str, include_retired: bool) -> str:
    """The SQL of one query kind for one layer; ``layer`` has been checked against the whitelist."""
    rtree = f'"rtree_{layer}_geom"'
    # CROSS JOIN makes SQLite walk the R*Tree first and fetch each candidate row by its key.
    join = f'FROM {rtree} AS r CROSS JOIN "{layer}" AS t ON t.id = r.id'
    live = "" if include_retired else " AND t.status <> 'retired'"
    if kind == "inside":
        # Answers without an exact test, straight from the R*Tree. Retired rows are left out through
        # the partial index of retired ids, so no table row is read at all.
        if include_retired:
            return f"SELECT r.id FROM {rtree} AS r WHERE {_INSIDE}"
        return (f"SELECT r.id FROM {rtree} AS r WHERE {_INSIDE} AND r.id NOT IN "
                f"(SELECT id FROM \"{layer}\" WHERE status = 'retired')")
    if kind == "edges":
        strips = " UNION ".join(f"SELECT r.id FROM {rtree} AS r WHERE {_OVERLAP} AND {c}" for c in _CROSSINGS)
        return f'SELECT t.id, t.geom FROM ({strips}) AS e CROSS JOIN "{layer}" AS t ON t.id = e.id WHERE 1{live}'
    if kind == "candidates":
        return f"SELECT r.id, t.geom {join} WHERE {_OVERLAP}{live}"
    if kind == "count":
        return f"SELECT count(*) FROM (SELECT 1 {join} WHERE {_OVERLAP}{live} LIMIT :limit)"
    if kind == "raw":
        return f"SELECT id FROM {rtree} AS r WHERE {_OVERLAP}"
    raise ValueError(f"kind {kind!r} is not a query kind")


def _params(box: Box) -> dict[str, float]:
    minx, miny, maxx, maxy = box
    return {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}


def _cursor(session: Session) -> sqlite3.Cursor:
    # The plain sqlite3 connection of the session's transaction: rows come back as tuples, with no
    # ORM objects or SQLAlchemy result rows built for what may be many thousands of candidates.
    return session.connection().connection.driver_connection.cursor()


def _geometries(lyr: Layer, blobs: list) -> np.ndarray:
    """Shapely geometries of candidate blobs (points are built from their x, y without parsing WKB)."""
    if not lyr.is_point:
        return decode_many(blobs)
    xs, ys = point_xy_many(blobs)
    geoms = shapely.points(xs, ys)
    odd = np.flatnonzero(np.isnan(xs))
    if odd.size:
        # Blobs another writer laid out differently (an envelope, big-endian): parse them in full.
        geoms[odd] = decode_many([blobs[i] for i in odd])
    return geoms


class GeoPackageBackend(SpatialBackend):
    """Spatial queries on the embedded GeoPackage store (stdlib sqlite3 and its R*Tree)."""

    kind = "geopackage"

    def _candidates(self, session: Session, lyr: Layer, box: Box, include_retired: bool) -> tuple[list, list]:
        """(ids, blobs) of the live rows whose R*Tree bounds overlap ``box``."""
        rows = _cursor(session).execute(_sql("candidates", lyr.name, include_retired), _params(box)).fetchall()
        if not rows:
            return [], []
        ids, blobs = zip(*rows, strict=True)
        return list(ids), list(blobs)

    def _by_box(self, session: Session, lyr: Layer, box: Box, include_retired: bool) -> list[int]:
        # Two queries instead of one: the many candidates whose index bounds lie inside the box are
        # answers as they stand, and only the few whose bounds cross an edge bring their blob back.
        cursor = _cursor(session)
        params = _params(box)
        found = [row[0] for row in cursor.execute(_sql("inside", lyr.name, include_retired), params).fetchall()]
        edge = cursor.execute(_sql("edges", lyr.name, include_retired), params).fetchall()
        if edge:
            edge_ids, blobs = zip(*edge, strict=True)
            hit = self._meets_box(lyr, list(blobs), box)
            found.extend(np.asarray(edge_ids)[hit].tolist())
        found.sort()
        return found

    @staticmethod
    def _meets_box(lyr: Layer, blobs: list, box: Box) -> np.ndarray:
        """Exact box test of blobs; points are compared as numbers, other shapes with shapely."""
        minx, miny, maxx, maxy = box
        if not lyr.is_point:
            query = box_geometry(box)
            shapely.prepare(query)
            return shapely.intersects(query, decode_many(blobs))
        xs, ys = point_xy_many(blobs)
        hit = (xs >= minx) & (xs <= maxx) & (ys >= miny) & (ys <= maxy)
        odd = np.flatnonzero(np.isnan(xs))
        if odd.size:
            hit[odd] = shapely.intersects(box_geometry(box), decode_many([blobs[i] for i in odd]))
        return hit

    def _intersecting(self, session: Session, lyr: Layer, geom: BaseGeometry, include_retired: bool) -> list[int]:
        ids, blobs = self._candidates(session, lyr, geom.bounds, include_retired)
        if not ids:
            return []
        shapely.prepare(geom)
        if lyr.is_point:
            xs, ys = point_xy_many(blobs)
            hit = shapely.intersects_xy(geom, xs, ys)
            odd = np.flatnonzero(np.isnan(xs))
            if odd.size:
                hit[odd] = shapely.intersects(geom, decode_many([blobs[i] for i in odd]))
        else:
            hit = shapely.intersects(geom, decode_many(blobs))
        return sorted(np.asarray(ids)[hit].tolist())

    def _metric(self, lyr: Layer, blobs: list, epsg: int) -> np.ndarray:
        """Candidate geometries projected into ``epsg`` (pyproj, vectorised over the whole array)."""
        projected, _epsg = to_metric(_geometries(lyr, blobs), epsg)
        return projected

    def _within_distance(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry, epsg: int,
                         metres: float, window: Box, include_retired: bool) -> list[int]:
        ids, blobs = self._candidates(session, lyr, window, include_retired)
        if not ids:
            return []
        shapely.prepare(geom_m)
        hit = shapely.dwithin(geom_m, self._metric(lyr, blobs, epsg), metres)
        return sorted(np.asarray(ids)[hit].tolist())

    def _distances(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry, epsg: int,
                   window: Box, include_retired: bool) -> tuple[np.ndarray, np.ndarray]:
        ids, blobs = self._candidates(session, lyr, window, include_retired)
        if not ids:
            return np.empty(0, dtype=np.int64), np.empty(0)
        dists = shapely.distance(geom_m, self._metric(lyr, blobs, epsg))
        return np.asarray(ids, dtype=np.int64), np.asarray(dists, dtype=np.float64)

    def _seed_radius(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry,
                     epsg: int, k: int, include_retired: bool) -> float | None:
        # Grow a window until the R*Tree holds k live candidates in it (counting stops at k, so a
        # large window over dense rows stays cheap); the k-th smallest metric distance among those
        # candidates bounds the k-th nearest distance.
        radius = _FIRST_RADIUS_M
        count_sql = _sql("count", lyr.name, include_retired)
        while True:
            window = expand(geom.bounds, radius)
            params = _params(window)
            params["limit"] = k
            if _cursor(session).execute(count_sql, params).fetchone()[0] >= k:
                _ids, dists = self._distances(session, lyr, geom, geom_m, epsg, window, include_retired)
                if len(dists) >= k:
                    return float(np.partition(dists, k - 1)[k - 1])
            if window == WORLD:
                return None
            radius *= _GROWTH

    def _box_ids_raw(self, session: Session, lyr: Layer, box: Box) -> list[int]:
        rows = _cursor(session).execute(_sql("raw", lyr.name, False), _params(box)).fetchall()
        ids = [row[0] for row in rows]
        ids.sort()
        return ids
