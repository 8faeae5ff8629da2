"""Every record's history page: who changed what, when, and what it was before and after."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from registry.extensions import get_store
from registry.services.history import READERS as HISTORY_READERS
from registry.services.history import ShownEvent, recent_events, record_events
from registry.web.system.auth import audit_forbidden, current_actor, role_required

bp = Blueprint("history", __name__, url_prefix="/history")

# Kinds of record with a history page: those services.history gives to readers, and the administrators' own.
ENTITY_TYPES = set(HISTORY_READERS) | {"users", "registry", "api_tokens"}
PAGE = 50


def _changes(event: ShownEvent) -> list[tuple[str, object, object]]:
    before, after = event.before or {}, event.after or {}
    keys = sorted((set(before) | set(after)) - {"updated_at", "version"})
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


@bp.get("")
@role_required("admin", "manager", "planner", "reviewer")
def recent():
    """The latest changes across the archive that the reader may read (personal fields hidden as their role says)."""
    page = max(request.args.get("page", 1, type=int), 1)
    events = recent_events(get_store(), page, PAGE, current_actor())
    return render_template("history/list.html", events=events, page=page, changes=_changes, title=None)


@bp.get("/<entity_type>/<int:entity_id>")
@role_required("admin", "manager", "planner", "reviewer")
def record(entity_type: str, entity_id: int):
    """The full history of one record, oldest first."""
    if entity_type not in ENTITY_TYPES:
        abort(404, description=f"unknown record type {entity_type!r}")
    events, allowed = record_events(get_store(), entity_type, entity_id, current_actor())
    if not allowed:
        message = f"{current_actor().name} may not read the history of {entity_type} {entity_id}"
        audit_forbidden(message)
        abort(403, description=message)
    if not events:
        abort(404, description=f"no history for {entity_type} {entity_id}")
    return render_template("history/list.html", events=events, page=None, changes=_changes,
                           title=f"{entity_type} {entity_id}")
