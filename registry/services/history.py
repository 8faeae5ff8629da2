"""Reading the audit trail: the latest changes and one record's history, as far as the reader may read them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db import Store
from registry.models import (
    AuditEvent,
    Facility,
    ImportBatch,
    Inspection,
    MaintenanceTask,
    ProblemReport,
    Relocation,
)
from registry.services.access import hide_personal, may_county
from registry.services.base import Actor

# What each kind of record's history needs, as its pages do (web/rights.py): the roles that read it, and
# whether a manager reads it only in their counties. Kinds missing here (users, tokens, refused requests,
# the registry itself) are for administrators.
MANAGE = ("manager", "reviewer")
RELOCATION = ("manager", "planner", "reviewer")
PLAN = ("planner", "reviewer")
ALL = ("manager", "planner", "reviewer")
READERS: dict[str, tuple[tuple[str, ...], bool]] = {
    "facilities": (ALL, True),
    "facility_names": (ALL, True),
    "facility_zones": (ALL, True),
    "tombs": (ALL, True),
    "heritage_sites": (ALL, False),
    "martyrs": (ALL, False),
    "inspections": (MANAGE, True),
    "maintenance_tasks": (MANAGE, True),
    "problem_reports": (MANAGE, True),
    "tributes": (MANAGE, True),
    "attachments": (MANAGE, True),
    "relocations": (RELOCATION, True),
    "relocation_import_batches": (RELOCATION, True),
    "relocation_column_mappings": (RELOCATION, False),
    "preservation_plans": (PLAN, False),
    "plan_zones": (PLAN, False),
    "funding_lines": (PLAN, False),
    "conflict_checks": (PLAN, False),
    "plan_versions": (PLAN, False),
    "service_stations": (MANAGE, True),
}
SCAN = 500  # events read at a time while filtering
MAX_SCANNED = 20_000  # a page never reads more than this many events to find what the reader may see


@dataclass
class ShownEvent:
    """An audit event as one reader sees it: personal fields they may not see are hidden."""

    id: int
    at: object
    actor_name: str
    action: str
    entity_type: str
    entity_id: int | None
    note: str | None
    before: dict | None
    after: dict | None


def _facility_county(session: Session, facility_id) -> str | None:
    if facility_id is None:
        return None
    return session.scalar(select(Facility.county_code).where(Facility.id == facility_id))


def event_counties(session: Session, event: AuditEvent) -> tuple:
    """The counties a changed record belongs to, from its snapshots (and the rows they name)."""
    from registry.services.manage.tasks import tribute_counties

    snap = {**(event.before or {}), **(event.after or {})}
    kind = event.entity_type
    found: list = [snap.get("county_code"), snap.get("origin_county_code")]
    if kind == "facilities" and event.entity_id is not None and not snap.get("county_code"):
        found.append(_facility_county(session, event.entity_id))
    if snap.get("dest_facility_id") is not None:
        found.append(_facility_county(session, snap["dest_facility_id"]))
    if snap.get("facility_id") is not None:
        found.append(_facility_county(session, snap["facility_id"]))
    if kind == "tributes" and snap.get("target_type"):
        found.extend(tribute_counties(session, snap["target_type"], snap.get("target_id")))
    if kind == "attachments" and snap.get("entity_type"):
        found.extend(parent_counties(session, snap["entity_type"], snap.get("entity_id")))
    if kind == "relocation_import_batches" and event.entity_id is not None:
        batch = session.get(ImportBatch, event.entity_id)
        codes = list(batch.codes or [])[:5000] if batch is not None else []
        if codes:
            for origin, dest in session.execute(select(Relocation.origin_county_code, Relocation.dest_facility_id)
                                                .where(Relocation.code.in_(codes))):
                found.extend((origin, _facility_county(session, dest)))
    if not any(found) and kind in ("inspections", "maintenance_tasks", "problem_reports", "relocations"):
        found.extend(parent_counties(session, kind, event.entity_id))
    return tuple(dict.fromkeys(c for c in found if c))


def parent_counties(session: Session, kind: str, ident) -> list:
    models = {"inspections": Inspection, "maintenance_tasks": MaintenanceTask, "problem_reports": ProblemReport}
    if ident is None:
        return []
    if kind in models:
        row = session.get(models[kind], ident)
        return [_facility_county(session, row.facility_id)] if row is not None else []
    if kind == "facilities":
        return [_facility_county(session, ident)]
    if kind == "relocations":
        row = session.get(Relocation, ident)
        return [row.origin_county_code, _facility_county(session, row.dest_facility_id)] if row is not None else []
    return []


def may_read(session: Session, actor: Actor, event: AuditEvent) -> tuple[bool, tuple]:
    """Whether ``actor`` may read the event's record, and the record's counties."""
    if actor.can("admin"):
        return True, ()  # administrators see every field: no county to look up
    rule = READERS.get(event.entity_type)
    if rule is None:
        return False, ()
    roles, by_county = rule
    held = [role for role in roles if role in actor.roles]
    if not held:
        return False, ()
    counties = event_counties(session, event)
    if by_county and held == ["manager"]:
        return may_county(actor, counties), counties
    return True, counties


def _shown(event: AuditEvent, actor: Actor, counties: tuple) -> ShownEvent:
    return ShownEvent(event.id, event.at, event.actor_name, event.action, event.entity_type, event.entity_id,
                      event.note, hide_personal(event.before, actor, counties),
                      hide_personal(event.after, actor, counties))


def recent_events(store: Store, page: int, per_page: int, actor: Actor) -> list[ShownEvent]:
    """The latest changes the actor may read, newest first, one page of them."""
    wanted, skip, out = per_page, (page - 1) * per_page, []
    kinds = None if actor.can("admin") else [k for k, (roles, _c) in READERS.items()
                                               if any(role in actor.roles for role in roles)]
    with store.session() as session:
        query = select(AuditEvent).order_by(AuditEvent.id.desc())
        if kinds is not None:
            query = query.where(AuditEvent.entity_type.in_(kinds))
        for offset in range(0, MAX_SCANNED, SCAN):
            batch = list(session.scalars(query.limit(SCAN).offset(offset)))
            for event in batch:
                ok, counties = may_read(session, actor, event)
                if not ok:
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append(_shown(event, actor, counties))
                if len(out) == wanted:
                    return out
            if len(batch) < SCAN:
                break
    return out


def record_events(store: Store, entity_type: str, entity_id: int, actor: Actor) -> tuple[list[ShownEvent], bool]:
    """Every change to one record, oldest first, and whether the actor may read it (False: none shown)."""
    with store.session() as session:
        events = list(session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        ))
        if not events:
            return [], True
        # The latest event decides: a record moved out of the reader's county is no longer theirs to read.
        ok, counties = may_read(session, actor, events[-1])
        if not ok:
            return [], False
        return [_shown(e, actor, counties) for e in events], True

