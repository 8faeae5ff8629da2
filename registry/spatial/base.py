"""The spatial query interface shared by both stores: layers, argument checks and the nearest-k search."""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Table
from sqlalchemy.orm import Session

from geodata.crs import metres_to_degrees_margin, to_metric
from registry.models import FEATURE_TABLES

Box = tuple[float, float, float, float]

# Longitude does not wrap here: a registry covers a city or province of China, far from the antimeridian.
WORLD: Box = (-180.0, -90.0, 180.0, 90.0)

@dataclass(frozen=True)
class Layer:
    """A feature table the spatial queries may name: its table and the type of its `geom` column."""

    name: str
    table: Table
    geometry_type: str

    @property
    def is_point(self) -> bool:
        """Whether the layer holds points (refined as numbers, without shapely objects)."""
        return self.geometry_type == "POINT"


# The whitelist: only these names are ever put into SQL text, so a layer name cannot inject SQL.
LAYERS: dict[str, Layer] = {
    model.__tablename__: Layer(
        model.__tablename__, model.__table__, model.__table__.c.geom.type.geometry_type
    )
    for model, _identifier, _description in FEATURE_TABLES
}


def layer_for(layer: str) -> Layer:
    """The Layer called ``layer``, or a ValueError that lists the layers there are."""
    try:
        return LAYERS[layer]
    except (KeyError, TypeError):
        raise ValueError(f"unknown layer {layer!r}; layers are: {', '.join(sorted(LAYERS))}") from None


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} {value!r} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} {value!r} is not a finite number")
    return value


def check_box(minx, miny, maxx, maxy) -> Box:
    """Return the box as floats after checking it is a lon/lat box with min <= max on both axes."""
    minx, miny = _finite("minx", minx), _finite("miny", miny)
    maxx, maxy = _finite("maxx", maxx), _finite("maxy", maxy)
    for name, value, limit in (("minx", minx, 180.0), ("maxx", maxx, 180.0), ("miny", miny, 90.0),
                               ("maxy", maxy, 90.0)):
        if not -limit <= value <= limit:
            raise ValueError(
                f"{name} {value!r} is outside -{limit:g}..{limit:g} "
                "(the box is longitude, latitude in degrees; were they swapped or projected?)"
            )
    if minx > maxx:
        raise ValueError(f"minx {minx!r} is greater than maxx {maxx!r}")
    if miny > maxy:
        raise ValueError(f"miny {miny!r} is greater than maxy {maxy!r}")
    return minx, miny, maxx, maxy


def box_geometry(box: Box) -> BaseGeometry:
    """The exact shape of a box: a point or a segment when it is degenerate, else a rectangle.

    A zero-width rectangle is an invalid polygon on which GEOS and PostGIS disagree, so a
    degenerate box is turned into the point or line it really is before any exact test.
    """
    minx, miny, maxx, maxy = box
    if minx == maxx and miny == maxy:
        return shapely.Point(minx, miny)
    if minx == maxx or miny == maxy:
        return shapely.LineString([(minx, miny), (maxx, maxy)])
    return shapely.box(minx, miny, maxx, maxy)


def is_degenerate(box: Box) -> bool:
    """Whether a box has no area (zero width or height)."""
    return box[0] == box[2] or box[1] == box[3]


def check_geometry(geom, name: str = "geom") -> BaseGeometry:
    """Return a 2D copy of a lon/lat shapely geometry after checking it is one, is valid and is in range."""
    if not isinstance(geom, BaseGeometry):
        raise ValueError(f"{name} {geom!r} is not a shapely geometry")
    if geom.is_empty:
        return geom
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ValueError(f"{name} {geom.wkt[:80]!r} has coordinates that are not finite")
    if minx < -180.0 or maxx > 180.0 or miny < -90.0 or maxy > 90.0:
        raise ValueError(
            f"{name} bounds {geom.bounds} are outside lon -180..180, lat -90..90 "
            "(longitude, latitude in degrees expected; were they swapped or projected?)"
        )
    # GEOS and PostGIS answer differently on invalid shapes (or fail), so refuse them on both stores.
    reason = shapely.is_valid_reason(geom)
    if reason != "Valid Geometry":
        raise ValueError(f"{name} {geom.wkt[:80]!r} is not a valid geometry: {reason}")
    return shapely.force_2d(geom)


def check_metres(metres) -> float:
    """Return a distance in metres after checking it is a finite number >= 0."""
    value = _finite("metres", metres)
    if value < 0.0:
        raise ValueError(f"metres {metres!r} must be >= 0")
    return value


def check_k(k) -> int:
    """Return k after checking it is an integer >= 0."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise ValueError(f"k {k!r} is not an integer")
    if k < 0:
        raise ValueError(f"k {k!r} must be >= 0")
    return int(k)


def expand(bounds: Box, metres: float) -> Box:
    """The lon/lat box around ``bounds`` that holds every point within ``metres`` of them, clamped to the world.

    The margin comes from geodata.crs.metres_to_degrees_margin, which over-estimates on purpose,
    so the box never misses a row that the exact metric test would accept.
    """
    minx, miny, maxx, maxy = bounds
    margin = metres_to_degrees_margin(metres, max(abs(miny), abs(maxy)))
    if margin >= 180.0:
        return WORLD
    return (max(minx - margin, -180.0), max(miny - margin, -90.0),
            min(maxx + margin, 180.0), min(maxy + margin, 90.0))


def flush(session: Session) -> None:
    """Flush pending ORM changes first, as an ORM query would, so a query sees the session's own edits."""
    if session.autoflush:
        session.flush()


class SpatialBackend(ABC):
    """Spatial queries over the feature tables of one kind of store.

    Every method takes the SQLAlchemy session to read through, then a layer name (a feature
    table: facilities, facility_zones, heritage_sites, tombs, relocations, inspections, plan_zones).
    Answers are sorted lists of row ids; rows whose status is 'retired' are left out unless
    ``include_retired`` is true. Coordinates are longitude, latitude (EPSG:4326); distances are
    metres measured in the plane of the metric CRS that geodata.crs.metric_crs_for picks for the
    query geometry's centroid (a CGCS2000 Gauss-Kruger zone in China), the same on both stores.
    """

    kind: str = ""

    # --- public API -------------------------------------------------------------------------

    def by_box(self, session: Session, layer: str, minx, miny, maxx, maxy, *,
               include_retired: bool = False) -> list[int]:
        """Ids of the rows whose geometry intersects the box, its boundary included (exact)."""
        lyr = layer_for(layer)
        box = check_box(minx, miny, maxx, maxy)
        flush(session)
        if is_degenerate(box):
            return self._intersecting(session, lyr, box_geometry(box), include_retired)
        return self._by_box(session, lyr, box, include_retired)

    def intersecting(self, session: Session, layer: str, geom: BaseGeometry, *,
                     include_retired: bool = False) -> list[int]:
        """Ids of the rows whose geometry intersects ``geom`` (exact: edges count, holes are outside).

        An empty ``geom`` intersects nothing.
        """
        lyr = layer_for(layer)
        geom = check_geometry(geom)
        if geom.is_empty:
            return []
        flush(session)
        return self._intersecting(session, lyr, geom, include_retired)

    def within_distance(self, session: Session, layer: str, geom: BaseGeometry, metres, *,
                        include_retired: bool = False) -> list[int]:
        """Ids of the rows within ``metres`` of ``geom`` (distance <= metres, planar in the metric CRS).

        An empty ``geom`` is near nothing.
        """
        lyr = layer_for(layer)
        geom = check_geometry(geom)
        metres = check_metres(metres)
        if geom.is_empty:
            return []
        geom_m, epsg = to_metric(geom)
        window = expand(geom.bounds, metres)
        flush(session)
        return self._within_distance(session, lyr, geom, geom_m, epsg, metres, window, include_retired)

    def nearest(self, session: Session, layer: str, point: BaseGeometry, k: int, *,
                include_retired: bool = False) -> list[tuple[int, float]]:
        """The k rows nearest to ``point`` as (id, distance in metres), nearest first, ties by id.

        Any non-empty geometry may stand in for the point. Fewer than k pairs come back when the
        layer holds fewer rows.
        """
        lyr = layer_for(layer)
        point = check_geometry(point, "point")
        if point.is_empty:
            raise ValueError("point is empty; nearest needs a position to measure from")
        k = check_k(k)
        if k == 0:
            return []
        geom_m, epsg = to_metric(point)
        flush(session)
        radius = self._seed_radius(session, lyr, point, geom_m, epsg, k, include_retired)
        # Every row within `radius` lies in this window (the margin over-estimates), and at least
        # k rows lie within `radius`; so the k nearest in the window are the k nearest overall.
        window = WORLD if radius is None else expand(point.bounds, radius)
        ids, dists = self._distances(session, lyr, point, geom_m, epsg, window, include_retired)
        if radius is not None:
            keep = dists <= radius
            ids, dists = ids[keep], dists[keep]
        order = np.lexsort((ids, dists))[:k]
        return [(int(ids[i]), float(dists[i])) for i in order]

    def box_ids_raw(self, session: Session, layer: str, minx, miny, maxx, maxy) -> list[int]:
        """Ids the spatial index alone returns for a box: no exact test, no status filter (a benchmark baseline)."""
        lyr = layer_for(layer)
        box = check_box(minx, miny, maxx, maxy)
        flush(session)
        return self._box_ids_raw(session, lyr, box)

    # --- what each store provides ------------------------------------------------------------

    @abstractmethod
    def _by_box(self, session: Session, lyr: Layer, box: Box, include_retired: bool) -> list[int]:
        """Exact box query for a box with area."""

    @abstractmethod
    def _intersecting(self, session: Session, lyr: Layer, geom: BaseGeometry, include_retired: bool) -> list[int]:
        """Exact intersects query for a checked, non-empty geometry."""

    @abstractmethod
    def _within_distance(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry, epsg: int,
                         metres: float, window: Box, include_retired: bool) -> list[int]:
        """Rows in ``window`` within ``metres`` of ``geom`` (``geom_m`` once projected), measured in ``epsg``."""

    @abstractmethod
    def _distances(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry, epsg: int,
                   window: Box, include_retired: bool) -> tuple[np.ndarray, np.ndarray]:
        """(ids, metric distances to ``geom``) of every row the index finds in ``window``."""

    @abstractmethod
    def _seed_radius(self, session: Session, lyr: Layer, geom: BaseGeometry, geom_m: BaseGeometry,
                     epsg: int, k: int, include_retired: bool) -> float | None:
        """A distance in metres within which at least k rows lie, or None when the layer has fewer than k rows."""

    @abstractmethod
    def _box_ids_raw(self, session: Session, lyr: Layer, box: Box) -> list[int]:
        """The index-only box query."""
