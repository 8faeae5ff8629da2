"""Problem reports from visitors: damage at a facility, with an optional photo and a reference number to look up."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.db import Store
from registry.files.images import DEFAULT_MAX_PIXELS
from registry.models import Facility, ProblemReport
from registry.models.types import utcnow
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    NotFound,
    asked_reference,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.photos import VISITOR_PHOTO_MAX_BYTES, Photo, keep_visitor_photo, visitor_photo
from registry.services.public.tribute import PUBLIC, check_idempotency_key, take_token

TEXT_MIN = 5
TEXT_MAX = 1000
CONTACT_MAX = 60
PHOTO_MAX_BYTES = VISITOR_PHOTO_MAX_BYTES
REPORT_STATES = ("received", "in_progress", "resolved", "rejected")
# (bucket size, seconds per new token): three reports at once, then one a minute per client.
REPORT_RATE = (3.0, 60.0)
# Unambiguous characters for reference numbers (no 0/O, 1/I/L), read out over the phone.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_reference() -> str:
    """A reference number like ``WT-20261129-7KQ2MX`` (date of filing, six random characters)."""
    return f"WT-{utcnow():%Y%m%d}-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def submit_report(store: Store, facility_id, text: str, contact: str | None = None, photo: Photo | None = None, *,
                  client: str, idempotency_key: str, instance_path: str | Path, max_photo_bytes: int = PHOTO_MAX_BYTES,
                  max_photo_pixels: int = DEFAULT_MAX_PIXELS) -> dict:
    """File a visitor's report; returns its reference number. A retry with the same key returns the same report.

    The client's rate limit is taken before the photo is decoded: a flood of picture bombs costs one
    refusal each, not one decode each.
    """
    key = check_idempotency_key(idempotency_key)
    body = (text or "").strip()
    if len(body) < TEXT_MIN:
        raise InvalidInput(f"text must describe the problem in at least {TEXT_MIN} characters", field="text")
    if len(body) > TEXT_MAX:
        raise InvalidInput(f"text is {len(body)} characters; at most {TEXT_MAX}", field="text")
    contact = (contact or "").strip() or None
    if contact and len(contact) > CONTACT_MAX:
        raise InvalidInput(f"contact is {len(contact)} characters; at most {CONTACT_MAX}", field="contact")
    existing = lookup_by_key(store, key)
    if existing is not None:
        return existing
    try:
        facility_id = int(facility_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"facility_id {facility_id!r} is not an id", field="facility_id") from None
    with unit_of_work(store) as session:
        # Committed on its own, before any decoding: a refused photo still spends the client's token.
        take_token(session, f"report:{client}", REPORT_RATE,
                   "Too many reports from this device in a short time; please wait {seconds} seconds.")
    stored = visitor_photo(photo, max_photo_bytes, max_photo_pixels)
    try:
        with unit_of_work(store) as session:
            facility = load(session, Facility, facility_id, "facility", hide_retired=True)
            attachment = None if stored is None else keep_visitor_photo(
                session, stored, photo, instance_path, folder="reports", entity_type="problem_reports",
                kind="report_photo")
            attachment_id = None if attachment is None else attachment.id
            report = ProblemReport(reference=new_reference(), facility_id=facility_id, text=body, contact=contact,
                                   photo_attachment_id=attachment_id, state="received", client_hash=client,
                                   idempotency_key=key)
            session.add(report)
            session.flush()
            if attachment_id is not None:
                attachment.entity_id = report.id
            record_audit(session, PUBLIC, "report", report)
            answer = {"reference": report.reference, "state": report.state, "facility_id": facility_id,
                      "facility_name": facility.name}
    except IntegrityError:
        found = lookup_by_key(store, key)
        if found is None:
            raise
        return found
    return answer


def lookup_by_key(store: Store, key: str) -> dict | None:
    with store.session() as session:
        report = session.scalar(select(ProblemReport).where(ProblemReport.idempotency_key == key))
        return None if report is None else _public(session, report)


def _public(session, report: ProblemReport) -> dict:
    facility = session.get(Facility, report.facility_id)
    return {"reference": report.reference, "state": report.state, "public_note": report.public_note,
            "facility_id": report.facility_id, "facility_name": facility.name if facility else None,
            "filed_on": report.created_at.date(), "updated_on": report.updated_at.date()}


def lookup_report(store: Store, reference: str) -> dict:
    """The public status of a report by its reference number (the text and contact stay private)."""
    reference = asked_reference(reference, "WT-20260401-7KQ2MX")
    with store.session() as session:
        report = session.scalar(select(ProblemReport).where(ProblemReport.reference == reference))
        if report is None:
            raise NotFound(f"no report {reference}")
        return _public(session, report)


def set_report_state(store: Store, actor: Actor, report_id: int, version: int | None, state: str,
                     public_note: str | None = None) -> ProblemReport:
    """Move a report along the managers' queue (received, in_progress, resolved, rejected), noting why."""
    if not (actor.can("manager") or actor.can("admin")):
        raise Forbidden(f"{actor.name} may not handle problem reports")
    if state not in REPORT_STATES:
        raise InvalidInput(f"state {state!r} is not one of {', '.join(REPORT_STATES)}", field="state")
    with unit_of_work(store) as session:
        report = load(session, ProblemReport, report_id, "report")
        facility = session.get(Facility, report.facility_id)
        if actor.can("manager") and not actor.can("admin") and facility.county_code not in actor.counties:
            raise Forbidden(f"{actor.name} may not handle reports in county {facility.county_code}")
        check_version(report, version)
        before = snapshot(report)
        report.state = state
        if public_note is not None:
            report.public_note = public_note.strip() or None
        record_audit(session, actor, "report_state", report, before=before)
    return report
