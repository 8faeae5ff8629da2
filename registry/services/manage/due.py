"""What is due: inspection cadence from configuration, each facility's status, priority A–F and trend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from registry.db import Store
from registry.gc_pause import gc_paused
from registry.models import Facility, Inspection
from registry.models.vocab import CATEGORIES, LEVELS
from registry.services import divisions
from registry.services.access import readable_counties, require_county
from registry.services.base import Actor, Forbidden, InvalidInput
from registry.services.manage import stores
from registry.services.manage.backend import ACTIVE_TASK_STATES as ACTIVE_TASK_STATES  # the due rules' names
from registry.services.manage.backend import CONDITION_RANK, DueParts

# Statuses in the order of urgency; the map colours and the list sort follow it.
STATUSES = ("problem_open", "overdue", "due_soon", "ok")
TIERS = ("station", "county", "city")
CONDITION_SCORE = {"good": 3, "fair": 2, "poor": 1, "critical": 0}


@dataclass(frozen=True)
class Cadence:
    """How often each tier must inspect (days), which levels the city spot check covers, and the warning window."""

    days: Mapping[str, int] = field(default_factory=lambda: {"station": 91, "county": 182, "city": 365})
    city_levels: tuple[str, ...] = ("national", "provincial", "city")
    due_soon_days: int = 14

    @classmethod
    def from_config(cls, config: Mapping) -> Cadence:
        """Read MANAGE_CADENCE_DAYS ("station=91,county=182,city=365" or a dict), MANAGE_CITY_CHECK_LEVELS
        ("national,provincial,city" or a list) and MANAGE_DUE_SOON_DAYS; missing keys keep the defaults."""
        default = cls()
        raw = config.get("MANAGE_CADENCE_DAYS") or default.days
        if isinstance(raw, str):
            try:
                raw = {k.strip(): v for k, v in (part.split("=") for part in raw.split(",") if part.strip())}
            except ValueError:
                raise InvalidInput(f"MANAGE_CADENCE_DAYS={raw!r}: write tier=days pairs such as "
                                   "station=91,county=182,city=365", field="MANAGE_CADENCE_DAYS") from None
        days = {}
        for tier, value in dict(raw).items():
            if tier not in TIERS:
                raise InvalidInput(f"MANAGE_CADENCE_DAYS names tier {tier!r}; tiers are {', '.join(TIERS)}",
                                   field="MANAGE_CADENCE_DAYS")
            if value in (None, "", 0, "0"):
                continue  # a tier without a cadence is not required
            days[tier] = int(value)
        levels = config.get("MANAGE_CITY_CHECK_LEVELS") or default.city_levels
        if isinstance(levels, str):
            levels = [part.strip() for part in levels.split(",") if part.strip()]
        soon = int(config.get("MANAGE_DUE_SOON_DAYS") or default.due_soon_days)
        return cls(days=days, city_levels=tuple(levels), due_soon_days=soon)

    def applies(self, tier: str, level: str) -> bool:
        if tier not in self.days:
            return False
        return tier != "city" or level in self.city_levels


@dataclass(slots=True)
class FacilityDue:
    """One facility's line in the managers' list (slots: a county's list makes 20,000 of them)."""

    id: int
    code: str
    name: str
    county_code: str
    township: str | None
    level: str
    category: str
    status: str
    next_due: datetime | None
    overdue_tier: str | None
    last_inspected: datetime | None
    latest_condition: str | None
    active_tasks: int
    priority: str | None

    @property
    def county_name(self) -> str:
        return divisions.cached_name(self.county_code)


def priority_for(condition: str | None, active_tasks: int) -> str | None:
    """Priority A–F in the manner of Historic England's Heritage at Risk register.

    Immediate risk (critical) and slow decay (poor) split by whether action is agreed (an active work
    order); fair condition or work under way is E; good condition with nothing outstanding is F.
    """
    if condition is None:
        return None
    if condition == "critical":
        return "B" if active_tasks else "A"
    if condition == "poor":
        return "D" if active_tasks else "C"
    if condition == "fair" or active_tasks:
        return "E"
    return "F"


def trend_for(conditions: list[str]) -> str | None:
    """Declining, stable or improving from conditions oldest first: the latest against the mean of up to 3 before.

    >>> trend_for(["good", "fair", "poor"]), trend_for(["poor", "good"]), trend_for(["fair", "fair"])
    ('declining', 'improving', 'stable')
    >>> trend_for(["good"]) is None
    True
    """
    scores = [CONDITION_SCORE[c] for c in conditions if c in CONDITION_SCORE]
    if len(scores) < 2:
        return None
    before = scores[-4:-1]
    delta = scores[-1] - sum(before) / len(before)
    if delta <= -0.5:
        return "declining"
    if delta >= 0.5:
        return "improving"
    return "stable"


def statuses(store: Store, actor: Actor, cadence: Cadence, *, county: str | None = None,
             level: str | None = None, category: str | None = None, status: str | None = None,
             ids: list[int] | None = None, now: datetime | None = None, city: str | None = None) -> list[FacilityDue]:
    """Every active facility the actor may read (optionally filtered) with its due status, most urgent first.

    One statement: per facility the last active inspection of each tier, the latest condition and the
    work orders (GeoPackage: the tables joined and grouped; PostGIS: a LATERAL aggregate and correlated
    subqueries: see ``manage/_gpkg.py`` and ``manage/_postgis.py``); the due dates, the status and the order
    are then worked out per row.
    """
    now = now or datetime.now(UTC)
    in_city = _check_filters(store, actor, county, level, category, status, city)
    conditions = _conditions(readable_counties(actor), county, in_city, level, category, ids)
    backend = stores.for_store(store)
    query = backend.due_select(DueParts.of(conditions))
    # 20,000 records without cycles: the collector's heap walks took a third of the time (bench/manage.py).
    with gc_paused(), store.session() as session:
        connection = session.connection()
        backend.prepare(connection)
        rows = connection.execute(query).all()
        return _due_rows(store, rows, cadence, status, now)


def _check_filters(store: Store, actor: Actor, county, level, category, status, city) -> list[str] | None:
    """Refuse a filter naming no such value, or a county the actor may not read; the counties of ``city``."""
    if county:
        divisions.check_county(store, county, "county")
    in_city = divisions.current(store).check_city(city) if city else None
    if level and level not in LEVELS:
        raise InvalidInput(f"level {level!r} is not one of {', '.join(LEVELS)}", field="level")
    if category and category not in CATEGORIES:
        raise InvalidInput(f"category {category!r} is not one of {', '.join(CATEGORIES)}", field="category")
    if status and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    if county:
        require_county(actor, county, write=False)
    elif readable_counties(actor) == ():
        raise Forbidden(f"{actor.name} has no counties to manage")
    return in_city


def _conditions(allowed, county, in_city, level, category, ids) -> list:
    """The conditions on the facilities table for the filters (active facilities the actor may read)."""
    facilities = Facility.__table__.c
    conditions = [facilities.status == "active"]
    if county:
        conditions.append(facilities.county_code == county)
    elif allowed is not None:
        conditions.append(facilities.county_code.in_(allowed))
    if in_city is not None:  # one city's facilities (within the actor's counties)
        conditions.append(facilities.county_code.in_(in_city))
    if level:
        conditions.append(facilities.level == level)
    if category:
        conditions.append(facilities.category == category)
    if ids is not None:
        conditions.append(facilities.id.in_(ids))
    return conditions


def _due_rows(store: Store, rows, cadence: Cadence, status: str | None, now: datetime) -> list[FacilityDue]:
    """Due date, status and order of the grouped rows.

    The timestamps come raw from the driver (their columns are typed without a result processor), and a
    GeoPackage's text is parsed only where a date is needed: parsing every one through the column type
    cost more than the query itself at 20,000 facilities. GeoPackage timestamps are fixed-width UTC text,
    so comparing two of them as text is comparing the times.
    """
    soon = timedelta(days=cadence.due_soon_days)
    # For each level, the tiers that apply to it with their period and the column their last visit is in.
    plan = {lvl: tuple((tier, column, timedelta(days=cadence.days[tier]))
                       for tier, column in (("station", 0), ("county", 1), ("city", 2)) if cadence.applies(tier, lvl))
            for lvl in LEVELS}
    conditions_by_rank = {str(r): c for c, r in CONDITION_RANK.items()} | {"0": "good"}
    priorities = {(c, a): priority_for(c, a) for c in (None, "good", *CONDITION_RANK) for a in (0, 1)}
    order = {s: i for i, s in enumerate(STATUSES)}
    far = datetime.max.replace(tzinfo=UTC)
    text = stores.for_store(store).text_times
    # Python 3.11+ reads the GeoPackage's trailing "Z" as UTC; PostgreSQL's values are datetimes already.
    parse = datetime.fromisoformat if text else (lambda value: value)
    keyed = []
    # The last two columns: the last visit and its condition (PostgreSQL), or both packed in one (GeoPackage).
    for number, (fid, code, name, county_code, township, lvl, cat, created, active_n, last_tasked, last_county,
                 last_city, last_any, latest_condition) in enumerate(rows):
        if not text:
            seen_any = last_any
        elif last_any:
            seen_any, latest_condition = last_any[:-1], conditions_by_rank[last_any[-1]]
            last_any = parse(seen_any)
        else:
            seen_any = last_any = latest_condition = None
        # A poor or critical condition found by the latest inspection stays a problem open until a work order
        # is made from it. Notes on a fair or good facility (weeds, faded paint) are routine upkeep: shown on
        # the inspection, but they do not flag the facility (the demo data notes something at most visits).
        untasked = latest_condition in ("critical", "poor") and (last_tasked is None or last_tasked < seen_any)
        next_due, overdue_tier, registered = None, None, None
        for tier, column, period in plan.get(lvl, ()):
            if column == 0:
                base = last_any
            else:
                seen = last_county if column == 1 else last_city
                base = parse(seen) if seen is not None else None
            if base is None:
                # Never inspected: due from registration, so a new facility is overdue one cadence later.
                base = registered = registered or parse(created)
            due = base + period
            if next_due is None or due < next_due:
                next_due, overdue_tier = due, tier
        active_n = int(active_n or 0)
        if active_n or untasked:
            state = "problem_open"
        elif next_due is not None and next_due < now:
            state = "overdue"
        elif next_due is not None and next_due - now <= soon:
            state = "due_soon"
        else:
            state = "ok"
        if status and state != status:
            continue
        line = FacilityDue(fid, code, name, county_code, township, lvl, cat, state, next_due, overdue_tier,
                           last_any, latest_condition, active_n, priorities[latest_condition, min(active_n, 1)])
        keyed.append((order[state], next_due or far, code, number, line))
    keyed.sort()
    return [entry[-1] for entry in keyed]


def map_features(store: Store, actor: Actor, cadence: Cadence, *, box: tuple | None = None,
                 **filters) -> list[tuple[FacilityDue, float, float, str | None]]:
    """Facilities in ``box`` (minx, miny, maxx, maxy) with status, position and condition trend, for the map."""
    from registry import spatial

    ids = None
    if box is not None:
        try:
            with store.session() as session:
                ids = spatial.for_store(store).by_box(session, "facilities", *box)
        except ValueError as exc:
            raise InvalidInput(f"bbox: {exc}", field="bbox") from None
        if not ids:
            return []
    rows = statuses(store, actor, cadence, ids=ids, **filters)
    if not rows:
        return []
    wanted = [r.id for r in rows]
    positions, history = {}, {}
    with store.session() as session:
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start:start + 5000]
            for fid, geom in session.execute(select(Facility.id, Facility.geom).where(Facility.id.in_(chunk))):
                positions[fid] = (geom.x, geom.y)
            for fid, condition in session.execute(
                    select(Inspection.facility_id, Inspection.condition)
                    .where(Inspection.facility_id.in_(chunk), Inspection.status == "active")
                    .order_by(Inspection.facility_id, Inspection.inspected_at)):
                history.setdefault(fid, []).append(condition)
    return [(r, *positions[r.id], trend_for(history.get(r.id, []))) for r in rows]
