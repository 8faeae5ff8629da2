"""The calendar of remembrance: facilities' own days, skipped dates of death, and the iCalendar feeds."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from registry.extensions import get_read_store, get_store
from registry.ics import Calendar, Event
from registry.models.vocab import TASK_STATE_LABELS as STATE_LABELS
from registry.services import Forbidden, InvalidInput, NotFound, divisions
from registry.services.access import readable_counties
from registry.services.facilities import registry_has_demo
from registry.services.manage import calendar as service
from registry.services.manage.due import Cadence
from registry.solar_terms import BEIJING
from registry.web.errors import respond
from registry.web.language import label, labels
from registry.web.system.auth import audit_forbidden, current_actor

bp = Blueprint("calendar", __name__)
ICS = "text/calendar; charset=utf-8"
FEED_YEARS = 10
HOME_HORIZON_DAYS = 60
HOME_LIMIT = 30


@bp.errorhandler(Forbidden)
def forbidden(exc: Forbidden):
    audit_forbidden(exc.message)
    return respond(403, exc.message, exc.field)


def _reasons() -> dict[str, str]:
    return labels(service.BAD_DATE_REASONS)


def _actor():
    """The API token's actor where one was sent (the rights check read it), else the signed-in user."""
    return g.get("token_actor") or current_actor()


def _host() -> str:
    return urlsplit(f"//{request.host}").hostname or "registry"


def _ics(calendar: Calendar, filename: str, public: bool) -> Response:
    response = Response(calendar.to_ical(), mimetype="text/calendar")
    response.headers["Content-Type"] = ICS
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    if public:
        response.cache_control.public = True
        response.cache_control.max_age = 3600
    else:
        response.cache_control.private = True
        response.cache_control.no_store = True
    return response


# --- the managers' pages --------------------------------------------------------------------------------


def _days_page(error: InvalidInput | None = None, form=None, status: int = 200):
    actor = current_actor()
    allowed = readable_counties(actor)
    counties = divisions.counties(get_store())
    today = service.today_in_beijing()
    return render_template(
        "calendar/days.html",
        days=service.facility_days(get_store(), actor),
        orders=service.prepared_orders(get_store(), actor, since=today, limit=200),
        feeds=[c for c in counties if allowed is None or c in allowed],
        counties=counties, kinds=labels(service.DAY_KINDS),
        states=labels(STATE_LABELS),
        lead=service.LeadDays.from_config(current_app.config).days,
        kind_labels=labels(service.KINDS),
        can_write=actor.can("manager"), error=error, form=form or {},
        demo_notice=registry_has_demo(get_store()),
    ), status


@bp.get("/manage/calendar")
def days():
    """The calendar: facilities' own days (add, retire), the work orders prepared, the county feeds."""
    return _days_page()


@bp.post("/manage/calendar/days")
def add_day():
    """Add a day a facility keeps every year."""
    try:
        service.add_day(get_store(), current_actor(), request.form)
    except InvalidInput as exc:
        return _days_page(exc, request.form, exc.status)
    return redirect(url_for("calendar.days"), code=303)


@bp.post("/manage/calendar/days/<int:day_id>/retire")
def retire_day(day_id: int):
    """Retire a facility's day (it stays in the history)."""
    service.retire_day(get_store(), current_actor(), day_id, request.form.get("version"))
    return redirect(url_for("calendar.days"), code=303)


@bp.get("/manage/calendar/dates")
def bad_dates():
    """Dates of death the calendar skips (no date, no such day, impossible), for the archivist to correct."""
    rows = service.bad_dates(get_store(), current_actor())
    return render_template("calendar/dates.html", rows=rows, reasons=_reasons(),
                           counties=divisions.counties(get_store()))


# --- the feeds ------------------------------------------------------------------------------------------


@bp.get("/manage/calendar/<county>.ics")
def county_feed(county: str):
    """A county's staff calendar: inspections falling due, the prepared days and the national days."""
    actor, store, host = _actor(), get_store(), _host()
    today = service.today_in_beijing()
    if county not in divisions.counties(store):
        raise NotFound(f"no county {county} in this registry's divisions")
    name = divisions.counties(store)[county][0]
    calendar = Calendar(name=_("%(county)s 纪念日与巡查", county=name))
    states = labels(STATE_LABELS)
    for order in service.prepared_orders(store, actor, county=county):
        task_url = url_for("manage.task", task_id=order["task_id"], _external=True)
        description = "\n".join([*order["occasions"], _("工单状态：%(state)s", state=states.get(order["state"], ""))])
        calendar.events.append(Event(uid=f"calendar-order-{order['id']}@{host}", day=order["day_on"],
                                     summary=order["title"], description=description, url=task_url,
                                     categories=(_("纪念日准备"),)))
    for facility in service.county_due(store, actor, county, Cadence.from_config(current_app.config)):
        calendar.events.append(Event(
            uid=f"inspection-due-{facility.id}@{host}", day=facility.next_due.astimezone(BEIJING).date(),
            summary=_("巡查到期：%(name)s", name=facility.name),
            url=url_for("manage.archive", facility_id=facility.id, _external=True), categories=(_("巡查到期"),)))
    for occasion in service.occasions(store, today, today + timedelta(days=365), county=county, today=today):
        if occasion.kind in ("anniversary",):
            continue  # a martyr's anniversary reaches the feed as the order prepared for it
        uid = (f"facility-day-{occasion.day_id}-{occasion.on.year}@{host}" if occasion.day_id
               else f"{occasion.kind}-{county}-{occasion.on.year}@{host}")
        summary = label(service.KINDS[occasion.kind]) if occasion.kind in service.NATIONAL else occasion.title
        calendar.events.append(Event(uid=uid, day=occasion.on, summary=summary,
                                     categories=(label(service.KINDS[occasion.kind]),)))
    return _ics(calendar, f"calendar-{county}.ics", public=False)


@bp.get("/martyrs/<int:martyr_id>/calendar.ics")
def martyr_feed(martyr_id: int):
    """A martyr's days for a family's calendar: the anniversary of their death and Qingming, ten years ahead."""
    dates = service.martyr_dates(get_read_store(), martyr_id, years=FEED_YEARS)
    host, name = _host(), dates["name"]
    page = url_for("public_pages.grave", martyr_id=martyr_id, _external=True)
    calendar = Calendar(name=_("缅怀 %(name)s", name=name))
    died = dates["died"]
    about = _("%(name)s 于 %(date)s 牺牲。", name=name, date=died.isoformat()) if died else ""
    for on, years in dates["anniversaries"]:
        calendar.events.append(Event(
            uid=f"martyr-{martyr_id}-anniversary-{on.year}@{host}", day=on,
            summary=_("%(name)s 牺牲 %(n)s 周年", name=name, n=years), description=about, url=page,
            categories=(label(service.KINDS["anniversary"]),), alarm_hours=15))
    for on in dates["qingming"]:
        calendar.events.append(Event(
            uid=f"martyr-{martyr_id}-qingming-{on.year}@{host}", day=on,
            summary=_("清明 · 缅怀 %(name)s", name=name), description=about, url=page,
            categories=(label(service.KINDS["qingming"]),), alarm_hours=15))
    return _ics(calendar, f"martyr-{martyr_id}.ics", public=True)


# --- what the public pages show -------------------------------------------------------------------------


def martyr_anniversary(martyr_id: int) -> dict:
    """The martyr page's coming anniversary and the feed to subscribe to."""
    dates = service.martyr_dates(get_read_store(), martyr_id, years=1)
    return {"next_anniversary": dates["next"], "next_qingming": (dates["qingming"] or [None])[0],
            "feed_url": url_for("calendar.martyr_feed", martyr_id=martyr_id)}


def remembrance_context() -> dict:
    """The home page's coming days of remembrance for the county a visitor chose (``?county=``)."""
    store = get_read_store()
    counties = divisions.counties(store)
    county = (request.args.get("county") or "").strip()
    context = {"remembrance_counties": counties, "remembrance_county": county, "remembrance_days": None,
               "remembrance_error": None, "remembrance_more": 0,
               "remembrance_national": {k: label(service.KINDS[k]) for k in service.NATIONAL}}
    if not county:
        return context
    if county not in counties:
        context["remembrance_error"] = _("县区代码 %(code)s 不在本系统的县区中，请从列表中选择。", code=county[:12])
        return context
    today = service.today_in_beijing(datetime.now(UTC))
    found = _coming_days(store, county, today)
    context["remembrance_days"] = [(o, (o.on - today).days) for o in found[:HOME_LIMIT]]
    context["remembrance_more"] = max(0, len(found) - HOME_LIMIT)
    return context


def _coming_days(store, county: str, today) -> list:
    """A county's coming days, kept per worker for the county and the Beijing date.

    Recomputed once the registry has changed (the change counter the page's validator read), but at most
    every REFRESH seconds: at the Qingming peak every flower moves the counter, and the county's days (its
    facilities' days, the anniversaries of the martyrs who lie there) seldom change. The page's ETag still
    turns with every change and every ten minutes (a window that also turns at Beijing midnight).
    """
    kept = current_app.extensions.setdefault("calendar_coming_days", {})
    version, now = g.get("data_version"), time.monotonic()
    found = kept.get((county, today))
    refresh = float(current_app.config.get("CALENDAR_HOME_REFRESH_SECONDS", 30))
    if found is not None and (found[0] == version or now - found[1] < refresh):
        return found[2]
    if len(kept) > 1000:
        kept.clear()  # days gone by and counties no longer asked for
    value = service.coming_days(store, county, today, HOME_HORIZON_DAYS)
    kept[(county, today)] = (version, now, value)
    return value
