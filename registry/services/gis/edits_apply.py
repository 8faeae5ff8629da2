"""Edits made in QGIS, the decision: a second person approves (row by row or all at once) or declines.

The uploader cannot decide their own batch. Approving applies the edit through the facility rules
(``check_facility_fields``, the county, the version the row was exported at) in one transaction with an
audit event naming the batch and the file's SHA-256, and stamps the provenance 'qgis_edit'. A row the
registry changed since the export turns into a conflict instead of being applied: there is no override,
the layer is exported again and the edit made on the current row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from shapely.geometry import Point
from sqlalchemy import select

from registry.db import Store
from registry.models import EditBatch, Facility, FacilityName, ProvisionalEdit
from registry.services.base import Actor, Conflict, Forbidden, InvalidInput, load, record_audit, snapshot, unit_of_work
from registry.services.facilities import check_facility_fields
from registry.services.gis.edits import require_editor
from registry.services.provenance import stamp

DECISIONS = ("approve", "decline")
_POINT = ("lon", "lat")


@dataclass
class BatchView:
    """A batch and its edits, for the batch page."""

    batch: EditBatch
    edits: list
    may_decide: bool


def batch_view(store: Store, actor: Actor, batch_id: int) -> BatchView:
    """The batch and its edits, when ``actor`` may edit its county (checked on read as on write)."""
    with store.session() as session:
        batch = load(session, EditBatch, batch_id, "edit batch")
        require_editor(actor, batch.county_code)
        edits = session.scalars(select(ProvisionalEdit).where(ProvisionalEdit.batch_id == batch_id)
                                .order_by(ProvisionalEdit.id)).all()
        session.expunge_all()
    return BatchView(batch, list(edits), batch.uploaded_by not in (None, actor.name))


def batches(store: Store, actor: Actor, limit: int = 50) -> list[EditBatch]:
    """The latest batches of the counties ``actor`` may edit."""
    with store.session() as session:
        stmt = select(EditBatch).order_by(EditBatch.id.desc()).limit(limit)
        if not (actor.can("admin") or actor.can("planner")):
            stmt = stmt.where(EditBatch.county_code.in_(tuple(actor.counties)))
        found = session.scalars(stmt).all()
        session.expunge_all()
    return list(found)


def decide(store: Store, actor: Actor, batch_id: int, decision: str, edit_id: int | None = None,
           reason: str = "") -> dict:
    """Approve or decline one pending edit (``edit_id``) or all of them; counts by resulting state."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decision {decision!r} is not one of {', '.join(DECISIONS)}", field="decision")
    counts = {"approved": 0, "declined": 0, "conflict": 0}
    with unit_of_work(store) as session:
        batch = load(session, EditBatch, batch_id, "edit batch")
        require_editor(actor, batch.county_code)
        if batch.uploaded_by is None:
            raise InvalidInput(f"export {batch.id} has not been uploaded yet", field="batch")
        if batch.uploaded_by == actor.name:
            raise Forbidden(f"{actor.name} uploaded batch {batch.id} and may not approve it: a second person decides")
        stmt = select(ProvisionalEdit).where(ProvisionalEdit.batch_id == batch_id, ProvisionalEdit.state == "pending")
        if edit_id is not None:
            stmt = stmt.where(ProvisionalEdit.id == edit_id)
        edits = session.scalars(stmt.order_by(ProvisionalEdit.id)).all()
        if edit_id is not None and not edits:
            raise Conflict(f"edit {edit_id} of batch {batch.id} is not waiting for a decision", field="edit_id")
        for edit in edits:
            state = _apply(session, actor, batch, edit) if decision == "approve" else "declined"
            edit.state, edit.decided_by, edit.decided_at = state, actor.name, datetime.now(UTC)
            edit.reason = (reason or "").strip() or None
            counts[state] += 1
        session.flush()
        left = session.scalar(select(ProvisionalEdit.id).where(ProvisionalEdit.batch_id == batch_id,
                                                                ProvisionalEdit.state == "pending").limit(1))
        if left is None:
            batch.state = "closed"
        record_audit(session, actor, decision, batch, note=", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


def _note(batch: EditBatch, edit: ProvisionalEdit) -> str:
    return (f"QGIS edit batch {batch.id}, edit {edit.id} (row {edit.row_number}), file {batch.filename} "
            f"sha256:{batch.file_sha256}")


def _apply(session, actor: Actor, batch: EditBatch, edit: ProvisionalEdit) -> str:
    """Apply one approved edit; 'approved', or 'conflict' when the row changed since the export."""
    if edit.kind == "add":
        return _add(session, actor, batch, edit)
    facility = session.get(Facility, edit.target_id)
    if facility is None or facility.version != edit.exported_version or facility.status != "active":
        return "conflict"
    require_editor(actor, facility.county_code)
    before = snapshot(facility)
    if edit.kind == "retire":
        facility.status = "retired"
        facility.retired_reason = f"retired in QGIS edit batch {batch.id}"
        record_audit(session, actor, "retire", facility, before=before, note=_note(batch, edit))
        return "approved"
    values = {k: new for k, (_old, new) in edit.changes.items() if k not in _POINT}
    check_facility_fields(values, session)
    for key, value in values.items():
        setattr(facility, key, value)
    if "lon" in edit.changes:
        facility.geom = Point(edit.changes["lon"][1], edit.changes["lat"][1])
        stamp(facility, "position", "qgis_edit", ref=batch.file_sha256)
    if values:
        stamp(facility, "facts", "qgis_edit", ref=batch.file_sha256)
    record_audit(session, actor, "update", facility, before=before, note=_note(batch, edit))
    return "approved"


def _add(session, actor: Actor, batch: EditBatch, edit: ProvisionalEdit) -> str:
    values = {k: new for k, (_old, new) in edit.changes.items() if k not in _POINT}
    values["county_code"] = batch.county_code
    check_facility_fields(values, session)
    if session.scalar(select(Facility.id).where(Facility.code == values["code"])) is not None:
        return "conflict"  # the code was taken in the registry after the upload
    facility = Facility(geom=Point(edit.changes["lon"][1], edit.changes["lat"][1]), **values)
    stamp(facility, "position", "qgis_edit", ref=batch.file_sha256)
    stamp(facility, "facts", "qgis_edit", ref=batch.file_sha256)
    session.add(facility)
    session.flush()
    session.add(FacilityName(facility_id=facility.id, name=facility.name, valid_from=date.today(),
                             note=f"name at QGIS edit batch {batch.id}"))
    edit.target_id = facility.id
    record_audit(session, actor, "create", facility, note=_note(batch, edit))
    return "approved"
