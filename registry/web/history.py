"""Every record's history page: who changed what, when, and what it was before and after."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from registry.extensions import get_store
from registry.models import AuditEvent
from registry.services.history import recent_events, record_events
from registry.web.auth import role_required

bp = Blueprint("history", __name__, url_prefix="/history")

ENTITY_TYPES = {
    "facilities", "facility_zones", "heritage_sites", "martyrs", "tombs", "relocations", "inspections",
    "maintenance_tasks", "preservation_plans", "plan_zones", "funding_lines", "attachments", "users", "registry",
}
PAGE = 50


def _changes(event: AuditEvent) -> list[tuple[str, object, object]]:
    before, after = event.before or {}, event.after or {}
    keys = sorted((set(before) | set(after)) - {"updated_at", "version"})
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


@bp.get("")
@role_required("admin", "manager", "planner", "reviewer")
def recent():
    """The latest changes across the archive."""
    page = max(request.args.get("page", 1, type=int), 1)
    events = recent_events(get_store(), page, PAGE)
    return render_template("history/list.html", events=events, page=page, changes=_changes, title=None)


@bp.get("/<entity_type>/<int:entity_id>")
@role_required("admin", "manager", "planner", "reviewer")
def record(entity_type: str, entity_id: int):
    """The full history of one record, oldest first."""
    if entity_type not in ENTITY_TYPES:
        abort(404, description=f"unknown record type {entity_type!r}")
    events = record_events(get_store(), entity_type, entity_id)
    if not events:
        abort(404, description=f"no history for {entity_type} {entity_id}")
    return render_template("history/list.html", events=events, page=None, changes=_changes,
                           title=f"{entity_type} {entity_id}")
