"""Visitors' proposed corrections to a martyr's or a facility's public record, and their review."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import UTCDateTime


class Correction(Record, Base):
    """One proposed correction: which record and field, the proposed value (or position), and the review.

    ``reference`` (``JZ-2026-7KQ2MX``) is what the visitor keeps to read the outcome; ``state`` is
    pending, accepted or declined, and ``reason`` the reviewer's words the visitor reads when declined.
    ``target_version`` is the record's version when proposed: accepting after the record changed is stale.
    A proposed position is kept as WGS 84 ``proposed_lon``/``proposed_lat`` (not a feature table).
    """

    __tablename__ = "corrections"
    __table_args__ = (
        Index("ix_corrections_county_state", "county_code", "state"),
        {"sqlite_autoincrement": True},
    )

    reference: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    target_type: Mapped[str] = mapped_column(Text, nullable=False)  # martyr, facility
    target_id: Mapped[int] = mapped_column(Integer, nullable=False)
    target_version: Mapped[int] = mapped_column(Integer, nullable=False)
    field: Mapped[str] = mapped_column(Text, nullable=False)
    current_value: Mapped[str | None] = mapped_column(Text)
    proposed_value: Mapped[str | None] = mapped_column(Text)
    proposed_lon: Mapped[float | None] = mapped_column(Float)
    proposed_lat: Mapped[float | None] = mapped_column(Float)
    photo_attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    contact: Mapped[str | None] = mapped_column(Text)
    county_code: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, nullable=False, default="pending")  # pending, accepted, declined
    reviewer: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_hash: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
