"""Edits made in QGIS: an exported layer of one county (``EditBatch``) and, once the edited file is uploaded,
its differences as provisional edits (``ProvisionalEdit``) that a second person approves or declines row by row.

A batch is made when the layer is exported: it records the layer, the county, who exported it and each
exported row's id and version (``exported``), so the upload can be matched back and a row changed in the
registry since the export found stale. Nothing of an upload reaches a facility until an edit is approved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import JSONText, UTCDateTime

# exported: waiting for the edited file; uploaded: edits to decide; closed: every edit decided.
BATCH_STATES = ("exported", "uploaded", "closed")
EDIT_KINDS = ("add", "change", "retire")
# pending: to decide; conflict: the row changed in the registry since the export (re-export to edit it).
EDIT_STATES = ("pending", "approved", "declined", "conflict")


class EditBatch(Record, Base):
    """One export of a county's layer for editing in QGIS, and the upload that came back."""

    __tablename__ = "edit_batches"

    layer: Mapped[str] = mapped_column(Text, nullable=False)
    county_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    state: Mapped[str] = mapped_column(Text, nullable=False, default="exported")
    exported_by: Mapped[str] = mapped_column(Text, nullable=False)
    exported: Mapped[dict] = mapped_column(JSONText, nullable=False)  # {"<id>": version} of every exported row
    uploaded_by: Mapped[str | None] = mapped_column(Text)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    file_sha256: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(Text)


class ProvisionalEdit(Record, Base):
    """One row's difference between the export and the upload, applied only when a second person approves it."""

    __tablename__ = "provisional_edits"

    batch_id: Mapped[int] = mapped_column(ForeignKey("edit_batches.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    target_id: Mapped[int | None] = mapped_column(Integer)  # the facility (None for an added row)
    exported_version: Mapped[int | None] = mapped_column(Integer)
    row_number: Mapped[int] = mapped_column(Integer, nullable=False)  # the row in the upload (0: a retired row)
    changes: Mapped[dict] = mapped_column(JSONText, nullable=False)  # {field: [old, new]}; "lon"/"lat" for a move
    moved_m: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(Text, nullable=False, default="pending")
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
