"""Typed service errors, the acting user, record snapshots and the transaction that carries the audit event."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from shapely.geometry.base import BaseGeometry
from sqlalchemy import inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from registry.db import Store
from registry.models import AuditEvent

M = TypeVar("M")


class ServiceError(Exception):
    """A refusal with an HTTP status the web layer maps in one place."""

    status = 400

    def __init__(self, message: str, field: str | None = None, errors: list | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or []


class InvalidInput(ServiceError):
    status = 400


class TooLarge(InvalidInput):
    """An upload over a size or count limit (413); the message names the limit."""

    status = 413


def refused(exc) -> ServiceError:
    """An upload check's refusal (geodata.sniff.UploadRefused) as the service error with its status."""
    kind = TooLarge if getattr(exc, "status", 400) == 413 else InvalidInput
    return kind(exc.reason, field=exc.field)


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    """A stale edit or a duplicate: nothing was written."""

    status = 409


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or a named system process (a command, the demo loader)."""

    name: str
    id: int | None = None
    roles: tuple = ()
    counties: tuple = field(default_factory=tuple)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name, roles=("admin",))

    def can(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


def load(session: Session, model: type[M], ident, what: str, *, hide_retired: bool = False,
         active_only: bool = False) -> M:
    """The ``model`` row with primary key ``ident``, else NotFound "no <what> <ident>" (404).

    ``hide_retired`` counts a retired row as missing too; ``active_only`` counts every row whose status
    is not 'active' as missing. The message names ``ident`` as given, so callers keep their wording.
    """
    row = session.get(model, ident)
    if (row is None or (hide_retired and row.status == "retired")
            or (active_only and row.status != "active")):
        raise NotFound(f"no {what} {ident}")
    return row


def _plain(value):
    if isinstance(value, BaseGeometry):
        return value.wkt
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def snapshot(obj) -> dict:
    """A JSON-ready picture of a record's columns (geometry as WKT), for the audit trail."""
    mapper = inspect(obj).mapper
    return {attr.key: _plain(getattr(obj, attr.key)) for attr in mapper.column_attrs if attr.key != "password_hash"}


def record_audit(session: Session, actor: Actor, action: str, obj=None, *, before: dict | None = None,
                 entity_type: str | None = None, entity_id: int | None = None, note: str | None = None) -> AuditEvent:
    """Add the audit event of a write to the same session (and so the same transaction) as the write."""
    if obj is not None:
        session.flush()
    event = AuditEvent(
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        entity_type=entity_type or (obj.__tablename__ if obj is not None else "registry"),
        entity_id=entity_id if entity_id is not None else (obj.id if obj is not None else None),
        before=before,
        after=snapshot(obj) if obj is not None else None,
        note=note,
    )
    session.add(event)
    return event


@contextmanager
def unit_of_work(store: Store):
    """One transaction for a use case: commit everything (the write and its audit) or nothing."""
    session = store.write_session()
    try:
        yield session
        session.commit()
    except StaleDataError:
        session.rollback()
        raise Conflict(
            "This record was changed by someone else after you opened it; nothing was saved. "
            "Reload it to see their change, then apply yours again."
        ) from None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_version(obj, expected: int | None) -> None:
    """Refuse an edit made from an older version of the record, with a clear message."""
    if expected is None:
        raise InvalidInput("version is required to edit a record (it guards against overwriting a newer edit)",
                           field="version")
    if int(expected) != obj.version:
        raise Conflict(
            f"{obj.__tablename__} {obj.id} is at version {obj.version} but your edit was made on version "
            f"{expected}: someone saved a change after you opened it. Nothing was saved; reload and apply "
            "your change again.",
            field="version",
        )


def optional_date(value, field: str, *, strip: bool = False) -> date | None:
    """A date from a form or a caller (``YYYY-MM-DD`` or a ``date``), None when blank.

    Anything else is refused naming ``field``; ``strip`` first trims spaces round a text, as a typed field may have.
    """
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip() if strip else str(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a date (YYYY-MM-DD)", field=field) from None


def asked_reference(reference: str | None, example: str) -> str:
    """A reference number as a visitor typed it, trimmed and upper-cased; refused naming the field if empty or long.

    >>> asked_reference(" jz-2026-7kq2mxab ", "JZ-2026-7KQ2MXAB")
    'JZ-2026-7KQ2MXAB'
    """
    reference = (reference or "").strip().upper()
    if not reference:
        raise InvalidInput(f"reference is required (it looks like {example})", field="reference")
    if len(reference) > 40:
        raise InvalidInput("reference is too long to be a reference number", field="reference")
    return reference
