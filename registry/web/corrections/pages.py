"""Corrections' pages: propose (anyone, rate-limited), status by reference, and the review queue (county staff)."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from registry import uploads
from registry.extensions import get_store
from registry.services.base import Conflict, InvalidInput, NotFound
from registry.services.corrections.fields import FIELDS
from registry.services.corrections.review import (
    accept_correction,
    correction_detail,
    correction_photo,
    decline_correction,
    review_queue,
)
from registry.services.corrections.submit import Photo, lookup_correction, propose_correction
from registry.services.public.roll import martyr_grave, public_facility
from registry.services.public.tribute import RateLimited, client_fingerprint
from registry.web.language import page_is_english
from registry.web.public.map import current_basemap
from registry.web.system.auth import current_actor

bp = Blueprint("corrections", __name__)


def _field_labels(target_type: str) -> dict[str, str]:
    side = "en" if page_is_english() else "zh"
    return {name: getattr(field, side) for name, field in FIELDS[target_type].items()}


def _states() -> dict[str, str]:
    return {"pending": _("待审核"), "accepted": _("已采纳"), "declined": _("未采纳")}


def _target(target_type: str, target_id: int) -> dict:
    if target_type == "facility":
        found = public_facility(get_store(), target_id, 1, per_page=1)
        return {"name": found["name"], "lon": found["lon"], "lat": found["lat"],
                "url": url_for("public_pages.facility", facility_id=target_id)}
    found = martyr_grave(get_store(), target_id)
    first = found["graves"][0] if found["graves"] else None
    return {"name": found["name"], "lon": first["lon"] if first else None, "lat": first["lat"] if first else None,
            "url": url_for("public_pages.grave", martyr_id=target_id)}


def _tiles() -> dict | None:
    basemap, _broken = current_basemap()
    layers = [layer for layer in basemap.layers if not layer.overlay]
    if not layers or basemap.needs_gcj_shift:
        return None
    return {"url": layers[0].url, "attribution": layers[0].attribution, "subdomains": layers[0].subdomains}


def _message(exc: InvalidInput) -> str:
    """The visitor's-language message of a refusal, naming the field (the service's words in English)."""
    named = {"value": _("更正内容"), "position": _("位置"), "photo": _("照片"), "contact": _("联系方式"),
             "field": _("更正项目"), "target_id": _("更正对象"), "idempotency_key": _("表单"),
             "reference": _("受理编号"), "reason": _("理由"), "version": _("版本")}
    return _("%(field)s：%(reason)s", field=named.get(exc.field, exc.field or ""), reason=exc.message)


def _photo_upload() -> tuple[Photo | None, object]:
    limits = uploads.limits(max_mb=uploads.report_photo_max_mb())
    upload = request.files.get("photo")
    if not (upload and upload.filename):
        return None, limits
    try:
        return Photo(upload.filename, upload.stream.read(limits.max_bytes + 1)), limits
    finally:
        upload.close()


@bp.route("/corrections/new/<any(martyr, facility):target_type>/<int:target_id>", methods=["GET", "POST"])
def propose(target_type: str, target_id: int):
    """Propose a correction to a martyr's or a facility's record; answers with a reference number."""
    try:
        target = _target(target_type, target_id)
    except NotFound:
        if request.method == "GET":
            abort(404)
        # A retired record has no public page; the service says why it takes no correction (400, target_id).
        target = {"name": f"{target_type} {target_id}", "lon": None, "lat": None, "url": url_for("public.index")}
    page = {"target": target, "target_type": target_type, "target_id": target_id, "tiles": _tiles(),
            "fields": _field_labels(target_type), "new_key": uuid.uuid4().hex}
    if request.method == "GET":
        return render_template("corrections/propose.html", error=None, form={}, **page)
    form = request.form
    photo, limits = _photo_upload()
    try:
        answer = propose_correction(
            get_store(), target_type, target_id, form.get("field", ""), form.get("value"), lon=form.get("lon"),
            lat=form.get("lat"), contact=form.get("contact"), photo=photo,
            client=client_fingerprint(request.remote_addr, current_app.config["SECRET_KEY"]),
            idempotency_key=form.get("key"), instance_path=current_app.instance_path,
            max_photo_bytes=limits.max_bytes, max_photo_pixels=limits.pixels)
    except RateLimited as exc:
        error, status = _("提交过于频繁，请稍后再试。"), exc.status
    except InvalidInput as exc:
        error, status = _message(exc), exc.status
    else:
        return redirect(url_for("corrections.status", reference=answer["reference"], new=1), code=303)
    return render_template("corrections/propose.html", error=error, form=form, **page), status


@bp.get("/corrections")
def status():
    """A correction's state by its reference number, with the reason when declined (never the contact)."""
    reference = request.args.get("reference", "").strip()
    found = error = None
    code = 200
    if reference:
        try:
            found = lookup_correction(get_store(), reference)
        except InvalidInput as exc:
            error, code = _message(exc), 400
        except NotFound:
            error, code = _("没有找到受理编号为 %(reference)s 的更正，请核对后重试。", reference=reference), 404
    labels = _field_labels(found["target_type"]) if found else {}
    return render_template("corrections/status.html", reference=reference, found=found, error=error,
                           states=_states(), labels=labels, new=request.args.get("new") == "1"), code


@bp.get("/manage/corrections")
def queue():
    """The corrections waiting for review in the reader's counties (or accepted, declined)."""
    state = request.args.get("state", "pending")
    rows = review_queue(get_store(), current_actor(), state)
    return render_template("corrections/queue.html", rows=rows, state=state, states=_states(),
                           labels={t: _field_labels(t) for t in FIELDS})


def _detail_page(correction_id: int, error: str | None = None, status: int = 200):
    item = correction_detail(get_store(), current_actor(), correction_id)
    return render_template("corrections/detail.html", item=item, error=error, states=_states(),
                           label=_field_labels(item["target_type"])[item["field"]], tiles=_tiles()), status


@bp.get("/manage/corrections/<int:correction_id>")
def detail(correction_id: int):
    """A correction beside the record: old and new value, the photo, a map for a position."""
    return _detail_page(correction_id)


@bp.get("/manage/corrections/<int:correction_id>/photo")
def photo(correction_id: int):
    """The visitor's photo (checked, resized, without EXIF) for the reviewers."""
    relative, content_type = correction_photo(get_store(), current_actor(), correction_id)
    return send_file(Path(current_app.instance_path) / relative, mimetype=content_type, max_age=0)


@bp.post("/manage/corrections/<int:correction_id>/accept")
def accept(correction_id: int):
    """Accept: the record changes, its provenance names the correction; a stale one is 409."""
    try:
        accept_correction(get_store(), current_actor(), correction_id, request.form.get("version"))
    except (InvalidInput, Conflict) as exc:
        return _detail_page(correction_id, _message(exc), exc.status)
    return redirect(url_for("corrections.detail", correction_id=correction_id), code=303)


@bp.post("/manage/corrections/<int:correction_id>/decline")
def decline(correction_id: int):
    """Decline with a reason (required) that the visitor reads by the reference number."""
    try:
        decline_correction(get_store(), current_actor(), correction_id, request.form.get("version"),
                           request.form.get("reason", ""))
    except (InvalidInput, Conflict) as exc:
        return _detail_page(correction_id, _message(exc), exc.status)
    return redirect(url_for("corrections.detail", correction_id=correction_id), code=303)
