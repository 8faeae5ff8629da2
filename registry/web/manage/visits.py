"""The managers' visit route: choose a day and facilities, get them in a short order, listed, mapped and printable."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template, request
from flask_babel import gettext as _

from maps.visits import build_visit_map
from registry.extensions import get_store
from registry.services import Forbidden, ServiceError, divisions
from registry.services.access import readable_counties
from registry.services.manage.visits import MAX_STOPS, START_CRS, VisitRequest, due_on, parse_day, plan_visits
from registry.solar_terms import BEIJING
from registry.web.manage.blueprint import WRITE, bp, cadence, counties_for, county_seats
from registry.web.map_cache import render_map
from registry.web.system.auth import audit_forbidden, current_actor, role_required
from registry.web.system.basemap import configured_basemap

START_CRS_LABELS = {"EPSG:4326": "WGS 84 / CGCS2000", "GCJ-02": "GCJ-02", "BD-09": "BD-09"}


def _asked(actor) -> VisitRequest:
    """The form's values as typed; the first visit gets the actor's first county and today's due list."""
    args = request.args
    county = args.get("county")
    if county is None:
        allowed = readable_counties(actor)
        mine = [c for c in county_seats() if allowed is None or c in allowed]
        county = mine[0] if mine else ""
    facilities = args.getlist("facility")
    return VisitRequest(day=args.get("day", ""), county=county, facilities=facilities,
                        chosen=bool(args.get("chosen")) or bool(facilities), add=args.get("add", ""),
                        start_facility=args.get("start_facility", ""), start_lon=args.get("start_lon", ""),
                        start_lat=args.get("start_lat", ""), start_crs=args.get("start_crs") or "EPSG:4326",
                        back=args.get("back") == "on")


def _map(plan):
    basemap, _unusable = configured_basemap()
    stops = [{"number": s.number, "name": s.name, "lon": s.lon, "lat": s.lat} for s in plan.stops]
    start = None if plan.start is None else {"name": plan.start.name or "", "lon": plan.start.lon,
                                             "lat": plan.start.lat}
    center, zoom = divisions.first_view(get_store())  # the route is fitted once drawn
    return render_map(build_visit_map(current_app.config, stops, start, labels={"start": _("出发点")},
                                      back=plan.back, basemap=basemap, center=center, zoom=zoom))


@bp.get("/visits")
@role_required(*WRITE)
def visits():
    """A day's visit route: the facilities due that day (or those chosen), in a short order, with a map."""
    actor = current_actor()
    asked = _asked(actor)
    plan, error, field, status, due = None, None, None, 200, []
    try:
        plan = plan_visits(get_store(), actor, cadence(), asked)
        due = plan.due
    except ServiceError as exc:
        if isinstance(exc, Forbidden):
            audit_forbidden(exc.message)
        error, field, status = exc.message, exc.field, exc.status
        due = _due_anyway(actor, asked)
    return render_template("manage/visits.html", plan=plan, asked=asked, error=error, field=field, due=due,
                           map=_map(plan) if plan and plan.stops else None, counties=counties_for(actor),
                           start_crs=START_CRS, START_CRS_LABELS=START_CRS_LABELS, max_stops=MAX_STOPS), status


def _due_anyway(actor, asked: VisitRequest) -> list:
    """The due list to show beside a refused form, when the day and county themselves are fine."""
    try:
        day = parse_day(asked.day, datetime.now(BEIJING).date())
        return due_on(get_store(), actor, cadence(), day, asked.county or None)
    except ServiceError:
        return []
