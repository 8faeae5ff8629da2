"""The planners' area: zones, the conflict check, preservation plans with review, funds and the dashboard."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from maps.planning import build_check_map, build_outline_map, build_planning_map, build_zone_map, for_display
from registry import uploads
from registry.extensions import get_store
from registry.models.vocab import FUNDING_SOURCES, PLAN_STATUS_LABELS, ZONE_KINDS
from registry.services import InvalidInput, divisions
from registry.services.plan import conflicts, dashboard, plans, zones
from registry.web.language import labels
from registry.web.map_cache import render_map
from registry.web.system.auth import current_actor, role_required
from registry.web.system.basemap import configured_basemap

bp = Blueprint("plan", __name__, url_prefix="/plan")


def _counties() -> dict[str, tuple]:
    """The registry's current counties (code -> name, seat lon, lat), read from its divisions."""
    return divisions.counties(get_store())

STAFF = ("planner", "reviewer")


def _basemap():
    return configured_basemap()[0]


def _flag(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


def _upload():
    """The form's file streamed to a temporary file under the upload limit (None when none was chosen)."""
    return uploads.receive("file", max_bytes=uploads.limits().max_bytes)


def _lang() -> str:
    """The page's locale, for the drawing tools' own tooltips."""
    return str(get_locale() or "zh_CN")


def _map_texts() -> tuple[dict, dict]:
    """The planning map's translated layer names and status messages."""
    names = {"protection_range": _("保护范围"), "control_zone": _("建设控制地带"), "plan_zones": _("规划范围"),
             "conflict_checks": _("冲突检查项目"), "facilities": _("纪念设施")}
    labels = {"loaded": _("已加载当前范围内的图层。"), "truncated": _("要素过多，仅显示部分，请放大地图。"),
              "failed": _("图层加载失败，请稍后重试。")}
    return names, labels


def _labels() -> dict:
    return {
        "zone_kinds": labels(ZONE_KINDS),
        "states": labels(PLAN_STATUS_LABELS),
        "verdicts": {"forbidden": _("禁止：进入保护范围"), "review": _("需审查：进入建设控制地带"),
                     "clear": _("未发现冲突")},
        "sources": labels(FUNDING_SOURCES),
    }


@bp.app_context_processor
def _plan_labels():
    if request.blueprint != "plan":
        return {}
    return {"plan_labels": _labels()}


@bp.get("")
@role_required(*STAFF)
def index():
    """The dashboard: the plan's targets as indicators, funds, and planned work awaiting an inspection."""
    city = divisions.report_city(get_store(), current_actor(), request.args.get("city") or None)
    cities = {d.code: d.name for d in divisions.current(get_store()).current("city")}
    return render_template("plan/index.html", board=dashboard.dashboard(get_store(), city),
                           counties=_counties(), cities=cities, city=city)


# --- zones -----------------------------------------------------------------------------------------


@bp.get("/zones")
@role_required(*STAFF)
def zone_facilities():
    """Find a facility to give a protection range or control zone."""
    q = request.args.get("q", "").strip()[:50]
    return render_template("plan/zone_facilities.html", q=q, facilities=zones.find_facilities(get_store(), q))


def _zones_page(facility_id: int, error: InvalidInput | None = None, status: int = 200):
    store = get_store()
    facility, found = zones.get_facility(store, facility_id), zones.zones_of(store, facility_id)
    parts = render_map(build_zone_map(_basemap(), zones.zones_geojson(facility, found), lang=_lang()))
    return render_template("plan/zones.html", facility=facility, zones=found, kinds=ZONE_KINDS, error=error,
                           form=request.form, map=parts), status


@bp.get("/zones/<int:facility_id>")
@role_required(*STAFF)
def facility_zones(facility_id: int):
    """A facility's zones, current and superseded, with forms to upload, paste or buffer a new one."""
    return _zones_page(facility_id)


@bp.post("/zones/<int:facility_id>")
@role_required("planner")
def add_zone(facility_id: int):
    """Store a zone from an upload, pasted/drawn GeoJSON, or a buffer of N metres."""
    store, actor, form = get_store(), current_actor(), request.form
    try:
        if form.get("mode") == "buffer":
            zones.buffer_control_zone(store, actor, facility_id, form.get("metres"),
                                      reported_on=form.get("reported_on"))
        else:
            common = {"reported_on": form.get("reported_on"), "approved_by": form.get("approved_by") or None,
                      "repair": _flag("repair")}
            with _upload() as received:
                if received is not None:
                    zones.upload_zone(store, actor, facility_id, form.get("kind", ""), received.path,
                                      received.filename, layer=form.get("layer") or None,
                                      crs=form.get("crs") or None, limits=uploads.limits(), **common)
                else:
                    zones.save_zone_geojson(store, actor, facility_id, form.get("kind", ""),
                                            form.get("geojson", ""), **common)
    except InvalidInput as exc:
        return _zones_page(facility_id, exc, exc.status)
    return redirect(url_for("plan.facility_zones", facility_id=facility_id))


# --- conflict checks -------------------------------------------------------------------------------


def _checks_page(error: InvalidInput | None = None, status: int = 200):
    names, labels = _map_texts()
    center, zoom = divisions.first_view(get_store())
    parts = render_map(build_outline_map(_basemap(), names, url_for("plan.map_features"), lang=_lang(),
                                           labels=labels, center=center, zoom=zoom))
    return render_template("plan/checks.html", checks=conflicts.list_checks(get_store()), error=error,
                           form=request.form, default_distance=conflicts.DEFAULT_DISTANCE_M, map=parts), status


@bp.get("/checks")
@role_required(*STAFF)
def checks():
    """Saved conflict checks, and the form to check a new outline."""
    return _checks_page()


@bp.post("/checks")
@role_required("planner")
def new_check():
    """Check an uploaded or drawn outline and save the check under the project's name."""
    store, actor, form = get_store(), current_actor(), request.form
    options = {"distance_m": form.get("distance_m"), "width_m": form.get("width_m"), "repair": _flag("repair")}
    try:
        with _upload() as received:
            if received is not None:
                check = conflicts.save_check_upload(store, actor, form.get("project_name", ""), received.path,
                                                    received.filename, layer=form.get("layer") or None,
                                                    crs=form.get("crs") or None, limits=uploads.limits(), **options)
            else:
                check = conflicts.save_check_geojson(store, actor, form.get("project_name", ""),
                                                     form.get("geojson", ""), **options)
    except InvalidInput as exc:
        return _checks_page(exc, exc.status)
    return redirect(url_for("plan.check", check_id=check.id))


@bp.get("/checks/<int:check_id>")
@role_required(*STAFF)
def check(check_id: int):
    """A saved check: verdict, map and tables; printable as the report."""
    found = conflicts.get_check(get_store(), check_id)
    parts = render_map(build_check_map(_basemap(), conflicts.check_geojson(get_store(), found)))
    return render_template("plan/check.html", check=found, results=found.results, map=parts)


@bp.get("/checks/<int:check_id>.geojson")
@role_required(*STAFF)
def check_geojson(check_id: int):
    """A saved check as GeoJSON, for QGIS."""
    found = conflicts.get_check(get_store(), check_id)
    response = jsonify(conflicts.check_geojson(get_store(), found))
    response.mimetype = "application/geo+json"
    response.headers["Content-Disposition"] = f'attachment; filename="conflict-check-{check_id}.geojson"'
    return response


# --- plans -----------------------------------------------------------------------------------------


@bp.get("/plans")
@role_required(*STAFF)
def plan_list():
    """Every plan and its state."""
    return render_template("plan/plans.html", plans=plans.list_plans(get_store()))


def _plan_form(plan_id: int | None = None, error: InvalidInput | None = None, status: int = 200):
    detail = plans.get_plan(get_store(), plan_id) if plan_id else None
    return render_template("plan/plan_form.html", detail=detail, error=error, form=request.form), status


@bp.get("/plans/new")
@role_required("planner")
def new_plan():
    """The form for a new plan."""
    return _plan_form()


@bp.post("/plans/new")
@role_required("planner")
def create_plan():
    """Draft a plan from the form."""
    try:
        plan = plans.create_plan(get_store(), current_actor(), _plan_values())
    except InvalidInput as exc:
        return _plan_form(error=exc, status=400)
    return redirect(url_for("plan.plan_detail", plan_id=plan.id))


def _plan_values() -> dict:
    keys = ("title", "kind", "scope", "measures", "targets", "budget", "start_on", "end_on", "facility_codes",
            "nominated_codes")
    return {key: request.form.get(key) for key in keys if key in request.form}


@bp.get("/plans/<int:plan_id>")
@role_required(*STAFF)
def plan_detail(plan_id: int):
    """A plan: its content, funding, review actions and every kept version."""
    return render_template("plan/plan.html", detail=plans.get_plan(get_store(), plan_id), error=None,
                           counties=_counties(), sources=FUNDING_SOURCES)


@bp.get("/plans/<int:plan_id>/edit")
@role_required("planner")
def edit_plan(plan_id: int):
    """The form to revise a draft or returned plan."""
    return _plan_form(plan_id)


@bp.post("/plans/<int:plan_id>/edit")
@role_required("planner")
def update_plan(plan_id: int):
    """Revise the plan from the version the author saw."""
    try:
        plans.update_plan(get_store(), current_actor(), plan_id, request.form.get("version", type=int),
                          _plan_values())
    except InvalidInput as exc:
        return _plan_form(plan_id, error=exc, status=400)
    return redirect(url_for("plan.plan_detail", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/<any(submit, return, approve):action>")
@role_required(*STAFF)
def review(plan_id: int, action: str):
    """Submit (author), return with a comment or approve (a reviewer who is not the author)."""
    store, actor, form = get_store(), current_actor(), request.form
    version = form.get("version", type=int)
    if action == "submit":
        plans.submit_plan(store, actor, plan_id, version)
    elif action == "return":
        plans.return_plan(store, actor, plan_id, version, form.get("comment", ""))
    else:
        plans.approve_plan(store, actor, plan_id, version, form.get("comment", ""))
    return redirect(url_for("plan.plan_detail", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/funding")
@role_required("planner")
def add_funding(plan_id: int):
    """Add a funding line to a plan."""
    keys = ("source", "county_code", "year", "amount_allocated", "amount_spent", "note")
    plans.add_funding_line(get_store(), current_actor(), plan_id, {k: request.form.get(k) for k in keys})
    return redirect(url_for("plan.plan_detail", plan_id=plan_id))


@bp.post("/plans/<int:plan_id>/funding/<int:line_id>")
@role_required("planner")
def record_spending(plan_id: int, line_id: int):
    """Record how much of a funding line has been spent."""
    plans.record_spending(get_store(), current_actor(), line_id, request.form.get("version", type=int),
                          request.form.get("amount_spent"))
    return redirect(url_for("plan.plan_detail", plan_id=plan_id))


@bp.get("/plans/<int:plan_id>/compare")
@role_required(*STAFF)
def compare(plan_id: int):
    """Two kept versions side by side, changed fields marked."""
    detail = plans.get_plan(get_store(), plan_id)
    last = len(detail["versions"])
    a = request.args.get("a", type=int) or max(last - 1, 1)
    b = request.args.get("b", type=int) or last
    rows = plans.compare_versions(get_store(), plan_id, a, b)
    return render_template("plan/compare.html", detail=detail, rows=rows, a=a, b=b)


# --- the planning map ------------------------------------------------------------------------------


@bp.get("/map")
@role_required(*STAFF)
def planning_map():
    """Ranges, control zones, plan scopes, saved checks and facilities, loaded by viewport."""
    names, labels = _map_texts()
    center, zoom = divisions.first_view(get_store())
    parts = render_map(build_planning_map(_basemap(), names, url_for("plan.map_features"), labels=labels,
                                          center=center, zoom=zoom))
    return render_template("plan/map.html", map=parts)


@bp.get("/map/features")
@role_required(*STAFF)
def map_features():
    """One planning-map layer in a box, as GeoJSON."""
    collection = zones.map_features(get_store(), request.args.get("layer", ""), request.args.get("bbox", ""))
    collection = for_display(collection, request.args.get("gcj02") == "1")
    response = jsonify(collection)
    response.mimetype = "application/geo+json"
    return response
