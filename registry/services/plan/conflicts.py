"""The conflict check: a proposed project's outline against protection ranges, control zones and nearby facilities.

Candidates come from the store's spatial index through registry.spatial (R*Tree on GeoPackage,
GiST on PostGIS); overlaps and distances are then measured in shapely in the metric CRS chosen for
the outline, from the same stored coordinates on both stores, so both give the same figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select

from geodata.checks import GeometryError, check_linestring, check_polygon
from geodata.crs import from_metric, to_metric
from geodata.readers import ReadError, read_geometries
from geodata.sniff import DEFAULT_LIMITS, Limits
from registry import spatial
from registry.db import Store
from registry.models import ConflictCheck, Facility, FacilityZone
from registry.models.vocab import LEVELS
from registry.services.base import Actor, InvalidInput, load, record_audit, unit_of_work
from registry.services.plan.zones import CURRENT, parse_geojson, read_error, require_planner

DEFAULT_DISTANCE_M = 200.0
MAX_DISTANCE_M = 20_000.0
MAX_WIDTH_M = 500.0
VERDICTS = ("forbidden", "review", "clear")


def _number(value, field: str, default: float, upper: float, allow_zero: bool = True) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} {value!r} is not a number", field=field) from None
    if not (number >= 0 if allow_zero else number > 0) or number > upper or number != number:
        raise InvalidInput(f"{field} {number:g} must be between 0 and {upper:g} metres", field=field)
    return number


def check_outline(geom: BaseGeometry, repair: bool = False) -> tuple[BaseGeometry, str | None]:
    """A checked outline: a MultiLineString or MultiPolygon in lon/lat, and what a repair changed."""
    try:
        if isinstance(geom, (LineString, MultiLineString)):
            return check_linestring(geom, field="outline", repair=repair)
        if isinstance(geom, (Polygon, MultiPolygon)):
            return check_polygon(geom, field="outline", repair=repair)
    except GeometryError as exc:
        hint = "" if repair else "; tick 'repair' to have it fixed"
        raise InvalidInput(str(exc) + hint, field="outline") from None
    raise InvalidInput(f"the outline is a {geom.geom_type}; draw or upload a line or a polygon", field="outline")


def outline_from_upload(data: bytes | Path, filename: str, *, layer=None, crs=None, repair=False,
                        limits: Limits = DEFAULT_LIMITS):
    """(outline, note) from an uploaded file (bytes or a staged path): its lines together, or its polygons together."""
    try:
        result = read_geometries(data, filename, layer=layer, crs=crs, repair=repair, limits=limits)
    except ReadError as exc:
        raise read_error(exc) from None
    lines = [g for g in result.geometries if g.geom_type == "MultiLineString"]
    polygons = [g for g in result.geometries if g.geom_type == "MultiPolygon"]
    if lines and polygons:
        raise InvalidInput("the file holds both lines and polygons; upload one outline (a road or a plot)",
                           field="file")
    if lines:
        outline = MultiLineString([part for g in lines for part in g.geoms])
    else:
        merged = shapely.union_all(polygons)
        outline = merged if isinstance(merged, MultiPolygon) else MultiPolygon([merged])
    return outline, "; ".join(result.notes) or None


# A long outline is cut into grid cells (degrees) before the index is asked: the index filters by
# bounding box, and the box of a 50 km diagonal road holds a hundred times more candidates than the
# boxes of its pieces. Each exact answer is the union of the pieces' answers. Smaller cells mean
# fewer candidates but more queries; 0.05 deg (about 5 km) was the best on both stores in bench/plan.py.
CELL_DEG = 0.05


def _pieces(geom: BaseGeometry, cell: float = CELL_DEG) -> list[BaseGeometry]:
    """``geom`` cut by a grid of ``cell``-degree cells (itself when it fits in a few cells)."""
    minx, miny, maxx, maxy = geom.bounds
    nx, ny = int((maxx - minx) // cell) + 1, int((maxy - miny) // cell) + 1
    if nx * ny <= 4:
        return [geom]
    xs = minx + np.arange(nx) * cell
    ys = miny + np.arange(ny) * cell
    gx, gy = np.meshgrid(xs, ys)
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell, gy.ravel() + cell)
    shapely.prepare(geom)
    cells = cells[shapely.intersects(geom, cells)]
    pieces = shapely.intersection(cells, geom)
    pieces = pieces[~shapely.is_empty(pieces)]
    return [p if p.is_valid else shapely.make_valid(p) for p in pieces]


def _ids(query, layer: str, geom: BaseGeometry, cell: float) -> list[int]:
    found: set[int] = set()
    for piece in _pieces(geom, cell):
        found.update(query(layer, piece))
    return sorted(found)


def _chunks(ids: list[int], size: int = 5000):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _round(value: float) -> float:
    return round(float(value), 1)


def _zone_entries(rows, probe_m, outline_m, epsg: int) -> tuple[list[dict], list[dict]]:
    """The protection ranges (forbidden) and control zones (review) the outline enters, with the overlaps."""
    forbidden, review = [], []
    if rows:
        # Whole arrays at a time: the projection, the overlaps and the GeoJSON are vectorised.
        zones_m, _ = to_metric(np.array([r[3] for r in rows], dtype=object), epsg)
        overlaps_m = shapely.intersection(probe_m, zones_m)
        crossed = shapely.length(shapely.intersection(outline_m, zones_m))
        areas = shapely.area(overlaps_m)
        for i, row in enumerate(rows):
            zone_id, kind, zone_area, _geom, fid, code, name, level = row
            entry = {
                "zone_id": zone_id, "kind": kind, "facility_id": fid, "code": code, "name": name, "level": level,
                "level_label": LEVELS.get(level, (level,))[0],
                "overlap_m2": _round(areas[i]),
                "overlap_length_m": _round(crossed[i]),
                "zone_area_m2": _round(zone_area if zone_area is not None else zones_m[i].area),
            }
            (forbidden if kind == "protection_range" else review).append(entry)
    return forbidden, review


def _nearby(near, outline_m, epsg: int, distance_m: float) -> list[dict]:
    """The facilities within ``distance_m`` metres of the outline, with their distance."""
    nearby = []
    if near:
        points_m, _ = to_metric(np.array([r[5] for r in near], dtype=object), epsg)
        dists = shapely.distance(outline_m, points_m)
        for i, (fid, code, name, level, category, point) in enumerate(near):
            if dists[i] > distance_m:
                continue
            nearby.append({"facility_id": fid, "code": code, "name": name, "level": level,
                           "level_label": LEVELS.get(level, (level,))[0], "category": category,
                           "distance_m": _round(dists[i]), "lon": point.x, "lat": point.y})
    return nearby


def run_check(store: Store, outline: BaseGeometry, distance_m=DEFAULT_DISTANCE_M, width_m=0.0) -> dict:
    """Check an outline (lon/lat) without saving: ranges entered, control zones entered, facilities near.

    ``width_m`` turns a line into a corridor that wide (for a road), so overlaps have an area.
    """
    distance_m = _number(distance_m, "distance_m", DEFAULT_DISTANCE_M, MAX_DISTANCE_M)
    width_m = _number(width_m, "width_m", 0.0, MAX_WIDTH_M)
    outline_m, epsg = to_metric(outline)
    probe = outline
    probe_m = outline_m
    if width_m and outline.geom_type.endswith("LineString"):
        probe_m = outline_m.buffer(width_m / 2.0, quad_segs=8, cap_style="flat")
        probe = from_metric(probe_m, epsg)
        probe = probe if probe.is_valid else shapely.make_valid(probe)
    backend = spatial.for_store(store)
    with store.session() as session:
        cell = CELL_DEG
        zone_ids = _ids(lambda layer, g: backend.intersecting(session, layer, g), "facility_zones", probe, cell)
        # Facilities near: the index finds those inside a slightly wider metric buffer (no per-row
        # projection in the store), then the exact metric distance below keeps those within reach.
        reach = from_metric(outline_m.buffer(distance_m * 1.002 + 1.0, quad_segs=16), epsg)
        reach = reach if reach.is_valid else shapely.make_valid(reach)
        near_ids = _ids(lambda layer, g: backend.intersecting(session, layer, g), "facilities", reach, cell)
        # In chunks: a county-sized outline can meet more rows than SQLite takes parameters.
        rows, near = [], []
        for ids in _chunks(zone_ids):
            rows.extend(session.execute(
                select(FacilityZone.id, FacilityZone.kind, FacilityZone.area_m2, FacilityZone.geom,
                       Facility.id, Facility.code, Facility.name, Facility.level)
                .join(Facility, Facility.id == FacilityZone.facility_id)
                .where(FacilityZone.id.in_(ids), FacilityZone.status == CURRENT,
                       FacilityZone.kind.in_(("protection_range", "control_zone")))).all())
        for ids in _chunks(near_ids):
            near.extend(session.execute(
                select(Facility.id, Facility.code, Facility.name, Facility.level, Facility.category, Facility.geom)
                .where(Facility.id.in_(ids))).all())
    shapely.prepare(probe_m)
    shapely.prepare(outline_m)
    forbidden, review = _zone_entries(rows, probe_m, outline_m, epsg)
    nearby = _nearby(near, outline_m, epsg, distance_m)
    forbidden.sort(key=lambda e: (-e["overlap_m2"], -e["overlap_length_m"], e["code"]))
    review.sort(key=lambda e: (-e["overlap_m2"], -e["overlap_length_m"], e["code"]))
    nearby.sort(key=lambda e: (e["distance_m"], e["code"]))
    verdict = "forbidden" if forbidden else ("review" if review else "clear")
    return {
        "verdict": verdict, "distance_m": distance_m, "width_m": width_m, "epsg": epsg,
        "outline_length_m": _round(outline_m.length), "outline_area_m2": _round(probe_m.area),
        "forbidden": forbidden, "review": review, "nearby": nearby,
    }


def save_check(store: Store, actor: Actor, project_name: str, outline: BaseGeometry, *,
               distance_m=DEFAULT_DISTANCE_M, width_m=0.0, repair: bool = False, source: str = "drawn",
               note: str | None = None) -> ConflictCheck:
    """Check an outline and save the check under the project's name, so a reviewer can open it later."""
    require_planner(actor)
    name = (project_name or "").strip()
    if not name:
        raise InvalidInput("project_name is required: the check is saved under the project's name",
                           field="project_name")
    checked, repair_note = check_outline(outline, repair=repair)
    results = run_check(store, checked, distance_m, width_m)
    notes = "; ".join(n for n in (note, repair_note) if n) or None
    with unit_of_work(store) as session:
        check = ConflictCheck(project_name=name, outline_kind="line" if "Line" in checked.geom_type else "polygon",
                              distance_m=results["distance_m"], verdict=results["verdict"], results=results,
                              source=source, note=notes, author_id=actor.id, author_name=actor.name, geom=checked)
        session.add(check)
        record_audit(session, actor, "create", check)
    return check


def save_check_upload(store: Store, actor: Actor, project_name: str, data: bytes | Path, filename: str, *,
                      layer=None, crs=None, repair=False, limits: Limits = DEFAULT_LIMITS, **kwargs) -> ConflictCheck:
    """Check an uploaded outline and save it."""
    require_planner(actor)
    if not (project_name or "").strip():
        raise InvalidInput("project_name is required: the check is saved under the project's name",
                           field="project_name")
    outline, note = outline_from_upload(data, filename, layer=layer, crs=crs, repair=repair, limits=limits)
    return save_check(store, actor, project_name, outline, repair=repair, source=f"uploaded {filename}",
                      note=note, **kwargs)


def save_check_geojson(store: Store, actor: Actor, project_name: str, text: str, **kwargs) -> ConflictCheck:
    """Check an outline drawn in the browser or pasted as GeoJSON, and save it."""
    require_planner(actor)
    return save_check(store, actor, project_name, parse_geojson(text, "outline"), **kwargs)


def get_check(store: Store, check_id: int) -> ConflictCheck:
    with store.session() as session:
        check = load(session, ConflictCheck, check_id, "conflict check", hide_retired=True)
        session.expunge(check)
    return check


def list_checks(store: Store, limit: int = 100) -> list[ConflictCheck]:
    with store.session() as session:
        checks = list(session.scalars(select(ConflictCheck).where(ConflictCheck.status != "retired")
                                      .order_by(ConflictCheck.id.desc()).limit(limit)))
        session.expunge_all()
    return checks


def check_geojson(store: Store, check: ConflictCheck) -> dict:
    """The check as a GeoJSON FeatureCollection: the outline, each zone entered, each facility near.

    Zones are read by id: a zone's row is never changed (a new range supersedes it), so the shapes
    are the ones the check saw.
    """
    results = check.results
    entries = results["forbidden"] + results["review"]
    shapes = {}
    if entries:
        with store.session() as session:
            shapes = dict(session.execute(select(FacilityZone.id, FacilityZone.geom).where(
                FacilityZone.id.in_([e["zone_id"] for e in entries]))).all())
    features = [{"type": "Feature", "geometry": mapping(check.geom),
                 "properties": {"role": "outline", "project_name": check.project_name, "verdict": check.verdict,
                                "distance_m": check.distance_m, "width_m": results.get("width_m", 0.0)}}]
    for group in ("forbidden", "review"):
        for entry in results[group]:
            geom = shapes.get(entry["zone_id"])
            features.append({"type": "Feature", "geometry": mapping(geom) if geom is not None else None,
                             "properties": {**entry, "role": group}})
    for entry in results["nearby"]:
        props = {k: v for k, v in entry.items() if k not in ("lon", "lat")}
        props["role"] = "nearby"
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [entry["lon"], entry["lat"]]},
                         "properties": props})
    return {"type": "FeatureCollection", "name": check.project_name, "features": features}
