"""The due list's one-statement path against a plain per-facility computation, on a varied registry, both stores."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from shapely.geometry import Point
from sqlalchemy import insert, select

from registry.models import Facility, Inspection, MaintenanceTask
from registry.services.access import readable_counties
from registry.services.manage.due import (
    ACTIVE_TASK_STATES,
    STATUSES,
    Cadence,
    FacilityDue,
    priority_for,
    statuses,
)
from tests.factories import CHANGTING, SHANGHANG, people

WORST_FIRST = ("critical", "poor", "fair", "good")


def plain_statuses(store, actor, cadence: Cadence, now: datetime, county=None, level=None, status=None):
    """The due list worked out the obvious way: every row loaded, each facility looked at in turn."""
    allowed = readable_counties(actor)
    with store.session() as s:
        facilities = [f for f in s.scalars(select(Facility)) if f.status == "active"
                      and (allowed is None or f.county_code in allowed) and county in (None, f.county_code)
                      and level in (None, f.level)]
        inspections = [i for i in s.scalars(select(Inspection)) if i.status == "active"]
        tasks = [t for t in s.scalars(select(MaintenanceTask)) if t.status == "active" and t.state != "cancelled"]
        when = {i.id: i.inspected_at for i in s.scalars(select(Inspection))}
    out = []
    for f in facilities:
        mine = [i for i in inspections if i.facility_id == f.id]
        last_any = max((i.inspected_at for i in mine), default=None)
        last_county = max((i.inspected_at for i in mine if i.tier in ("county", "city")), default=None)
        last_city = max((i.inspected_at for i in mine if i.tier == "city"), default=None)
        latest = None
        if last_any is not None:
            at_last = {i.condition for i in mine if i.inspected_at == last_any}
            latest = next(c for c in WORST_FIRST if c in at_last)
        work = [t for t in tasks if t.facility_id == f.id]
        active = sum(1 for t in work if t.state in ACTIVE_TASK_STATES)
        last_tasked = max((when[t.inspection_id] for t in work if t.inspection_id), default=None)
        untasked = latest in ("critical", "poor") and (last_tasked is None or last_tasked < last_any)
        next_due = tier_due = None
        for tier, seen in (("station", last_any), ("county", last_county), ("city", last_city)):
            if cadence.applies(tier, f.level):
                due = (seen or f.created_at) + timedelta(days=cadence.days[tier])
                if next_due is None or due < next_due:
                    next_due, tier_due = due, tier
        if active or untasked:
            state = "problem_open"
        elif next_due is not None and next_due < now:
            state = "overdue"
        elif next_due is not None and next_due - now <= timedelta(days=cadence.due_soon_days):
            state = "due_soon"
        else:
            state = "ok"
        if status in (None, state):
            out.append(FacilityDue(f.id, f.code, f.name, f.county_code, f.township, f.level, f.category, state,
                                   next_due, tier_due, last_any, latest, active, priority_for(latest, active)))
    far = datetime.max.replace(tzinfo=UTC)
    out.sort(key=lambda d: (STATUSES.index(d.status), d.next_due or far, d.code))
    return out


@pytest.fixture
def varied(any_store):
    """120 facilities of both counties, every level, registered at different times; up to six inspections
    each of every tier and condition (some retired, some at the same moment); work orders in every state."""
    rng = random.Random(20260401)
    now = datetime(2026, 6, 1, 8, 30, 15, 250000, tzinfo=UTC)
    levels, tiers = ("national", "provincial", "city", "county", "ungraded"), ("station", "county", "city")
    rows = []
    for n in range(120):
        created = now - timedelta(days=rng.randint(1, 900), seconds=rng.randint(0, 86399))
        rows.append({"code": f"V-{n:04d}", "name": f"纪念设施{n}", "category": "monument",
                     "level": levels[n % len(levels)], "county_code": SHANGHANG if n % 4 else CHANGTING,
                     "geom": Point(116.4 + n / 1000, 25.0), "status": "retired" if n % 29 == 0 else "active",
                     "is_demo": False, "created_at": created,
                     "updated_at": now, "version": 1, "sign_present": False, "land_title_registered": False,
                     "position_approximate": True})
    with any_store.write_session() as s:
        s.execute(insert(Facility), rows)
        ids = list(s.scalars(select(Facility.id).where(Facility.code.like("V-%")).order_by(Facility.id)))
        for fid in ids:
            moments = []
            for _ in range(rng.randint(0, 6)):
                if moments and rng.random() < 0.15:
                    at = rng.choice(moments)  # two records of the same moment: the worse one counts
                else:
                    at = now - timedelta(days=rng.uniform(0, 500))
                    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
                moments.append(at)
                inspection = Inspection(facility_id=fid, inspected_at=at, tier=rng.choice(tiers),
                                        condition=rng.choice(WORST_FIRST),
                                        status="retired" if rng.random() < 0.1 else "active")
                s.add(inspection)
                s.flush()
                if rng.random() < 0.3:
                    s.add(MaintenanceTask(facility_id=fid, title="维修",
                                          inspection_id=inspection.id if rng.random() < 0.8 else None,
                                          state=rng.choice(("open", "in_progress", "done", "verified", "cancelled")),
                                          status="retired" if rng.random() < 0.1 else "active"))
        s.commit()
    return any_store, people(any_store), now


def test_the_one_statement_path_matches_the_plain_computation(varied):
    store, actors, now = varied
    custom = Cadence(days={"station": 30, "county": 120}, city_levels=("national",), due_soon_days=20)
    cases = [
        (actors["mgr"], Cadence(), {}),
        (actors["reviewer1"], Cadence(), {}),
        (actors["admin1"], custom, {}),
        (actors["reviewer1"], Cadence(), {"county": CHANGTING}),
        (actors["mgr"], Cadence(), {"level": "national"}),
        (actors["mgr"], custom, {"status": "overdue"}),
        (actors["reviewer1"], Cadence(), {"status": "due_soon"}),
        (actors["reviewer1"], Cadence(days={"city": 365}), {}),
    ]
    seen_states = set()
    for actor, cadence, filters in cases:
        for moment in (now, now + timedelta(days=45)):
            fast = statuses(store, actor, cadence, now=moment, **filters)
            plain = plain_statuses(store, actor, cadence, moment, **filters)
            assert fast == plain, (actor.name, cadence, filters, moment)
            seen_states |= {d.status for d in fast}
    assert seen_states == set(STATUSES)  # the fixture reaches every status


def test_the_cycle_collector_is_on_again_after_the_list(varied, monkeypatch):
    import gc

    from registry.services.manage import due

    store, actors, now = varied
    statuses(store, actors["mgr"], Cadence(), now=now)
    assert gc.isenabled()

    def broken(*_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(due, "_due_rows", broken)
    with pytest.raises(RuntimeError):
        statuses(store, actors["mgr"], Cadence(), now=now)
    assert gc.isenabled()
