"""Health and readiness for operators and load balancers."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from registry import __version__
from registry.db import StoreError
from registry.extensions import get_store
from registry.migrate import head_revision, schema_revision
from registry.web.system.basemap import basemap_health

bp = Blueprint("system", __name__)


@bp.get("/healthz")
def healthz():
    """Store kind and schema revision; 503 when the store cannot serve. The head revision is cached per process."""
    store = get_store()
    # The base map is reported, not judged: a tile file that cannot serve leaves the maps without a base layer.
    body = {"store": store.kind, "head_revision": head_revision(), "version": __version__,
            "basemap": basemap_health()}
    try:
        store.check()
        body["schema_revision"] = schema_revision(store)
    except StoreError as exc:
        body.update(status="unavailable", message=str(exc))
        return jsonify(body), 503
    ok = body["schema_revision"] == body["head_revision"]
    body["status"] = "ok" if ok else "migration pending"
    return jsonify(body), 200 if ok else 503


def _not_ready(message: str) -> Response:
    response = Response(message + "\n", status=503, mimetype="text/plain")
    response.headers["Retry-After"] = str(int(float(current_app.config.get("STORE_RETRY_AFTER") or 5)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz():
    """Ready to take traffic: every store answers a read of a registry table and the schema is current."""
    head = head_revision()
    stores = [("store", get_store())]
    read = current_app.extensions.get("registry_read_store")
    if read is not None:
        stores.append(("read replica", read))
    for name, store in stores:
        try:
            store.check()
            store.read_probe()
            revision = schema_revision(store)
        except StoreError as exc:
            return _not_ready(f"not ready: the {name} cannot serve: {exc}")
        except Exception as exc:  # noqa: BLE001 - any failure to read means not ready, said in one line
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            return _not_ready(f"not ready: the {name} cannot serve: {reason}")
        if revision != head:
            return _not_ready(f"not ready: the {name} is at schema revision {revision or 'none'}, the code needs "
                              f"{head}; run 'flask --app registry db upgrade'")
    response = Response("ready\n", mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response
