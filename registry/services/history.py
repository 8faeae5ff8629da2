"""Reading the audit trail: the latest changes, and one record's history."""

from __future__ import annotations

from sqlalchemy import select

from registry.db import Store
from registry.models import AuditEvent


def recent_events(store: Store, page: int, per_page: int) -> list[AuditEvent]:
    """The latest changes across the archive, newest first, one page of them."""
    with store.session() as session:
        return list(session.scalars(
            select(AuditEvent).order_by(AuditEvent.id.desc()).limit(per_page).offset((page - 1) * per_page)
        ))


def record_events(store: Store, entity_type: str, entity_id: int) -> list[AuditEvent]:
    """Every change to one record, oldest first."""
    with store.session() as session:
        return list(session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        ))
