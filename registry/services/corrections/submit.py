"""A visitor proposes a correction: checked, rate-limited, stored with its reference number; and its status."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.db import Store
from registry.files.images import DEFAULT_MAX_PIXELS
from registry.models import Correction, Facility
from registry.models.types import utcnow
from registry.services.base import InvalidInput, NotFound, asked_reference, load, record_audit, unit_of_work
from registry.services.corrections.fields import (
    TARGET_MODELS,
    check_position,
    check_text,
    field_of,
    holder,
    shown,
)
from registry.services.photos import VISITOR_PHOTO_MAX_BYTES as PHOTO_MAX_BYTES
from registry.services.photos import Photo, keep_visitor_photo, visitor_photo
from registry.services.public.tribute import PUBLIC, check_idempotency_key, take_token

CONTACT_MAX = 60
# (bucket size, seconds per new token): three proposals at once, then one every two minutes per client.
CORRECTION_RATE = (3.0, 120.0)
STATES = ("pending", "accepted", "declined")
# Unambiguous characters (no 0/O, 1/I/L): a reference read out over the phone.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

__all__ = ["CORRECTION_RATE", "Photo", "lookup_correction", "propose_correction"]


def new_reference() -> str:
    """``JZ-2026-7KQ2MX``: the year and eight random characters (31^8, about 8.5e11: not to be guessed)."""
    return f"JZ-{utcnow():%Y}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def target_county(session, target) -> str | None:
    """The county whose staff review a correction: a facility's own; a martyr's first live tomb's facility's."""
    if isinstance(target, Facility):
        return target.county_code
    for tomb in sorted(target.tombs, key=lambda t: t.id):
        if tomb.status != "retired" and tomb.facility_id is not None:
            return session.scalar(select(Facility.county_code).where(Facility.id == tomb.facility_id))
    return target.native_county_code


def _proposal(session, target, target_type: str, field_name: str, value, lon, lat) -> dict:
    """The checked proposed value (text or position) and the current one; refused if it changes nothing."""
    field = field_of(target_type, field_name)
    row = holder(session, target, field)
    if row is None:
        raise InvalidInput(f"{field_name}: this martyr has no tomb in the registry to move", field="field")
    current = shown(row, field)
    county = target_county(session, target)
    if field.kind == "position":
        lon, lat = check_position(session, lon, lat, county)
        proposed = f"{lon:.6f}, {lat:.6f}"
        if proposed == current:
            raise InvalidInput(f"position {proposed} is the position already recorded: nothing to correct",
                               field="position")
        return {"proposed_lon": lon, "proposed_lat": lat, "proposed_value": None, "current_value": current,
                "county_code": county}
    text = check_text(field_name, field, value)
    if text == current:
        raise InvalidInput(f"value of {field_name} is the value already recorded: nothing to correct", field="value")
    return {"proposed_value": text, "current_value": current, "county_code": county}


def live_target(session, target_type: str, target_id: int):
    """The martyr or facility a correction is about; unknown is 404, retired is refused naming target_id."""
    target = load(session, TARGET_MODELS[target_type], target_id, target_type)
    if target.status == "retired":
        raise InvalidInput(f"{target_type} {target_id} is retired: its record takes no corrections",
                           field="target_id")
    return target


def _check_target(target_type: str, target_id) -> int:
    if target_type not in TARGET_MODELS:
        raise InvalidInput(f"target_type {target_type!r} is not martyr or facility", field="target_type")
    try:
        return int(target_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"target_id {target_id!r} is not an id", field="target_id") from None


def propose_correction(store: Store, target_type: str, target_id, field: str, value=None, *, lon=None, lat=None,
                       contact: str | None = None, photo: Photo | None = None, client: str, idempotency_key: str,
                       instance_path: str | Path, max_photo_bytes: int = PHOTO_MAX_BYTES,
                       max_photo_pixels: int = DEFAULT_MAX_PIXELS) -> dict:
    """File a visitor's proposed correction; returns its reference and state. A retry with the same key
    returns the first proposal. A retired or unknown record is 404; every refusal names its field."""
    key = check_idempotency_key(idempotency_key)
    target_id = _check_target(target_type, target_id)
    contact = (contact or "").strip() or None
    if contact and len(contact) > CONTACT_MAX:
        raise InvalidInput(f"contact is {len(contact)} characters; at most {CONTACT_MAX}", field="contact")
    existing = _by_key(store, key)
    if existing is not None:
        return existing
    with store.session() as session:  # check the proposal before spending the client's token
        target = live_target(session, target_type, target_id)
        _proposal(session, target, target_type, field, value, lon, lat)
    with unit_of_work(store) as session:
        take_token(session, f"correction:{client}", CORRECTION_RATE,
                   "Too many corrections from this device in a short time; please wait {seconds} seconds.")
    stored = visitor_photo(photo, max_photo_bytes, max_photo_pixels)
    try:
        with unit_of_work(store) as session:
            target = live_target(session, target_type, target_id)
            values = _proposal(session, target, target_type, field, value, lon, lat)
            attachment = None if stored is None else keep_visitor_photo(
                session, stored, photo, instance_path, folder="corrections", entity_type="corrections",
                kind="correction_photo")
            correction = Correction(reference=new_reference(), target_type=target_type, target_id=target_id,
                                    target_version=target.version, field=field, contact=contact, state="pending",
                                    photo_attachment_id=attachment.id if attachment else None, client_hash=client,
                                    idempotency_key=key, **values)
            session.add(correction)
            session.flush()
            if attachment is not None:
                attachment.entity_id = correction.id
            record_audit(session, PUBLIC, "correction_proposed", correction)
            answer = public_view(correction)
    except IntegrityError:
        found = _by_key(store, key)
        if found is None:
            raise
        return found
    return answer


def public_view(correction: Correction) -> dict:
    """What anyone with the reference reads: never the contact, the client or the photo."""
    return {"reference": correction.reference, "state": correction.state, "target_type": correction.target_type,
            "target_id": correction.target_id, "field": correction.field,
            "reason": correction.reason if correction.state == "declined" else None,
            "filed_on": correction.created_at.date(),
            "decided_on": correction.decided_at.date() if correction.decided_at else None}


def _by_key(store: Store, key: str) -> dict | None:
    with store.session() as session:
        found = session.scalar(select(Correction).where(Correction.idempotency_key == key))
        return None if found is None else public_view(found)


def lookup_correction(store: Store, reference: str) -> dict:
    """The public status of a correction by its reference number."""
    reference = asked_reference(reference, "JZ-2026-7KQ2MXAB")
    with store.session() as session:
        found = session.scalar(select(Correction).where(Correction.reference == reference))
        if found is None:
            raise NotFound(f"no correction {reference}")
        return public_view(found)
