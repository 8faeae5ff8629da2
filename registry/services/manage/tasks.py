"""Work orders (维修任务): open, in progress, done with completion photos, verified by a second person."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from sqlalchemy import select

from registry.db import Store
from registry.models import AuditEvent, Facility, Inspection, MaintenanceTask, ProblemReport, User
from registry.models.vocab import FUNDING_SOURCES, TASK_PRIORITIES
from registry.services.access import require_county
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    check_version,
    load,
    optional_date,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.photos import PhotoLimits, add_attachments, check_photos, write_files

MAX_TEXT = 4000


def _text(values: dict, name: str, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    value = (values.get(name) or "").strip() or None
    if required and value is None:
        raise InvalidInput(f"{name} is required", field=name)
    if value and len(value) > limit:
        raise InvalidInput(f"{name} has {len(value)} characters; at most {limit}", field=name)
    return value


def _money(values: dict, name: str) -> float | None:
    raw = values.get(name)
    if raw in (None, ""):
        return None
    try:
        amount = float(str(raw).replace(",", "").strip())
    except ValueError:
        raise InvalidInput(f"{name} {raw!r} is not an amount in yuan", field=name) from None
    if not (0 <= amount < 1e10):
        raise InvalidInput(f"{name} {raw!r} must be zero or more yuan", field=name)
    return amount


def _assignee(session, values: dict, county_code: str) -> int | None:
    raw = values.get("assignee_id")
    if raw in (None, ""):
        return None
    try:
        user = session.get(User, int(raw))
    except (TypeError, ValueError):
        user = None
    if user is None or user.status != "active":
        raise InvalidInput(f"assignee {raw!r} is not an active user", field="assignee_id")
    if "admin" not in user.roles and county_code not in (user.counties or []):
        raise InvalidInput(f"assignee {user.username} does not work in county {county_code}", field="assignee_id")
    return user.id


def _fields(session, values: dict, county_code: str) -> dict:
    priority = values.get("priority") or "normal"
    if priority not in TASK_PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(TASK_PRIORITIES)}, not {priority!r}", field="priority")
    funding = values.get("funding_source") or None
    if funding is not None and funding not in FUNDING_SOURCES:
        raise InvalidInput(f"funding_source must be one of {', '.join(FUNDING_SOURCES)}, not {funding!r}",
                           field="funding_source")
    return {
        "title": _text(values, "title", required=True, limit=200),
        "description": _text(values, "description"),
        "priority": priority,
        "assignee_id": _assignee(session, values, county_code),
        "due_on": optional_date(values.get("due_on"), "due_on", strip=True),
        "cost_estimate": _money(values, "cost_estimate"),
        "funding_source": funding,
    }


def create_task(store: Store, actor: Actor, facility_id: int, values: dict,
                inspection_id: int | None = None, report_id: int | None = None,
                report_version: int | None = None) -> MaintenanceTask:
    """Open a work order for a facility, from the inspection that found the problem or a visitor's report.

    A public problem report taken into the queue moves to ``in_progress`` in the same transaction, so
    the visitor who looks up the reference sees that it is being dealt with.
    """
    with unit_of_work(store) as session:
        facility = load(session, Facility, facility_id, "active facility", active_only=True)
        require_county(actor, facility.county_code)
        if inspection_id is not None:
            inspection = session.get(Inspection, inspection_id)
            if inspection is None or inspection.facility_id != facility_id:
                raise InvalidInput(f"inspection {inspection_id} is not an inspection of this facility",
                                   field="inspection_id")
        task = MaintenanceTask(facility_id=facility_id, inspection_id=inspection_id, state="open",
                               **_fields(session, values, facility.county_code))
        report = None
        if report_id is not None:
            report = session.get(ProblemReport, report_id)
            if report is None or report.facility_id != facility_id:
                raise InvalidInput(f"report {report_id} is not a report about this facility", field="report_id")
            check_version(report, report_version)
            if report.state not in ("received", "in_progress"):
                raise Conflict(f"report {report.reference} is already {report.state}", field="report_id")
            if not task.description:
                task.description = f"公众报告 {report.reference}：{report.text}"
        session.add(task)
        record_audit(session, actor, "create", task,
                     note=f"from public report {report.reference}" if report is not None else None)
        if report is not None:
            before = snapshot(report)
            report.state = "in_progress"
            record_audit(session, actor, "report_state", report, before=before, note=f"work order {task.id}")
    return task


def open_reports(store: Store, actor: Actor) -> list[tuple[ProblemReport, Facility]]:
    """Visitors' problem reports not yet dealt with, in the counties the actor may read, oldest first."""
    from registry.services.access import readable_counties

    allowed = readable_counties(actor)
    query = (select(ProblemReport, Facility).join(Facility, Facility.id == ProblemReport.facility_id)
             .where(ProblemReport.state == "received").order_by(ProblemReport.id))
    if allowed is not None:
        query = query.where(Facility.county_code.in_(allowed))
    with store.session() as session:
        return [tuple(row) for row in session.execute(query)]


def _load(session, actor: Actor, task_id: int, version) -> MaintenanceTask:
    task = load(session, MaintenanceTask, task_id, "work order")
    county = session.scalar(select(Facility.county_code).where(Facility.id == task.facility_id))
    require_county(actor, county)
    check_version(task, version)
    return task


def _require_state(task: MaintenanceTask, *states: str) -> None:
    if task.state not in states:
        raise Conflict(f"work order {task.id} is {task.state}; this step needs it {' or '.join(states)}",
                       field="state")


def update_task(store: Store, actor: Actor, task_id: int, version, values: dict) -> MaintenanceTask:
    """Edit an open or running work order from the version the user saw."""
    with unit_of_work(store) as session:
        task = _load(session, actor, task_id, version)
        _require_state(task, "open", "in_progress")
        county = session.scalar(select(Facility.county_code).where(Facility.id == task.facility_id))
        before = snapshot(task)
        for name, value in _fields(session, values, county).items():
            setattr(task, name, value)
        record_audit(session, actor, "update", task, before=before)
    return task


def start_task(store: Store, actor: Actor, task_id: int, version) -> MaintenanceTask:
    with unit_of_work(store) as session:
        task = _load(session, actor, task_id, version)
        _require_state(task, "open")
        before = snapshot(task)
        task.state = "in_progress"
        record_audit(session, actor, "start", task, before=before)
    return task


def complete_task(store: Store, actor: Actor, task_id: int, version, values: dict,
                  photos: list[tuple[str, bytes]], *, attachments_dir: str | os.PathLike,
                  limits: PhotoLimits | None = None, now: datetime | None = None) -> MaintenanceTask:
    """Mark the work done: at least one completion photo is the proof; the actual cost may be given."""
    with store.session() as session:
        # Rights and state first: someone outside the county learns nothing from checks of their photos.
        _require_state(_load(session, actor, task_id, version), "open", "in_progress")
    cost = _money(values, "cost_actual")
    note = _text(values, "note")
    checked = check_photos(list(photos), limits or PhotoLimits(), field="photos")
    if not checked:
        raise InvalidInput("a work order is closed with at least one completion photo", field="photos")
    write_files(attachments_dir, checked)
    with unit_of_work(store) as session:
        task = _load(session, actor, task_id, version)
        _require_state(task, "open", "in_progress")
        before = snapshot(task)
        task.state = "done"
        task.completed_at = now or datetime.now(UTC)
        if cost is not None:
            task.cost_actual = cost
        add_attachments(session, actor, "maintenance_tasks", task.id, "completion_photo", checked)
        record_audit(session, actor, "complete", task, before=before, note=note)
    return task


def completed_by(session, task_id: int) -> str | None:
    """Who marked the work order done last (from the audit trail, which is the record of who did what)."""
    return session.scalar(
        select(AuditEvent.actor_name).where(AuditEvent.entity_type == "maintenance_tasks",
                                            AuditEvent.entity_id == task_id, AuditEvent.action == "complete")
        .order_by(AuditEvent.id.desc()).limit(1)
    )


def verify_task(store: Store, actor: Actor, task_id: int, version, accept: bool = True,
                note: str | None = None, now: datetime | None = None) -> MaintenanceTask:
    """A second person accepts the work (verified) or sends it back (in progress); never the one who did it."""
    with unit_of_work(store) as session:
        task = load(session, MaintenanceTask, task_id, "work order")
        county = session.scalar(select(Facility.county_code).where(Facility.id == task.facility_id))
        if not actor.can("reviewer"):
            require_county(actor, county)
        check_version(task, version)
        _require_state(task, "done")
        if completed_by(session, task.id) == actor.name:
            raise Forbidden("the work order must be verified by a second person, not the one who marked it done",
                            field="verified_by")
        if not accept and not (note or "").strip():
            raise InvalidInput("say why the work is sent back", field="note")
        before = snapshot(task)
        if accept:
            task.state, task.verified_by_id, task.verified_at = "verified", actor.id, now or datetime.now(UTC)
        else:
            task.state, task.completed_at = "in_progress", None
        record_audit(session, actor, "verify" if accept else "send_back", task, before=before, note=note)
    return task


def cancel_task(store: Store, actor: Actor, task_id: int, version, reason: str) -> MaintenanceTask:
    """Cancel a work order (a state, never a deleted row); a reason is required."""
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to cancel a work order", field="reason")
    with unit_of_work(store) as session:
        task = _load(session, actor, task_id, version)
        _require_state(task, "open", "in_progress")
        before = snapshot(task)
        task.state = "cancelled"
        record_audit(session, actor, "cancel", task, before=before, note=reason.strip())
    return task


def get_task(store: Store, actor: Actor, task_id: int) -> tuple[MaintenanceTask, Facility, str | None]:
    with store.session() as session:
        task = load(session, MaintenanceTask, task_id, "work order")
        facility = session.get(Facility, task.facility_id)
        require_county(actor, facility.county_code, write=False)
        return task, facility, completed_by(session, task.id)


def task_queue(store: Store, actor: Actor, county: str | None = None, states=("open", "in_progress", "done"),
               ) -> list[tuple[MaintenanceTask, Facility]]:
    """Work orders still to do or to verify in the actor's counties, most urgent first."""
    from registry.services.access import readable_counties

    allowed = readable_counties(actor)
    if county:
        require_county(actor, county, write=False)
    query = (select(MaintenanceTask, Facility).join(Facility, Facility.id == MaintenanceTask.facility_id)
             .where(MaintenanceTask.state.in_(states), MaintenanceTask.status == "active"))
    if county:
        query = query.where(Facility.county_code == county)
    elif allowed is not None:
        query = query.where(Facility.county_code.in_(allowed))
    order = {p: i for i, p in enumerate(TASK_PRIORITIES)}
    with store.session() as session:
        rows = [tuple(row) for row in session.execute(query)]
    rows.sort(key=lambda r: (order.get(r[0].priority, 9), r[0].due_on or date.max, r[0].id))
    return rows


def assignable_users(store: Store, county_code: str) -> list[User]:
    with store.session() as session:
        users = session.scalars(select(User).where(User.status == "active").order_by(User.username)).all()
    return [u for u in users if "manager" in u.roles and county_code in (u.counties or [])]


def tasks_of_inspection(store: Store, inspection_id: int) -> list[MaintenanceTask]:
    """The work orders made from one inspection (the caller has checked the actor may read it)."""
    with store.session() as session:
        return list(session.scalars(select(MaintenanceTask).where(MaintenanceTask.inspection_id == inspection_id)
                                    .order_by(MaintenanceTask.id)))


def tribute_counties(session, target_type: str, target_id: int) -> set[str]:
    """Where a tribute belongs: the facility's county, or for a martyr the counties of their tombs (else birthplace)."""
    from registry.models import Martyr, Tomb

    if target_type == "facility":
        county = session.scalar(select(Facility.county_code).where(Facility.id == target_id))
        return {county} if county else set()
    counties = set(session.scalars(select(Facility.county_code).join(Tomb, Tomb.facility_id == Facility.id)
                                   .where(Tomb.martyr_id == target_id)))
    if not counties:
        native = session.scalar(select(Martyr.native_county_code).where(Martyr.id == target_id))
        counties = {native} if native else set()
    return counties


def _target_name(session, target_type: str, target_id: int) -> str:
    from registry.models import Martyr

    model = Facility if target_type == "facility" else Martyr
    return session.scalar(select(model.name).where(model.id == target_id)) or f"{target_type} {target_id}"


def tribute_queue(store: Store, actor: Actor) -> list[dict]:
    """Visitors' messages waiting for approval that belong to the actor's counties, oldest first."""
    from registry.services.public.tribute import pending_tributes

    rows = []
    with store.session() as session:
        for item in pending_tributes(store, actor, limit=500):
            counties = tribute_counties(session, item["target_type"], item["target_id"])
            if actor.can("admin") or counties & set(actor.counties):
                rows.append({**item, "target_name": _target_name(session, item["target_type"], item["target_id"]),
                             "counties": sorted(counties)})
    return rows


def moderate_in_county(store: Store, actor: Actor, tribute_id: int, version, decision: str):
    """Approve or reject a visitor's message, only for a manager of the county where it belongs."""
    from registry.models import Tribute
    from registry.services.public.tribute import moderate_tribute

    with store.session() as session:
        tribute = load(session, Tribute, tribute_id, "tribute")
        counties = tribute_counties(session, tribute.target_type, tribute.target_id)
    if not actor.can("admin") and not (actor.can("manager") and counties & set(actor.counties)):
        raise Forbidden(f"{actor.name} may not moderate messages outside their counties "
                        f"({', '.join(sorted(counties)) or 'no county'})")
    return moderate_tribute(store, actor, tribute_id, version, decision)
