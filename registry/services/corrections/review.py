"""The county's review of public corrections: the queue, a correction beside the record, accept or decline.

Who reviews: administrators; the target county's managers; reviewers whose scope holds the county, or who
have no county in their scope (city-wide reviewers). Everyone else is refused (403) on read and on write.
Accepting changes the record (or a martyr's tomb) in the same transaction as the correction's state, stamps
its provenance 'public_correction' with the reference, and writes an audit event naming the reference.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from shapely.geometry import Point
from sqlalchemy import select

from registry.db import Store
from registry.models import Attachment, Correction
from registry.services.access import may_see_personal
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.corrections.fields import FIELDS, TARGET_MODELS, holder, shown
from registry.services.corrections.submit import public_view
from registry.services.divisions import label
from registry.services.facilities import check_facility_fields
from registry.services.provenance import stamp

REASON_MAX = 500


def may_review(actor: Actor, county: str | None) -> bool:
    if actor.can("admin"):
        return True
    if "manager" in actor.roles and county in actor.counties:
        return True
    return "reviewer" in actor.roles and (not actor.counties or county in actor.counties)


def require_review(actor: Actor, county: str | None) -> None:
    if not may_review(actor, county):
        raise Forbidden(f"{actor.name} may not review corrections of {label(county) if county else 'no county'}: "
                        "only that county's reviewers and managers, and administrators, review them")


def review_queue(store: Store, actor: Actor, state: str = "pending", limit: int = 200) -> list[dict]:
    """The corrections in ``state`` that ``actor`` may review, oldest first."""
    if not (actor.can("admin") or {"manager", "reviewer"} & set(actor.roles)):
        raise Forbidden(f"{actor.name} may not review corrections")
    if state not in ("pending", "accepted", "declined"):
        raise InvalidInput(f"state {state!r} is not pending, accepted or declined", field="state")
    query = select(Correction).where(Correction.state == state).order_by(Correction.id)
    scoped = not (actor.can("admin") or ("reviewer" in actor.roles and not actor.counties))
    if scoped:
        query = query.where(Correction.county_code.in_(actor.counties))
    with store.session() as session:
        return [{**public_view(c), "id": c.id, "county": label(c.county_code), "current_value": c.current_value,
                 "proposed": _proposed(c)} for c in session.scalars(query.limit(limit))]


def _proposed(correction: Correction) -> str | None:
    if correction.proposed_lon is not None:
        return f"{correction.proposed_lon:.6f}, {correction.proposed_lat:.6f}"
    return correction.proposed_value


def correction_detail(store: Store, actor: Actor, correction_id: int) -> dict:
    """A correction beside its record's value now; the contact only for the county's managers and admins."""
    with store.session() as session:
        c = load(session, Correction, correction_id, "correction")
        require_review(actor, c.county_code)
        target = session.get(TARGET_MODELS[c.target_type], c.target_id)
        field = FIELDS[c.target_type][c.field]
        row = holder(session, target, field)
        now = shown(row, field)
        photo = session.get(Attachment, c.photo_attachment_id) if c.photo_attachment_id else None
        return {**public_view(c), "id": c.id, "version": c.version, "county": label(c.county_code),
                "field_label": (field.zh, field.en), "kind": field.kind, "current_value": c.current_value,
                "value_now": now, "proposed": _proposed(c), "lon": c.proposed_lon, "lat": c.proposed_lat,
                "old_lon": row.geom.x if row is not None and field.kind == "position" else None,
                "old_lat": row.geom.y if row is not None and field.kind == "position" else None,
                "target_name": getattr(target, "name", None), "photo_id": photo.id if photo else None,
                "stale": row is None or row.version != c.target_version, "reviewer": c.reviewer,
                "contact": c.contact if may_see_personal(actor, (c.county_code,), visitor=True) else None}


def correction_photo(store: Store, actor: Actor, correction_id: int) -> tuple[str, str]:
    """The stored path (relative to the instance folder) and type of a correction's photo, for its reviewers."""
    with store.session() as session:
        c = load(session, Correction, correction_id, "correction")
        require_review(actor, c.county_code)
        photo = session.get(Attachment, c.photo_attachment_id) if c.photo_attachment_id else None
        if photo is None:
            raise InvalidInput(f"correction {c.reference} has no photo", field="photo")
        return photo.storage_path, photo.content_type


def _pending(session, actor: Actor, correction_id: int, version) -> Correction:
    correction = load(session, Correction, correction_id, "correction")
    require_review(actor, correction.county_code)
    check_version(correction, version)
    if correction.state != "pending":
        raise Conflict(f"correction {correction.reference} is already {correction.state}", field="state")
    return correction


def _apply(session, correction: Correction, row, field) -> None:
    if field.kind == "position":
        row.geom = Point(correction.proposed_lon, correction.proposed_lat)
        return
    value = correction.proposed_value
    if field.kind == "date":
        value = date.fromisoformat(value)
    elif correction.target_type == "facility":
        check_facility_fields({field.column: value}, session)
    setattr(row, field.column, value)


def accept_correction(store: Store, actor: Actor, correction_id: int, version) -> dict:
    """Accept: the record changes from the version the visitor saw, or 409 when it changed since."""
    with unit_of_work(store) as session:
        correction = _pending(session, actor, correction_id, version)
        target = session.get(TARGET_MODELS[correction.target_type], correction.target_id)
        field = FIELDS[correction.target_type][correction.field]
        row = holder(session, target, field) if target is not None else None
        if target is None or target.status == "retired" or row is None or row.version != correction.target_version:
            raise Conflict(f"correction {correction.reference} is stale: the {correction.target_type}'s record "
                           "changed after it was proposed (nothing was saved); decline it, or ask for a new "
                           "proposal against the record as it is now", field="version")
        before = snapshot(row)
        _apply(session, correction, row, field)
        stamp(row, field.part, "public_correction", ref=correction.reference)
        record_audit(session, actor, "correction_accept", row, before=before,
                     note=f"public correction {correction.reference}: {correction.field}")
        before_c = snapshot(correction)
        correction.state, correction.reviewer = "accepted", actor.name
        correction.decided_at = datetime.now(UTC)
        record_audit(session, actor, "correction_accepted", correction, before=before_c,
                     note=f"public correction {correction.reference}")
        return public_view(correction)


def decline_correction(store: Store, actor: Actor, correction_id: int, version, reason: str) -> dict:
    """Decline with a reason the visitor reads by the reference number."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason is required to decline a correction (the visitor reads it)", field="reason")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"reason is {len(reason)} characters; at most {REASON_MAX}", field="reason")
    with unit_of_work(store) as session:
        correction = _pending(session, actor, correction_id, version)
        before = snapshot(correction)
        correction.state, correction.reviewer, correction.reason = "declined", actor.name, reason
        correction.decided_at = datetime.now(UTC)
        record_audit(session, actor, "correction_declined", correction, before=before,
                     note=f"public correction {correction.reference}")
        return public_view(correction)
