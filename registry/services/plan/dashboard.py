"""The planners' dashboard: the plan's targets as indicators, funds allocated against spent, unconfirmed work."""

from __future__ import annotations

from sqlalchemy import and_, exists, func, or_, select

from registry.db import Store
from registry.models import Facility, FundingLine, Inspection, PlanZone, PreservationPlan
from registry.models.vocab import FUNDING_SOURCES, LEVELS
from registry.services import divisions

# The facility plan 2021–2030 the dashboard measures: at least one provincial-level facility in every county,
# and two to three facilities put forward for national level.
NATIONAL_NOMINATIONS = (2, 3)
PROVINCIAL_OR_ABOVE = ("national", "provincial")


def dashboard(store: Store, city: str | None = None) -> dict:
    """Every indicator of the dashboard, read in one session; with ``city``, that city's report on its own:
    its counties, the nominees and the planned work at its facilities, and the funds of its counties (a line
    without a county counts for the city when its plan has a zone at one of the city's facilities)."""
    with store.session() as session:
        known = divisions.current(session)
        names = known.counties()
        in_city = set(known.check_city(city)) if city else None
        counties = _county_rows(session, {code: value for code, value in names.items()
                                          if in_city is None or code in in_city})
        nominees = _nominees(session, in_city)
        fund_rows = _fund_rows(session, in_city, names)
        waiting = _unconfirmed(session, in_city, names)
    low, high = NATIONAL_NOMINATIONS
    return {
        "counties": counties,
        "counties_met": sum(1 for c in counties if c["met"]),
        "nominees": [{"code": c, "name": n, "level": LEVELS.get(lv, (lv,))[0],
                      "county": names.get(cc, (cc,))[0]} for c, n, lv, cc in nominees],
        "nominations_target": NATIONAL_NOMINATIONS,
        "nominations_met": low <= len(nominees) <= high,
        "funds": fund_rows,
        "funds_total": {"allocated": sum(r["allocated"] for r in fund_rows),
                        "spent": sum(r["spent"] for r in fund_rows)},
        "unconfirmed": waiting,
    }


def _county_rows(session, shown: dict) -> list[dict]:
    """Per county shown: its facilities, those graded provincial or above, and whether it has one."""
    live = Facility.status != "retired"
    graded = dict(session.execute(
        select(Facility.county_code, func.count(Facility.id))
        .where(live, Facility.level.in_(PROVINCIAL_OR_ABOVE)).group_by(Facility.county_code)).all())
    totals = dict(session.execute(
        select(Facility.county_code, func.count(Facility.id)).where(live).group_by(Facility.county_code)).all())
    return [{"code": code, "name": name, "facilities": totals.get(code, 0),
             "provincial_or_above": graded.get(code, 0), "met": graded.get(code, 0) >= 1}
            for code, (name, _lon, _lat) in shown.items()]


def _nominees(session, in_city: set | None) -> list:
    """The facilities submitted or approved plans nominate for national listing (code, name, level, county)."""
    nominated = set()
    for targets, in session.execute(select(PreservationPlan.targets).where(
            PreservationPlan.status != "retired", PreservationPlan.state.in_(("submitted", "approved")))):
        for target in targets or []:
            if isinstance(target, dict) and "nominate_national" in target:
                nominated.add(target["nominate_national"])
    if not nominated:
        return []
    query = select(Facility.code, Facility.name, Facility.level, Facility.county_code).where(
        Facility.code.in_(sorted(nominated)))
    if in_city is not None:
        query = query.where(Facility.county_code.in_(sorted(in_city)))
    return session.execute(query.order_by(Facility.code)).all()


def _fund_rows(session, in_city: set | None, names: dict) -> list[dict]:
    """Funds allocated and spent by source and county (a line without a county counts for the city when its
    plan has a zone at one of the city's facilities)."""
    fund_filter = [FundingLine.status == "active", PreservationPlan.status != "retired"]
    if in_city is not None:
        plan_in_city = exists(select(PlanZone.id).join(Facility, Facility.id == PlanZone.facility_id).where(
            PlanZone.plan_id == FundingLine.plan_id, PlanZone.status == "active",
            Facility.county_code.in_(sorted(in_city))))
        fund_filter.append(or_(FundingLine.county_code.in_(sorted(in_city)),
                               and_(FundingLine.county_code.is_(None), plan_in_city)))
    funds = session.execute(
        select(FundingLine.source, FundingLine.county_code, func.sum(FundingLine.amount_allocated),
               func.sum(FundingLine.amount_spent))
        .join(PreservationPlan, PreservationPlan.id == FundingLine.plan_id)
        .where(*fund_filter)
        .group_by(FundingLine.source, FundingLine.county_code)
        .order_by(FundingLine.source, FundingLine.county_code)).all()
    return [{"source": source, "source_label": FUNDING_SOURCES.get(source, (source,))[0],
             "county_code": county, "county": names.get(county, ("—",))[0] if county else "—",
             "allocated": float(alloc or 0), "spent": float(spent or 0),
             "share": (float(spent or 0) / float(alloc)) if alloc else None}
            for source, county, alloc, spent in funds]


def _unconfirmed(session, in_city: set | None, names: dict) -> list[dict]:
    """Planned work not yet confirmed: no inspection of the facility since its plan was approved."""
    latest = (select(Inspection.facility_id, func.max(Inspection.inspected_at).label("last"))
              .where(Inspection.status != "retired").group_by(Inspection.facility_id).subquery())
    unconfirmed = session.execute(
        select(Facility.id, Facility.code, Facility.name, Facility.county_code, PreservationPlan.id,
               PreservationPlan.code, PreservationPlan.title, PreservationPlan.decided_at, latest.c.last)
        .join(PlanZone, PlanZone.facility_id == Facility.id)
        .join(PreservationPlan, PreservationPlan.id == PlanZone.plan_id)
        .outerjoin(latest, latest.c.facility_id == Facility.id)
        .where(PlanZone.status == "active", PreservationPlan.state == "approved",
               PreservationPlan.status != "retired",
               *([Facility.county_code.in_(sorted(in_city))] if in_city is not None else []))
        .order_by(Facility.code)).all()
    return [{"facility_id": fid, "code": code, "name": name,
             "county": names.get(county, (county,))[0], "plan_id": pid, "plan_code": pcode,
             "plan_title": title, "approved_at": decided, "last_inspection": last}
            for fid, code, name, county, pid, pcode, title, decided, last in unconfirmed
            if last is None or (decided is not None and last < decided)]
