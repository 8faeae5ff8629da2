"""Health and store status for operators and load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from registry import __version__
from registry.db import StoreError
from registry.extensions import get_store
from registry.migrate import current_revision, head_revision

bp = Blueprint("system", __name__)


@bp.get("/healthz")
def healthz():
    """Store kind and schema revision; 503 when the store cannot serve."""
    store = get_store()
    body = {"store": store.kind, "head_revision": head_revision(), "version": __version__}
    try:
        store.check()
        body["schema_revision"] = current_revision(store)
    except StoreError as exc:
        body.update(status="unavailable", message=str(exc))
        return jsonify(body), 503
    ok = body["schema_revision"] == body["head_revision"]
    body["status"] = "ok" if ok else "migration pending"
    return jsonify(body), 200 if ok else 503
