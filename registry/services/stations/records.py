"""Service stations for the managers' area: listing by county with the reader's rights, one station, and the edit
of its 五有 checklist, opening hours and phone by the managers of its county (versioned, audited)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import false, func, or_, select

from registry.db import Store
from registry.models import ServiceStation
from registry.models.vocab import FIVE_HAVES, STATION_DEMONSTRATION, STATION_LEVELS
from registry.services.access import readable_counties, require_county
from registry.services.base import Actor, InvalidInput, check_version, load, record_audit, snapshot, unit_of_work
from registry.services.provenance import stamp_changes

PAGE_SIZE = 50
HOURS_MAX = 200  # characters of the opening-hours text
# A phone as a station posts it: a landline with its area code (0597-1234567, an extension after a dash),
# a mobile number (13912345678) or a 400 service line (400-123-4567).
PHONE = re.compile(r"^(0\d{2,3}-?\d{7,8}(-\d{1,6})?|1[3-9]\d{9}|400-?\d{3}-?\d{4})$")
EDITABLE = (*FIVE_HAVES, "opening_hours", "phone")


@dataclass(frozen=True)
class Filters:
    """What the managers' list is narrowed to; ``gap`` is one of the 五有 a station lacks, or ``any``."""

    county: str | None = None
    level: str | None = None
    demonstration: str | None = None
    gap: str | None = None
    page: int = 1

    def check(self) -> Filters:
        """The filters, or InvalidInput naming the one whose value is not known."""
        for name, allowed in (("level", STATION_LEVELS), ("demonstration", STATION_DEMONSTRATION),
                              ("gap", (*FIVE_HAVES, "any"))):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise InvalidInput(f"{name} {value!r} is not one of {', '.join(allowed)}", field=name)
        if self.page < 1:
            raise InvalidInput(f"page {self.page} must be at least 1", field="page")
        return self


@dataclass
class StationPage:
    """One page of the list, the number matching and counts of the 五有 gaps among them."""

    stations: list[ServiceStation]
    total: int
    gaps: dict[str, int]
    page: int
    pages: int


def _conditions(actor: Actor, filters: Filters) -> list:
    table = ServiceStation.__table__.c
    allowed = readable_counties(actor)
    where = [table.status != "retired"]
    if allowed is not None:
        where.append(table.county_code.in_(allowed) if allowed else false())
    if filters.county:
        require_county(actor, filters.county, write=False)
        where.append(table.county_code == filters.county)
    if filters.level:
        where.append(table.level == filters.level)
    if filters.demonstration:
        where.append(table.demonstration == filters.demonstration)
    if filters.gap == "any":
        where.append(or_(*(table[name].is_(False) for name in FIVE_HAVES)))
    elif filters.gap:
        where.append(table[filters.gap].is_(False))
    return where


def list_stations(store: Store, actor: Actor, filters: Filters) -> StationPage:
    """The stations of the reader's counties that match ``filters``, a page at a time; another county is 403."""
    filters = filters.check()
    where = _conditions(actor, filters)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(ServiceStation).where(*where))
        gaps = {name: session.scalar(select(func.count()).select_from(ServiceStation)
                                     .where(*where, getattr(ServiceStation, name).is_(False)))
                for name in FIVE_HAVES}
        stations = list(session.scalars(
            select(ServiceStation).where(*where).order_by(ServiceStation.county_code, ServiceStation.code)
            .offset((filters.page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
        session.expunge_all()
    return StationPage(stations, total, gaps, filters.page, max(1, -(-total // PAGE_SIZE)))


def get_station(store: Store, actor: Actor, station_id: int) -> ServiceStation:
    """One station for its page; a reader outside its county is refused (403)."""
    with store.session() as session:
        station = load(session, ServiceStation, station_id, "service station", hide_retired=True)
        require_county(actor, station.county_code, write=False)
        session.expunge(station)
    return station


def check_values(values: dict) -> dict:
    """The edit's values cleaned, or InvalidInput naming the field and why (nothing is written)."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    out = {}
    for name in FIVE_HAVES:
        if name in values:
            if not isinstance(values[name], bool):
                raise InvalidInput(f"{name} must be true or false, not {values[name]!r}", field=name)
            out[name] = values[name]
    if "opening_hours" in values:
        hours = (values["opening_hours"] or "").strip()
        if len(hours) > HOURS_MAX:
            raise InvalidInput(f"opening_hours is {len(hours)} characters; at most {HOURS_MAX}",
                               field="opening_hours")
        out["opening_hours"] = hours or None
    if "phone" in values:
        phone = re.sub(r"\s+", "", values["phone"] or "")
        if phone and not PHONE.match(phone):
            raise InvalidInput(f"phone {values['phone']!r} is not a phone number: an area code and number "
                               "(0597-1234567), a mobile number (13912345678) or a 400 line", field="phone")
        out["phone"] = phone or None
    return out


def update_station(store: Store, actor: Actor, station_id: int, version: int | None, values: dict) -> ServiceStation:
    """Change a station's 五有, opening hours or phone from the version the user saw, with its audit event.

    Only the managers of the station's county (and administrators) may; a stale version is refused (409).
    """
    values = check_values(values)
    with unit_of_work(store) as session:
        station = load(session, ServiceStation, station_id, "service station", hide_retired=True)
        require_county(actor, station.county_code, write=True)
        check_version(station, version)
        before = snapshot(station)
        changed = [key for key, value in values.items() if getattr(station, key) != value]
        for key, value in values.items():
            setattr(station, key, value)
        stamp_changes(station, changed, "staff_edit")
        record_audit(session, actor, "update", station, before=before)
        session.flush()
        session.expunge(station)
    return station
