"""Facility use cases: register, edit with a version check, rename with approval, retire."""

from __future__ import annotations

from datetime import date

from shapely.geometry import Point
from sqlalchemy import select

from geodata.checks import GeometryError, check_lonlat
from registry.db import Store
from registry.models import Facility, FacilityName
from registry.models.vocab import CATEGORIES, CHECK_STATES, LEVELS, SIX_ONES
from registry.services import divisions
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.provenance import stamp, stamp_changes

EDITABLE = (
    "category", "level", "level_approved_by", "level_approved_on", "protection_unit", "managing_unit",
    "caretaker", "caretaker_phone", "address", "county_code", "township", "village", "description",
    "visiting_info", "area_m2", "material", "dimensions", "sign_present", "land_title_registered",
    *(f"std_{key}" for key in SIX_ONES),
)


def check_facility_fields(values: dict, store) -> None:
    """Refuse a facility's field values that are not its own or not allowed (category, level, county, 六个一)."""
    if "category" in values and values["category"] not in CATEGORIES:
        raise InvalidInput(f"category {values['category']!r} is not one of {', '.join(CATEGORIES)}", field="category")
    if "level" in values and values["level"] not in LEVELS:
        raise InvalidInput(f"level {values['level']!r} is not one of {', '.join(LEVELS)}", field="level")
    if "county_code" in values:
        divisions.check_county(store, values["county_code"] or "", "county_code")
    for key in SIX_ONES:
        value = values.get(f"std_{key}")
        if value is not None and value not in CHECK_STATES:
            raise InvalidInput(f"std_{key} {value!r} must be one of {', '.join(CHECK_STATES)}", field=f"std_{key}")
    unknown = set(values) - set(EDITABLE) - {"name", "code", "lon", "lat", "position_approximate"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])


def _point(lon, lat) -> Point:
    try:
        lon, lat = check_lonlat(lon, lat, field="position")
    except GeometryError as exc:
        raise InvalidInput(str(exc), field="position") from None
    return Point(lon, lat)


def _require_county(actor: Actor, county_code: str) -> None:
    if actor.can("admin") or actor.can("planner"):
        return
    if not (actor.can("manager") and county_code in actor.counties):
        raise Forbidden(f"{actor.name} may not edit facilities in county {county_code}")


def _load_for_edit(session, actor: Actor, facility_id: int, version: int | None) -> tuple[Facility, dict]:
    """The facility to edit and its state before the edit, once the actor's county and the version are checked."""
    facility = load(session, Facility, facility_id, "facility")
    _require_county(actor, facility.county_code)
    check_version(facility, version)
    return facility, snapshot(facility)


def create_facility(store: Store, actor: Actor, values: dict) -> Facility:
    """Register a facility; its first name enters the history of names."""
    values = dict(values)
    for required in ("code", "name", "category", "county_code", "lon", "lat"):
        if values.get(required) in (None, ""):
            raise InvalidInput(f"{required} is required", field=required)
    check_facility_fields(values, store)
    _require_county(actor, values["county_code"])
    if values.get("township"):
        values["township"] = divisions.check_township(store, values["county_code"], values["township"])
    geom = _point(values.pop("lon"), values.pop("lat"))
    with unit_of_work(store) as session:
        if session.scalar(select(Facility.id).where(Facility.code == values["code"])) is not None:
            raise Conflict(f"code {values['code']!r} is already used by another facility", field="code")
        facility = Facility(geom=geom, **values)
        stamp(facility, "position", "staff_edit")
        stamp(facility, "facts", "staff_edit")
        session.add(facility)
        session.flush()
        session.add(FacilityName(facility_id=facility.id, name=facility.name, valid_from=date.today(),
                                 note="name at registration"))
        record_audit(session, actor, "create", facility)
    return facility


def update_facility(store: Store, actor: Actor, facility_id: int, version: int | None, values: dict) -> Facility:
    """Edit a facility from the version the user saw; a stale version is refused and nothing changes."""
    values = dict(values)
    if "name" in values:
        raise InvalidInput("the name of record changes only by an approved renaming", field="name")
    check_facility_fields(values, store)
    with unit_of_work(store) as session:
        facility, before = _load_for_edit(session, actor, facility_id, version)
        if "county_code" in values:
            _require_county(actor, values["county_code"])
        if values.get("township"):
            values["township"] = divisions.check_township(session, values.get("county_code", facility.county_code),
                                                          values["township"])
        changed = {key for key, value in values.items()
                   if key not in ("lon", "lat") and getattr(facility, key) != value}
        if "lon" in values or "lat" in values:
            point = _point(values.pop("lon", facility.geom.x), values.pop("lat", facility.geom.y))
            if not point.equals(facility.geom):
                facility.geom = point
                changed.add("geom")
        for key, value in values.items():
            setattr(facility, key, value)
        # The parts the edit changed are now as staff entered them (a save that changes nothing stamps nothing).
        stamp_changes(facility, changed, "staff_edit")
        record_audit(session, actor, "update", facility, before=before)
    return facility


def rename_facility(store: Store, actor: Actor, facility_id: int, version: int | None, new_name: str,
                    approval_number: str, approved_by: str, approved_on: date) -> Facility:
    """Rename by approval: the approved name becomes the name of record and the former name is kept."""
    if not (new_name or "").strip():
        raise InvalidInput("new name is required", field="name")
    if not (approval_number or "").strip():
        raise InvalidInput("a renaming needs the approval number (批准文号)", field="approval_number")
    with unit_of_work(store) as session:
        facility, before = _load_for_edit(session, actor, facility_id, version)
        current = session.scalar(
            select(FacilityName).where(FacilityName.facility_id == facility_id, FacilityName.valid_to.is_(None))
        )
        if current is not None:
            current.valid_to = approved_on
        session.add(FacilityName(facility_id=facility_id, name=new_name.strip(), valid_from=approved_on,
                                 approval_number=approval_number, approved_by=approved_by))
        facility.name = new_name.strip()
        stamp(facility, "facts", "staff_edit", ref=f"approval {approval_number.strip()}", checked_on=approved_on)
        record_audit(session, actor, "rename", facility, before=before, note=f"approval {approval_number}")
    return facility


def retire_facility(store: Store, actor: Actor, facility_id: int, version: int | None, reason: str) -> Facility:
    """Retire a facility: a state, not a deleted row; its archive stays whole."""
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to retire a facility", field="reason")
    with unit_of_work(store) as session:
        facility, before = _load_for_edit(session, actor, facility_id, version)
        facility.status = "retired"
        facility.retired_reason = reason.strip()
        record_audit(session, actor, "retire", facility, before=before)
    return facility


def registry_is_empty(store: Store) -> bool:
    """True when no facility has been registered yet (demo loading is allowed only then)."""
    with store.session() as session:
        return session.scalar(select(Facility.id).limit(1)) is None


def registry_has_demo(store: Store) -> bool:
    """True when the registry holds generated demo records (pages then say so)."""
    with store.session() as session:
        return session.scalar(select(Facility.id).where(Facility.is_demo).limit(1)) is not None
