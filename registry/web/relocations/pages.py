"""The tomb relocation registry: records and steps, ledger import, the journey map and the reconciliation."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from geodata.crs import wgs84_to_gcj02
from geodata.plots import format_plot
from maps.journeys import build_journey_map
from registry import uploads as staging
from registry.extensions import get_store
from registry.models.vocab import FUNDING_SOURCES, RELOCATION_STEPS, STEP_LABELS
from registry.services import Forbidden, InvalidInput, ServiceError, divisions
from registry.services import relocations as service
from registry.services.access import readable_counties
from registry.services.base import optional_date
from registry.services.relocations import reconciliation as recon
from registry.web.language import page_is_english
from registry.web.map_cache import render_map
from registry.web.relocations.blueprint import READERS, WRITERS, bp
from registry.web.system.auth import audit_forbidden, current_actor, role_required
from registry.web.system.basemap import configured_basemap


def _counties() -> dict[str, tuple]:
    """The registry's current counties (code -> name, seat lon, lat), read from its divisions."""
    return divisions.counties(get_store())


def _readable_counties() -> dict[str, tuple]:
    """The counties whose records the signed-in user reads, for the county menus."""
    allowed = readable_counties(current_actor(), planners=True)
    return {c: v for c, v in _counties().items() if allowed is None or c in allowed}


def _cities() -> dict[str, str]:
    """The registry's current cities (code -> name), for a province's reports city by city."""
    return {d.code: d.name for d in divisions.current(get_store()).current("city")}

TEXT_FIELDS = ("origin_place", "origin_township", "origin_village", "dest_plot_area", "dest_plot_row",
               "dest_plot_number", "consent_by", "consent_relation", "approval_number", "approval_body", "batch",
               "project", "note")


@bp.app_template_filter("plot")
def plot_filter(parts) -> str:
    """A plot as signed on every page (``A区 4排 20号``; in English ``Area A, row 4, no. 20``).

    Takes (area, row, number) or a mapping with those keys; any part may carry its unit or not.
    """
    if not parts:
        return ""
    if isinstance(parts, dict):
        parts = (parts.get("area"), parts.get("row"), parts.get("number"))
    return format_plot(*parts, english=page_is_english())


def _files_dir() -> Path:
    """Where uploaded ledgers and step scans are kept: RELOCATION_FILES_DIR, else the instance folder."""
    return Path(current_app.config.get("RELOCATION_FILES_DIR") or current_app.instance_path)


# --- records ------------------------------------------------------------------------------------------


@bp.get("")
@role_required(*READERS)
def index():
    """The list of relocations, filtered by county, batch, year and stage."""
    filters = service.parse_filters(request.args, get_store())
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = service.list_relocations(get_store(), filters, page, actor=current_actor())
    return render_template("relocations/list.html", rows=rows, total=total, page=page, filters=filters,
                           choices=service.filter_choices(get_store()), counties=_counties(),
                           query={k: v for k, v in request.args.items() if k != "page"})


def _form_values(form) -> dict:
    values: dict = {}
    for key in TEXT_FIELDS:
        if key in form:
            values[key] = form.get(key, "").strip() or None
    if "origin_county_code" in form:
        values["origin_county_code"] = form.get("origin_county_code") or None
    if "origin_point_method" in form:
        values["origin_point_method"] = form.get("origin_point_method") or None
    if "funding_source" in form:
        values["funding_source"] = form.get("funding_source") or None
    for key in ("dest_facility_id", "martyr_id"):
        if key in form:
            text = form.get(key, "").strip()
            if text and not text.isdigit():
                raise InvalidInput(f"{key} {text!r} is not a record number", field=key)
            values[key] = int(text) if text else None
    for key in ("origin_lon", "origin_lat", "funding_amount"):
        if key in form:
            text = form.get(key, "").strip()
            try:
                values[key] = float(text) if text else None
            except ValueError:
                raise InvalidInput(f"{key} {text!r} is not a number", field=key) from None
    for key in RELOCATION_STEPS:
        if key in form:
            values[key] = optional_date(form.get(key, "").strip(), key)
    if "family_consent" in form or "consent_present" in form:
        values["family_consent"] = form.get("family_consent") in ("1", "on", "true")
    if "effects" in form:
        effects = [e.strip() for e in re.split(r"[\n、,，;；]", form.get("effects", "")) if e.strip()]
        values["effects"] = effects or None
    return values


@bp.route("/new", methods=["GET", "POST"])
@role_required(*WRITERS)
def new():
    """Record a relocation."""
    error = None
    if request.method == "POST":
        try:
            relocation = service.create_relocation(get_store(), current_actor(), _form_values(request.form))
        except ServiceError as exc:
            if isinstance(exc, Forbidden):
                audit_forbidden(exc.message)
            error = exc
        else:
            flash(_("迁移记录已保存。"))
            return redirect(url_for(".detail", relocation_id=relocation.id))
    return render_template("relocations/form.html", error=error, form=request.form,
                           destinations=service.destinations(get_store()), counties=_counties(),
                           funding=FUNDING_SOURCES, methods=service.POINT_METHODS), error.status if error else 200


@bp.get("/<int:relocation_id>")
@role_required(*READERS)
def detail(relocation_id: int):
    """One relocation: origin, destination, consent, approval, the dated steps and their scans."""
    view = service.get_relocation(get_store(), relocation_id, current_actor())
    return render_template("relocations/detail.html", view=view, r=view.relocation, steps=STEP_LABELS,
                           counties=_counties(), funding=FUNDING_SOURCES, error=None,
                           destinations=service.destinations(get_store()))


@bp.post("/<int:relocation_id>/edit")
@role_required(*WRITERS)
def edit(relocation_id: int):
    """Record steps, consent or approval from the version the user saw."""
    try:
        service.update_relocation(get_store(), current_actor(), relocation_id, request.form.get("version", type=int),
                                  _form_values(request.form))
    except ServiceError as exc:
        if isinstance(exc, Forbidden):
            raise
        view = service.get_relocation(get_store(), relocation_id, current_actor())
        return render_template("relocations/detail.html", view=view, r=view.relocation, steps=STEP_LABELS,
                               counties=_counties(), funding=FUNDING_SOURCES, error=exc,
                               destinations=service.destinations(get_store()), form=request.form), exc.status
    flash(_("已保存。"))
    return redirect(url_for(".detail", relocation_id=relocation_id))


@bp.post("/<int:relocation_id>/cancel")
@role_required(*WRITERS)
def cancel(relocation_id: int):
    """Cancel a relocation that will not happen (the record stays, with the reason)."""
    service.cancel_relocation(get_store(), current_actor(), relocation_id, request.form.get("version", type=int),
                              request.form.get("reason", ""))
    flash(_("迁移已取消。"))
    return redirect(url_for(".detail", relocation_id=relocation_id))


@bp.post("/<int:relocation_id>/scans")
@role_required(*WRITERS)
def attach(relocation_id: int):
    """Attach a scan (PDF, PNG, JPEG) to a step."""
    limits = staging.limits(max_mb=staging.scan_max_mb())
    # Streamed to a temporary file and checked (signature, pointers) before the service reads its header.
    with staging.receive("file", max_bytes=limits.max_bytes, fmt="scan", check=limits) as received:
        if received is None:
            raise InvalidInput(_("请选择要上传的扫描件。"), field="file")
        service.attach_scan(get_store(), current_actor(), relocation_id, request.form.get("step", ""),
                            received.filename, received.path, _files_dir() / "attachments",
                            max_bytes=limits.max_bytes, max_pixels=limits.pixels)
    flash(_("扫描件已上传。"))
    return redirect(url_for(".detail", relocation_id=relocation_id))


@bp.get("/<int:relocation_id>/scans/<int:attachment_id>")
@role_required("manager", "reviewer")  # consent scans name the family: not for planners
def scan(relocation_id: int, attachment_id: int):
    """Download a step's scan."""
    att = service.get_attachment(get_store(), current_actor(), relocation_id, attachment_id)
    return send_file(att.storage_path, mimetype=att.content_type, download_name=att.filename)


# --- journeys -----------------------------------------------------------------------------------------


@bp.get("/map")
@role_required(*READERS)
def journey_map():
    """The journey map: each relocation as a line from its first grave to its resting place."""
    filters = service.parse_filters(request.args, get_store())
    basemap, _unusable = configured_basemap()
    query = {k: v for k, v in filters.items() if v and k in ("county", "batch", "year")}
    if basemap.needs_gcj_shift:
        query["display"] = "GCJ-02"
    data_url = url_for(".journeys") + ("?" + urlencode(query) if query else "")
    center, zoom = divisions.first_view(get_store())
    labels = {"received": _("接收"), "loading": _("正在加载迁移路线…"), "failed": _("迁移路线加载失败。"),
              "empty": _("没有符合条件的迁移记录。"),
              "count": _("%(journeys)s 条迁移路线，%(destinations)s 处安葬地")}
    parts = render_map(build_journey_map(current_app.config, data_url, labels=labels, basemap=basemap,
                                             center=center, zoom=zoom))
    return render_template("relocations/map.html", map=parts, filters=filters,
                           choices=service.filter_choices(get_store()))


@bp.get("/journeys.geojson")
@role_required(*READERS)
def journeys():
    """GeoJSON of the journeys and destinations for a filter (county, batch, year)."""
    store = get_store()
    data = service.journeys_geojson(store, service.parse_filters(request.args, store), actor=current_actor())
    if request.args.get("display") == "GCJ-02":
        # Display only: a GCJ-02 base map needs the overlay moved onto it; storage stays WGS 84.
        for f in data["features"]:
            coords = f["geometry"]["coordinates"]
            pts = coords if f["geometry"]["type"] == "LineString" else [coords]
            moved = [list(map(lambda v: round(v, 6), wgs84_to_gcj02(x, y))) for x, y in pts]
            f["geometry"]["coordinates"] = moved if f["geometry"]["type"] == "LineString" else moved[0]
    response = jsonify(data)
    response.mimetype = "application/geo+json"
    return response


# --- reconciliation -----------------------------------------------------------------------------------


@bp.get("/reconciliation")
@role_required(*READERS)
def reconciliation():
    """Reconciliation per county and per batch, as a page (or XLSX with ?format=xlsx)."""
    county = request.args.get("county") or None
    if county and county not in _counties():
        raise InvalidInput(f"county {county!r} is not a known county", field="county")
    # A city's staff see their city's reconciliation unless they ask for another (or ?city=all).
    city = None if county else divisions.report_city(get_store(), current_actor(), request.args.get("city") or None)
    xlsx = request.args.get("format") == "xlsx"
    # The page shows the first GRAVES_ON_PAGE martyrs with more than one grave; the XLSX lists them all.
    result = recon.reconcile(get_store(), county, graves_limit=None if xlsx else recon.GRAVES_ON_PAGE,
                             actor=current_actor(), city=city)
    if xlsx:
        data = recon.to_xlsx(result, english=page_is_english())
        name = f"relocation-reconciliation{'-' + (county or city) if county or city else ''}.xlsx"
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return render_template("relocations/reconciliation.html", result=result, county=county, city=city,
                           counties=_readable_counties(), cities=_cities())


@bp.post("/tombs/<int:tomb_id>/retire")
@role_required(*WRITERS)
def retire_tomb(tomb_id: int):
    """Retire a tomb that is not the martyr's grave, from the reconciliation's list, with a reason."""
    return _change_tomb(tomb_id, service.retire_tomb, ("error", "failed_tomb"),
                        _("墓位 %(id)s 已注销。", id=tomb_id), "#multi-graves")


@bp.post("/tombs/<int:tomb_id>/restore")
@role_required(*WRITERS)
def restore_tomb(tomb_id: int):
    """Restore a tomb retired by mistake, from the reconciliation's list of retired tombs, with a reason."""
    return _change_tomb(tomb_id, service.restore_tomb, ("restore_error", "failed_restore"),
                        _("墓位 %(id)s 已恢复。", id=tomb_id), "#retired-tombs")


def _change_tomb(tomb_id: int, change, refusal_names: tuple[str, str], done: str, anchor: str):
    """Retire or restore a tomb from the reconciliation page; a refusal shows the page again with the reason typed."""
    county = request.form.get("county") or None
    if county not in _counties():
        county = None
    reason = request.form.get("reason", "")
    try:
        change(get_store(), current_actor(), tomb_id, request.form.get("version", type=int), reason)
    except ServiceError as exc:
        if isinstance(exc, Forbidden):
            audit_forbidden(exc.message)
        result = recon.reconcile(get_store(), county, graves_limit=recon.GRAVES_ON_PAGE, actor=current_actor())
        error_name, tomb_name = refusal_names
        return render_template("relocations/reconciliation.html", result=result, county=county,
                               counties=_readable_counties(), cities=_cities(), reason=reason,
                               **{error_name: exc, tomb_name: tomb_id}), exc.status
    flash(done)
    return redirect(url_for(".reconciliation", county=county) + anchor)
