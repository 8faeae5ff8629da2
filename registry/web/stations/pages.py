"""The managers' service stations: the list by county, level, demonstration status and 五有 gap; a station; its edit."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from registry.extensions import get_store
from registry.models.vocab import FIVE_HAVES, STATION_DEMONSTRATION, STATION_LEVELS
from registry.services import divisions
from registry.services.access import readable_counties
from registry.services.base import Conflict, InvalidInput
from registry.services.facilities import registry_has_demo
from registry.services.stations.records import HOURS_MAX, Filters, get_station, list_stations, update_station
from registry.web.system.auth import current_actor

bp = Blueprint("stations", __name__, url_prefix="/manage/stations")


@bp.context_processor
def helpers():
    return {"FIVE_HAVES": FIVE_HAVES, "STATION_LEVELS": STATION_LEVELS,
            "STATION_DEMONSTRATION": STATION_DEMONSTRATION, "COUNTIES": divisions.counties(get_store()),
            "HOURS_MAX": HOURS_MAX}


def _filters() -> Filters:
    args = request.args
    try:
        page = int(args.get("page") or 1)
    except ValueError:
        raise InvalidInput(f"page {args.get('page')!r} is not a whole number", field="page") from None
    return Filters(county=args.get("county") or None, level=args.get("level") or None,
                   demonstration=args.get("demonstration") or None, gap=args.get("gap") or None, page=page)


@bp.get("")
def index():
    """The stations of the reader's counties, filtered; another county's filter is refused (403)."""
    actor = current_actor()
    filters = _filters()
    found = list_stations(get_store(), actor, filters)
    allowed = readable_counties(actor)
    counties = [c for c in divisions.counties(get_store()) if allowed is None or c in allowed]
    return render_template("stations/index.html", found=found, filters=filters, counties=counties,
                           demo_notice=registry_has_demo(get_store()))


@bp.get("/<int:station_id>")
def detail(station_id: int):
    """One station: its level, demonstration status, 五有, hours and phone."""
    station = get_station(get_store(), current_actor(), station_id)
    return render_template("stations/station.html", s=station)


@bp.route("/<int:station_id>/edit", methods=["GET", "POST"])
def edit(station_id: int):
    """Edit a station's 五有, hours and phone; bad input or a stale form is shown again with the reason."""
    actor = current_actor()
    station = get_station(get_store(), actor, station_id)
    values = {name: getattr(station, name) for name in (*FIVE_HAVES, "opening_hours", "phone")}
    version, error, field, status = station.version, None, None, 200
    if request.method == "POST":
        values = {name: request.form.get(name) == "on" for name in FIVE_HAVES}
        values.update({name: request.form.get(name, "") for name in ("opening_hours", "phone")})
        version = request.form.get("version", type=int)
        try:
            update_station(get_store(), actor, station_id, version, values)
        except (InvalidInput, Conflict) as exc:
            error, field, status = exc.message, exc.field, exc.status
            station = get_station(get_store(), actor, station_id)
        else:
            return redirect(url_for("stations.detail", station_id=station_id))
    return render_template("stations/edit.html", s=station, values=values, version=version, error=error,
                           field=field), status
