"""The managers' area: facilities due for inspection, the maintenance map, the archive and the ledgers."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import current_app, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from geodata.crs import wgs84_to_gcj02
from maps.maintenance import build_maintenance_map
from registry.extensions import get_store
from registry.models.vocab import (
    DUE_STATUS_LABELS,
    TRENDS,
)
from registry.services import Conflict, NotFound, divisions
from registry.services.facilities import registry_has_demo, update_facility
from registry.services.manage.archive import archive_pdf, facility_archive, ledger_xlsx, pdf_font, townships
from registry.services.manage.due import STATUSES, map_features, statuses
from registry.services.manage.inspections import facility_for_form
from registry.services.photos import photo_file
from registry.web import language
from registry.web.manage.blueprint import READ, WRITE, bp, cadence, counties_for, county_seats
from registry.web.map_cache import render_map
from registry.web.provenance import provenance_helpers
from registry.web.system.auth import current_actor, role_required
from registry.web.system.basemap import configured_basemap

bp.context_processor(provenance_helpers)  # the archive's provenance lines (templates/provenance/_lines.html)

EDIT_FIELDS = ("managing_unit", "caretaker", "caretaker_phone", "address", "visiting_info")
EDIT_FLAGS = ("sign_present", "land_title_registered")


def _filters() -> dict:
    return {key: request.args.get(key) or None for key in ("county", "city", "level", "category", "status")}


@bp.get("")
@role_required(*READ)
def index():
    """My facilities: what is due, overdue or has a problem open, in the user's counties."""
    actor = current_actor()
    filters = _filters()
    rows = statuses(get_store(), actor, cadence(), **filters)
    counts = {s: 0 for s in STATUSES}
    for row in rows:
        counts[row.status] += 1
    return render_template("manage/index.html", rows=rows, counts=counts, filters=filters,
                           counties=counties_for(actor), demo_notice=registry_has_demo(get_store()),
                           can_write=any(actor.can(r) for r in WRITE))


@bp.get("/map")
@role_required(*READ)
def maintenance_map():
    """The maintenance map: facilities coloured by status, work orders and trend, with filters."""
    actor = current_actor()
    filters = {k: v for k, v in _filters().items() if v}
    labels = language.labels({**DUE_STATUS_LABELS, **TRENDS})
    labels.update({"status": _("巡查状态"), "tasks": _("未结维修任务"), "trend": _("现状趋势"),
                   "priority": _("风险等级"), "open_archive": _("档案"), "inspect": _("巡查")})
    basemap, _unusable = configured_basemap()
    data_url = url_for("manage.map_data") + ("?" + urlencode(filters) if filters else "")
    center, zoom = divisions.first_view(get_store())
    county = filters.get("county") or (actor.counties[0] if len(actor.counties) == 1 else None)
    if county in county_seats():
        _name, lon, lat = county_seats()[county]
        center, zoom = (lat, lon), 9  # a county fits a phone screen at zoom 9
    parts = render_map(build_maintenance_map(current_app.config, data_url, labels, basemap=basemap,
                                               center=center, zoom=zoom))
    return render_template("manage/map.html", map=parts, filters=filters, counties=counties_for(actor),
                           demo_notice=registry_has_demo(get_store()))


@bp.get("/map.geojson")
@role_required(*READ)
def map_data():
    """GeoJSON of the facilities in the box (``bbox``) with their status, priority, trend and open work orders."""
    bbox = request.args.get("bbox")
    box = None
    if bbox:
        try:
            box = tuple(float(v) for v in bbox.split(","))
            if len(box) != 4:
                raise ValueError
        except ValueError:
            return jsonify({"status": 400, "message": f"bbox {bbox!r} must be minx,miny,maxx,maxy",
                            "field": "bbox"}), 400
    features = map_features(get_store(), current_actor(), cadence(), box=box, **_filters())
    shift = request.args.get("crs") == "gcj02"
    out = []
    for item, lon, lat, trend in features:
        if shift:
            lon, lat = wgs84_to_gcj02(lon, lat)
        out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                    "properties": {"id": item.id, "code": item.code, "name": item.name, "status": item.status,
                                   "priority": item.priority, "trend": trend, "active_tasks": item.active_tasks,
                                   "url": url_for("manage.archive", facility_id=item.id),
                                   "inspect_url": url_for("manage.inspect_form", facility_id=item.id)}})
    response = jsonify({"type": "FeatureCollection", "features": out})
    response.mimetype = "application/geo+json"
    return response


@bp.get("/facilities/<int:facility_id>")
@role_required(*READ)
def archive(facility_id: int):
    """The facility's archive (一处一档): everything recorded about it, printable."""
    record = facility_archive(get_store(), current_actor(), facility_id)
    due = statuses(get_store(), current_actor(), cadence(), ids=[facility_id])
    return render_template("manage/archive.html", a=record, f=record.facility, due=due[0] if due else None,
                           demo_notice=record.facility.is_demo, now=datetime.now(UTC))


@bp.get("/facilities/<int:facility_id>/archive.pdf")
@role_required(*READ)
def archive_pdf_file(facility_id: int):
    """The facility's archive as PDF: the page's content, with the Chinese font embedded (subset)."""
    actor = current_actor()
    record = facility_archive(get_store(), actor, facility_id)
    due = statuses(get_store(), actor, cadence(), ids=[facility_id])
    font = pdf_font(current_app.config.get("PDF_FONT"))
    thumbs = {}
    for _when, shots in record.timeline:
        try:
            thumbs[shots[0].id] = photo_file(get_store(), actor, current_app.instance_path, shots[0].id, "thumb")[0]
        except NotFound:
            continue  # a photo without its file is named as missing in the PDF
    data = archive_pdf(record, due[0] if due else None, font, photos=thumbs)
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{record.facility.code}-{record.facility.name}-档案.pdf")


@bp.route("/facilities/<int:facility_id>/edit", methods=["GET", "POST"])
@role_required(*WRITE)
def edit_facility(facility_id: int):
    """Edit the caretaker details of a facility; a stale form is refused and its input shown again."""
    actor = current_actor()
    facility = facility_for_form(get_store(), actor, facility_id)
    error, status, values = None, 200, {k: getattr(facility, k) for k in EDIT_FIELDS + EDIT_FLAGS}
    version = facility.version
    if request.method == "POST":
        values = {k: (request.form.get(k) or "").strip() or None for k in EDIT_FIELDS}
        values.update({k: request.form.get(k) == "on" for k in EDIT_FLAGS})
        version = request.form.get("version", type=int)
        try:
            update_facility(get_store(), actor, facility_id, version, values)
        except Conflict as exc:
            # The other person's change is shown beside the user's own input; nothing typed is lost.
            facility = facility_for_form(get_store(), actor, facility_id)
            error, status = exc.message, 409
        else:
            return _redirect_to(url_for("manage.archive", facility_id=facility_id))
    return render_template("manage/facility_edit.html", f=facility, values=values, version=version,
                           error=error, fields=EDIT_FIELDS, flags=EDIT_FLAGS), status


@bp.get("/ledgers")
@role_required(*READ)
def ledgers():
    """The county ledgers and township books to download."""
    actor = current_actor()
    city = divisions.report_city(get_store(), actor, request.args.get("city") or None)
    in_city = divisions.current(get_store()).check_city(city) if city else None
    books = [(county, townships(get_store(), actor, county)) for county in counties_for(actor)
             if in_city is None or county in in_city]
    return render_template("manage/ledgers.html", books=books, city=city)


@bp.get("/ledgers/<county>.xlsx")
@role_required(*READ)
def ledger(county: str):
    """A county ledger, or with ``township`` a township's book (一镇一册), as XLSX with Chinese headers."""
    township = request.args.get("township") or None
    data = ledger_xlsx(get_store(), current_actor(), county, township, cadence(),
                       demo=registry_has_demo(get_store()))
    name = f"{county_seats()[county][0]}{township or ''}烈士纪念设施台账.xlsx"
    # send_file writes both an ASCII filename and the UTF-8 filename* that Excel and WPS read.
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _redirect_to(url: str):
    return redirect(url, code=303)
