"""The public map's service stations by viewport: the live stations in a box as GeoJSON, at most a page of them.

The box and the answer are longitude, latitude; ``crs='GCJ-02'`` reads the box and writes the coordinates in
GCJ-02 for a GCJ-02 base map (display only). Centres and demonstration stations come first when a box holds more
than the limit, so a city-wide view shows the stations that matter most.
"""

from __future__ import annotations

import heapq

import numpy as np
from sqlalchemy import or_, select

from geodata.crs import gcj02_to_wgs84, wgs84_to_gcj02
from registry import spatial
from registry.db import Store
from registry.models import ServiceStation
from registry.models.vocab import FIVE_HAVES
from registry.services.base import InvalidInput
from registry.services.public.features import Box, check_limit, parse_bbox

DEFAULT_LIMIT = 500
MAX_LIMIT = 2000
_CHUNK = 900  # ids per IN (...) list, under SQLite's bound-parameter limit
_LEVEL_RANK = {"city": 0, "county": 1, "township": 2, "village": 3}
_DEMO_RANK = {"national_model": 0, "provincial_advanced": 1}


def _display(crs) -> str:
    value = (crs or "EPSG:4326").strip().upper().replace("GCJ02", "GCJ-02")
    if value not in ("EPSG:4326", "GCJ-02"):
        raise InvalidInput(f"crs {crs!r} is not one of EPSG:4326, GCJ-02", field="crs")
    return value


def _wgs84_box(box: Box, display: str) -> tuple[float, float, float, float]:
    if display != "GCJ-02":
        return box.as_tuple()
    xs, ys = gcj02_to_wgs84(np.array([box.minx, box.maxx, box.minx, box.maxx]),
                            np.array([box.miny, box.miny, box.maxy, box.maxy]))
    margin = 1e-4
    return (max(float(xs.min()) - margin, -180.0), max(float(ys.min()) - margin, -90.0),
            min(float(xs.max()) + margin, 180.0), min(float(ys.max()) + margin, 90.0))


def _rank(row) -> tuple:
    return _LEVEL_RANK.get(row["level"], 9), _DEMO_RANK.get(row["demonstration"], 9), row["id"]


def _first_ids(session, ids: list[int], limit: int) -> list[int]:
    """The first ``limit`` of ``ids`` in the map's order, reading only the few centres and model stations.

    A box over a province holds tens of thousands of village stations; the centres, township stations and
    demonstration stations (a few in a hundred) are read with their level, and the villages need no read at all:
    they follow in id order.
    """
    inside = set(ids)
    notable = select(ServiceStation.id, ServiceStation.level, ServiceStation.demonstration).where(
        or_(ServiceStation.level != "village", ServiceStation.demonstration != "none"))
    ranked = sorted((_LEVEL_RANK.get(level, 9), _DEMO_RANK.get(demo, 9), ident)
                    for ident, level, demo in session.execute(notable) if ident in inside)
    first = [ident for *_rank, ident in ranked[:limit]]
    if len(first) < limit:
        taken = {ident for *_rank, ident in ranked}
        first += heapq.nsmallest(limit - len(first), (i for i in inside if i not in taken))
    return first


def _rows(session, ids: list[int]) -> list[dict]:
    rows = []
    for start in range(0, len(ids), _CHUNK):
        query = select(ServiceStation).where(ServiceStation.id.in_(ids[start:start + _CHUNK]))
        for s in session.scalars(query):
            rows.append({"id": s.id, "name": s.name, "level": s.level, "demonstration": s.demonstration,
                         "county_code": s.county_code, "township": s.township, "village": s.village,
                         "opening_hours": s.opening_hours, "phone": s.phone,
                         "five_haves": {name: getattr(s, name) for name in FIVE_HAVES},
                         "is_demo": s.is_demo, "approximate": s.position_approximate,
                         "_x": s.geom.x, "_y": s.geom.y})
    return rows


def stations_in_bbox(store: Store, bbox, limit=DEFAULT_LIMIT, *, crs: str | None = None) -> dict:
    """A GeoJSON FeatureCollection (a dict) of the live service stations in ``bbox``, at most ``limit`` of them.

    ``numberMatched`` counts every station in the box and ``capped`` says when more matched than came back.
    """
    box = bbox if isinstance(bbox, Box) else parse_bbox(bbox)
    limit = check_limit(limit, MAX_LIMIT)
    display = _display(crs)
    with store.session() as session:
        ids = list(spatial.for_store(store).by_box(session, "service_stations", *_wgs84_box(box, display)))
        rows = _rows(session, _first_ids(session, ids, limit))
    rows.sort(key=_rank)
    matched = len(ids)
    xs = np.array([r.pop("_x") for r in rows], float)
    ys = np.array([r.pop("_y") for r in rows], float)
    if display == "GCJ-02" and xs.size:
        xs, ys = wgs84_to_gcj02(xs, ys)
    features = [{"type": "Feature", "id": r["id"], "properties": r,
                 "geometry": {"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]}}
                for r, x, y in zip(rows, xs, ys, strict=True)]
    return {"type": "FeatureCollection", "layer": "service_stations", "features": features,
            "numberMatched": matched, "numberReturned": len(features), "limit": limit,
            "capped": matched > limit, "crs": display}
