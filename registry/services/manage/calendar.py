"""The calendar of remembrance: Qingming, Martyrs' Day, Army Day, martyrs' anniversaries and facilities' own days.

Counties clean and prepare their facilities before each day: ``prepare`` makes one work order per
facility and date (the store's unique key on ``calendar_orders`` keeps it so however often it runs),
listing the 六个一 items the facility's last inspection found wanting. The days themselves and the dates
they fall on are gathered in ``calendar_days`` (its names used by the pages and commands are here too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Text, cast, func, select
from sqlalchemy.exc import IntegrityError

from registry.db import Store
from registry.models import CalendarOrder, Facility, FacilityDay, Inspection, MaintenanceTask, Martyr
from registry.models.vocab import FACILITY_DAY_KINDS, SIX_ONES
from registry.services import divisions
from registry.services.access import readable_counties, require_county
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    NotFound,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.manage.calendar_days import BAD_DATE_REASONS as BAD_DATE_REASONS
from registry.services.manage.calendar_days import KINDS as KINDS
from registry.services.manage.calendar_days import NATIONAL as NATIONAL
from registry.services.manage.calendar_days import BadDate as BadDate
from registry.services.manage.calendar_days import Occasion, anniversary_in, bad_dates, check_death_date, occasions
from registry.services.manage.calendar_days import today_in_beijing as today_in_beijing
from registry.solar_terms import qingming

# The setting of each kind of day's lead time (the kinds are ``calendar_days.KINDS``).
LEAD_SETTINGS = {
    "qingming": ("CALENDAR_QINGMING_LEAD_DAYS", 21),
    "martyrs_day": ("CALENDAR_MARTYRS_DAY_LEAD_DAYS", 21),
    "army_day": ("CALENDAR_ARMY_DAY_LEAD_DAYS", 14),
    "facility_day": ("CALENDAR_FACILITY_DAY_LEAD_DAYS", 14),
    "anniversary": ("CALENDAR_ANNIVERSARY_LEAD_DAYS", 7),
}
MAX_LEAD_DAYS = 120
DAY_KINDS = FACILITY_DAY_KINDS
NAME_LIMIT = 100
NOTE_LIMIT = 1000


@dataclass(frozen=True)
class LeadDays:
    """How many days before each kind of day its work orders are made (REGISTRY_CALENDAR_*_LEAD_DAYS)."""

    days: Mapping[str, int] = field(default_factory=lambda: {k: v for k, (_s, v) in LEAD_SETTINGS.items()})

    @classmethod
    def from_config(cls, config: Mapping) -> LeadDays:
        days = {}
        for kind, (key, default) in LEAD_SETTINGS.items():
            raw = config.get(key)
            if raw in (None, ""):
                days[kind] = default
                continue
            try:
                value = int(str(raw).strip())
            except ValueError:
                value = -1
            if not 1 <= value <= MAX_LEAD_DAYS:
                raise InvalidInput(f"REGISTRY_{key}={raw!r} must be a whole number of days from 1 to {MAX_LEAD_DAYS}",
                                   field=f"REGISTRY_{key}")
            days[kind] = value
        return cls(days=days)

    @property
    def longest(self) -> int:
        return max(self.days.values())


@dataclass
class Prepared:
    """What one run of ``prepare`` did: orders made (facility, date, task id), orders already there, dates skipped."""

    today: date
    created: list[tuple[int, date, int]] = field(default_factory=list)
    existing: int = 0
    # Orders already there that gained an occasion added since (facility, date, task id, titles added).
    updated: list[tuple[int, date, int, list[str]]] = field(default_factory=list)
    bad_dates: list[BadDate] = field(default_factory=list)


# --- dates -----------------------------------------------------------------------------------------------

# --- work orders -----------------------------------------------------------------------------------------


def _deficiencies(session, facility_ids: list[int]) -> dict[int, list[str]]:
    """The 六个一 items each facility's last active inspection found deficient or missing."""
    newest = (select(Inspection.facility_id, Inspection.id,
                     func.row_number().over(partition_by=Inspection.facility_id,
                                            order_by=(Inspection.inspected_at.desc(), Inspection.id.desc()))
                     .label("n"))
              .where(Inspection.status == "active", Inspection.facility_id.in_(facility_ids)).subquery())
    columns = [getattr(Inspection, f"std_{key}") for key in SIX_ONES]
    rows = session.execute(select(Inspection.facility_id, *columns)
                           .join(newest, (newest.c.id == Inspection.id) & (newest.c.n == 1))).all()
    found = {}
    for row in rows:
        states = dict(zip(SIX_ONES, row[1:], strict=True))
        found[row[0]] = [f"{SIX_ONES[k][0]}（{'缺失' if v == 'missing' else '不达标'}）"
                         for k, v in states.items() if v in ("deficient", "missing")]
    return found


def _wanted(store: Store, today: date, lead: LeadDays) -> dict[tuple[int, date], list[Occasion]]:
    """(facility, date) -> every occasion there on that date, for the dates whose lead time has begun.

    A date is due once one of its occasions is within its kind's lead time; the order then names them all
    (an anniversary falling on Martyrs' Day is on the order made three weeks ahead for Martyrs' Day).
    """
    end = today + timedelta(days=lead.longest)
    everyone = None
    wanted: dict[tuple[int, date], list[Occasion]] = {}
    due: set[tuple[int, date]] = set()
    for occasion in occasions(store, today, end, today=today):
        ids = occasion.facility_ids
        if ids is None:
            if everyone is None:
                with store.session() as session:
                    everyone = tuple(session.scalars(select(Facility.id).where(Facility.status == "active")))
            ids = everyone
        started = occasion.on - timedelta(days=lead.days[occasion.kind]) <= today
        for facility_id in ids:
            listed = wanted.setdefault((facility_id, occasion.on), [])
            if all(o.title != occasion.title for o in listed):
                listed.append(occasion)
            if started:
                due.add((facility_id, occasion.on))
    return {key: listed for key, listed in wanted.items() if key in due}


def _order_text(occasions_on: list[Occasion], wanting: list[str] | None) -> str:
    lines = ["纪念日：" + "；".join(o.title for o in occasions_on), "请在纪念日前完成清扫、整修和祭扫准备。"]
    if wanting is None:
        lines.append("该设施尚无巡查记录，请一并核查“六个一”。")
    elif wanting:
        lines.append("上次巡查中未达标的“六个一”项目：")
        lines.extend(f"- {item}" for item in wanting)
    else:
        lines.append("上次巡查中“六个一”各项均达标。")
    return "\n".join(lines)


def prepare(store: Store, actor: Actor, today: date | None = None, lead: LeadDays | None = None) -> Prepared:
    """Make the cleaning and preparation work orders due by ``today``: one per facility and date, never twice.

    A date is due once ``today`` is within its kind's lead time and not past it. Occasions falling on the
    same date at a facility (two of its own days, an anniversary on Martyrs' Day) share one order that names
    them all. The unique key on ``calendar_orders`` (facility, date) keeps a concurrent run from adding a
    second: the losing transaction is rolled back and the work is read again.
    """
    if not actor.can("admin"):
        raise Forbidden(f"{actor.name} may not prepare the calendar's work orders for every county")
    today = today or today_in_beijing()
    lead = lead or LeadDays()
    result = Prepared(today=today, bad_dates=bad_dates(store, None, today))
    wanted = _wanted(store, today, lead)
    for attempt in range(3):
        try:
            result.created, result.existing, result.updated = _write_orders(store, actor, wanted, today, lead)
            return result
        except IntegrityError:
            if attempt == 2:
                raise
    return result


def _order_title(titles: list[str], facility_name: str) -> str:
    return ("、".join(titles[:2]) + ("等" if len(titles) > 2 else "") + f"前清扫与准备：{facility_name}")[:200]


def _add_occasions(session, actor: Actor, wanted, have: dict) -> list:
    """Name on an order still open the occasions added for its date since it was made (a facility's new day).

    An order already done or cancelled is left as it is: the work it asked for has been done or dropped.
    """
    updated = []
    for key in sorted(set(wanted) & set(have)):
        order = have[key]
        added = [o.title for o in wanted[key] if o.title not in (order.occasions or [])]
        task = session.get(MaintenanceTask, order.task_id) if added else None
        if task is None or task.state not in ("open", "in_progress"):
            continue
        order.occasions = [*(order.occasions or []), *added]
        task.title = _order_title(order.occasions, session.get(Facility, order.facility_id).name)
        task.description = f"{task.description}\n另有纪念日：{'；'.join(added)}"
        record_audit(session, actor, "update", entity_type="maintenance_tasks", entity_id=task.id,
                     note=f"calendar: {order.day_on.isoformat()} also " + "; ".join(added))
        updated.append((order.facility_id, order.day_on, task.id, added))
    return updated


def _write_orders(store: Store, actor: Actor, wanted, today: date, lead: LeadDays):
    created = []
    with unit_of_work(store) as session:
        have = {(o.facility_id, o.day_on): o for o in session.scalars(select(CalendarOrder).where(
            CalendarOrder.day_on >= today, CalendarOrder.day_on <= today + timedelta(days=lead.longest)))}
        updated = _add_occasions(session, actor, wanted, have)
        todo = sorted(key for key in wanted if key not in have)
        if not todo:
            return created, len(wanted), updated
        ids = sorted({facility_id for facility_id, _on in todo})
        wanting, names = {}, {}
        for start in range(0, len(ids), 5000):
            chunk = ids[start:start + 5000]
            wanting.update(_deficiencies(session, chunk))
            names.update(session.execute(select(Facility.id, Facility.name).where(Facility.id.in_(chunk))).all())
        tasks = []
        for facility_id, on in todo:
            listed = wanted[(facility_id, on)]
            title = _order_title([o.title for o in listed], names[facility_id])
            task = MaintenanceTask(facility_id=facility_id, title=title, state="open", priority="normal", due_on=on,
                                   description=_order_text(listed, wanting.get(facility_id)))
            session.add(task)
            tasks.append((facility_id, on, listed, task))
        session.flush()
        for facility_id, on, listed, task in tasks:
            session.add(CalendarOrder(facility_id=facility_id, day_on=on, task_id=task.id,
                                      occasions=[o.title for o in listed]))
            record_audit(session, actor, "create", entity_type="maintenance_tasks", entity_id=task.id,
                         note=f"calendar: {on.isoformat()} " + "; ".join(o.title for o in listed))
            created.append((facility_id, on, task.id))
        session.flush()
    return created, len(wanted) - len(created), updated


def prepared_orders(store: Store, actor: Actor, *, county: str | None = None, since: date | None = None,
                    limit: int | None = None) -> list[dict]:
    """The calendar's work orders in the actor's counties (or one county), from ``since`` on, soonest first."""
    allowed = readable_counties(actor)
    if county is not None:
        require_county(actor, county, write=False)
    query = (select(CalendarOrder, MaintenanceTask.state, MaintenanceTask.title, Facility.name, Facility.county_code)
             .join(MaintenanceTask, MaintenanceTask.id == CalendarOrder.task_id)
             .join(Facility, Facility.id == CalendarOrder.facility_id))
    if county is not None:
        query = query.where(Facility.county_code == county)
    elif allowed is not None:
        query = query.where(Facility.county_code.in_(allowed or ("",)))
    if since is not None:
        query = query.where(CalendarOrder.day_on >= since)
    query = query.order_by(CalendarOrder.day_on, CalendarOrder.id)
    if limit:
        query = query.limit(limit)
    with store.session() as session:
        return [{"id": o.id, "task_id": o.task_id, "facility_id": o.facility_id, "facility": name, "county": code,
                 "day_on": o.day_on, "occasions": list(o.occasions or []), "state": state, "title": title}
                for o, state, title, name, code in session.execute(query)]


# --- facilities' own days --------------------------------------------------------------------------------


def _int(values: Mapping, name: str, low: int, high: int, required: bool = True) -> int | None:
    raw = str(values.get(name) or "").strip()
    if not raw:
        if required:
            raise InvalidInput(f"{name} is required", field=name)
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} {raw!r} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def _day_fields(values: Mapping, today: date) -> dict:
    name = str(values.get("name") or "").strip()
    if not name:
        raise InvalidInput("name is required (what the day remembers)", field="name")
    if len(name) > NAME_LIMIT:
        raise InvalidInput(f"name has {len(name)} characters; at most {NAME_LIMIT}", field="name")
    kind = values.get("kind") or "other"
    if kind not in DAY_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DAY_KINDS)}, not {kind!r}", field="kind")
    month = _int(values, "month", 1, 12)
    day = _int(values, "day", 1, 31)
    try:
        date(2000, month, day)  # a leap year: 29 February is a day a facility may keep
    except ValueError:
        raise InvalidInput(f"day {day} does not exist in month {month}", field="day") from None
    since = _int(values, "since_year", 1800, today.year, required=False)
    note = str(values.get("note") or "").strip() or None
    if note and len(note) > NOTE_LIMIT:
        raise InvalidInput(f"note has {len(note)} characters; at most {NOTE_LIMIT}", field="note")
    return {"name": name, "kind": kind, "month": month, "day": day, "since_year": since, "note": note}


def add_day(store: Store, actor: Actor, values: Mapping, today: date | None = None) -> FacilityDay:
    """Add a day a facility keeps every year; the facility is named by its code, in the manager's county."""
    code = str(values.get("facility_code") or "").strip()
    if not code:
        raise InvalidInput("facility_code is required (the facility's registry code)", field="facility_code")
    fields = _day_fields(values, today or today_in_beijing())
    with unit_of_work(store) as session:
        facility = session.scalar(select(Facility).where(Facility.code == code, Facility.status == "active"))
        if facility is None:
            raise InvalidInput(f"facility_code {code!r} names no active facility", field="facility_code")
        require_county(actor, facility.county_code)
        day = FacilityDay(facility_id=facility.id, **fields)
        session.add(day)
        record_audit(session, actor, "create", day)
    return day


def retire_day(store: Store, actor: Actor, day_id: int, version) -> FacilityDay:
    """Retire a facility's day (a state: its row and history stay); orders already made are left as they are."""
    with unit_of_work(store) as session:
        day = load(session, FacilityDay, day_id, "facility day", active_only=True)
        county = session.scalar(select(Facility.county_code).where(Facility.id == day.facility_id))
        require_county(actor, county)
        check_version(day, version)
        before = snapshot(day)
        day.status = "retired"
        record_audit(session, actor, "retire", day, before=before)
    return day


def facility_days(store: Store, actor: Actor) -> list[dict]:
    """The active facility days in the actor's counties, by facility and date."""
    allowed = readable_counties(actor)
    query = (select(FacilityDay, Facility.name, Facility.code, Facility.county_code)
             .join(Facility, Facility.id == FacilityDay.facility_id).where(FacilityDay.status == "active"))
    if allowed is not None:
        query = query.where(Facility.county_code.in_(allowed or ("",)))
    with store.session() as session:
        rows = session.execute(query.order_by(FacilityDay.month, FacilityDay.day, Facility.name)).all()
    return [{"day": d, "facility": name, "code": code, "county": county} for d, name, code, county in rows]


# --- what the public and the feeds show ------------------------------------------------------------------


def coming_days(store: Store, county: str, today: date | None = None, horizon: int = 60) -> list[Occasion]:
    """The days of remembrance in ``county`` from today for ``horizon`` days (national days, its facilities'
    own days and the anniversaries of the martyrs who lie there)."""
    divisions.check_county(store, county, "county")
    today = today or today_in_beijing()
    return occasions(store, today, today + timedelta(days=horizon), county=county, today=today)


def martyr_dates(store: Store, martyr_id: int, today: date | None = None, years: int = 10) -> dict:
    """A martyr's date of death as the calendar reads it, the next anniversary and the coming Qingmings."""
    today = today or today_in_beijing()
    with store.session() as session:
        # Columns, not the record: a date of death the store holds as text that is no date must not stop the page.
        row = session.execute(select(Martyr.name, Martyr.is_unknown, Martyr.status, cast(Martyr.death_date, Text),
                                     Martyr.death_year, cast(Martyr.birth_date, Text), Martyr.birth_year)
                              .where(Martyr.id == martyr_id)).one_or_none()
    if row is None or row.status == "retired":
        raise NotFound(f"no martyr {martyr_id}")
    name = "无名烈士" if row.is_unknown else row.name
    died = check_death_date(row[3], row[4], row[5], row[6], today)[0] if row[3] is not None else None
    anniversaries = []
    if died is not None:
        for year in range(today.year, today.year + years + 1):
            on = anniversary_in(year, died)
            if on >= today and year > died.year and len(anniversaries) < years:
                anniversaries.append((on, year - died.year))
    qingmings = [qingming(y) for y in range(today.year, today.year + years + 1) if qingming(y) >= today][:years]
    return {"id": martyr_id, "name": name, "died": died, "anniversaries": anniversaries, "qingming": qingmings,
            "next": anniversaries[0] if anniversaries else None}


def county_due(store: Store, actor: Actor, county: str, cadence, now: datetime | None = None) -> list:
    """The county's facilities with a next inspection date (for the staff feed)."""
    from registry.services.manage.due import statuses

    return [f for f in statuses(store, actor, cadence, county=county, now=now) if f.next_due is not None]
