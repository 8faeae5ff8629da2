"""What is due: inspection cadence from configuration, each facility's status, priority A–F and trend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, literal, or_, select

from registry.db import Store
from registry.models import Facility, Inspection, MaintenanceTask
from registry.models.vocab import CATEGORIES, LEVELS, LONGYAN_COUNTIES
from registry.services.base import Actor, Forbidden, InvalidInput

# Statuses in the order of urgency; the map colours and the list sort follow it.
STATUSES = ("problem_open", "overdue", "due_soon", "ok")
STATUS_LABELS = {
    "problem_open": ("问题未结", "Problem open"),
    "overdue": ("已逾期", "Overdue"),
    "due_soon": ("即将到期", "Due soon"),
    "ok": ("正常", "OK"),
}
TIERS = ("station", "county", "city")
TIER_LABELS = {"station": ("乡镇/村站巡查", "Station"), "county": ("县级检查", "County"), "city": ("市级抽查", "City")}
# Tasks that still need work or a second person's check keep a problem open.
ACTIVE_TASK_STATES = ("open", "in_progress", "done")
CONDITION_SCORE = {"good": 3, "fair": 2, "poor": 1, "critical": 0}
PRIORITIES = {
    "A": ("立即危险，尚无措施", "Immediate risk, no solution agreed"),
    "B": ("立即危险，已有措施未完成", "Immediate risk, solution agreed, not yet done"),
    "C": ("缓慢损坏，尚无措施", "Slow decay, no solution agreed"),
    "D": ("缓慢损坏，已有措施未完成", "Slow decay, solution agreed, not yet done"),
    "E": ("维修中或状况一般", "Under repair or in fair repair"),
    "F": ("状况良好或已修复", "In good repair or repairs done"),
}
TRENDS = {"declining": ("下降", "Declining"), "stable": ("稳定", "Stable"), "improving": ("改善", "Improving")}


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
        levels = config.get("MANAGE_CITY_CHECK_LEVELS", default.city_levels)
        if isinstance(levels, str):
            levels = [part.strip() for part in levels.split(",") if part.strip()]
        soon = int(config.get("MANAGE_DUE_SOON_DAYS") or default.due_soon_days)
        return cls(days=days, city_levels=tuple(levels), due_soon_days=soon)

    def applies(self, tier: str, level: str) -> bool:
        if tier not in self.days:
            return False
        return tier != "city" or level in self.city_levels


@dataclass
class FacilityDue:
    """One facility's line in the managers' list."""

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
        return LONGYAN_COUNTIES.get(self.county_code, (self.county_code,))[0]


def readable_counties(actor: Actor) -> tuple[str, ...] | None:
    """The counties whose records ``actor`` may read in the managers' area (None: all of them)."""
    if actor.can("admin") or actor.can("reviewer"):
        return None
    if actor.can("manager"):
        return tuple(actor.counties)
    return ()


def require_county(actor: Actor, county_code: str, *, write: bool = True) -> None:
    """Refuse (403) a manager acting outside their counties; reviewers read everywhere, only admins write anywhere."""
    if actor.can("admin"):
        return
    if actor.can("manager") and county_code in actor.counties:
        return
    if not write and actor.can("reviewer"):
        return
    county = LONGYAN_COUNTIES.get(county_code, (county_code,))[0]
    raise Forbidden(f"{actor.name} may not {'change' if write else 'read'} records of {county} ({county_code}): "
                    "managers work only in their own counties")


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
             ids: list[int] | None = None, now: datetime | None = None) -> list[FacilityDue]:
    """Every active facility the actor may read (optionally filtered) with its due status, most urgent first.

    Three grouped queries, whatever the number of inspections: the facilities, the last inspection of
    each tier and condition per facility (one pass over the inspections), and the work orders.
    """
    now = now or datetime.now(UTC)
    if county and county not in LONGYAN_COUNTIES:
        raise InvalidInput(f"county {county!r} is not a county of Longyan", field="county")
    if level and level not in LEVELS:
        raise InvalidInput(f"level {level!r} is not one of {', '.join(LEVELS)}", field="level")
    if category and category not in CATEGORIES:
        raise InvalidInput(f"category {category!r} is not one of {', '.join(CATEGORIES)}", field="category")
    if status and status not in STATUSES:
        raise InvalidInput(f"status {status!r} is not one of {', '.join(STATUSES)}", field="status")
    allowed = readable_counties(actor)
    if county:
        require_county(actor, county, write=False)
    elif allowed == ():
        raise Forbidden(f"{actor.name} has no counties to manage")
    conditions = [Facility.status == "active"]
    if county:
        conditions.append(Facility.county_code == county)
    elif allowed is not None:
        conditions.append(Facility.county_code.in_(allowed))
    if level:
        conditions.append(Facility.level == level)
    if category:
        conditions.append(Facility.category == category)
    if ids is not None:
        conditions.append(Facility.id.in_(ids))
    scope = select(Facility.id).where(*conditions)

    def last(when):
        return func.max(case((when, Inspection.inspected_at), else_=literal(None)))

    agg = (
        select(
            Inspection.facility_id.label("fid"),
            func.max(Inspection.inspected_at).label("last_any"),
            last(Inspection.tier.in_(("county", "city"))).label("last_county"),
            last(Inspection.tier == "city").label("last_city"),
            *(last(Inspection.condition == c).label(f"last_{c}") for c in ("critical", "poor", "fair")),
        )
        .where(Inspection.facility_id.in_(scope), Inspection.status == "active")
        .group_by(Inspection.facility_id)
        .subquery()
    )
    work = (
        select(
            MaintenanceTask.facility_id.label("fid"),
            func.sum(case((MaintenanceTask.state.in_(ACTIVE_TASK_STATES), 1), else_=0)).label("active"),
            func.max(Inspection.inspected_at).label("last_tasked"),
        )
        .join(Inspection, Inspection.id == MaintenanceTask.inspection_id, isouter=True)
        .where(MaintenanceTask.facility_id.in_(scope), MaintenanceTask.status == "active",
               MaintenanceTask.state != "cancelled")
        .group_by(MaintenanceTask.facility_id)
        .subquery()
    )
    # Comparisons of timestamps are made in the query, so only three per facility cross into Python
    # (converting timestamps is what costs time at 20,000 facilities). Three separate queries rather
    # than one join: with stale planner statistics (just after a bulk load) PostgreSQL chose a nested
    # loop over the grouped subquery for the join and took minutes; each query alone has one plan.
    latest_condition = case(
        *((agg.c[f"last_{c}"] == agg.c.last_any, literal(c)) for c in ("critical", "poor", "fair")),
        (agg.c.last_any.is_not(None), literal("good")),
        else_=literal(None),
    )
    # A poor or critical condition found by the latest inspection stays a problem open until a work order
    # is made from it. Notes on a fair or good facility (weeds, faded paint) are routine upkeep: shown on
    # the inspection, but they do not flag the facility (the demo data notes something at most visits).
    alarming = case((or_(*(agg.c[f"last_{c}"] == agg.c.last_any for c in ("critical", "poor"))), 1), else_=0)
    per_facility = select(agg.c.fid, agg.c.last_any, agg.c.last_county, agg.c.last_city, latest_condition,
                          alarming)
    with store.session() as session:
        facilities = session.execute(
            select(Facility.id, Facility.code, Facility.name, Facility.county_code, Facility.township,
                   Facility.level, Facility.category, Facility.created_at).where(*conditions)
        ).all()
        inspected = {row[0]: row[1:] for row in session.execute(per_facility)}
        work_orders = {row[0]: (int(row[1] or 0), row[2]) for row in session.execute(select(work))}
    soon = timedelta(days=cadence.due_soon_days)
    periods = {(tier, lvl): timedelta(days=cadence.days[tier]) for tier in TIERS for lvl in LEVELS
               if cadence.applies(tier, lvl)}
    never = (None, None, None, None, 0)
    result = []
    for fid, code, name, county_code, township, lvl, cat, created in facilities:
        last_any, last_county, last_city, latest_condition, alarm = inspected.get(fid, never)
        active, last_tasked = work_orders.get(fid, (0, None))
        untasked = bool(alarm) and (last_tasked is None or last_tasked < last_any)
        next_due, overdue_tier = None, None
        for tier, seen in (("station", last_any), ("county", last_county), ("city", last_city)):
            period = periods.get((tier, lvl))
            if period is None:
                continue
            # Never inspected: due from registration, so a new facility is overdue one cadence later.
            due = (seen or created) + period
            if next_due is None or due < next_due:
                next_due, overdue_tier = due, tier
        if active or untasked:
            state = "problem_open"
        elif next_due is not None and next_due < now:
            state = "overdue"
        elif next_due is not None and next_due - now <= soon:
            state = "due_soon"
        else:
            state = "ok"
        if status and state != status:
            continue
        result.append(FacilityDue(fid, code, name, county_code, township, lvl, cat, state, next_due,
                                  overdue_tier, last_any, latest_condition, active,
                                  priority_for(latest_condition, active)))
    order = {s: i for i, s in enumerate(STATUSES)}
    far = datetime.max.replace(tzinfo=UTC)
    result.sort(key=lambda f: (order[f.status], f.next_due or far, f.code))
    return result


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
