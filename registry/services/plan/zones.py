"""Facility zones: protection ranges and control zones drawn, uploaded or buffered; superseding keeps history."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, mapping, shape
from sqlalchemy import select

from geodata.checks import GeometryError, check_polygon
from geodata.crs import area_m2, from_metric, to_metric
from geodata.readers import ReadError, read_geometries
from geodata.sniff import DEFAULT_LIMITS, Limits
from registry import spatial
from registry.db import Store
from registry.models import ConflictCheck, Facility, FacilityZone, PlanZone
from registry.models.vocab import ZONE_KINDS
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    TooLarge,
    load,
    optional_date,
    record_audit,
    snapshot,
    unit_of_work,
)

CURRENT = "active"
SUPERSEDED = "superseded"
MAX_BUFFER_M = 5000.0


def require_planner(actor: Actor) -> None:
    """Only planners (and admins) change zones, checks and plans."""
    if not actor.can("planner"):
        raise Forbidden(f"{actor.name} is not a planner; only planners may change zones and plans")


def _kind(kind: str) -> str:
    if kind not in ZONE_KINDS:
        raise InvalidInput(f"kind {kind!r} is not one of {', '.join(ZONE_KINDS)}", field="kind")
    return kind


def _reported(value) -> date | None:
    return optional_date(value, "reported_on")


def read_error(exc: ReadError) -> InvalidInput:
    """A reader's refusal as the service error the web layer shows, naming the field and the place (413 for a limit)."""
    kind = TooLarge if exc.status == 413 else InvalidInput
    return kind(str(exc), field=exc.field, errors=list(exc.choices))


def _write_zone(store: Store, actor: Actor, facility_id: int, kind: str, geom: MultiPolygon, *,
                reported_on=None, approved_by=None, source=None, note=None) -> FacilityZone:
    with unit_of_work(store) as session:
        facility = load(session, Facility, facility_id, "facility", hide_retired=True)
        # The zone it replaces keeps its row, marked superseded, so the history of a range stays.
        for old in session.scalars(select(FacilityZone).where(
                FacilityZone.facility_id == facility_id, FacilityZone.kind == kind,
                FacilityZone.status == CURRENT)):
            before = snapshot(old)
            old.status = SUPERSEDED
            record_audit(session, actor, "supersede", old, before=before)
        zone = FacilityZone(facility_id=facility_id, kind=kind, geom=geom, area_m2=round(area_m2(geom), 1),
                            reported_on=reported_on, approved_by=approved_by, source=source, note=note,
                            is_demo=facility.is_demo)
        session.add(zone)
        record_audit(session, actor, "create", zone)
        session.flush()
        session.expunge(zone)
    return zone


def save_zone(store: Store, actor: Actor, facility_id: int, kind: str, geom, *, reported_on=None,
              approved_by=None, source: str = "drawn", repair: bool = False) -> FacilityZone:
    """Store a zone for a facility from a lon/lat polygon; the current zone of that kind is superseded."""
    require_planner(actor)
    _kind(kind)
    reported = _reported(reported_on)
    try:
        checked, note = check_polygon(geom, field="geometry", repair=repair)
    except GeometryError as exc:
        hint = "" if repair else "; ask for a repair to have it fixed"
        raise InvalidInput(str(exc) + hint, field="geometry") from None
    return _write_zone(store, actor, facility_id, kind, checked, reported_on=reported, approved_by=approved_by,
                       source=source, note=note)


def save_zone_geojson(store: Store, actor: Actor, facility_id: int, kind: str, text: str, **kwargs) -> FacilityZone:
    """Store a zone drawn in the browser or pasted as GeoJSON (a geometry, Feature or FeatureCollection)."""
    return save_zone(store, actor, facility_id, kind, parse_geojson(text, "geometry", polygons_only=True), **kwargs)


def upload_zone(store: Store, actor: Actor, facility_id: int, kind: str, data: bytes | Path, filename: str, *,
                layer: str | None = None, crs: str | None = None, repair: bool = False, reported_on=None,
                approved_by=None, limits: Limits = DEFAULT_LIMITS) -> FacilityZone:
    """Store a zone from an uploaded file; all its polygons together make the one zone."""
    require_planner(actor)
    _kind(kind)
    reported = _reported(reported_on)
    try:
        result = read_geometries(data, filename, layer=layer, crs=crs, repair=repair, kinds=("polygon",),
                                 limits=limits)
    except ReadError as exc:
        raise read_error(exc) from None
    merged = shapely.union_all(result.geometries)
    geom = merged if isinstance(merged, MultiPolygon) else MultiPolygon([merged])
    note = "; ".join(result.notes) or None
    source = f"uploaded {filename} ({result.format}, {result.source_crs}" + (
        f", layer {result.layer})" if result.layer else ")")
    return _write_zone(store, actor, facility_id, kind, geom, reported_on=reported, approved_by=approved_by,
                       source=source, note=note)


def buffer_control_zone(store: Store, actor: Actor, facility_id: int, metres, *, reported_on=None) -> FacilityZone:
    """A default construction-control zone: the protection range (or the facility's point) grown by ``metres``.

    The buffer is made in the metric CRS, so N metres are N metres on the ground.
    """
    require_planner(actor)
    try:
        metres = float(metres)
    except (TypeError, ValueError):
        raise InvalidInput(f"metres {metres!r} is not a number", field="metres") from None
    if not 0 < metres <= MAX_BUFFER_M:
        raise InvalidInput(f"metres {metres:g} must be above 0 and at most {MAX_BUFFER_M:g}", field="metres")
    with store.session() as session:
        facility = load(session, Facility, facility_id, "facility")
        base = session.scalar(select(FacilityZone.geom).where(
            FacilityZone.facility_id == facility_id, FacilityZone.kind == "protection_range",
            FacilityZone.status == CURRENT))
        base = base if base is not None else facility.geom
    projected, epsg = to_metric(base)
    grown = from_metric(projected.buffer(metres, quad_segs=16), epsg)
    geom = grown if isinstance(grown, MultiPolygon) else MultiPolygon([grown])
    what = "protection range" if base.geom_type != "Point" else "facility position"
    return _write_zone(store, actor, facility_id, "control_zone", geom, reported_on=_reported(reported_on),
                       source="buffer", note=f"default control zone: {what} + {metres:g} m")


def zones_of(store: Store, facility_id: int, *, include_superseded: bool = True) -> list[FacilityZone]:
    """A facility's zones, current first, then superseded ones newest first (the history)."""
    with store.session() as session:
        query = select(FacilityZone).where(FacilityZone.facility_id == facility_id)
        if not include_superseded:
            query = query.where(FacilityZone.status == CURRENT)
        zones = list(session.scalars(query.order_by(FacilityZone.id.desc())))
        session.expunge_all()
    zones.sort(key=lambda z: (z.status != CURRENT, -z.id))
    return zones


def zones_geojson(facility: Facility, zones: list[FacilityZone]) -> dict:
    """A facility's current zones and its point as GeoJSON, with the roles the check map styles."""
    roles = {"protection_range": "forbidden", "control_zone": "review", "footprint": "outline"}
    features = [{"type": "Feature", "geometry": mapping(z.geom), "properties": {"role": roles[z.kind]}}
                for z in zones if z.status == CURRENT and z.kind in roles]
    features.append({"type": "Feature", "geometry": mapping(facility.geom), "properties": {"role": "nearby"}})
    return {"type": "FeatureCollection", "features": features}


def get_facility(store: Store, facility_id: int) -> Facility:
    with store.session() as session:
        facility = load(session, Facility, facility_id, "facility")
        session.expunge(facility)
    return facility


def find_facilities(store: Store, text: str = "", limit: int = 50) -> list[Facility]:
    """Facilities whose name or code contains ``text`` (for picking one to give zones)."""
    with store.session() as session:
        query = select(Facility).where(Facility.status != "retired")
        if text:
            like = f"%{text.strip()}%"
            query = query.where(Facility.name.like(like) | Facility.code.like(like))
        facilities = list(session.scalars(query.order_by(Facility.code).limit(limit)))
        session.expunge_all()
    return facilities


def parse_geojson(text: str, field: str, *, polygons_only: bool = False):
    """A shapely geometry from GeoJSON text: a geometry, a Feature or a FeatureCollection (its parts united)."""
    if not (text or "").strip():
        raise InvalidInput(f"{field} is empty: draw or paste an outline, or upload a file", field=field)
    try:
        doc = json.loads(text)
        if doc.get("type") == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in doc.get("features", []) if f.get("geometry")]
        elif doc.get("type") == "Feature":
            geoms = [shape(doc["geometry"])]
        else:
            geoms = [shape(doc)]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{field} is not GeoJSON: {exc}", field=field) from None
    if not geoms:
        raise InvalidInput(f"{field} holds no geometry", field=field)
    if len(geoms) == 1:
        return geoms[0]
    kinds = {g.geom_type.replace("Multi", "") for g in geoms}
    if kinds == {"Polygon"}:
        return MultiPolygon([p for g in geoms for p in getattr(g, "geoms", [g])])
    if kinds == {"LineString"} and not polygons_only:
        return shapely.MultiLineString([p for g in geoms for p in getattr(g, "geoms", [g])])
    raise InvalidInput(f"{field} mixes {', '.join(sorted(kinds))}; give lines or polygons, not both", field=field)


MAP_LAYERS = ("protection_range", "control_zone", "plan_zones", "conflict_checks", "facilities")
MAP_LIMIT = 2000


def map_features(store: Store, layer: str, bbox, *, limit: int = MAP_LIMIT) -> dict:
    """One planning-map layer inside a lon/lat box as a GeoJSON FeatureCollection (at most ``limit`` features)."""
    if layer not in MAP_LAYERS:
        raise InvalidInput(f"layer {layer!r} is not one of {', '.join(MAP_LAYERS)}", field="layer")
    try:
        minx, miny, maxx, maxy = (float(v) for v in str(bbox).split(","))
    except (TypeError, ValueError):
        raise InvalidInput(f"bbox {bbox!r} is not minx,miny,maxx,maxy", field="bbox") from None
    backend = spatial.for_store(store)
    table = {"protection_range": "facility_zones", "control_zone": "facility_zones", "plan_zones": "plan_zones",
             "conflict_checks": "conflict_checks", "facilities": "facilities"}[layer]
    with store.session() as session:
        try:
            ids = backend.by_box(session, table, minx, miny, maxx, maxy)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="bbox") from None
        if layer in ("protection_range", "control_zone"):
            query = (select(FacilityZone.id, FacilityZone.geom, Facility.name, FacilityZone.area_m2)
                     .join(Facility, Facility.id == FacilityZone.facility_id)
                     .where(FacilityZone.kind == layer, FacilityZone.status == CURRENT))
            model = FacilityZone
        elif layer == "plan_zones":
            query = (select(PlanZone.id, PlanZone.geom, PlanZone.name, PlanZone.plan_id)
                     .where(PlanZone.status == "active"))
            model = PlanZone
        elif layer == "conflict_checks":
            query = select(ConflictCheck.id, ConflictCheck.geom, ConflictCheck.project_name, ConflictCheck.verdict)
            model = ConflictCheck
        else:
            query = select(Facility.id, Facility.geom, Facility.name, Facility.level)
            model = Facility
        rows = []
        for start in range(0, min(len(ids), limit), 500):
            chunk = ids[start:start + 500]
            rows.extend(session.execute(query.where(model.id.in_(chunk))).all())
    features = [{"type": "Feature", "id": row[0], "geometry": mapping(row[1]),
                 "properties": {"label": row[2], "extra": row[3]}} for row in rows]
    return {"type": "FeatureCollection", "features": features, "truncated": len(ids) > limit}
