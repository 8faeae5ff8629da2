"""Offline inspections: the service worker, the web app manifest, the phone's queue page and its sync endpoint."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from registry.extensions import get_store
from registry.services import ServiceError
from registry.services.manage.due import statuses
from registry.services.manage.inspections import FieldRules, flagged_inspections, submit_inspection
from registry.web.errors import respond
from registry.web.manage.blueprint import READ, WRITE, cadence, helpers
from registry.web.manage.field import attachments_folder, uploaded_files
from registry.web.system.auth import audit_forbidden, csrf_refused, current_actor, role_required

bp = Blueprint("offline", __name__, url_prefix="/manage")
bp.context_processor(helpers)  # the managers' area's labels and dates, for the queue page

# The worker's scope: the due list (/manage itself) and every page under it.
SCOPE = "/manage"
# At most this many due facilities (the most urgent first) have their inspection form kept for offline use.
MAX_FACILITIES = 100
# The static files the cached pages need (the vendor libraries of the maps are not: maps need tiles anyway).
ASSETS = ("css/site.css", "js/site.js", "js/map-a11y.js", "js/offline-register.js", "js/offline-store.js",
          "js/offline-queue.js", "manage/manage.css", "manage/inspect.js", "manage/icon.svg")
# What a refusal of a queued inspection is about, when the refusal itself names no field.
STATUS_FIELDS = {403: "facility", 404: "facility", 413: "photos"}


def _static_dir() -> Path:
    return Path(current_app.static_folder)


@bp.get("/sw.js")
def worker():
    """The service worker (from /manage, so its scope covers the due list and every page under it)."""
    response = Response((_static_dir() / "js" / "offline-sw.js").read_bytes(), mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = SCOPE
    # A new worker is picked up at the next visit: the browser checks this file, never a stale copy.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: the managers' area installs on a phone's home screen, no app store."""
    body = {
        "name": _("烈士纪念设施巡查"),
        "short_name": _("巡查"),
        "start_url": url_for("manage.index"),
        "scope": SCOPE,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#8b1a1a",
        "icons": [{"src": url_for("static", filename="manage/icon.svg"), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response


@bp.get("/offline")
@role_required(*READ)
def queue():
    """The phone's queue of inspections saved offline, and the inspections flagged on arrival."""
    actor = current_actor()
    return render_template("manage/offline.html", flagged=flagged_inspections(get_store(), actor),
                           can_write=any(actor.can(r) for r in WRITE))


@bp.get("/offline/pages.json")
@role_required(*WRITE)
def pages():
    """What the phone keeps for offline use: the due list, each due facility's inspection form, the assets."""
    actor = current_actor()
    due = [row for row in statuses(get_store(), actor, cadence()) if row.status != "ok"][:MAX_FACILITIES]
    urls = [url_for("manage.index"), url_for("offline.queue"), url_for("offline.manifest")]
    # The inspection form holds what the visit needs (name, checklist, position); the archive page is not
    # kept, so the phone holds no caretaker's phone number or other personal field (docs/SECURITY.md).
    urls.extend(url_for("manage.inspect_form", facility_id=row.id) for row in due)
    urls.extend(url_for("static", filename=name) for name in ASSETS)
    response = jsonify({"user": actor.id, "facilities": [row.id for row in due], "urls": urls})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/offline/session.json")
@role_required(*WRITE)
def session_info():
    """Who is signed in, and a fresh CSRF token for sending the queue (the cached form's token has expired)."""
    response = jsonify({"user": current_actor().id, "csrf_token": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/offline/facilities/<int:facility_id>/inspections")
@role_required(*WRITE)
def sync(facility_id: int):
    """Receive one queued inspection; every answer is JSON the phone's queue reads (status, message, field)."""
    result = submit_inspection(get_store(), current_actor(), facility_id, request.form.to_dict(), uploaded_files(),
                               attachments_dir=attachments_folder(), rules=FieldRules.from_config(current_app.config))
    inspection = result.inspection
    return jsonify({"id": inspection.id, "replayed": result.replayed,
                    "url": url_for("manage.inspection", inspection_id=inspection.id),
                    "facility_changed": bool(inspection.facility_changed), "on_site": inspection.on_site}), \
        200 if result.replayed else 201


def _refusal(status: int, message: str, field: str | None):
    # What the caretaker can do about it, before the registry's own words.
    advice = {404: _("该设施已注销或不在登记册中，无法接收这条巡查记录：请删除，或请档案管理员核实。"),
              403: _("该设施所在区县已不由您管理，无法接收这条巡查记录：请删除，或请管理员核实您的管辖区县。")}
    if status in advice:
        message = f"{advice[status]} ({message})"
    body = {"status": status, "message": message, "field": field or STATUS_FIELDS.get(status),
            # The queue keeps what is refused for the user to edit or discard; anything else is sent again.
            "retry": status >= 500 or status in (401, 408, 429)}
    return jsonify(body), status


@bp.errorhandler(ServiceError)
def _service_refused(exc: ServiceError):
    if exc.status == 403:
        audit_forbidden(exc.message)  # as every refusal of a county is kept
    if request.endpoint != "offline.sync":
        return respond(exc.status, exc.message, exc.field)
    return _refusal(exc.status, exc.message, exc.field)


def _http_refused(exc: HTTPException):
    # Raised before the view too (the rights table's 403, a body over the size limit): JSON for the queue.
    if isinstance(exc, CSRFError):
        return csrf_refused(exc)  # audited, and named csrf_token: the queue fetches a fresh token and retries
    own = exc.description if exc.description != type(exc).description else ""
    if request.endpoint != "offline.sync":
        return respond(exc.code or 500, own)
    return _refusal(exc.code or 500, own or exc.name, None)


# By status code as well: the application's handlers for these codes would otherwise answer first.
for _code in (400, 401, 403, 404, 405, 408, 413, 429, 500):
    bp.register_error_handler(_code, _http_refused)
bp.register_error_handler(HTTPException, _http_refused)
