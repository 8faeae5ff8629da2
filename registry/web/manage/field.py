"""The managers' field pages: the inspection form, inspections, work orders and photos."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from flask import abort, current_app, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from geodata.checks import GeometryError, check_lonlat
from geodata.crs import distance_m
from registry.extensions import get_store
from registry.files.images import exif_summary
from registry.services import Conflict, InvalidInput, ServiceError
from registry.services.manage.inspections import FieldRules, facility_for_form, get_inspection, submit_inspection
from registry.services.manage.tasks import (
    assignable_users,
    cancel_task,
    complete_task,
    create_task,
    get_task,
    moderate_in_county,
    open_reports,
    start_task,
    task_queue,
    tasks_of_inspection,
    tribute_queue,
    update_task,
    verify_task,
)
from registry.services.photos import PhotoLimits, photo_file, photos_of
from registry.services.public.reports import set_report_state
from registry.solar_terms import BEIJING
from registry.web.manage.blueprint import READ, WRITE, bp
from registry.web.system.auth import current_actor, role_required


def attachments_folder() -> Path:
    return Path(current_app.instance_path) / "attachments"


def uploaded_files(name: str = "photos") -> list[tuple[str, bytes]]:
    limit = PhotoLimits.from_config(current_app.config).max_bytes
    files = []
    for item in request.files.getlist(name):
        if not item or not item.filename:
            continue
        # Read one byte past the limit only: enough to say "too large" without holding a 50 MB upload.
        try:
            files.append((item.filename, item.stream.read(limit + 1)))
        finally:
            item.close()  # a large upload is spooled to a temporary file: let it go now
    return files


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.get("/facilities/<int:facility_id>/inspect")
@role_required(*WRITE)
def inspect_form(facility_id: int):
    """The phone-first inspection form: position, condition, the 六个一 checklist, problems, photos."""
    facility = facility_for_form(get_store(), current_actor(), facility_id)
    rules = FieldRules.from_config(current_app.config)
    return render_template("manage/inspect.html", f=facility, key=secrets.token_urlsafe(18), rules=rules,
                           values={}, error=None, field=None,
                           now_local=datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M"))


@bp.get("/facilities/<int:facility_id>/distance")
@role_required(*WRITE)
def distance(facility_id: int):
    """How far a position is from the facility, in metres (computed here, shown beside the form)."""
    facility = facility_for_form(get_store(), current_actor(), facility_id)
    rules = FieldRules.from_config(current_app.config)
    try:
        lon, lat = check_lonlat(request.args.get("lon"), request.args.get("lat"), field="position")
    except GeometryError as exc:
        return jsonify({"status": 400, "message": str(exc), "field": "position"}), 400
    metres = distance_m((lon, lat), facility.geom)
    return jsonify({"distance_m": round(metres, 1), "on_site": metres <= rules.on_site_m,
                    "on_site_limit_m": rules.on_site_m, "too_far": metres > rules.max_distance_m})


@bp.post("/facilities/<int:facility_id>/inspect")
@role_required(*WRITE)
def inspect_submit(facility_id: int):
    """Record an inspection; the same idempotency key twice gives back the first inspection."""
    rules = FieldRules.from_config(current_app.config)
    values = request.form.to_dict()
    try:
        result = submit_inspection(get_store(), current_actor(), facility_id, values, uploaded_files(),
                                   attachments_dir=attachments_folder(), rules=rules)
    except InvalidInput as exc:
        if _wants_json():
            return jsonify({"status": 400, "message": exc.message, "field": exc.field}), 400
        facility = facility_for_form(get_store(), current_actor(), facility_id)
        # The form comes back filled in (photos must be chosen again: browsers never refill file inputs).
        return render_template("manage/inspect.html", f=facility, key=values.get("idempotency_key") or
                               secrets.token_urlsafe(18), rules=rules, values=values, error=exc.message,
                               field=exc.field, now_local=values.get("inspected_at", "")), 400
    except Conflict as exc:
        if _wants_json():
            return jsonify({"status": 409, "message": exc.message, "field": exc.field}), 409
        raise
    target = url_for("manage.inspection", inspection_id=result.inspection.id)
    if _wants_json():
        return jsonify({"id": result.inspection.id, "replayed": result.replayed, "url": target,
                        "on_site": result.inspection.on_site, "distance_m": result.inspection.distance_m}), \
            200 if result.replayed else 201
    return redirect(target + ("?replayed=1" if result.replayed else ""), code=303)


@bp.get("/inspections/<int:inspection_id>")
@role_required(*READ)
def inspection(inspection_id: int):
    """One inspection with its photos, their EXIF time and position beside the form's own."""
    record, facility = get_inspection(get_store(), current_actor(), inspection_id)
    photos = []
    for attachment in photos_of(get_store(), "inspections", inspection_id):
        path = Path(current_app.instance_path) / attachment.storage_path
        taken, lon, lat = exif_summary(path.read_bytes()) if path.exists() else (None, None, None)
        gap = distance_m((lon, lat), facility.geom) if lon is not None else None
        photos.append((attachment, taken, lon, lat, gap))
    tasks = tasks_of_inspection(get_store(), inspection_id)
    return render_template("manage/inspection.html", i=record, f=facility, photos=photos, tasks=tasks,
                           replayed=request.args.get("replayed") == "1",
                           users=assignable_users(get_store(), facility.county_code))


@bp.post("/facilities/<int:facility_id>/tasks")
@role_required(*WRITE)
def task_create(facility_id: int):
    """Turn a problem into a work order."""
    inspection_id = request.form.get("inspection_id", type=int)
    task = create_task(get_store(), current_actor(), facility_id, request.form.to_dict(), inspection_id,
                       report_id=request.form.get("report_id", type=int),
                       report_version=request.form.get("report_version", type=int))
    return redirect(url_for("manage.task", task_id=task.id), code=303)


@bp.get("/tasks")
@role_required(*READ)
def tasks():
    """The work-order queue of the user's counties: to do, running, and done awaiting verification."""
    rows = task_queue(get_store(), current_actor(), request.args.get("county") or None)
    return render_template("manage/tasks.html", rows=rows, reports=open_reports(get_store(), current_actor()))


@bp.post("/reports/<int:report_id>/reject")
@role_required(*WRITE)
def report_reject(report_id: int):
    """Decline a visitor's report (not a problem of the facility), with a note the visitor can read."""
    set_report_state(get_store(), current_actor(), report_id, request.form.get("version", type=int), "rejected",
                     request.form.get("public_note"))
    return redirect(url_for("manage.tasks"), code=303)


@bp.get("/tasks/<int:task_id>")
@role_required(*READ)
def task(task_id: int):
    """One work order and the steps it can take next."""
    record, facility, done_by = get_task(get_store(), current_actor(), task_id)
    photos = photos_of(get_store(), "maintenance_tasks", task_id)
    return render_template("manage/task.html", t=record, f=facility, done_by=done_by, photos=photos,
                           users=assignable_users(get_store(), facility.county_code), error=None, values=None)


@bp.post("/tasks/<int:task_id>/<step>")
@role_required(*READ)
def task_step(task_id: int, step: str):
    """Move a work order on: start, edit, complete (with photos), verify, send back or cancel."""
    actor = current_actor()
    version = request.form.get("version", type=int)
    form = request.form.to_dict()
    if step != "verify" and step != "send-back" and not any(actor.can(r) for r in WRITE):
        abort(403, description=_("只有管护员可以处理维修任务。"))
    try:
        if step == "start":
            start_task(get_store(), actor, task_id, version)
        elif step == "edit":
            update_task(get_store(), actor, task_id, version, form)
        elif step == "complete":
            complete_task(get_store(), actor, task_id, version, form, uploaded_files(),
                          attachments_dir=attachments_folder(), limits=PhotoLimits.from_config(current_app.config))
        elif step == "verify":
            verify_task(get_store(), actor, task_id, version, accept=True, note=form.get("note"))
        elif step == "send-back":
            verify_task(get_store(), actor, task_id, version, accept=False, note=form.get("note"))
        elif step == "cancel":
            cancel_task(get_store(), actor, task_id, version, form.get("reason", ""))
        else:
            abort(404)
    except (InvalidInput, Conflict) as exc:
        # Shown on the work order page with what the user typed, so a stale tab loses nothing.
        record, facility, done_by = get_task(get_store(), actor, task_id)
        return render_template("manage/task.html", t=record, f=facility, done_by=done_by,
                               photos=photos_of(get_store(), "maintenance_tasks", task_id),
                               users=assignable_users(get_store(), facility.county_code),
                               error=exc.message, field=exc.field, values=form, step=step), exc.status
    return redirect(url_for("manage.task", task_id=task_id), code=303)


@bp.get("/moderation")
@role_required(*WRITE)
def moderation():
    """Visitors' tribute messages of the manager's counties waiting for approval."""
    return render_template("manage/moderation.html", rows=tribute_queue(get_store(), current_actor()))


@bp.post("/moderation/<int:tribute_id>")
@role_required(*WRITE)
def moderate(tribute_id: int):
    """Approve or reject one message (from the version the manager saw)."""
    moderate_in_county(get_store(), current_actor(), tribute_id, request.form.get("version", type=int),
                       request.form.get("decision", ""))
    return redirect(url_for("manage.moderation"), code=303)


@bp.get("/photos/<int:attachment_id>/<variant>")
@role_required(*READ)
def photo(attachment_id: int, variant: str):
    """A photo for staff: ``thumb`` and ``display`` carry no EXIF; ``original`` is the file as taken."""
    path, content_type = photo_file(get_store(), current_actor(), current_app.instance_path, attachment_id, variant)
    if not path.exists():
        raise ServiceError(f"the file of photo {attachment_id} is missing from the attachments folder")
    response = send_file(path, mimetype=content_type, max_age=3600, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
