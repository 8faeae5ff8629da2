"""Use cases: the only place that writes. Each write runs in one transaction with its audit event."""

from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    record_audit,
    snapshot,
    unit_of_work,
)

__all__ = [
    "Actor", "Conflict", "Forbidden", "InvalidInput", "NotFound", "ServiceError", "record_audit",
    "snapshot", "unit_of_work",
]
