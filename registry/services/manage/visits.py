"""A day's visit route for managers: the facilities due that day, the ones chosen, and their order in metres."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from geodata.checks import GeometryError, check_lonlat
from geodata.crs import normalise_crs, to_wgs84
from geodata.tour import order_visits
from registry.db import Store
from registry.models import Facility
from registry.services import divisions
from registry.services.access import readable_counties, require_county
from registry.services.base import Actor, Forbidden, InvalidInput
from registry.services.manage.due import Cadence, FacilityDue, statuses
from registry.solar_terms import BEIJING

# Managers plan in local time: "due on a day" means due before that day ends in Beijing.
# A day's round on foot or by car is a few dozen stops; the cap keeps the page and the 2-opt quick.
MAX_STOPS = 200
# How a typed start point may be given: lon/lat as the registry stores it, or as a phone's map app gives it.
START_CRS = ("EPSG:4326", "GCJ-02", "BD-09")
_ID_SPLIT = re.compile(r"[\s,，、;；]+")


@dataclass(frozen=True)
class Stop:
    """One facility on the route, in visiting order, with the leg that reaches it."""

    number: int
    id: int
    code: str
    name: str
    county_code: str
    township: str | None
    lon: float
    lat: float
    leg_m: float
    status: str | None = None

    @property
    def county_name(self) -> str:
        return divisions.cached_name(self.county_code)


@dataclass(frozen=True)
class Start:
    """Where the day begins: a facility's point or a typed position (always WGS 84 here)."""

    lon: float
    lat: float
    facility_id: int | None = None
    name: str | None = None


@dataclass
class VisitRequest:
    """What the form asked for, as typed (the page shows it back when something is refused)."""

    day: str = ""
    county: str = ""
    facilities: list[str] = field(default_factory=list)
    chosen: bool = False  # the form was sent: ``facilities`` is the choice, even when empty
    add: str = ""
    start_facility: str = ""
    start_lon: str = ""
    start_lat: str = ""
    start_crs: str = "EPSG:4326"
    back: bool = False


@dataclass
class VisitPlan:
    """The day's candidates and, once ordered, the route."""

    day: date
    county: str | None
    due: list[FacilityDue]
    left_out: int
    chosen_ids: list[int]
    stops: list[Stop]
    start: Start | None
    return_m: float
    total_m: float
    back: bool = False


def parse_day(text: str | None, today: date) -> date:
    """The day asked for (YYYY-MM-DD), today when blank; a bad date is refused naming ``day``."""
    if not text or not text.strip():
        return today
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"day {text!r} is not a date; write it as YYYY-MM-DD, e.g. {today.isoformat()}",
                           field="day") from None


def _ids(values: list[str], field_name: str) -> list[int]:
    out = []
    for value in values:
        for part in _ID_SPLIT.split(value or ""):
            if not part:
                continue
            if not part.isdigit():
                raise InvalidInput(f"{field_name} {part!r} is not a facility number", field=field_name)
            out.append(int(part))
    return list(dict.fromkeys(out))


def _facilities(session, actor: Actor, ids: list[int], codes: list[str], field_name: str) -> dict[int, Facility]:
    """Active facilities by id and code, refusing an unknown one (400) or one of another county (403), by name."""
    found: dict[int, Facility] = {}
    if ids:
        rows = {f.id: f for f in session.scalars(select(Facility).where(Facility.id.in_(ids)))}
        for ident in ids:
            facility = rows.get(ident)
            if facility is None or facility.status != "active":
                raise InvalidInput(f"{field_name}: facility {ident} is not an active facility of the registry",
                                   field=field_name)
            found[ident] = facility
    if codes:
        rows = {f.code: f for f in session.scalars(select(Facility).where(Facility.code.in_(codes)))}
        for code in codes:
            facility = rows.get(code)
            if facility is None or facility.status != "active":
                raise InvalidInput(f"{field_name}: no active facility has the code {code!r}", field=field_name)
            found[facility.id] = facility
    allowed = readable_counties(actor)
    for facility in found.values():
        if allowed is not None and facility.county_code not in allowed:
            raise Forbidden(f"{actor.name} may not plan a visit to {facility.name} ({facility.code}), a facility "
                            f"of {divisions.label(facility.county_code)}: managers work only in their own counties",
                            field=field_name)
    return found


def _start(session, actor: Actor, asked: VisitRequest) -> Start | None:
    typed = (asked.start_lon or "").strip() or (asked.start_lat or "").strip()
    if asked.start_facility and typed:
        raise InvalidInput("start: choose a facility or type a longitude and latitude, not both", field="start")
    if asked.start_facility:
        ident = _ids([asked.start_facility], "start_facility")
        facility = _facilities(session, actor, ident, [], "start_facility")[ident[0]]
        return Start(facility.geom.x, facility.geom.y, facility.id, facility.name)
    if not typed:
        return None
    try:
        crs = normalise_crs(asked.start_crs or "EPSG:4326")
    except ValueError as exc:
        raise InvalidInput(f"start_crs: {exc}", field="start_crs") from None
    if crs not in START_CRS and crs != "EPSG:4490":
        raise InvalidInput(f"start_crs {asked.start_crs!r} is not one of {', '.join(START_CRS)}", field="start_crs")
    try:
        lon, lat = check_lonlat(asked.start_lon, asked.start_lat, field="start")
    except GeometryError as exc:
        raise InvalidInput(str(exc), field="start") from None
    lon, lat = to_wgs84(lon, lat, crs)
    return Start(float(lon), float(lat))


def due_on(store: Store, actor: Actor, cadence: Cadence, day: date, county: str | None) -> list[FacilityDue]:
    """The facilities the actor reads that are due or overdue by the end of ``day`` (Beijing), most urgent first."""
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=BEIJING).astimezone(UTC)
    rows = statuses(store, actor, cadence, county=county or None, now=end)
    return [r for r in rows if r.next_due is not None and r.next_due < end]


def plan_visits(store: Store, actor: Actor, cadence: Cadence, asked: VisitRequest,
                today: date | None = None) -> VisitPlan:
    """The day's due list and, for the chosen facilities (by default the due ones), the ordered route.

    Reads only. Refuses, naming the field: a bad day, an unknown county, a facility number or code that
    is no active facility (400), a facility of a county the actor does not manage (403), a start point
    that is both a facility and typed, or a bad position or CRS, ``back`` without a start, too many stops.
    """
    today = today or datetime.now(BEIJING).date()
    day = parse_day(asked.day, today)
    county = (asked.county or "").strip() or None
    if county:
        divisions.check_county(store, county, "county")
        require_county(actor, county, write=False)
    allowed = readable_counties(actor)
    if allowed == ():
        raise Forbidden(f"{actor.name} has no counties to manage")
    due = due_on(store, actor, cadence, day, county)
    ids = _ids(asked.facilities, "facility")
    codes = list(dict.fromkeys(c for c in _ID_SPLIT.split(asked.add or "") if c))
    with store.session() as session:
        chosen = _facilities(session, actor, ids, [], "facility")
        added = _facilities(session, actor, [], codes, "add")
        start = _start(session, actor, asked)
        if asked.back and start is None:
            raise InvalidInput("back: returning to the start needs a start point (a facility or a position)",
                               field="back")
        order_ids = list(chosen) if asked.chosen else [r.id for r in due[:MAX_STOPS]]
        order_ids += [i for i in added if i not in order_ids]
        if len(order_ids) > MAX_STOPS:
            raise InvalidInput(f"facility: {len(order_ids)} facilities chosen; a route takes at most {MAX_STOPS}",
                               field="facility")
        missing = [i for i in order_ids if i not in chosen and i not in added]
        if missing:
            chosen.update({f.id: f for f in session.scalars(select(Facility).where(Facility.id.in_(missing)))})
        places = {**chosen, **added}
        facilities = [places[i] for i in order_ids]
        points = [(f.geom.x, f.geom.y) for f in facilities]
    status = {r.id: r.status for r in due}
    try:
        tour = order_visits(points, None if start is None else (start.lon, start.lat),
                            names=[f.code for f in facilities], return_to_start=asked.back)
    except ValueError as exc:  # a stored point out of range: named by its facility code
        raise InvalidInput(f"facility: {exc}", field="facility") from None
    stops = [Stop(number, f.id, f.code, f.name, f.county_code, f.township, points[k][0], points[k][1],
                  float(leg), status.get(f.id))
             for number, (k, leg, f) in enumerate(((k, leg, facilities[k]) for k, leg in
                                                  zip(tour.order, tour.legs_m, strict=True)), start=1)]
    return VisitPlan(day=day, county=county, due=due, left_out=max(0, len(due) - MAX_STOPS),
                     chosen_ids=order_ids, stops=stops, start=start, return_m=tour.return_m,
                     total_m=tour.total_m, back=asked.back)
