"""Public pages: a facility's page, the roll of martyrs, a grave's page, online tribute and problem reports."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from maps.public import build_facility_shell, place_facility_map
from registry import uploads
from registry.extensions import get_read_store, get_store
from registry.services.base import InvalidInput, NotFound
from registry.services.corrections.lines import provenance_lines
from registry.services.public.reports import Photo, lookup_report, submit_report
from registry.services.public.roll import (
    RollQuery,
    martyr_grave,
    parse_roll_query,
    public_facility,
    public_photo,
    search_martyrs,
)
from registry.services.public.tribute import (
    AUTHOR_MAX,
    MESSAGE_MAX,
    RateLimited,
    client_fingerprint,
    lay_flower,
    leave_message,
    tribute_summary,
)
from registry.services.relocations import relocation_story
from registry.web.caching import conditional_page
from registry.web.language import page_is_english
from registry.web.manage.calendar import martyr_anniversary
from registry.web.map_cache import shell
from registry.web.public.map import category_labels, current_basemap, level_labels

bp = Blueprint("public_pages", __name__)


def _client() -> str:
    # The address as the WSGI server saw it; a deployment behind a proxy wraps the app in ProxyFix.
    return client_fingerprint(request.remote_addr, current_app.config["SECRET_KEY"])


def _small_map(lon: float, lat: float, label: str, level: str | None = None, category: str | None = None):
    basemap, _unavailable = current_basemap()
    parts = shell("facility", basemap, lambda: build_facility_shell(basemap))
    return place_facility_map(parts, basemap, lon, lat, label, level=level, category=category)


def _six_labels() -> dict[str, str]:
    return {"marker": _("一个醒目标示"), "deeds": _("一份事迹简介"), "headstone": _("一座规范墓碑"),
            "boundary": _("一个保护边界"), "rules": _("一份管理制度"), "road": _("一条通行道路")}


def _state_labels() -> dict:
    return {"present": _("已达标"), "deficient": _("待完善"), "missing": _("缺失"), None: _("尚未核查")}


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"page {raw!r} is not a page number", field="page")
    return int(raw)


def _common() -> dict:
    return {"categories": category_labels(), "levels": level_labels(), "message_max": MESSAGE_MAX,
            "author_max": AUTHOR_MAX, "new_key": uuid.uuid4().hex}


def _provenance(target_type: str, target_id: int) -> dict:
    """Where the record's position and facts come from, in the page's language; the position as numbers."""
    return {"lines": provenance_lines(get_read_store(), target_type, target_id, page_is_english())}


def _facility_context(facility_id: int, page: int = 1) -> dict:
    facility = public_facility(get_read_store(), facility_id, page)
    return {
        "facility": facility,
        "map": _small_map(facility["lon"], facility["lat"], facility["name"], facility["level"],
                          facility["category"]),
        "six_labels": _six_labels(),
        "states": _state_labels(),
        "tribute": tribute_summary(get_read_store(), "facility", facility_id),
        "target_type": "facility",
        "target_id": facility_id,
        "provenance": _provenance("facility", facility_id),
        **_common(),
    }


@bp.get("/facilities/<int:facility_id>")
def facility(facility_id: int):
    """A memorial facility's public page, printable."""
    page = _page_arg()
    return conditional_page(lambda: render_template("public/facility.html", **_facility_context(facility_id, page)))


@bp.get("/facilities/<int:facility_id>/photos/<int:attachment_id>")
def photo(facility_id: int, attachment_id: int):
    """A published photo of a facility, as its display copy without EXIF."""
    path, content_type = public_photo(get_read_store(), current_app.instance_path, facility_id, attachment_id)
    return send_file(path, mimetype=content_type, max_age=3600)


@bp.get("/martyrs")
def martyrs():
    """The roll of martyrs: search by name (characters or pinyin), native place, unit and year of death."""
    try:
        query = parse_roll_query(request.args)
        error = None
    except InvalidInput as exc:
        query, error = RollQuery(), exc
    if error:
        return render_template("public/martyrs.html", query=query, results=None, error=error,
                               args=request.args, **_common()), 400
    return conditional_page(lambda: render_template(
        "public/martyrs.html", query=query, results=None if query.empty else search_martyrs(get_read_store(), query),
        error=None, args=request.args, **_common()))


def _grave_context(martyr_id: int) -> dict:
    martyr = martyr_grave(get_read_store(), martyr_id)
    first = martyr["graves"][0] if martyr["graves"] else None
    return {
        "martyr": martyr,
        "map": _small_map(first["lon"], first["lat"], martyr["name"]) if first else None,
        "journeys": relocation_story(get_read_store(), martyr_id),
        "tribute": tribute_summary(get_read_store(), "martyr", martyr_id),
        "target_type": "martyr",
        "target_id": martyr_id,
        "provenance": _provenance("martyr", martyr_id),
        **martyr_anniversary(martyr_id),
        **_common(),
    }


@bp.get("/martyrs/<int:martyr_id>")
def grave(martyr_id: int):
    """Find the grave: the martyr, the facility and plot where they lie, a map, and the tribute."""
    return conditional_page(lambda: render_template("public/grave.html", **_grave_context(martyr_id)))


def _back_to(target_type: str, target_id: int) -> str:
    if target_type == "martyr":
        return url_for("public_pages.grave", martyr_id=target_id) + "#tribute"
    return url_for("public_pages.facility", facility_id=target_id) + "#tribute"


@bp.post("/tribute/<any(martyr, facility):target_type>/<int:target_id>")
def tribute(target_type: str, target_id: int):
    """Lay a flower or leave a message (no account); a retry with the same key changes nothing."""
    form = request.form
    kind = form.get("kind", "")
    try:
        if kind == "flower":
            lay_flower(get_store(), target_type, target_id, client=_client(), idempotency_key=form.get("key"))
            flash(_("献花成功，感谢您的缅怀。"))
        elif kind == "message":
            result = leave_message(get_store(), target_type, target_id, form.get("message", ""),
                                   form.get("author_name"), client=_client(), idempotency_key=form.get("key"))
            if result.moderation == "pending":
                flash(_("留言已提交，经管理员审核后显示。"))
        else:
            raise InvalidInput(f"kind {kind!r} is not flower or message", field="kind")
    except (InvalidInput, RateLimited) as exc:
        context = _grave_context(target_id) if target_type == "martyr" else _facility_context(target_id)
        template = "public/grave.html" if target_type == "martyr" else "public/facility.html"
        message = _("提交过于频繁，请稍后再试。") if isinstance(exc, RateLimited) else _field_message(exc)
        return render_template(template, tribute_error=message, form=form, **context), exc.status
    return redirect(_back_to(target_type, target_id), code=303)


def _field_message(exc: InvalidInput) -> str:
    """The visitor's-language message of a refused form field (the service's own words stay in the log)."""
    messages = {
        "message": _("留言须为 2 至 %(max)s 个字。", max=MESSAGE_MAX),
        "author_name": _("署名最多 %(max)s 个字。", max=AUTHOR_MAX),
        "idempotency_key": _("表单已过期，请刷新页面后重试。"),
        "text": _("请用 5 至 1000 个字描述问题。"),
        "contact": _("联系方式最多 60 个字。"),
        "photo": _("照片须为 JPEG 或 PNG 格式，且不超过 5 MB。"),
        "reference": _("请输入正确的受理编号。"),
    }
    if exc.field == "photo":
        kind = exc.errors[0] if exc.errors else ""
        mb = uploads.report_photo_max_mb()
        if kind == "pixels":
            return _("照片像素过多（最多 %(mp)s 百万像素），请缩小后再试。",
                     mp=f"{uploads.limits(max_mb=mb).pixels / 1e6:g}")
        if kind == "size":
            return _("照片不能超过 %(mb)s MB。", mb=f"{mb:g}")
        if kind in ("format", "damaged", "empty"):
            return _("照片须为 JPEG 或 PNG 格式，且文件完好。")
    return messages.get(exc.field, exc.message)


@bp.route("/facilities/<int:facility_id>/report", methods=["GET", "POST"])
def report(facility_id: int):
    """Report damage or a problem at a facility; the visitor gets a reference number."""
    facility = public_facility(get_store(), facility_id, 1, per_page=1)
    error = None
    if request.method == "POST":
        limits = uploads.limits(max_mb=uploads.report_photo_max_mb())
        upload = request.files.get("photo")
        photo = None
        if upload and upload.filename:
            try:
                # One byte past the limit at most: enough to say "too large" without holding a large body.
                photo = Photo(upload.filename, upload.stream.read(limits.max_bytes + 1))
            finally:
                upload.close()
        try:
            answer = submit_report(get_store(), facility_id, request.form.get("text", ""),
                                   request.form.get("contact"), photo, client=_client(),
                                   idempotency_key=request.form.get("key"),
                                   instance_path=current_app.instance_path, max_photo_bytes=limits.max_bytes,
                                   max_photo_pixels=limits.pixels)
        except RateLimited as exc:
            error, status = _("提交过于频繁，请稍后再试。"), exc.status
        except InvalidInput as exc:
            error, status = _field_message(exc), exc.status
        else:
            return redirect(url_for("public_pages.report_status", reference=answer["reference"], new=1), code=303)
        return render_template("public/report.html", facility=facility, error=error, form=request.form,
                               **_common()), status
    return render_template("public/report.html", facility=facility, error=None, form={}, **_common())


@bp.get("/reports")
def report_status():
    """Look up a report's status by its reference number."""
    reference = request.args.get("reference", "").strip()
    found = error = None
    status = 200
    if reference:
        try:
            found = lookup_report(get_store(), reference)
        except InvalidInput as exc:
            error, status = _field_message(exc), 400
        except NotFound:
            error, status = _("没有找到受理编号为 %(reference)s 的报告，请核对后重试。", reference=reference), 404
    states = {"received": _("已受理"), "in_progress": _("处理中"), "resolved": _("已处理"), "rejected": _("未予处理")}
    return render_template("public/report_status.html", reference=reference, found=found, error=error,
                           states=states, new=request.args.get("new") == "1"), status
