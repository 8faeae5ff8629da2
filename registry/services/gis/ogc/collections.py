"""The published collections: which table, fields and rows each publishes, and who may read it.

Public collections publish public fields only; staff collections need the roles of their pages
(``web/rights.py``). Staff collections carry the county each row belongs to (an inspection's or work
order's facility; a relocation's origin or destination), and ``get_collection`` hands a manager, or a
manager's token, a copy limited to their counties, so ``/ogc`` keeps the same rights as the managers' pages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import or_, select

from registry.models import (
    Facility,
    FacilityZone,
    HeritageSite,
    Inspection,
    MaintenanceTask,
    Martyr,
    PreservationPlan,
    Relocation,
    ServiceStation,
    Tomb,
)
from registry.services.base import Actor, Forbidden, NotFound, ServiceError
from registry.services.gis.ogc.kinds import column_kind


class Unauthorized(ServiceError):
    """No user and no valid token: the client should authenticate (HTTP 401)."""

    status = 401


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
# Where a row's point and facts come from and when they were last checked (models/provenance.py).
_PROVENANCE = tuple(f"{part}_{column}" for part in ("position", "facts")
                    for column in ("source", "source_ref", "checked_on"))

_FACILITY_PUBLIC = (
    "code", "name", "category", "level", "level_approved_by", "level_approved_on", "protection_unit",
    "managing_unit", "address", "county_code", "township", "village", "description", "visiting_info", "area_m2",
    "material", "dimensions", "sign_present", "land_title_registered", "std_marker", "std_deeds",
    "std_headstone", "std_boundary", "std_rules", "std_road", "position_approximate",
) + _RECORD + _PROVENANCE
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
         "county_code", "township", "address", "description", "facility_id", "position_approximate") + _RECORD
        + _PROVENANCE,
        geometry_type="POINT", tile_fields=("name", "kind", "education_base", "county_code")),
    Collection(
        "tombs", "烈士墓", "Martyr tombs", "Martyr tombs (烈士墓): facility, plot and the martyr who lies there.",
        Tomb, ("facility_id", "plot_area", "plot_row", "plot_number", "state", "martyr_id") + _RECORD + _PROVENANCE,
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
         "std_headstone", "std_boundary", "std_rules", "std_road", "problems", "distance_m", "on_site",
         "facility_changed", "facility_version_seen") + _RECORD,
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
    Collection(
        "service_stations", "退役军人服务站", "Veterans service stations",
        "Veterans service centres and stations (退役军人服务中心（站）): level, demonstration status, the 五有 "
        "(a body, posts, staff, funds, provisions), opening hours and phone.",
        ServiceStation,
        ("code", "name", "level", "county_code", "township", "village", "address", "demonstration", "has_body",
         "has_posts", "has_staff", "has_funds", "has_provisions", "opening_hours", "phone",
         "position_approximate") + _RECORD + _PROVENANCE,
        geometry_type="POINT", tile_fields=("name", "level", "demonstration", "county_code")),
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


def county_columns(collection: Collection) -> tuple:
    """The columns naming the county (or counties) a row belongs to; empty when the collection has none."""
    if collection.county is not None:
        return collection.county if isinstance(collection.county, tuple) else (collection.county,)
    if "county_code" in collection.table.c:
        return (collection.table.c.county_code,)
    if "facility_id" in collection.table.c:
        return (_facility_county(collection.table.c.facility_id),)
    return ()


def scope_clause(collection: Collection, counties: tuple[str, ...] | None = None):
    """The condition keeping a collection to the rows of ``counties`` (default: its county-limited scope)."""
    wanted = collection.scope_counties if counties is None else counties
    return or_(*(col.in_(wanted) for col in county_columns(collection)))


def readable_collections(actor: Actor | None) -> list[Collection]:
    """The collections ``actor`` may read, in publishing order."""
    return [c for c in COLLECTIONS.values() if may_read(c, actor)]



def queryables(collection: Collection) -> dict:
    """Property name -> (column expression, kind) of what may be filtered on (JSON columns are left out)."""
    out = {}
    for name, expr in collection.properties().items():
        kind = column_kind(expr)
        if kind != "json":
            out[name] = (expr, kind)
    return out
