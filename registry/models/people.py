"""Users, attachments and the audit trail: who did what, with which files."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, Record
from registry.models.types import JSONText, UTCDateTime, utcnow


class User(Record, Base):
    """A person who signs in: roles admin, manager (scoped to counties), planner, reviewer."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    display_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    roles: Mapped[list] = mapped_column(JSONText, nullable=False, default=list)
    counties: Mapped[list] = mapped_column(JSONText, nullable=False, default=list)
    # Kept in the session cookie and compared on every request: raising it ends every session of the user.
    session_generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # Set by an administrator's reset: the one-time password must be replaced before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                       server_default=sa_false())

    def has_role(self, role: str) -> bool:
        return role in (self.roles or []) or "admin" in (self.roles or [])


class Attachment(Record, Base):
    """A file (photo, scan, document) belonging to any record; stored under the instance folder."""

    __tablename__ = "attachments"

    entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # object_photo, surroundings_photo, scan, …
    filename: Mapped[str] = mapped_column(Text, nullable=False)
    content_type: Mapped[str] = mapped_column(Text, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(Text, nullable=False)
    storage_path: Mapped[str] = mapped_column(Text, nullable=False)
    caption: Mapped[str | None] = mapped_column(Text)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    public: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class AuditEvent(Base):
    """One change to the archive: who, when, what, the state before and the state after. Never updated."""

    __tablename__ = "audit_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict | None] = mapped_column(JSONText)
    after: Mapped[dict | None] = mapped_column(JSONText)
    note: Mapped[str | None] = mapped_column(Text)


class LoginThrottle(Base):
    """Failed sign-ins counted per account name (known or not) or per client address; a lock waits for an admin."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(Text, primary_key=True)  # "user:<name>" or "address:<ip>"
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
