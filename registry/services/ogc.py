"""OGC API – Features over the registry: collections, access, queryables, items (bbox, datetime, CRS, CQL2), tiles.

The web layer parses nothing but the URL: every query parameter is checked here and a bad one
becomes an InvalidInput naming the parameter, which the OGC blueprint turns into an exception
document. Public collections publish public fields only; staff collections need a role.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    Integer,
    LargeBinary,
    Text,
    and_,
    case,
    cast,
    column,
    false,
    func,
    literal_column,
    not_,
    null,
    or_,
    select,
    table,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from geodata import cql2, mvt
from geodata import gpkg as gpkg_blobs
from registry.db import Store
from registry.models import (
    Facility,
    FacilityZone,
    HeritageSite,
    Inspection,
    MaintenanceTask,
    Martyr,
    PreservationPlan,
    Relocation,
    Tomb,
)
from registry.models.types import JSONText, UTCDateTime
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
)
from registry.spatial.base import box_geometry, check_box

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
# Offered CRSs: URI -> (EPSG code, whether the CRS's axis order is latitude first).
# CGCS2000 (4490) equals WGS 84 at metre level, so it is served by relabelling, not transforming.
CRS = {
    CRS84: (4326, False),
    EPSG.format(4326): (4326, True),
    EPSG.format(4490): (4490, True),
    EPSG.format(3857): (3857, False),
}
_TO_3857 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
_FROM_3857 = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)

# Query parameters every items request may carry; queryable names are allowed on top (equality filters).
ITEMS_PARAMS = {"f", "bbox", "bbox-crs", "datetime", "limit", "offset", "crs", "filter", "filter-lang",
                "filter-crs", "lang"}
ITEM_PARAMS = {"f", "crs", "lang"}
# Vector tiles: points at zooms below this are thinned to one per 64-unit cell, with a count.
CLUSTER_BELOW_ZOOM = 12


class Unauthorized(ServiceError):
    """No user and no valid token: the client should authenticate (HTTP 401)."""

    status = 401


# --- collections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    """One published collection: which table, which fields, which rows, and who may read it."""

    id: str
    title: str
    title_en: str
    description: str
    model: type
    fields: tuple[str, ...]
    # (property name, column expression, (join target, on clause) or None)
    extras: tuple = ()
    # (column name, operator, value): simple conditions usable both in SQLAlchemy and in tile SQL.
    conditions: tuple = (("status", "<>", "retired"),)
    temporal: str | None = None
    roles: tuple[str, ...] | None = None  # None: public
    tile_fields: tuple[str, ...] = ()
    geometry_type: str | None = None
    # Staff collections: the county a row belongs to (an SQL expression), so that a manager reads
    # only their counties' rows, as in the managers' pages; and the counties this copy is limited to.
    county: object = None
    scope_counties: tuple[str, ...] | None = None

    @property
    def table(self):
        return self.model.__table__

    @property
    def public(self) -> bool:
        return self.roles is None

    @property
    def has_geometry(self) -> bool:
        return self.geometry_type is not None

    def properties(self) -> dict:
        """Property name -> column expression, in publishing order (id first)."""
        props = {"id": self.table.c.id}
        props.update({name: self.table.c[name] for name in self.fields})
        props.update({name: expr for name, expr, _join in self.extras})
        return props


_RECORD = ("status", "is_demo", "updated_at")

_FACILITY_PUBLIC = (
    "code", "name", "category", "level", "level_approved_by", "level_approved_on", "protection_unit",
    "managing_unit", "address", "county_code", "township", "village", "description", "visiting_info", "area_m2",
    "material", "dimensions", "sign_present", "land_title_registered", "std_marker", "std_deeds",
    "std_headstone", "std_boundary", "std_rules", "std_road", "position_approximate",
) + _RECORD
_RELOCATION_PUBLIC = (
    "code", "tomb_id", "martyr_id", "origin_place", "origin_county_code", "origin_township", "dest_facility_id",
    "dest_plot_area", "dest_plot_row", "dest_plot_number", "family_consent", "approval_number", "approval_body",
    "surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on", "accepted_on", "batch", "project",
    "stage",
) + _RECORD
_RELOCATION_FULL = _RELOCATION_PUBLIC + (
    "origin_village", "origin_lon", "origin_lat", "origin_point_method", "consent_by", "consent_relation",
    "funding_source", "funding_amount", "effects", "note",
)
# The roles of the managers' pages (web/rights.py MANAGE_READ): planners read no inspections or work orders.
STAFF_ROLES = ("manager", "reviewer")

def _facility_county(facility_id):
    return select(Facility.county_code).where(Facility.id == facility_id).scalar_subquery()


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        "facilities", "纪念设施", "Memorial facilities", "Martyr memorial facilities (烈士纪念设施) of the registry.",
        Facility, _FACILITY_PUBLIC, temporal="level_approved_on", geometry_type="POINT",
        tile_fields=("name", "category", "level", "county_code")),
    Collection(
        "heritage_sites", "红色文化遗存", "Red heritage sites",
        "Red heritage sites and education bases of 1919–1949 (红色文化遗存 / 革命旧址).",
        HeritageSite,
        ("code", "name", "kind", "period", "heritage_level", "education_base", "education_base_level",
         "county_code", "township", "address", "description", "facility_id", "position_approximate") + _RECORD,
        geometry_type="POINT", tile_fields=("name", "kind", "education_base", "county_code")),
    Collection(
        "tombs", "烈士墓", "Martyr tombs", "Martyr tombs (烈士墓): facility, plot and the martyr who lies there.",
        Tomb, ("facility_id", "plot_area", "plot_row", "plot_number", "state", "martyr_id") + _RECORD,
        extras=(("martyr_name", Martyr.name, (Martyr.__table__, Martyr.id == Tomb.martyr_id)),),
        geometry_type="POINT", tile_fields=("facility_id", "state")),
    Collection(
        "relocations", "迁移路线", "Relocation journeys",
        "Tomb relocation journeys from the original grave to the cemetery, without family details.",
        Relocation, _RELOCATION_PUBLIC, conditions=(("status", "<>", "retired"), ("stage", "<>", "cancelled")),
        temporal="reburied_on", geometry_type="LINESTRING", tile_fields=("code", "stage", "dest_facility_id")),
    Collection(
        "protection_ranges", "保护范围", "Protection ranges",
        "Protection ranges (保护范围) of memorial facilities as drawn by the approving government.",
        FacilityZone, ("facility_id", "reported_on", "approved_by", "area_m2", "status", "is_demo", "updated_at"),
        extras=(("facility_name", Facility.name, (Facility.__table__, Facility.id == FacilityZone.facility_id)),),
        conditions=(("kind", "=", "protection_range"), ("status", "=", "active")), temporal="reported_on",
        geometry_type="MULTIPOLYGON", tile_fields=("facility_id",)),
    Collection(
        "inspections", "巡查记录", "Inspections", "Inspections (巡查): where the inspector stood, condition, 六个一.",
        Inspection,
        ("facility_id", "inspector_name", "inspected_at", "tier", "condition", "std_marker", "std_deeds",
         "std_headstone", "std_boundary", "std_rules", "std_road", "problems", "distance_m", "on_site") + _RECORD,
        temporal="inspected_at", roles=STAFF_ROLES, geometry_type="POINT",
        county=_facility_county(Inspection.facility_id)),
    Collection(
        "maintenance_tasks", "维修任务", "Maintenance tasks", "Maintenance work orders (维修/整修); no geometry.",
        MaintenanceTask,
        ("facility_id", "inspection_id", "title", "description", "priority", "due_on", "cost_estimate",
         "cost_actual", "funding_source", "state", "completed_at", "verified_at") + _RECORD,
        temporal="due_on", roles=STAFF_ROLES, county=_facility_county(MaintenanceTask.facility_id)),
    Collection(
        "preservation_plans", "保护利用规划", "Preservation plans", "Preservation plans and projects; no geometry.",
        PreservationPlan,
        ("code", "title", "kind", "scope", "measures", "budget", "start_on", "end_on", "state", "review_comment",
         "submitted_at", "decided_at") + _RECORD,
        temporal="start_on", roles=("planner", "reviewer")),
    Collection(
        "relocation_records", "迁移档案（完整）", "Relocation records (full)",
        "Full relocation records, with family consent details and funding: staff only.",
        Relocation, _RELOCATION_FULL, temporal="reburied_on", roles=("manager", "reviewer"),
        geometry_type="LINESTRING",
        # A relocation is the business of the county it left and of the county that received it.
        county=(Relocation.origin_county_code, _facility_county(Relocation.dest_facility_id))),
)}


def may_read(collection: Collection, actor: Actor | None) -> bool:
    """Whether ``actor`` may read ``collection`` (public ones: everyone)."""
    if collection.public:
        return True
    return actor is not None and any(actor.can(role) for role in collection.roles)


def get_collection(collection_id: str, actor: Actor | None) -> Collection:
    """The collection called ``collection_id`` if ``actor`` may read it; else NotFound, Unauthorized or Forbidden."""
    collection = COLLECTIONS.get(collection_id)
    if collection is None:
        raise NotFound(f"collection {collection_id!r} does not exist; see /ogc/collections", field="collectionId")
    if not may_read(collection, actor):
        if actor is None or not actor.roles:
            raise Unauthorized(f"collection {collection_id!r} is for staff: sign in or send an API token "
                               "(Authorization: Bearer …)", field="collectionId")
        raise Forbidden(f"collection {collection_id!r} needs one of the roles {', '.join(collection.roles)}",
                        field="collectionId")
    if collection.county is not None and actor is not None and not (
            actor.can("admin") or actor.can("reviewer") or actor.can("planner")):
        # A manager (and a manager's token) reads their own counties' rows, and nothing else.
        return dataclasses.replace(collection, scope_counties=tuple(actor.counties))
    return collection


def _scope_clause(collection: Collection):
    columns = collection.county if isinstance(collection.county, tuple) else (collection.county,)
    return or_(*(col.in_(collection.scope_counties) for col in columns))


def readable_collections(actor: Actor | None) -> list[Collection]:
    return [c for c in COLLECTIONS.values() if may_read(c, actor)]


# --- parameters -------------------------------------------------------------------------------


def _single(args: dict, name: str) -> str | None:
    values = args.get(name)
    if values is None:
        return None
    if isinstance(values, (list, tuple)):
        if len(values) > 1:
            raise InvalidInput(f"parameter {name} is given {len(values)} times; give it once", field=name)
        return values[0]
    return values


def check_params(args: dict, allowed: set[str]) -> None:
    """Refuse any query parameter the endpoint does not know (OGC: 400 for unknown parameters)."""
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}; this endpoint takes: "
                           f"{', '.join(sorted(allowed))}", field=unknown[0])


def parse_crs(value: str | None, name: str = "crs") -> str:
    """The CRS URI asked for (CRS84 when absent), or InvalidInput listing those offered."""
    if value is None or value == "":
        return CRS84
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):  # a safe CURIE such as [EPSG:4326]
        value = value[1:-1]
    if value.upper().startswith("EPSG:"):
        value = EPSG.format(value[5:])
    elif value.upper() in ("CRS84", "OGC:CRS84"):
        value = CRS84
    if value not in CRS:
        raise InvalidInput(f"{name} {value!r} is not offered; use one of {', '.join(CRS)}", field=name)
    return value


def parse_limit(value) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"limit {value!r} is not a whole number", field="limit") from None
    if not 1 <= number <= MAX_LIMIT:
        raise InvalidInput(f"limit {number} is outside 1..{MAX_LIMIT}", field="limit")
    return number


# Past any collection's end, and within what JSON numbers and the stores' 64-bit integers hold exactly.
MAX_OFFSET = 2**53


def parse_offset(value) -> int:
    if value is None or value == "":
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"offset {value!r} is not a whole number", field="offset") from None
    if not 0 <= number <= MAX_OFFSET:
        raise InvalidInput(f"offset {number} is outside 0..{MAX_OFFSET}", field="offset")
    return number


def parse_bbox(value: str, bbox_crs: str) -> tuple[float, float, float, float]:
    """A lon/lat box from the bbox parameter (4 or 6 numbers) in ``bbox_crs``'s axis order."""
    parts = value.split(",")
    if len(parts) not in (4, 6):
        raise InvalidInput(f"bbox has {len(parts)} numbers; give 4 (minx,miny,maxx,maxy) or 6 (with heights)",
                           field="bbox")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise InvalidInput(f"bbox {value!r} holds something that is not a number", field="bbox") from None
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(f"bbox {value!r} holds a number that is not finite", field="bbox")
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    code, lat_first = CRS[bbox_crs]
    a, b, c, d = numbers
    if lat_first:
        a, b, c, d = b, a, d, c
    if code == 3857:
        if a > c or b > d:
            raise InvalidInput(f"bbox {value!r} is inverted (min greater than max)", field="bbox")
        xs, ys = _FROM_3857.transform([a, c, a, c], [b, b, d, d])
        a, b, c, d = min(xs), min(ys), max(xs), max(ys)
    try:
        return check_box(a, b, c, d)
    except ValueError as exc:
        raise InvalidInput(f"bbox: {exc}", field="bbox") from None


def _parse_instant(text_value: str, name: str = "datetime"):
    text_value = text_value.strip()
    try:
        if len(text_value) == 10:
            return date.fromisoformat(text_value)
        moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} {text_value!r} is not an RFC 3339 date or date-time", field=name) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{name} {text_value!r} has no time zone (end it with Z)", field=name)
    return moment


def parse_datetime(value: str):
    """(start, end) from an instant or an interval (``a/b``, ``../b``, ``a/..``); None for an open end."""
    if "/" in value:
        parts = value.split("/")
        if len(parts) != 2:
            raise InvalidInput(f"datetime {value!r} is not an instant or an interval a/b", field="datetime")
        start = None if parts[0] in ("", "..") else _parse_instant(parts[0])
        end = None if parts[1] in ("", "..") else _parse_instant(parts[1])
        if start is None and end is None:
            raise InvalidInput("datetime '../..' has no bound at all", field="datetime")
        if start is not None and end is not None and _as_dt(start) > _as_dt(end, True):
            raise InvalidInput(f"datetime {value!r}: the start is after the end", field="datetime")
        return start, end, False
    instant = _parse_instant(value)
    return instant, instant, True


def _as_dt(value, end: bool = False) -> datetime:
    if isinstance(value, datetime):
        return value
    moment = datetime.combine(value, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


# --- building the query -----------------------------------------------------------------------


def _condition(col, op: str, value):
    return {"=": col == value, "<>": col != value}[op]


@functools.lru_cache(maxsize=64)
def _published_select(collection_id: str):
    # Built once per collection: assembling dozens of labelled columns costs more than running the query.
    return _build_select(COLLECTIONS[collection_id], None)


def base_select(collection: Collection, columns=None):
    """SELECT of the collection's published columns from its table and joins, its fixed conditions applied."""
    if columns is None and COLLECTIONS.get(collection.id) is collection:
        return _published_select(collection.id)
    return _build_select(collection, columns)


def _build_select(collection: Collection, columns):
    t = collection.table
    props = collection.properties()
    cols = columns if columns is not None else [expr.label(name) for name, expr in props.items()]
    if columns is None and collection.has_geometry:
        cols.append(t.c.geom.label("geom"))
    source = t
    for _name, _expr, join in collection.extras:
        source = source.outerjoin(join[0], join[1])
    stmt = select(*cols).select_from(source)
    for name, op, value in collection.conditions:
        stmt = stmt.where(_condition(t.c[name], op, value))
    return stmt


def _bbox_clause(session: Session, store: Store, collection: Collection, box):
    t = collection.table
    query = box_geometry(box)
    if store.kind == "postgis":
        return func.ST_Intersects(t.c.geom, func.ST_GeomFromText(query.wkt, 4326))
    # GeoPackage: an R*Tree entry inside the box is an answer as it stands (its bounds are rounded
    # outward, so the geometry is inside too); only the few entries crossing an edge are tested exactly.
    rtree = table(f"rtree_{t.name}_geom", column("id"), column("minx"), column("maxx"), column("miny"),
                  column("maxy"))
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


def _kind(expr) -> str:
    kind = expr.type
    if isinstance(kind, UTCDateTime):
        return "datetime"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "integer"
    if isinstance(kind, Float):
        return "number"
    if isinstance(kind, JSONText):
        return "json"
    return "string"


def _temporal_clause(collection: Collection, start, end, instant: bool):
    col = collection.table.c[collection.temporal]
    is_dt = _kind(col) == "datetime"

    def bound(value, upper):
        if is_dt:
            return _as_dt(value, upper)
        return value.date() if isinstance(value, datetime) else value

    conditions = [col.is_not(None)]
    if instant and isinstance(start, date) and not isinstance(start, datetime) and is_dt:
        return and_(col >= _as_dt(start), col < _as_dt(start, True))
    if instant:
        return col == bound(start, False)
    if start is not None:
        conditions.append(col >= bound(start, False))
    if end is not None:
        conditions.append(col < bound(end, True) if is_dt and not isinstance(end, datetime) else
                          col <= bound(end, True))
    return and_(*conditions)


def queryables(collection: Collection) -> dict:
    """Property name -> (column expression, kind) of what may be filtered on (JSON columns are left out)."""
    out = {}
    for name, expr in collection.properties().items():
        kind = _kind(expr)
        if kind != "json":
            out[name] = (expr, kind)
    return out


def _literal(value, kind: str, name: str):
    """Coerce a CQL2 or query-parameter literal to the column's kind, or refuse a mismatch (400)."""
    ok = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "date": lambda v: isinstance(v, date),
        "datetime": lambda v: isinstance(v, date),
    }[kind]
    if not ok(value):
        raise InvalidInput(f"filter: property {name!r} is a {kind}; {value!r} is not", field="filter")
    if kind == "date" and isinstance(value, datetime):
        return value.date()
    if kind == "datetime" and not isinstance(value, datetime):
        return _as_dt(value)
    return value


def _cql_sql(node, props: dict):
    if isinstance(node, cql2.And):
        return and_(*(_cql_sql(item, props) for item in node.items))
    if isinstance(node, cql2.Or):
        return or_(*(_cql_sql(item, props) for item in node.items))
    if isinstance(node, cql2.Not):
        return not_(_cql_sql(node.item, props))
    if isinstance(node, cql2.Literal):
        if isinstance(node.value, bool):
            return true() if node.value else false()
        raise InvalidInput(f"filter: {node.value!r} alone is not a condition", field="filter")
    if isinstance(node, cql2.Comparison):
        left, right = node.left, node.right
        if isinstance(left, cql2.Literal) and isinstance(right, cql2.Property):
            flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(node.op, node.op)
            return _cql_sql(cql2.Comparison(flipped, right, left), props)
        if not isinstance(left, cql2.Property):
            raise InvalidInput("filter: a comparison needs a property name on one side", field="filter")
        col, kind = props[left.name]
        if isinstance(right, cql2.Property):
            other, other_kind = props[right.name]
            if {kind, other_kind} - {"integer", "number"} and kind != other_kind:
                raise InvalidInput(f"filter: cannot compare {left.name} ({kind}) with {right.name} ({other_kind})",
                                   field="filter")
            value = other
        else:
            value = _literal(right.value, kind, left.name)
        ops = {"=": col.__eq__, "<>": col.__ne__, "<": col.__lt__, "<=": col.__le__, ">": col.__gt__,
               ">=": col.__ge__}
        return ops[node.op](value)
    if isinstance(node, cql2.IsNull):
        col, _kind_ = props[node.prop.name]
        return col.is_not(None) if node.negated else col.is_(None)
    if isinstance(node, cql2.Like):
        col, kind = props[node.prop.name]
        if kind != "string":
            raise InvalidInput(f"filter: LIKE needs a text property; {node.prop.name!r} is a {kind}", field="filter")
        clause = col.like(node.pattern)
        return not_(clause) if node.negated else clause
    if isinstance(node, cql2.In):
        col, kind = props[node.prop.name]
        values = []
        for item in node.values:
            if not isinstance(item, cql2.Literal):
                raise InvalidInput("filter: IN takes a list of values", field="filter")
            values.append(_literal(item.value, kind, node.prop.name))
        clause = col.in_(values)
        return not_(clause) if node.negated else clause
    if isinstance(node, cql2.Between):
        col, kind = props[node.prop.name]
        if kind not in ("integer", "number", "date", "datetime"):
            raise InvalidInput(f"filter: BETWEEN needs a number or date property; {node.prop.name!r} is a {kind}",
                               field="filter")
        bounds = []
        for item in (node.low, node.high):
            if not isinstance(item, cql2.Literal):
                raise InvalidInput("filter: BETWEEN takes two values", field="filter")
            bounds.append(_literal(item.value, kind, node.prop.name))
        clause = col.between(*bounds)
        return not_(clause) if node.negated else clause
    raise InvalidInput("filter: this expression is not supported", field="filter")


def filter_clause(collection: Collection, text_value: str, limits: tuple[int, int] | None = None):
    """The SQL condition of a CQL2-text filter, after checking its size and that every property is a queryable.

    ``limits`` is (nesting depth, number of conditions), from REGISTRY_CQL2_MAX_DEPTH and REGISTRY_CQL2_MAX_TERMS.
    """
    depth, terms = limits or (cql2.MAX_DEPTH, cql2.MAX_TERMS)
    try:
        tree = cql2.parse(text_value, max_depth=depth, max_terms=terms)
    except cql2.Cql2Error as exc:
        raise InvalidInput(str(exc), field="filter") from None
    props = queryables(collection)
    unknown = sorted(cql2.properties(tree) - set(props))
    if unknown:
        raise InvalidInput(f"filter: unknown property {unknown[0]!r}; see the queryables of "
                           f"{collection.id}", field="filter")
    return _cql_sql(tree, props)


def _parameter_value(raw: str, kind: str, name: str):
    """A queryable given as a query parameter (equality): its text turned into the column's kind."""
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError
            return raw.lower() == "true"
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "datetime":
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} {raw!r} is not a valid {kind}", field=name) from None
    return raw


@dataclass
class ItemsQuery:
    """A checked items request."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    crs: str = CRS84
    bbox: tuple | None = None
    bbox_crs: str = CRS84
    datetime: tuple | None = None
    filter: str | None = None
    equals: dict = field(default_factory=dict)
    unlimited: bool = False
    filter_limits: tuple[int, int] | None = None


def parse_items_query(collection: Collection, args: dict, *, unlimited: bool = False,
                      filter_limits: tuple[int, int] | None = None) -> ItemsQuery:
    """Check an items request's parameters: unknown names, bbox, datetime, limit, crs, filter.

    ``filter_limits`` is the filter's (nesting depth, number of conditions); None takes ``geodata.cql2``'s defaults.
    """
    props = queryables(collection)
    check_params(args, ITEMS_PARAMS | set(props))
    query = ItemsQuery(unlimited=unlimited, filter_limits=filter_limits)
    limit = _single(args, "limit")
    query.limit = parse_limit(limit)
    if unlimited and limit in (None, ""):
        query.limit = None
    query.offset = parse_offset(_single(args, "offset"))
    query.crs = parse_crs(_single(args, "crs"))
    query.bbox_crs = parse_crs(_single(args, "bbox-crs"), "bbox-crs")
    bbox = _single(args, "bbox")
    if bbox is not None:
        if not collection.has_geometry:
            raise InvalidInput(f"collection {collection.id!r} has no geometry, so bbox does not apply", field="bbox")
        query.bbox = parse_bbox(bbox, query.bbox_crs)
    moment = _single(args, "datetime")
    if moment is not None:
        if collection.temporal is None:
            raise InvalidInput(f"collection {collection.id!r} has no time property, so datetime does not apply",
                               field="datetime")
        query.datetime = parse_datetime(moment)
    lang = _single(args, "filter-lang")
    if lang not in (None, "cql2-text"):
        raise InvalidInput(f"filter-lang {lang!r} is not supported; use cql2-text", field="filter-lang")
    filter_crs = _single(args, "filter-crs")
    if filter_crs is not None and parse_crs(filter_crs, "filter-crs") != CRS84:
        raise InvalidInput("filter-crs: only CRS84 is supported for filters", field="filter-crs")
    query.filter = _single(args, "filter")
    if query.filter is not None:
        filter_clause(collection, query.filter, filter_limits)  # checked now: a bad filter fails before any read
    for name in set(args) & set(props):
        raw = _single(args, name)
        query.equals[name] = _parameter_value(raw, props[name][1], name)
    fmt = _single(args, "f")
    if fmt is not None and fmt not in ("json", "geojson", "html", "gpkg", "shp", "kml", "csv", "xlsx"):
        raise InvalidInput(f"f {fmt!r} is not a format of this endpoint", field="f")
    return query


def _where(session: Session, store: Store, collection: Collection, query: ItemsQuery) -> list:
    clauses = []
    if query.bbox is not None:
        clauses.append(_bbox_clause(session, store, collection, query.bbox))
    if query.datetime is not None:
        clauses.append(_temporal_clause(collection, *query.datetime))
    if query.filter is not None:
        clauses.append(filter_clause(collection, query.filter, query.filter_limits))
    props = queryables(collection)
    for name, value in sorted(query.equals.items()):
        clauses.append(props[name][0] == value)
    if collection.scope_counties is not None:
        clauses.append(_scope_clause(collection))
    return clauses


@dataclass
class ItemsPage:
    """One page of features: as dicts, or (GeoJSON on PostGIS) as the JSON text of the features array."""

    features: list[dict] | None
    number_matched: int
    offset: int
    limit: int | None
    crs: str
    features_json: str | None = None
    returned: int | None = None

    @property
    def number_returned(self) -> int:
        return self.returned if self.returned is not None else len(self.features)

    @property
    def has_next(self) -> bool:
        return self.limit is not None and self.offset + self.number_returned < self.number_matched


def _transform(geoms: list, crs: str) -> list:
    """Geometries in lon/lat turned into the CRS asked for, with its axis order."""
    code, lat_first = CRS[crs]
    if crs == CRS84 or not geoms:
        return geoms
    array = np.array(geoms, dtype=object)
    present = np.array([g is not None for g in geoms])
    if code == 3857:
        def project(coords):
            x, y = _TO_3857.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])
        array[present] = shapely.transform(array[present], project)
    elif lat_first:
        array[present] = shapely.transform(array[present], lambda coords: coords[:, ::-1])
    return list(array)


def rows_to_features(rows, collection: Collection, crs: str = CRS84, geometries: list | None = None) -> list[dict]:
    """GeoJSON feature dicts of result rows (geometry in ``crs``, unless the GeoJSON geometries are given)."""
    props = collection.properties()
    if geometries is None:
        geoms = [row.geom for row in rows] if collection.has_geometry else [None] * len(rows)
        geoms = _transform(geoms, crs)
        if collection.geometry_type == "POINT":
            geometries = _point_geojson(geoms)
        else:
            geometries = [mapping(geom) if geom is not None else None for geom in geoms]
    names = [name for name in props if name != "id"]
    # Only date and time columns need turning into text; the rest go into the dict as they come.
    timed = [name for name in names if _kind(props[name]) in ("date", "datetime")]
    features = []
    for row, geometry in zip(rows, geometries, strict=True):
        mapping_ = row._mapping
        properties = {name: mapping_[name] for name in names}
        for name in timed:
            value = properties[name]
            if isinstance(value, (date, datetime)):
                properties[name] = value.isoformat()
        features.append({"type": "Feature", "id": row.id, "geometry": geometry, "properties": properties})
    return features


def _point_geojson(geoms: list) -> list:
    """GeoJSON point dicts of many points at once (coordinates read in one vectorised call)."""
    out = [None] * len(geoms)
    present = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if present:
        # Filled in place: np.array(list of geometries) would probe every geometry as a sequence first.
        array = np.empty(len(present), dtype=object)
        array[:] = [geoms[i] for i in present]
        coords = shapely.get_coordinates(array).tolist()
        for i, xy in zip(present, coords, strict=True):
            out[i] = {"type": "Point", "coordinates": xy}
    return out


def items(store: Store, session: Session, collection: Collection, query: ItemsQuery, *,
          as_json: bool = False) -> ItemsPage:
    """One page of a collection's features matching the query, ordered by id, with the number matched.

    With ``as_json`` on PostGIS the database writes the GeoJSON of the page itself, in the same
    statement that counts the matches, and the page carries it as text (``features_json``).
    """
    clauses = _where(session, store, collection, query)
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
    return _build_select(collection, cols)


def _gpkg_geometries(rows, collection: Collection, crs: str) -> list:
    """GeoJSON geometries of GeoPackage blobs: plain points straight from their bytes, the rest via shapely."""
    blobs = [row.geom for row in rows]
    if collection.geometry_type == "POINT" and crs == CRS84:
        xs, ys = gpkg_blobs.point_xy_many(blobs)
        if not (np.isnan(xs).any() or np.isnan(ys).any()):
            return [{"type": "Point", "coordinates": [x, y]} for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    geoms = _transform(list(gpkg_blobs.decode_many(blobs)), crs)
    if collection.geometry_type == "POINT":
        return _point_geojson(geoms)
    return [mapping(geom) if geom is not None else None for geom in geoms]


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
            pairs += [literal_column(f"'{name}'"), _json_value(page.c[name], _kind(expr))]
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
        stmt = stmt.where(_scope_clause(collection))
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
        out["temporal"] = {"interval": [[_stamp(low), _stamp(high)]],
                           "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return out


def _stamp(value):
    if value is None:
        return None
    if isinstance(value, str):  # SQLite aggregates come back as stored text
        value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
    return _as_dt(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_JSON_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
               "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
               "datetime": {"type": "string", "format": "date-time"}, "json": {}}
_GEOMETRY_FORMATS = {"POINT": "geometry-point", "LINESTRING": "geometry-linestring",
                     "MULTIPOLYGON": "geometry-multipolygon"}


def schema(collection: Collection, base_url: str, *, queryable_only: bool = False) -> dict:
    """The JSON Schema of a collection's features (``describedby``) or of its queryables."""
    properties = {}
    for name, expr in collection.properties().items():
        kind = _kind(expr)
        if queryable_only and kind == "json":
            continue
        properties[name] = {"title": name, **_JSON_TYPES[kind]}
        if name == "id" and not queryable_only:
            properties[name]["x-ogc-role"] = "id"
    if collection.has_geometry and not queryable_only:
        properties["geometry"] = {"format": _GEOMETRY_FORMATS[collection.geometry_type],
                                  "x-ogc-role": "primary-geometry"}
    suffix = "queryables" if queryable_only else "schema"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url}/collections/{collection.id}/{suffix}",
        "type": "object",
        "title": collection.title_en,
        "properties": properties,
        "additionalProperties": not queryable_only,
    }


# --- vector tiles -----------------------------------------------------------------------------


def tile_collections() -> list[Collection]:
    """Collections served as vector tiles: the public ones with a geometry."""
    return [c for c in COLLECTIONS.values() if c.public and c.has_geometry]


def get_tile_collection(collection_id: str) -> Collection:
    collection = COLLECTIONS.get(collection_id)
    if collection is None or not collection.public or not collection.has_geometry:
        raise NotFound(f"no tiles for {collection_id!r}; tiled collections are: "
                       f"{', '.join(c.id for c in tile_collections())}", field="collectionId")
    return collection


def _tile_where_sql(collection: Collection) -> str:
    parts = []
    for name, op, value in collection.conditions:
        # Names and values come from the fixed collection table above, never from a request.
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


def _cluster(collection: Collection, z: int) -> bool:
    return collection.geometry_type == "POINT" and z < CLUSTER_BELOW_ZOOM


def tile(store: Store, session: Session, collection: Collection, z, x, y) -> bytes:
    """One Mapbox vector tile of a public collection (points clustered below zoom 12); empty bytes when empty."""
    try:
        z, x, y = mvt.check_tile(z, x, y)
    except ValueError as exc:
        raise NotFound(str(exc), field="tile") from None
    bounds = mvt.tile_bounds(z, x, y)
    clustered = _cluster(collection, z)
    cell = (bounds[2] - bounds[0]) / mvt.EXTENT * 64
    if store.kind == "postgis":
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
    lonlat = mvt.tile_bounds_lonlat(z, x, y, buffer=mvt.BUFFER / mvt.EXTENT)
    if collection.geometry_type == "POINT":
        return _gpkg_point_tile(session, store, collection, lonlat, bounds, clustered)
    t = collection.table
    cols = [t.c.id.label("id")] + [t.c[name].label(name) for name in collection.tile_fields] + [t.c.geom.label("geom")]
    stmt = base_select(collection, cols).where(_bbox_clause(session, store, collection, check_box(*lonlat)))
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


def _gpkg_point_tile(session: Session, store: Store, collection: Collection, lonlat, bounds, clustered: bool):
    """A point tile on the GeoPackage: raw rows from the R*Tree, coordinates read from the blobs, one encoder pass."""
    t = collection.table
    cols = ([t.c.id.label("id")] + [t.c[name].label(name) for name in collection.tile_fields]
            + [type_coerce(t.c.geom, LargeBinary).label("geom")])
    stmt = base_select(collection, cols).where(_bbox_clause(session, store, collection, check_box(*lonlat)))
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


def _tile_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def tile_etag(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()
