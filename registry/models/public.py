"""What the public leaves in the registry: tributes (flowers, messages), their counts, problem reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import UTCDateTime, utcnow


class Tribute(Record, Base):
    """One online tribute (网上祭扫): a flower or a message, to a martyr or a facility.

    Messages wait in ``moderation = 'pending'`` until a manager approves them; flowers are
    ``approved`` at once. ``idempotency_key`` is unique, so a retried submission never makes a second row.
    """

    __tablename__ = "tributes"
    __table_args__ = (
        Index("ix_tributes_target_moderation", "target_type", "target_id", "moderation"),
        {"sqlite_autoincrement": True},
    )

    target_type: Mapped[str] = mapped_column(Text, nullable=False)  # martyr, facility
    target_id: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # flower, message
    message: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(Text)
    moderation: Mapped[str] = mapped_column(Text, nullable=False, default="pending")  # pending, approved, rejected
    moderated_by: Mapped[str | None] = mapped_column(Text)
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A salted hash of the client address: enough to rate-limit and spot abuse, never the address itself.
    client_hash: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)


class TributeCount(Base):
    """Running totals per target, kept in the tribute's own transaction so a page never counts rows."""

    __tablename__ = "tribute_counts"
    __table_args__ = (UniqueConstraint("target_type", "target_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_type: Mapped[str] = mapped_column(Text, nullable=False)
    target_id: Mapped[int] = mapped_column(Integer, nullable=False)
    flowers: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    messages: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class RateBucket(Base):
    """A token bucket per client and action, kept in the store so every app process shares it."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float, nullable=False)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ProblemReport(Record, Base):
    """A visitor's report of damage or a problem at a facility; it joins the managers' queue.

    ``reference`` is what the visitor keeps to look the report up; ``state`` is where it stands
    (received, in_progress, resolved, rejected) and ``public_note`` what managers tell the visitor.
    """

    __tablename__ = "problem_reports"

    reference: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), nullable=False, index=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    contact: Mapped[str | None] = mapped_column(Text)
    photo_attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    state: Mapped[str] = mapped_column(Text, nullable=False, default="received")
    public_note: Mapped[str | None] = mapped_column(Text)
    client_hash: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
