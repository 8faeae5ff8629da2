"""The days of remembrance and the dates they fall on: Qingming, Martyrs' Day, Army Day, martyrs' anniversaries
and facilities' own days (``occasions``), and the stored dates of death the calendar cannot use (``bad_dates``).

Dates of death are read as the store holds them; one that is no date, no such day or impossible (after today,
before birth, another year than the year of death) is left out of the calendar and listed for the archivist.
``calendar`` prepares the work orders before these days and keeps the facilities' own days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Text, cast, select

from registry.db import Store
from registry.models import Facility, FacilityDay, Martyr, Tomb
from registry.models.types import parse_stored_date
from registry.models.vocab import REMEMBRANCE_DAYS
from registry.services.access import readable_counties
from registry.services.base import Actor
from registry.solar_terms import BEIJING, qingming

# Kinds of day, in the order an order lists them: label (zh, en).
KINDS = REMEMBRANCE_DAYS
NATIONAL = ("qingming", "martyrs_day", "army_day")  # kept by every facility
# Fixed national days: (kind, month, day).
FIXED_DAYS = (("army_day", 8, 1), ("martyrs_day", 9, 30))
# Why a stored date of death is left out of the calendar: (zh, en).
BAD_DATE_REASONS = {
    "not_a_date": ("不是日期（应为 YYYY-MM-DD）", "not a date (YYYY-MM-DD)"),
    "no_such_day": ("不存在的日期", "no such day"),
    "after_today": ("晚于今天", "after today"),
    "too_early": ("早于 1800 年", "before 1800"),
    "year_differs": ("与牺牲年份不符", "not in the recorded year of death"),
    "before_birth": ("早于出生日期", "before the date of birth"),
}


def today_in_beijing(now: datetime | None = None) -> date:
    """The registry's calendar day: the date in Beijing time (UTC+8)."""
    return (now or datetime.now(UTC)).astimezone(BEIJING).date()


@dataclass(frozen=True)
class Occasion:
    """One day of remembrance on one date; ``facility_ids`` None means every facility (a national day)."""

    kind: str
    on: date
    title: str
    facility_ids: tuple[int, ...] | None = None
    martyr_id: int | None = None
    day_id: int | None = None
    subject: str | None = None  # the martyr's or the facility day's name, for pages in another language
    years: int | None = None  # the how-manieth anniversary, where known


@dataclass(frozen=True)
class BadDate:
    """A stored date of death the calendar cannot use, and why."""

    martyr_id: int
    name: str
    raw: str
    reason: str
    counties: tuple[str, ...] = ()


def check_death_date(raw: str, death_year: int | None, birth_raw: str | None, birth_year: int | None,
                     today: date) -> tuple[date | None, str | None]:
    """A stored date of death as a date, or None and the reason (a key of BAD_DATE_REASONS)."""
    day, reason = parse_stored_date(raw)
    if day is None:
        return None, reason
    if day > today:
        return None, "after_today"
    if day.year < 1800:
        return None, "too_early"
    if death_year is not None and death_year != day.year:
        return None, "year_differs"
    born = parse_stored_date(birth_raw)[0]
    if (born is not None and day < born) or (born is None and birth_year is not None and day.year < birth_year):
        return None, "before_birth"
    return day, None


def anniversary_in(year: int, died: date) -> date:
    """The anniversary of ``died`` in ``year``; 29 February is kept on 28 February in common years."""
    try:
        return died.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def _yearly(start: date, end: date, month: int, day: int) -> Iterable[date]:
    for year in range(start.year, end.year + 1):
        on = anniversary_in(year, date(2000, month, day))
        if start <= on <= end:
            yield on


def national_days(start: date, end: date) -> list[Occasion]:
    """Qingming (from the solar term), Army Day and Martyrs' Day between ``start`` and ``end``, inclusive."""
    found = []
    for year in range(start.year, end.year + 1):
        day = qingming(year)
        if start <= day <= end:
            found.append(Occasion("qingming", day, KINDS["qingming"][0]))
    for kind, month, day in FIXED_DAYS:
        found.extend(Occasion(kind, on, KINDS[kind][0]) for on in _yearly(start, end, month, day))
    return sorted(found, key=lambda o: o.on)


def _martyr_rows(session, *, county: str | None = None, buried_only: bool = True):
    """Active martyrs with a stored date of death, as the store holds it (text), with their tombs' facilities."""
    columns = (Martyr.id, Martyr.name, cast(Martyr.death_date, Text).label("death_raw"), Martyr.death_year,
               cast(Martyr.birth_date, Text).label("birth_raw"), Martyr.birth_year, Tomb.facility_id,
               Facility.county_code)
    query = select(*columns).where(Martyr.status == "active", Martyr.death_date.is_not(None))
    tombs = (Tomb.martyr_id == Martyr.id) & (Tomb.status == "active")
    facilities = (Facility.id == Tomb.facility_id) & (Facility.status == "active")
    if buried_only:
        query = query.join(Tomb, tombs).join(Facility, facilities)
    else:
        query = query.outerjoin(Tomb, tombs).outerjoin(Facility, facilities)
    if county is not None:
        query = query.where(Facility.county_code == county)
    return session.execute(query.order_by(Martyr.id)).all()


def bad_dates(store: Store, actor: Actor | None = None, today: date | None = None) -> list[BadDate]:
    """Every active martyr whose stored date of death the calendar skips, with the reason, for the archivist.

    With ``actor``, a manager sees the martyrs buried in their counties; martyrs buried at no facility are
    listed to those who read every county.
    """
    today = today or today_in_beijing()
    allowed = readable_counties(actor) if actor is not None else None
    with store.session() as session:
        rows = _martyr_rows(session, buried_only=False)
    found: dict[int, BadDate] = {}
    for row in rows:
        _day, reason = check_death_date(row.death_raw, row.death_year, row.birth_raw, row.birth_year, today)
        if reason is None:
            continue
        entry = found.get(row.id) or BadDate(row.id, row.name, row.death_raw, reason)
        if row.county_code and row.county_code not in entry.counties:
            entry = BadDate(entry.martyr_id, entry.name, entry.raw, entry.reason, (*entry.counties, row.county_code))
        found[row.id] = entry
    listed = list(found.values())
    if allowed is not None:
        listed = [b for b in listed if set(b.counties) & set(allowed)]
    return listed


def _anniversaries(rows, start: date, end: date, today: date) -> list[Occasion]:
    """Each martyr's anniversaries between ``start`` and ``end`` at the facilities where they lie."""
    by_martyr: dict[int, tuple] = {}
    places: dict[int, list[int]] = {}
    for row in rows:
        by_martyr.setdefault(row.id, row)
        if row.facility_id is not None:
            places.setdefault(row.id, []).append(row.facility_id)
    found = []
    for martyr_id, row in by_martyr.items():
        died, _reason = check_death_date(row.death_raw, row.death_year, row.birth_raw, row.birth_year, today)
        if died is None:
            continue
        for year in range(max(start.year, died.year + 1), end.year + 1):
            on = anniversary_in(year, died)
            if start <= on <= end:
                title = f"{row.name}烈士牺牲{year - died.year}周年"
                facilities = tuple(sorted(set(places.get(martyr_id, ()))))
                found.append(Occasion("anniversary", on, title, facilities, martyr_id=martyr_id, subject=row.name,
                                      years=year - died.year))
    return found


def _facility_days(session, start: date, end: date, county: str | None = None) -> list[Occasion]:
    query = (select(FacilityDay).join(Facility, Facility.id == FacilityDay.facility_id)
             .where(FacilityDay.status == "active", Facility.status == "active"))
    if county is not None:
        query = query.where(Facility.county_code == county)
    found = []
    for day in session.scalars(query.order_by(FacilityDay.id)):
        for on in _yearly(start, end, day.month, day.day):
            years = on.year - day.since_year if day.since_year and on.year > day.since_year else None
            title = f"{day.name}（{years}周年）" if years else day.name
            found.append(Occasion("facility_day", on, title, (day.facility_id,), day_id=day.id, subject=day.name,
                                  years=years))
    return found


def occasions(store: Store, start: date, end: date, *, county: str | None = None,
              today: date | None = None) -> list[Occasion]:
    """Every day of remembrance between ``start`` and ``end`` (national ones, facilities' own, anniversaries)."""
    today = today or today_in_beijing()
    with store.session() as session:
        found = national_days(start, end) + _facility_days(session, start, end, county)
        found += _anniversaries(_martyr_rows(session, county=county), start, end, today)
    order = list(KINDS)
    return sorted(found, key=lambda o: (o.on, order.index(o.kind), o.title))
