"""Inspections (巡查) from the field: position and distance, the 六个一 checklist, photos, retried safely."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from geodata.checks import GeometryError, check_lonlat
from geodata.crs import distance_m
from registry.db import Store
from registry.models import Facility, Inspection
from registry.models.vocab import CHECK_STATES, CONDITIONS, SIX_ONES
from registry.services.access import readable_counties, require_county
from registry.services.base import Actor, Conflict, InvalidInput, load, record_audit, snapshot, unit_of_work
from registry.services.manage.due import TIERS
from registry.services.photos import PhotoLimits, add_attachments, check_photos, write_files
from registry.services.provenance import mark_checked
from registry.solar_terms import BEIJING

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,100}")
# A phone's clock may run a little ahead of the server's; beyond this a time is "in the future".
CLOCK_SKEW = timedelta(minutes=10)
MAX_PROBLEMS = 4000


@dataclass(frozen=True)
class FieldRules:
    """Configured limits: how far counts as on site, how far is a wrong position, the photo limits."""

    on_site_m: float = 200.0
    max_distance_m: float = 50_000.0
    photos: PhotoLimits = PhotoLimits()

    @classmethod
    def from_config(cls, config) -> FieldRules:
        """MANAGE_ON_SITE_METRES (200) and MANAGE_MAX_DISTANCE_KM (50), plus the photo limits."""
        return cls(float(config.get("MANAGE_ON_SITE_METRES") or 200),
                   float(config.get("MANAGE_MAX_DISTANCE_KM") or 50) * 1000,
                   PhotoLimits.from_config(config))


@dataclass(frozen=True)
class Submitted:
    """The outcome of a submission: the inspection, and whether it was a retry answered from the first one."""

    inspection: Inspection
    replayed: bool


def parse_when(value, now: datetime, field: str = "inspected_at") -> datetime:
    """A time from the form (local Beijing time without zone, or ISO with zone); refused if in the future."""
    if value in (None, ""):
        return now
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidInput(f"{field} {value!r} is not a date and time (YYYY-MM-DDTHH:MM)", field=field) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=BEIJING)
    when = when.astimezone(UTC)
    if when > now + CLOCK_SKEW:
        raise InvalidInput(f"{field} {when.astimezone(BEIJING):%Y-%m-%d %H:%M} is in the future; an inspection "
                           "is logged when it happened", field=field)
    return when


def _checklist(values: dict) -> dict:
    result = {}
    for key, (label, _en) in SIX_ONES.items():
        value = values.get(f"std_{key}")
        if value not in CHECK_STATES:
            raise InvalidInput(f"std_{key} ({label}) must be one of {', '.join(CHECK_STATES)}, not {value!r}",
                               field=f"std_{key}")
        result[f"std_{key}"] = value
    return result


def _position(values: dict, facility: Facility, rules: FieldRules):
    lon, lat = values.get("lon"), values.get("lat")
    if lon in (None, "") and lat in (None, ""):
        return None, None, None
    if lon in (None, "") or lat in (None, ""):
        raise InvalidInput("position needs both longitude and latitude, or neither", field="position")
    try:
        lon, lat = check_lonlat(lon, lat, field="position")
    except GeometryError as exc:
        raise InvalidInput(str(exc), field="position") from None
    metres = distance_m((lon, lat), facility.geom)
    if metres > rules.max_distance_m:
        raise InvalidInput(
            f"position ({lon:.5f}, {lat:.5f}) is {metres / 1000:,.0f} km from {facility.name}; an inspection "
            f"is logged at the facility (more than {rules.max_distance_m / 1000:,.0f} km away means a wrong "
            "position: check the phone's location setting, or send the form without a position)",
            field="position",
        )
    return Point(lon, lat), round(metres, 1), metres <= rules.on_site_m


def _version_seen(values: dict) -> int | None:
    """The facility version the form was opened on (``facility_version``), or None when the form sent none."""
    raw = str(values.get("facility_version") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"facility_version {raw!r} must be a whole number from 1 (the form carries the "
                           "version it was opened on)", field="facility_version")
    return int(raw)


def _existing(session, key: str) -> Inspection | None:
    return session.scalar(select(Inspection).where(Inspection.idempotency_key == key))


def _replay(existing: Inspection, actor: Actor, facility_id: int) -> Submitted:
    if existing.facility_id != facility_id or existing.inspector_id != actor.id:
        raise Conflict("idempotency_key was already used for another inspection; reload the form to get a new "
                       "one", field="idempotency_key")
    return Submitted(existing, True)


def _checked_fields(values: dict, now: datetime) -> tuple:
    """The form's tier, condition, checklist, problems and time, each checked (a bad one is refused by name)."""
    tier = values.get("tier") or "station"
    if tier not in TIERS:
        raise InvalidInput(f"tier {tier!r} must be one of {', '.join(TIERS)}", field="tier")
    condition = values.get("condition")
    if condition not in CONDITIONS:
        raise InvalidInput(f"condition must be one of {', '.join(CONDITIONS)}, not {condition!r}",
                           field="condition")
    checklist = _checklist(values)
    problems = (values.get("problems") or "").strip() or None
    if problems and len(problems) > MAX_PROBLEMS:
        raise InvalidInput(f"problems has {len(problems)} characters; at most {MAX_PROBLEMS}", field="problems")
    return tier, condition, checklist, problems, parse_when(values.get("inspected_at"), now)


def _confirm_checklist(session, actor: Actor, facility: Facility, inspection: Inspection, checklist: dict,
                       when: datetime) -> None:
    """Set the facility's 六个一 record from ``inspection`` (made at ``when``) when it is the newest (the
    record is "as last confirmed"), with its audit event when anything changes."""
    latest = session.scalar(select(Inspection.inspected_at).where(
        Inspection.facility_id == facility.id, Inspection.id != inspection.id,
        Inspection.status == "active").order_by(Inspection.inspected_at.desc()).limit(1))
    if latest is not None and latest > when:
        return
    before = snapshot(facility)
    changed = {k: v for k, v in checklist.items() if getattr(facility, k) != v}
    if changed:
        for name, value in changed.items():
            setattr(facility, name, value)
        record_audit(session, actor, "checklist", facility, before=before, note=f"from inspection {inspection.id}")


def _confirm_position(session, actor: Actor, facility: Facility, inspection: Inspection, when: datetime) -> None:
    """An inspection logged on site (its GPS within ``on_site_m`` of the point) confirms the facility's position.

    The source stays as it was; the day checked (in Beijing) moves forward only, so a queued older inspection
    changes nothing. The facts are not confirmed: an inspector checks the 六个一 and the condition, not the
    name, dates or description.
    """
    day = when.astimezone(BEIJING).date()
    if facility.position_checked_on is not None and facility.position_checked_on >= day:
        return
    before = snapshot(facility)
    mark_checked(facility, "position", day)
    record_audit(session, actor, "checked", facility, before=before,
                 note=f"position confirmed on site by inspection {inspection.id}")


def submit_inspection(store: Store, actor: Actor, facility_id: int, values: dict,
                      photos: list[tuple[str, bytes]] = (), *, attachments_dir: str | os.PathLike,
                      rules: FieldRules = FieldRules(), now: datetime | None = None) -> Submitted:
    """Log an inspection with its photos; a retry with the same idempotency key returns the first one.

    Everything is checked first (fields, position, every photo) so a refusal writes nothing. Photo
    files are written before the row, named by their hash, so a retry after a dropped connection
    finds them in place and the row appears exactly once (the key is unique in the table).
    """
    now = now or datetime.now(UTC)
    key = str(values.get("idempotency_key") or "").strip()
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidInput("idempotency_key must be 8-100 letters, digits, '-' or '_' (the form makes one)",
                           field="idempotency_key")
    with store.session() as session:
        existing = _existing(session, key)
        if existing is not None:
            return _replay(existing, actor, facility_id)
        facility = load(session, Facility, facility_id, "active facility", active_only=True)
        require_county(actor, facility.county_code)
        tier, condition, checklist, problems, when = _checked_fields(values, now)
        geom, metres, on_site = _position(values, facility, rules)
        seen = _version_seen(values)
    checked = check_photos(list(photos), rules.photos)
    write_files(attachments_dir, checked)
    try:
        with unit_of_work(store) as session:
            # Checked again inside the write transaction: a retry racing the first attempt finds it here.
            existing = _existing(session, key)
            if existing is not None:
                return _replay(existing, actor, facility_id)
            facility = session.get(Facility, facility_id)
            # Edited since the form was opened (a phone's queue may arrive hours later): kept, and flagged.
            changed = seen is not None and facility.version > seen
            inspection = Inspection(
                facility_id=facility_id, inspector_id=actor.id, inspector_name=actor.name, inspected_at=when,
                tier=tier, condition=condition, problems=problems, distance_m=metres, on_site=on_site,
                idempotency_key=key, geom=geom, facility_version_seen=seen, facility_changed=changed,
                **checklist,
            )
            session.add(inspection)
            session.flush()
            add_attachments(session, actor, "inspections", inspection.id, "inspection_photo", checked)
            note = f"{len(checked)} photo(s)" + ("" if on_site is not False else "; not on site")
            if changed:
                note += f"; facility changed since the form was opened (version {seen}, now {facility.version})"
            record_audit(session, actor, "create", inspection, note=note)
            _confirm_checklist(session, actor, facility, inspection, checklist, when)
            if on_site:
                _confirm_position(session, actor, facility, inspection, when)
    except IntegrityError:
        # Two copies of the same submission committed at once (PostgreSQL): the unique key kept one.
        with store.session() as session:
            existing = _existing(session, key)
        if existing is None:
            raise
        return _replay(existing, actor, facility_id)
    return Submitted(inspection, False)


def facility_for_form(store: Store, actor: Actor, facility_id: int) -> Facility:
    """The facility an inspection form is opened for (the actor must work in its county)."""
    with store.session() as session:
        facility = load(session, Facility, facility_id, "facility")
        require_county(actor, facility.county_code, write=False)
        return facility


def flagged_inspections(store: Store, actor: Actor, limit: int = 50) -> list[tuple[Inspection, Facility]]:
    """The newest inspections that arrived after their facility changed, in the actor's counties."""
    counties = readable_counties(actor)
    with store.session() as session:
        query = (select(Inspection, Facility).join(Facility, Facility.id == Inspection.facility_id)
                 .where(Inspection.facility_changed.is_(True), Inspection.status == "active")
                 .order_by(Inspection.id.desc()).limit(limit))
        if counties is not None:
            query = query.where(Facility.county_code.in_(sorted(counties)))
        return [(inspection, facility) for inspection, facility in session.execute(query)]


def get_inspection(store: Store, actor: Actor, inspection_id: int) -> tuple[Inspection, Facility]:
    with store.session() as session:
        inspection = load(session, Inspection, inspection_id, "inspection")
        facility = session.get(Facility, inspection.facility_id)
        require_county(actor, facility.county_code, write=False)
        return inspection, facility
