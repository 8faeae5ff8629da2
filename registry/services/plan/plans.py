"""Preservation plans: draft, submitted, returned with comments, approved by a reviewer who is not the author.

Every step keeps a version of the whole plan (plan_versions), so any two versions can be compared.
"""

from __future__ import annotations

from datetime import date

from shapely.geometry import MultiPolygon
from sqlalchemy import func, select

from geodata.crs import from_metric, to_metric
from registry.db import Store
from registry.models import Facility, FacilityZone, FundingLine, PlanVersion, PlanZone, PreservationPlan
from registry.models.types import utcnow
from registry.models.vocab import FUNDING_SOURCES
from registry.services import divisions
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    check_version,
    load,
    optional_date,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.plan.zones import CURRENT, require_planner

KINDS = ("plan", "project")
EDITABLE_STATES = ("draft", "returned")
FIELDS = ("title", "kind", "scope", "measures", "targets", "budget", "start_on", "end_on")
# When a plan's scope names a facility without a protection range, its scope zone is this buffer.
SCOPE_BUFFER_M = 50.0

# Labels of the compared fields, in the order a diff shows them.
FIELD_LABELS = {
    "title": "名称", "kind": "类别", "scope": "范围说明", "measures": "保护措施", "targets": "目标",
    "budget": "预算（元）", "start_on": "开始", "end_on": "结束", "facilities": "涉及设施",
    "nominated": "推荐申报国家级", "funding": "资金", "state": "状态",
}


def _amount(raw, key: str) -> float:
    """A sum of yuan, zero or more; anything else is refused naming ``key``."""
    try:
        amount = float(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"{key} {raw!r} is not a number", field=key) from None
    if amount < 0 or amount != amount:
        raise InvalidInput(f"{key} cannot be negative", field=key)
    return amount


def _clean(values: dict) -> dict:
    """The plan's fields from a form or a caller, checked; unknown keys are refused."""
    unknown = set(values) - set(FIELDS) - {"code", "facility_codes", "nominated_codes"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    clean = {}
    title = (values.get("title") or "").strip()
    if not title:
        raise InvalidInput("title is required", field="title")
    clean["title"] = title
    kind = values.get("kind") or "plan"
    if kind not in KINDS:
        raise InvalidInput(f"kind {kind!r} is not one of {', '.join(KINDS)}", field="kind")
    clean["kind"] = kind
    for key in ("scope", "measures"):
        clean[key] = (values.get(key) or "").strip() or None
    targets = values.get("targets")
    if isinstance(targets, str):
        targets = [line.strip() for line in targets.splitlines() if line.strip()]
    clean["targets"] = list(targets or [])
    budget = values.get("budget")
    clean["budget"] = None if budget in (None, "") else _amount(budget, "budget")
    clean["start_on"] = optional_date(values.get("start_on"), "start_on")
    clean["end_on"] = optional_date(values.get("end_on"), "end_on")
    if clean["start_on"] and clean["end_on"] and clean["end_on"] < clean["start_on"]:
        raise InvalidInput("end_on is before start_on", field="end_on")
    return clean


def _codes(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.replace("，", ",").replace("\n", ",").split(",")
    return [c.strip() for c in value if c and c.strip()]


def _facilities(session, codes: list[str], field: str) -> list[Facility]:
    if not codes:
        return []
    found = {f.code: f for f in session.scalars(select(Facility).where(Facility.code.in_(codes)))}
    missing = [c for c in codes if c not in found or found[c].status == "retired"]
    if missing:
        raise InvalidInput(f"{field}: no facility with code {', '.join(missing)}", field=field)
    return [found[c] for c in dict.fromkeys(codes)]


def _scope_zone(session, facility: Facility) -> MultiPolygon:
    """The facility's protection range, or a small buffer of its point when it has none yet."""
    geom = session.scalar(select(FacilityZone.geom).where(
        FacilityZone.facility_id == facility.id, FacilityZone.kind == "protection_range",
        FacilityZone.status == CURRENT))
    if geom is not None:
        return geom
    projected, epsg = to_metric(facility.geom)
    return MultiPolygon([from_metric(projected.buffer(SCOPE_BUFFER_M, quad_segs=8), epsg)])


def _content(session, plan: PreservationPlan) -> dict:
    """The whole plan as plain data: what a version keeps and a diff compares."""
    zones = session.execute(select(Facility.code, Facility.name).join(PlanZone, PlanZone.facility_id == Facility.id)
                            .where(PlanZone.plan_id == plan.id, PlanZone.status == "active")
                            .order_by(Facility.code)).all()
    lines = session.scalars(select(FundingLine).where(FundingLine.plan_id == plan.id,
                                                      FundingLine.status == "active").order_by(FundingLine.id)).all()
    targets = plan.targets or []
    return {
        "code": plan.code, "title": plan.title, "kind": plan.kind, "scope": plan.scope, "measures": plan.measures,
        "targets": [t for t in targets if isinstance(t, str)],
        "nominated": sorted(t["nominate_national"] for t in targets
                            if isinstance(t, dict) and "nominate_national" in t),
        "budget": plan.budget,
        "start_on": plan.start_on.isoformat() if plan.start_on else None,
        "end_on": plan.end_on.isoformat() if plan.end_on else None,
        "state": plan.state,
        "facilities": [f"{code} {name}" for code, name in zones],
        "funding": [f"{FUNDING_SOURCES.get(ln.source, (ln.source,))[0]} {ln.county_code or ''} {ln.year or ''}: "
                    f"{ln.amount_allocated:,.2f} / {ln.amount_spent:,.2f}" for ln in lines],
    }


def _keep_version(session, actor: Actor, plan: PreservationPlan, action: str, comment: str | None = None) -> None:
    session.flush()
    number = (session.scalar(select(func.max(PlanVersion.number)).where(PlanVersion.plan_id == plan.id)) or 0) + 1
    session.add(PlanVersion(plan_id=plan.id, number=number, state=plan.state, action=action, actor_id=actor.id,
                            actor_name=actor.name, comment=comment, content=_content(session, plan)))


def _set_scope(session, plan: PreservationPlan, facilities: list[Facility], nominated: list[Facility]) -> None:
    wanted = {f.id for f in facilities}
    current = {z.facility_id: z for z in session.scalars(select(PlanZone).where(
        PlanZone.plan_id == plan.id, PlanZone.status == "active"))}
    for fid, zone in current.items():
        if fid not in wanted:
            zone.status = "retired"  # out of scope now; the row and its history stay
    for facility in facilities:
        if facility.id not in current:
            session.add(PlanZone(plan_id=plan.id, facility_id=facility.id, name=facility.name,
                                 geom=_scope_zone(session, facility), is_demo=plan.is_demo))
    plain = [t for t in (plan.targets or []) if isinstance(t, str)]
    plan.targets = plain + [{"nominate_national": f.code} for f in nominated]


def create_plan(store: Store, actor: Actor, values: dict) -> PreservationPlan:
    """Draft a plan; the actor is its author. Its first version is kept."""
    require_planner(actor)
    clean = _clean(values)
    code = (values.get("code") or "").strip()
    with unit_of_work(store) as session:
        facilities = _facilities(session, _codes(values.get("facility_codes")), "facility_codes")
        nominated = _facilities(session, _codes(values.get("nominated_codes")), "nominated_codes")
        if not code:
            count = session.scalar(select(func.count(PreservationPlan.id))) or 0
            code = f"PLAN-{date.today().year}-{count + 1:04d}"
        if session.scalar(select(PreservationPlan.id).where(PreservationPlan.code == code)) is not None:
            raise Conflict(f"code {code!r} is already used by another plan", field="code")
        plan = PreservationPlan(code=code, state="draft", author_id=actor.id, **clean)
        session.add(plan)
        session.flush()
        _set_scope(session, plan, facilities, nominated)
        record_audit(session, actor, "create", plan)
        _keep_version(session, actor, plan, "create")
    return plan


def _load(session, plan_id: int) -> PreservationPlan:
    return load(session, PreservationPlan, plan_id, "plan", hide_retired=True)


def _require_author(actor: Actor, plan: PreservationPlan) -> None:
    if plan.author_id is not None and plan.author_id != actor.id and not actor.can("admin"):
        raise Forbidden(f"only the plan's author may change plan {plan.code}")


def update_plan(store: Store, actor: Actor, plan_id: int, version: int | None, values: dict) -> PreservationPlan:
    """Revise a draft or returned plan from the version the author saw; a new version is kept."""
    require_planner(actor)
    clean = _clean(values)
    with unit_of_work(store) as session:
        plan = _load(session, plan_id)
        _require_author(actor, plan)
        check_version(plan, version)
        if plan.state not in EDITABLE_STATES:
            raise Conflict(f"plan {plan.code} is {plan.state}; only a draft or returned plan can be revised",
                           field="state")
        facilities = _facilities(session, _codes(values.get("facility_codes")), "facility_codes")
        nominated = _facilities(session, _codes(values.get("nominated_codes")), "nominated_codes")
        before = snapshot(plan)
        for key, value in clean.items():
            setattr(plan, key, value)
        _set_scope(session, plan, facilities, nominated)
        record_audit(session, actor, "update", plan, before=before)
        _keep_version(session, actor, plan, "edit")
    return plan


def submit_plan(store: Store, actor: Actor, plan_id: int, version: int | None) -> PreservationPlan:
    """The author submits a draft or returned plan for review."""
    require_planner(actor)
    with unit_of_work(store) as session:
        plan = _load(session, plan_id)
        _require_author(actor, plan)
        check_version(plan, version)
        if plan.state not in EDITABLE_STATES:
            raise Conflict(f"plan {plan.code} is {plan.state}; only a draft or returned plan can be submitted",
                           field="state")
        before = snapshot(plan)
        plan.state = "submitted"
        plan.submitted_at = utcnow()
        record_audit(session, actor, "submit", plan, before=before)
        _keep_version(session, actor, plan, "submit")
    return plan


def _review(store: Store, actor: Actor, plan_id: int, version: int | None, decision: str,
            comment: str | None) -> PreservationPlan:
    if not actor.can("reviewer"):
        raise Forbidden(f"{actor.name} is not a reviewer; only reviewers return or approve plans")
    comment = (comment or "").strip() or None
    if decision == "returned" and not comment:
        raise InvalidInput("a returned plan needs a comment saying what to change", field="comment")
    with unit_of_work(store) as session:
        plan = _load(session, plan_id)
        if plan.author_id is not None and plan.author_id == actor.id:
            raise Forbidden(f"{actor.name} wrote plan {plan.code} and cannot review it: "
                            "a plan is approved or returned by a reviewer who is not its author")
        check_version(plan, version)
        if plan.state != "submitted":
            raise Conflict(f"plan {plan.code} is {plan.state}; only a submitted plan can be reviewed", field="state")
        before = snapshot(plan)
        plan.state = decision
        plan.reviewer_id = actor.id
        plan.review_comment = comment
        plan.decided_at = utcnow()
        record_audit(session, actor, "approve" if decision == "approved" else "return", plan, before=before,
                     note=comment)
        _keep_version(session, actor, plan, "approve" if decision == "approved" else "return", comment)
    return plan


def return_plan(store: Store, actor: Actor, plan_id: int, version: int | None, comment: str) -> PreservationPlan:
    """A reviewer returns a submitted plan to its author with a comment."""
    return _review(store, actor, plan_id, version, "returned", comment)


def approve_plan(store: Store, actor: Actor, plan_id: int, version: int | None,
                 comment: str | None = None) -> PreservationPlan:
    """A reviewer who is not the author approves a submitted plan."""
    return _review(store, actor, plan_id, version, "approved", comment)


def add_funding_line(store: Store, actor: Actor, plan_id: int, values: dict) -> FundingLine:
    """Add money from one source to a plan: amount allocated and (so far) spent, by county and year."""
    require_planner(actor)
    source = values.get("source")
    if source not in FUNDING_SOURCES:
        raise InvalidInput(f"source {source!r} is not one of {', '.join(FUNDING_SOURCES)}", field="source")
    county = values.get("county_code") or None
    divisions.check_county(store, county, "county_code")
    amounts = {}
    for key in ("amount_allocated", "amount_spent"):
        raw = values.get(key)
        amounts[key] = _amount(raw, key) if raw not in (None, "") else 0.0
    year = values.get("year")
    try:
        year = int(year) if year not in (None, "") else None
    except (TypeError, ValueError):
        raise InvalidInput(f"year {year!r} is not a year", field="year") from None
    with unit_of_work(store) as session:
        plan = _load(session, plan_id)
        line = FundingLine(plan_id=plan.id, source=source, county_code=county, year=year,
                           note=(values.get("note") or "").strip() or None, is_demo=plan.is_demo, **amounts)
        session.add(line)
        record_audit(session, actor, "create", line)
        _keep_version(session, actor, plan, "funding")
    return line


def record_spending(store: Store, actor: Actor, line_id: int, version: int | None, amount_spent) -> FundingLine:
    """Set how much of a funding line has been spent so far, from the version the user saw."""
    require_planner(actor)
    amount = _amount(amount_spent, "amount_spent")
    with unit_of_work(store) as session:
        line = load(session, FundingLine, line_id, "funding line", active_only=True)
        check_version(line, version)
        before = snapshot(line)
        line.amount_spent = amount
        record_audit(session, actor, "update", line, before=before)
        _keep_version(session, actor, _load(session, line.plan_id), "funding")
    return line


def get_plan(store: Store, plan_id: int) -> dict:
    """A plan with its current content, funding lines, scope facilities and versions, for the plan page."""
    with store.session() as session:
        plan = _load(session, plan_id)
        content = _content(session, plan)
        lines = list(session.scalars(select(FundingLine).where(FundingLine.plan_id == plan_id,
                                                               FundingLine.status == "active")
                                     .order_by(FundingLine.id)))
        versions = list(session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan_id)
                                        .order_by(PlanVersion.number)))
        codes = session.execute(select(Facility.code).join(PlanZone, PlanZone.facility_id == Facility.id)
                                .where(PlanZone.plan_id == plan_id, PlanZone.status == "active")
                                .order_by(Facility.code)).scalars().all()
        session.expunge_all()
    return {"plan": plan, "content": content, "funding": lines, "versions": versions,
            "facility_codes": list(codes),
            "nominated_codes": content["nominated"]}


def list_plans(store: Store) -> list[PreservationPlan]:
    with store.session() as session:
        plans = list(session.scalars(select(PreservationPlan).where(PreservationPlan.status != "retired")
                                     .order_by(PreservationPlan.id.desc())))
        session.expunge_all()
    return plans


def compare_versions(store: Store, plan_id: int, a: int, b: int) -> list[dict]:
    """What changed between two kept versions of a plan: one row per field, changed rows marked."""
    with store.session() as session:
        found = {v.number: v for v in session.scalars(select(PlanVersion).where(
            PlanVersion.plan_id == plan_id, PlanVersion.number.in_((a, b))))}
    for number in (a, b):
        if number not in found:
            raise NotFound(f"plan {plan_id} has no version {number}")
    old, new = found[a].content, found[b].content
    rows = []
    for key, label in FIELD_LABELS.items():
        before, after = old.get(key), new.get(key)
        if isinstance(before, list) or isinstance(after, list):
            before_set, after_set = list(before or []), list(after or [])
            rows.append({"field": key, "label": label, "changed": before_set != after_set,
                         "removed": [x for x in before_set if x not in after_set],
                         "added": [x for x in after_set if x not in before_set],
                         "before": "\n".join(map(str, before_set)), "after": "\n".join(map(str, after_set))})
        else:
            rows.append({"field": key, "label": label, "changed": before != after, "removed": [], "added": [],
                         "before": "" if before is None else str(before), "after": "" if after is None else str(after)})
    return rows


__all__ = [
    "add_funding_line", "approve_plan", "record_spending", "compare_versions", "create_plan", "get_plan", "list_plans",
    "return_plan", "submit_plan", "update_plan",
]
