"""Features by viewport as GeoJSON dicts: facilities, heritage sites, cemeteries, and tombs clustered when many.

Any page or API that shows features of the registry for a box asks here (the public map, the OGC API),
so a page never embeds a whole layer. Boxes and answers are in longitude, latitude; a display CRS of
GCJ-02 turns the incoming box back to WGS 84 and shifts the outgoing coordinates, for display only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from geodata.crs import gcj02_to_wgs84, wgs84_to_gcj02
from geodata.plots import format_plot
from registry import spatial
from registry.db import Store
from registry.models import Facility, HeritageSite, Martyr, Relocation, Tomb
from registry.models.vocab import LEVELS
from registry.services.base import InvalidInput
from registry.services.public import stores
from registry.services.public.backend import PublicBackend

UNKNOWN_MARTYR = "无名烈士"
LAYERS = ("facilities", "heritage_sites", "cemeteries", "tombs")
CEMETERY_CATEGORIES = ("cemetery", "collective_burial")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
# Tombs come one by one only when the box holds at most this many; else as grid clusters.
TOMB_INDIVIDUAL_MAX = 500
# A view at this zoom or closer always gets single tombs (capped at the limit): clusters would hide plots.
TOMB_INDIVIDUAL_ZOOM = 16
# Grid clusters: the cell is a quarter of a 256-pixel tile at the view's zoom, about 64 px on screen.
CLUSTER_PIXELS = 64
DISPLAY_CRS = ("EPSG:4326", "GCJ-02")
_CHUNK = 900  # ids per IN (...) list, under SQLite's bound-parameter limit on any build
_LEVEL_RANK = {code: rank for rank, code in enumerate(LEVELS)}


@dataclass(frozen=True)
class Box:
    """A checked lon/lat box."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return self.minx, self.miny, self.maxx, self.maxy


def parse_bbox(value, field: str = "bbox") -> Box:
    """A box from ``minLon,minLat,maxLon,maxLat`` text (or a 4-sequence), or InvalidInput naming what is wrong."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput(f"{field} is required: minLon,minLat,maxLon,maxLat in degrees", field=field)
    parts = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 4:
        raise InvalidInput(f"{field} {value!r} must be four numbers minLon,minLat,maxLon,maxLat "
                           f"(got {len(parts)})", field=field)
    numbers = []
    for name, part in zip(("minLon", "minLat", "maxLon", "maxLat"), parts, strict=True):
        try:
            number = float(part)
        except (TypeError, ValueError):
            raise InvalidInput(f"{field}: {name} {str(part).strip()!r} is not a number", field=field) from None
        if not math.isfinite(number):
            raise InvalidInput(f"{field}: {name} {str(part).strip()!r} is not a finite number", field=field)
        numbers.append(number)
    minx, miny, maxx, maxy = numbers
    for name, number, limit in (("minLon", minx, 180), ("maxLon", maxx, 180), ("minLat", miny, 90),
                                ("maxLat", maxy, 90)):
        if not -limit <= number <= limit:
            raise InvalidInput(f"{field}: {name} {number:g} is outside -{limit}..{limit} (degrees of longitude, "
                               "latitude expected; were they swapped or projected?)", field=field)
    if minx > maxx:
        raise InvalidInput(f"{field} is inverted: minLon {minx:g} is greater than maxLon {maxx:g}", field=field)
    if miny > maxy:
        raise InvalidInput(f"{field} is inverted: minLat {miny:g} is greater than maxLat {maxy:g}", field=field)
    return Box(minx, miny, maxx, maxy)


def check_limit(limit, most: int = MAX_LIMIT) -> int:
    """A viewport request's ``limit`` as a whole number from 1, at most ``most``; refused naming the field."""
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise InvalidInput(f"limit {limit!r} is not a whole number", field="limit") from None
    if value < 1:
        raise InvalidInput(f"limit {value} must be at least 1", field="limit")
    return min(value, most)


def _check_zoom(zoom) -> int | None:
    if zoom is None or zoom == "":
        return None
    try:
        value = int(zoom)
    except (TypeError, ValueError):
        raise InvalidInput(f"zoom {zoom!r} is not a whole number", field="zoom") from None
    if not 0 <= value <= 24:
        raise InvalidInput(f"zoom {value} is outside 0..24", field="zoom")
    return value


def _check_display(crs) -> str:
    value = (crs or "EPSG:4326").strip().upper().replace("GCJ02", "GCJ-02")
    if value not in DISPLAY_CRS:
        raise InvalidInput(f"crs {crs!r} is not one of {', '.join(DISPLAY_CRS)}", field="crs")
    return value


def _query_box(box: Box, display: str) -> Box:
    """The WGS 84 box to query for a box given in the display CRS (a GCJ-02 box is moved back, with a margin)."""
    if display != "GCJ-02":
        return box
    xs, ys = gcj02_to_wgs84(np.array([box.minx, box.maxx, box.minx, box.maxx]),
                            np.array([box.miny, box.miny, box.maxy, box.maxy]))
    margin = 1e-4  # the offset varies across the box; a few metres more never loses an edge feature
    return Box(max(float(xs.min()) - margin, -180.0), max(float(ys.min()) - margin, -90.0),
               min(float(xs.max()) + margin, 180.0), min(float(ys.max()) + margin, 90.0))


def _display_xy(xs, ys, display: str) -> tuple[list[float], list[float]]:
    xs = np.asarray(xs, dtype=float)
    ys = np.asarray(ys, dtype=float)
    if display == "GCJ-02" and xs.size:
        xs, ys = wgs84_to_gcj02(xs, ys)
    return np.round(xs, 6).tolist(), np.round(ys, 6).tolist()


def _chunks(ids: list[int]):
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _collection(features: list[dict], layer: str, matched: int, *, capped: bool, clustered: bool = False,
                display: str = "EPSG:4326", limit: int) -> dict:
    return {
        "type": "FeatureCollection",
        "layer": layer,
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "limit": limit,
        "capped": capped,
        "clustered": clustered,
        "crs": display,
    }


def _point_features(rows: list[dict], display: str) -> list[dict]:
    xs, ys = _display_xy([r.pop("_x") for r in rows], [r.pop("_y") for r in rows], display)
    return [
        {"type": "Feature", "id": r["id"], "geometry": {"type": "Point", "coordinates": [x, y]}, "properties": r}
        for r, x, y in zip(rows, xs, ys, strict=True)
    ]


def _facility_rows(session: Session, ids: list[int], categories: tuple[str, ...] | None) -> list[dict]:
    rows = []
    for chunk in _chunks(ids):
        query = select(Facility.id, Facility.name, Facility.category, Facility.level, Facility.county_code,
                       Facility.is_demo, Facility.position_approximate, Facility.geom).where(Facility.id.in_(chunk))
        if categories:
            query = query.where(Facility.category.in_(categories))
        for row in session.execute(query):
            rows.append({"id": row.id, "name": row.name, "category": row.category, "level": row.level,
                         "county_code": row.county_code, "is_demo": row.is_demo,
                         "approximate": row.position_approximate, "url": f"/facilities/{row.id}",
                         "_x": row.geom.x, "_y": row.geom.y})
    return rows


def _relocated_counts(session: Session, ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in _chunks(ids):
        query = (select(Relocation.dest_facility_id, func.count())
                 .where(Relocation.dest_facility_id.in_(chunk), Relocation.status != "retired",
                        Relocation.stage != "cancelled")
                 .group_by(Relocation.dest_facility_id))
        counts.update({facility_id: n for facility_id, n in session.execute(query)})
    return counts


def _heritage_rows(session: Session, ids: list[int]) -> list[dict]:
    rows = []
    for chunk in _chunks(ids):
        query = select(HeritageSite.id, HeritageSite.name, HeritageSite.kind, HeritageSite.education_base,
                       HeritageSite.county_code, HeritageSite.is_demo, HeritageSite.position_approximate,
                       HeritageSite.facility_id, HeritageSite.geom).where(HeritageSite.id.in_(chunk))
        for row in session.execute(query):
            rows.append({"id": row.id, "name": row.name, "kind": row.kind, "education_base": row.education_base,
                         "county_code": row.county_code, "is_demo": row.is_demo,
                         "approximate": row.position_approximate,
                         "url": f"/facilities/{row.facility_id}" if row.facility_id else None,
                         "_x": row.geom.x, "_y": row.geom.y})
    return rows


def _tomb_rows(session: Session, ids: list[int]) -> list[dict]:
    rows = []
    for chunk in _chunks(ids):
        query = (select(Tomb.id, Tomb.facility_id, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number, Tomb.is_demo,
                        Tomb.geom, Martyr.id.label("martyr_id"), Martyr.name, Martyr.is_unknown)
                 .outerjoin(Martyr, Martyr.id == Tomb.martyr_id).where(Tomb.id.in_(chunk)))
        for row in session.execute(query):
            unknown = row.martyr_id is None or row.is_unknown
            rows.append({"id": row.id, "name": UNKNOWN_MARTYR if unknown else row.name, "unknown": unknown,
                         "facility_id": row.facility_id, "plot": [row.plot_area, row.plot_row, row.plot_number],
                         "plot_label": format_plot(row.plot_area, row.plot_row, row.plot_number),
                         "plot_label_en": format_plot(row.plot_area, row.plot_row, row.plot_number, english=True),
                         "is_demo": row.is_demo,
                         "url": f"/martyrs/{row.martyr_id}" if row.martyr_id else None,
                         "_x": row.geom.x, "_y": row.geom.y})
    return rows


def _cell_degrees(box: Box, zoom: int | None) -> float:
    if zoom is None:
        # No zoom given: about 16 cells across the wider side of the box.
        return max(box.maxx - box.minx, box.maxy - box.miny, 1e-6) / 16.0
    return 360.0 / (2 ** zoom) / (256.0 / CLUSTER_PIXELS)


def _box_params(box: Box, **more) -> dict:
    return {"minx": box.minx, "miny": box.miny, "maxx": box.maxx, "maxy": box.maxy, **more}


def _tomb_clusters(session: Session, queries: PublicBackend, box: Box, cell: float,
                   display: str) -> tuple[list[dict], int]:
    cells = queries.tomb_cells(session, _box_params(box, cell=cell))
    if not cells:
        return [], 0
    counts = [int(c[2]) for c in cells]
    xs, ys = _display_xy([float(c[3]) for c in cells], [float(c[4]) for c in cells], display)
    features = [
        {"type": "Feature", "id": f"cell-{c[0]}-{c[1]}", "geometry": {"type": "Point", "coordinates": [x, y]},
         "properties": {"cluster": True, "count": n}}
        for c, n, x, y in zip(cells, counts, xs, ys, strict=True)
    ]
    return features, sum(counts)


def features_in_bbox(store: Store, layer: str, bbox, limit=DEFAULT_LIMIT, *, zoom=None, crs: str | None = None,
                     categories: tuple[str, ...] | None = None, session: Session | None = None) -> dict:
    """A GeoJSON FeatureCollection (a dict) of one layer's live features in a box.

    ``layer`` is one of ``facilities``, ``heritage_sites``, ``cemeteries`` (cemeteries and collective
    burial grounds with ``relocated``, the number of tombs moved into each) or ``tombs``. ``bbox`` is
    ``minLon,minLat,maxLon,maxLat`` text, a 4-sequence or a :class:`Box`. At most ``limit`` features come
    back (the most important first: higher protection level); ``capped`` then says more matched. Tombs
    come as grid clusters (``properties.cluster``, ``count``) when the box holds more than a page of
    them, unless ``zoom`` is close. ``crs='GCJ-02'`` reads the box and writes coordinates in GCJ-02.
    """
    if layer not in LAYERS:
        raise InvalidInput(f"layer {layer!r} is not one of {', '.join(LAYERS)}", field="layer")
    box = bbox if isinstance(bbox, Box) else parse_bbox(bbox)
    limit = check_limit(limit)
    zoom = _check_zoom(zoom)
    display = _check_display(crs)
    query_box = _query_box(box, display)
    backend = spatial.for_store(store)
    own = session is None
    session = session or store.session()
    try:
        if layer == "tombs":
            return _tombs(session, stores.for_store(store), backend, query_box, box, limit, zoom, display)
        table = "heritage_sites" if layer == "heritage_sites" else "facilities"
        ids = backend.by_box(session, table, *query_box.as_tuple())
        if layer == "heritage_sites":
            rows = _heritage_rows(session, ids)
            rows.sort(key=lambda r: (not r["education_base"], r["id"]))
        else:
            wanted = CEMETERY_CATEGORIES if layer == "cemeteries" else categories
            rows = _facility_rows(session, ids, wanted)
            rows.sort(key=lambda r: (_LEVEL_RANK.get(r["level"], 99), r["id"]))
        matched = len(rows)
        rows = rows[:limit]
        if layer == "cemeteries":
            counts = _relocated_counts(session, [r["id"] for r in rows])
            for row in rows:
                row["relocated"] = counts.get(row["id"], 0)
        return _collection(_point_features(rows, display), layer, matched, capped=matched > limit,
                           display=display, limit=limit)
    finally:
        if own:
            session.close()


def _tombs(session, queries: PublicBackend, backend, query_box: Box, box: Box, limit: int, zoom: int | None,
           display: str) -> dict:
    individual_max = min(limit, TOMB_INDIVIDUAL_MAX)
    close = zoom is not None and zoom >= TOMB_INDIVIDUAL_ZOOM
    if not close and queries.tomb_count_upto(session, _box_params(query_box, n=individual_max + 1)) > individual_max:
        features, matched = _tomb_clusters(session, queries, query_box, _cell_degrees(box, zoom), display)
        return _collection(features, "tombs", matched, capped=False, clustered=True, display=display,
                           limit=limit)
    ids = backend.by_box(session, "tombs", *query_box.as_tuple())
    matched = len(ids)
    rows = _tomb_rows(session, ids[:limit])
    rows.sort(key=lambda r: r["id"])
    return _collection(_point_features(rows, display), "tombs", matched, capped=matched > limit,
                       display=display, limit=limit)


def features_by_name(store: Store, q: str, limit: int = 20, *, crs: str | None = None) -> dict:
    """Facilities and heritage sites whose name contains ``q``, as one FeatureCollection (search box)."""
    q = (q or "").strip()
    if not q:
        raise InvalidInput("q (a name or part of one) is required", field="q")
    if len(q) > 50:
        raise InvalidInput(f"q is {len(q)} characters; at most 50", field="q")
    limit = min(check_limit(limit), 50)
    display = _check_display(crs)
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with store.session() as session:
        facility_ids = session.scalars(
            select(Facility.id).where(Facility.status != "retired", Facility.name.like(pattern, escape="\\"))
            .order_by(Facility.id).limit(limit)).all()
        rows = _facility_rows(session, list(facility_ids), None)
        for row in rows:
            row["layer"] = "facilities"
        site_ids = session.scalars(
            select(HeritageSite.id).where(HeritageSite.status != "retired",
                                          or_(HeritageSite.name.like(pattern, escape="\\")))
            .order_by(HeritageSite.id).limit(limit)).all()
        sites = _heritage_rows(session, list(site_ids))
        for row in sites:
            row["layer"] = "heritage_sites"
    rows.sort(key=lambda r: (_LEVEL_RANK.get(r["level"], 99), r["id"]))
    everything = (rows + sites)[:limit]
    return _collection(_point_features(everything, display), "search", len(rows) + len(sites),
                       capped=len(rows) + len(sites) > limit, display=display, limit=limit)
