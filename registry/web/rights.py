"""The rights table: every endpoint's decision (who, which county, read or write), enforced before each request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, abort, current_app, g, redirect, request, url_for
from sqlalchemy import select

from registry.extensions import db_session
from registry.models import Facility, ImportBatch, Inspection, MaintenanceTask, ProblemReport, Relocation, Tomb
from registry.services import divisions


@dataclass(frozen=True)
class Right:
    """Who may use an endpoint.

    ``roles``: None for anyone (signed in or not); else the roles that may (administrators always may).
    ``county``: how the object's county is found from the URL (a key of ``COUNTY_OF``); a manager then
    needs one of the object's counties, other roles in ``roles`` pass (they read every county; no write
    endpoint lists them). ``write``: the endpoint changes records. ``check``: what the view or its
    service decides beyond this row (lists filtered to the reader's counties, rows of an upload…).
    """

    roles: tuple[str, ...] | None
    county: str | None = None
    write: bool = False
    check: str = ""
    tokens: bool = False  # an API token (Bearer, or Basic with the token as password) may stand for the user


def anyone(check: str = "") -> Right:
    return Right(None, check=check)


def staff(*roles: str, county: str | None = None, write: bool = False, check: str = "",
          tokens: bool = False) -> Right:
    return Right(tuple(roles), county, write, check, tokens)


ALL_STAFF = ("manager", "planner", "reviewer")
MANAGE_READ = ("manager", "reviewer")  # the managers' area: care of facilities, work orders
MANAGER = ("manager",)
RELOCATION_READ = ("manager", "planner", "reviewer")  # planners read relocations without the family's consent
PLAN = ("planner", "reviewer")
REVIEW = ("manager", "reviewer")  # public corrections: the target county's managers and reviewers
REVIEWERS = "a reviewer with a county scope only in those counties (services.corrections.review.require_review)"
LISTS = "lists show only the reader's counties (services.access.readable_counties)"

# endpoint -> Right. A route missing here is refused (403) and fails tests/registry/test_rights_matrix.py.
# To add a route, add one line in its area, e.g.
#     "system.readyz": anyone(),
#     "auth.password": staff(*ALL_STAFF, write=True),
#     "manage.thing": staff(*MANAGE_READ, county="facility"),   # the URL carries <int:facility_id>
# A new kind of object needs a resolver in COUNTY_OF (and a value for its URL argument in the matrix test).
RIGHTS: dict[str, Right] = {
    # public pages, the public API, tiles and sign-in
    "static": anyone(),
    "assets.vendor": anyone(),
    "system.healthz": anyone(),
    "system.readyz": anyone(),
    "basemap.tile": anyone(check="the configured MBTiles base map's tiles"),
    "basemap.boundaries": anyone(check="boundaries are public"),
    "serving.metrics": staff(check="administrators; Prometheus scrapes REGISTRY_METRICS_BIND instead"),
    "public.index": anyone(),
    "public.set_language": anyone(),
    "api.layer_in_bbox": anyone(check="public collections only"),
    "public_pages.facility": anyone(),
    "public_pages.photo": anyone(check="public photos only"),
    "public_pages.report": anyone(check="rate-limited"),
    "public_pages.report_status": anyone(),
    "public_pages.martyrs": anyone(),
    "public_pages.grave": anyone(check="origins as geodata.origins.public_origin allows"),
    "public_pages.tribute": anyone(check="rate-limited"),
    "auth.login": anyone(),
    "auth.logout": anyone(),
    # every signed-in user changes their own password; administrators lift locks and reset passwords
    "auth.change_password": staff(*ALL_STAFF, write=True, check="the signed-in user's own password"),
    "auth.accounts": staff(),
    "auth.unlock_account": staff(write=True),
    "auth.unlock_address": staff(write=True),
    "auth.reset_account": staff(write=True),
    "tiles.tile": anyone(check="public collections only; origins as geodata.origins.public_origin allows"),
    "tiles.tilejson": anyone(check="public collections only"),
    # OGC API: public collections for anyone; staff collections by role and county in services.ogc
    "ogc.landing": anyone(),
    "ogc.api": anyone(),
    "ogc.conformance": anyone(),
    "ogc.collections": anyone(check="lists the collections the caller may read"),
    "ogc.collection": anyone(check="staff collections: the roles of their pages (services.ogc.get_collection)"),
    "ogc.items": anyone(check="staff collections: roles of their pages, a manager's counties only"),
    "ogc.feature": anyone(check="staff collections: roles of their pages, a manager's counties only"),
    "ogc.queryables": anyone(check="staff collections: the roles of their pages"),
    "ogc.schema": anyone(check="staff collections: the roles of their pages"),
    # history
    "history.recent": staff(*ALL_STAFF, check="events of records the reader may read; personal fields hidden"),
    "history.record": staff(*ALL_STAFF, county="history",
                            check="the record's kind as its pages allow (services.history); personal fields hidden"),
    # offline inspections: the service worker, the manifest, the phone's queue and its sync endpoint
    "offline.worker": anyone(check="a static script; it caches only what the signed-in user's pages load"),
    "offline.manifest": anyone(),
    "offline.queue": staff(*MANAGE_READ, check=LISTS + "; the queue itself lives on the phone"),
    "offline.pages": staff(*MANAGER, check=LISTS),
    "offline.session_info": staff(*MANAGER, check="the signed-in user's own id and CSRF token"),
    "offline.sync": staff(*MANAGER, county="facility", write=True),
    # the managers' area
    "manage.index": staff(*MANAGE_READ, check=LISTS),
    "manage.maintenance_map": staff(*MANAGE_READ, check=LISTS),
    "manage.map_data": staff(*MANAGE_READ, check=LISTS),
    "manage.archive": staff(*MANAGE_READ, county="facility"),
    "manage.archive_pdf_file": staff(*MANAGE_READ, county="facility"),
    "manage.edit_facility": staff(*MANAGER, county="facility", write=True),
    "manage.distance": staff(*MANAGER, county="facility"),
    "manage.inspect_form": staff(*MANAGER, county="facility"),
    "manage.inspect_submit": staff(*MANAGER, county="facility", write=True),
    "manage.task_create": staff(*MANAGER, county="facility", write=True),
    "manage.inspection": staff(*MANAGE_READ, county="inspection"),
    "manage.ledgers": staff(*MANAGE_READ, check=LISTS),
    "manage.ledger": staff(*MANAGE_READ, county="county"),
    "manage.moderation": staff(*MANAGER, check=LISTS),
    "manage.moderate": staff(*MANAGER, county="tribute", write=True),
    "manage.photo": staff(*MANAGE_READ, county="photo"),
    "manage.report_reject": staff(*MANAGER, county="report", write=True),
    "manage.tasks": staff(*MANAGE_READ, check=LISTS),
    "manage.task": staff(*MANAGE_READ, county="task"),
    "manage.task_step": staff(*MANAGE_READ, county="task", write=True,
                              check="reviewers only verify or send back; other steps need the county's manager"),
    # visit routes (reads only): the due list of the manager's counties; each facility chosen or typed is checked
    "manage.visits": staff(*MANAGER, check="facilities, the start facility and the county: the manager's "
                                           "counties only (services.visits, 403 naming the facility)"),
    # relocations
    "relocations.index": staff(*RELOCATION_READ, check=LISTS),
    "relocations.detail": staff(*RELOCATION_READ, county="relocation", check="consent hidden from planners"),
    "relocations.edit": staff(*MANAGER, county="relocation_write", write=True,
                              check="the destination after the edit must be the manager's county too"),
    "relocations.cancel": staff(*MANAGER, county="relocation_write", write=True),
    "relocations.attach": staff(*MANAGER, county="relocation_write", write=True),
    "relocations.scan": staff(*MANAGE_READ, county="relocation"),
    "relocations.new": staff(*MANAGER, write=True,
                             check="the destination facility's county (else the origin's) must be the manager's"),
    "relocations.journey_map": staff(*RELOCATION_READ, check=LISTS),
    "relocations.journeys": staff(*RELOCATION_READ, check=LISTS),
    "relocations.reconciliation": staff(*RELOCATION_READ, check=LISTS),
    "relocations.retire_tomb": staff(*MANAGER, county="tomb", write=True),
    "relocations.restore_tomb": staff(*MANAGER, county="tomb", write=True),
    "relocations.import_form": staff(*MANAGER, check="earlier imports: the reader's counties"),
    "relocations.import_preview": staff(*MANAGER, write=True, check="saves a column mapping when asked"),
    "relocations.import_commit": staff(*MANAGER, write=True,
                                       check="every row must be received by (else leave) the manager's counties"),
    "relocations.import_batch": staff(*RELOCATION_READ, county="batch"),
    "relocations.save_mapping": staff(*MANAGER, write=True),
    # planning (city-wide: plans are not a county's)
    "plan.index": staff(*PLAN),
    "plan.zone_facilities": staff(*PLAN),
    "plan.facility_zones": staff(*PLAN),
    "plan.add_zone": staff("planner", write=True),
    "plan.checks": staff(*PLAN),
    "plan.new_check": staff("planner", write=True),
    "plan.check": staff(*PLAN),
    "plan.check_geojson": staff(*PLAN),
    "plan.plan_list": staff(*PLAN),
    "plan.new_plan": staff("planner"),
    "plan.create_plan": staff("planner", write=True),
    "plan.plan_detail": staff(*PLAN),
    "plan.edit_plan": staff("planner"),
    "plan.update_plan": staff("planner", write=True),
    "plan.review": staff(*PLAN, write=True, check="planners submit, reviewers return or approve"),
    "plan.add_funding": staff("planner", write=True),
    "plan.record_spending": staff("planner", write=True),
    "plan.compare": staff(*PLAN),
    "plan.planning_map": staff(*PLAN),
    "plan.map_features": staff(*PLAN),
    # GIS import
    "gis_import.form": staff("manager", "planner"),
    "gis_import.preview": staff("manager", "planner", check="a manager's rows must be in their counties"),
    "gis_import.commit": staff("manager", "planner", write=True, check="a manager's rows must be in their counties"),
    # edits made in QGIS (web/gis/edits.py): planners, and managers in their own counties (services.gis.edits)
    "gis_edits.index": staff("manager", "planner", check="batches of the reader's counties only"),
    "gis_edits.export": staff("manager", "planner", write=True, check="a manager exports their own counties only"),
    "gis_edits.upload": staff("manager", "planner", write=True, check="the export's county must be the uploader's"),
    "gis_edits.batch": staff("manager", "planner", check="the batch's county must be the reader's"),
    "gis_edits.decide": staff("manager", "planner", write=True,
                              check="the batch's county must be the decider's, and not the uploader"),
    # the calendar of remembrance: facilities' own days, skipped dates of death, iCalendar feeds (web/calendar.py)
    "calendar.days": staff(*MANAGE_READ, check=LISTS),
    "calendar.add_day": staff(*MANAGER, write=True,
                              check="the facility's county must be the manager's (services.calendar.add_day)"),
    "calendar.retire_day": staff(*MANAGER, county="facility_day", write=True),
    "calendar.bad_dates": staff(*MANAGE_READ,
                                check="martyrs buried in the reader's counties; others to readers of all"),
    "calendar.county_feed": staff(*MANAGE_READ, county="county", tokens=True,
                                  check="a session, or an API token (Bearer, or Basic with the token as password)"),
    "calendar.martyr_feed": anyone(),
    # veterans service stations: the managers' list, a station, its edit (web/stations); the public map's layer
    "stations.index": staff(*MANAGE_READ, check=LISTS + "; a county filter outside them is refused (403)"),
    "stations.detail": staff(*MANAGE_READ, county="station"),
    "stations.edit": staff(*MANAGER, county="station", write=True),
    "api.stations_in_bbox": anyone(check="public fields of live stations only"),
    # public corrections: visitors propose and read the outcome; the county's reviewers and managers review
    "corrections.propose": anyone(check="rate-limited"),
    "corrections.status": anyone(check="the state and a decline's reason only, never the contact"),
    "corrections.queue": staff(*REVIEW, check=LISTS + "; reviewers with a county scope: those counties"),
    "corrections.detail": staff(*REVIEW, county="correction", check=REVIEWERS),
    "corrections.photo": staff(*REVIEW, county="correction", check=REVIEWERS),
    "corrections.accept": staff(*REVIEW, county="correction", write=True, check=REVIEWERS),
    "corrections.decline": staff(*REVIEW, county="correction", write=True, check=REVIEWERS),
}


# --- how an object's county is found ------------------------------------------------------------------


def _facility(session, args):
    return session.scalar(select(Facility.county_code).where(Facility.id == args["facility_id"]))


def _via_facility(model, key):
    def find(session, args):
        return session.scalar(select(Facility.county_code).join(model, model.facility_id == Facility.id)
                              .where(model.id == args[key]))
    return find


def _relocation(session, args):
    from registry.services.relocations import relocation_counties

    relocation = session.get(Relocation, args["relocation_id"])
    return None if relocation is None else relocation_counties(session, relocation)


def _relocation_write(session, args):
    """The county that writes a relocation: its destination facility's, else the county it leaves."""
    from registry.services.relocations import relocation_counties

    relocation = session.get(Relocation, args["relocation_id"])
    if relocation is None:
        return None
    origin, destination = relocation_counties(session, relocation)
    return (destination,) if destination else (origin,)


def _tomb(session, args):
    tomb = session.get(Tomb, args["tomb_id"])
    if tomb is None:
        return None
    return (session.scalar(select(Facility.county_code).where(Facility.id == tomb.facility_id)),)


def _county(session, args):
    return args["county"] if args["county"] in divisions.counties(session) else None


def _tribute(session, args):
    from registry.models import Tribute
    from registry.services.manage.tasks import tribute_counties

    tribute = session.get(Tribute, args["tribute_id"])
    return None if tribute is None else tuple(tribute_counties(session, tribute.target_type, tribute.target_id))


def _photo(session, args):
    from registry.models import Attachment
    from registry.services.photos import owner_county

    attachment = session.get(Attachment, args["attachment_id"])
    return None if attachment is None else (owner_county(session, attachment),)


def _batch(session, args):
    from registry.services.relocations import relocation_counties

    batch = session.get(ImportBatch, args["batch_id"])
    if batch is None:
        return None
    codes, found = list(batch.codes or []), set()
    for start in range(0, len(codes), 5000):
        for relocation in session.scalars(select(Relocation).where(Relocation.code.in_(codes[start:start + 5000]))):
            found.update(relocation_counties(session, relocation))
    return tuple(found)


def _history(session, args):
    """A county-bound record's counties (from its latest audit event, else the row); None for other kinds."""
    from registry.models import AuditEvent
    from registry.services import history

    kind, ident = args["entity_type"], args["entity_id"]
    if not history.READERS.get(kind, ((), False))[1]:
        return None
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == kind, AuditEvent.entity_id == ident)
                            .order_by(AuditEvent.id.desc()).limit(1)).first()
    found = history.event_counties(session, event) if event is not None else ()
    return found or tuple(history.parent_counties(session, kind, ident))


def _station(session, args):
    from registry.models import ServiceStation

    return session.scalar(select(ServiceStation.county_code).where(ServiceStation.id == args["station_id"]))


def _correction(session, args):
    from registry.models import Correction

    correction = session.get(Correction, args["correction_id"])
    return None if correction is None else (correction.county_code,)


def _facility_day(session, args):
    from registry.models import FacilityDay

    return _via_facility(FacilityDay, "day_id")(session, args)


# name -> (session, the URL's arguments) -> the object's counties, or None when there is no such object
# (the view then answers 404 as it would for anyone).
COUNTY_OF: dict[str, Callable] = {
    "facility": _facility,
    "inspection": _via_facility(Inspection, "inspection_id"),
    "task": _via_facility(MaintenanceTask, "task_id"),
    "report": _via_facility(ProblemReport, "report_id"),
    "relocation": _relocation,
    "relocation_write": _relocation_write,
    "tomb": _tomb,
    "county": _county,
    "tribute": _tribute,
    "photo": _photo,
    "batch": _batch,
    "history": _history,
    "facility_day": _facility_day,
    "station": _station,
    "correction": _correction,
}


def object_counties(right: Right, args: dict) -> tuple | None:
    """The counties of the object a request names (None: no such object)."""
    found = COUNTY_OF[right.county](db_session(), args)
    if found is None:
        return None
    return tuple(c for c in ((found,) if isinstance(found, str) else found) if c)


def decide(right: Right | None, actor, counties: tuple | None) -> str:
    """'allow', 'login' (anonymous) or 'forbid' for ``actor`` on an endpoint whose object has ``counties``."""
    if right is None:
        return "forbid"
    if right.roles is None:
        return "allow"
    if not actor.roles:
        return "login"
    if actor.can("admin"):
        return "allow"
    held = [role for role in right.roles if role in actor.roles]
    if not held:
        return "forbid"
    if right.county is None or counties is None or held != ["manager"]:
        return "allow"
    return "allow" if set(counties) & set(actor.counties) else "forbid"


def _message(right: Right | None, actor, counties) -> str:
    endpoint = request.endpoint
    if right is None:
        return f"{request.path} has no rights decision ({endpoint}); it is refused until one is made"
    if not any(role in actor.roles for role in right.roles):
        return (f"{actor.name} may not use {request.path}: it needs the role "
                f"{' or '.join(right.roles)}")
    named = ", ".join(divisions.label(c) for c in counties) or "no county"
    return (f"{actor.name} may not {'change' if right.write else 'read'} a record of {named}: "
            "managers work only in their own counties")


def check_request():
    """Enforce the table before the view runs: sign in, the role, then the object's county."""
    from registry.web.system.auth import audit_forbidden, current_actor, token_actor

    endpoint = request.endpoint
    if endpoint is None:
        return None  # no route matched: the 404/405 handlers answer
    right = current_app.extensions["rights"].get(endpoint)
    if right is not None and right.roles is None:
        return None
    if right is not None and right.tokens and "Authorization" in request.headers:
        # A calendar app or script sends its API token instead of a session cookie.
        actor = g.token_actor = token_actor()
        if actor is None:
            return Response("the API token is unknown, revoked or expired (send Authorization: Bearer <token>, "
                            "or the token as the Basic password)\n", 401, mimetype="text/plain",
                            headers={"WWW-Authenticate": 'Basic realm="registry", charset="UTF-8"'})
    else:
        actor = current_actor()
    counties = None
    if right is not None and right.county and actor.roles and not actor.can("admin"):
        counties = object_counties(right, request.view_args or {})
    verdict = decide(right, actor, counties)
    if verdict == "allow":
        return None
    if verdict == "login":
        return redirect(url_for("auth.login", next=request.path))
    message = _message(right, actor, counties or ())
    audit_forbidden(message)
    abort(403, description=message)


def init_app(app: Flask) -> None:
    """Enforce the table on ``app`` (a copy, so an app made for a test may declare a route of its own)."""
    app.extensions["rights"] = dict(RIGHTS)
    app.before_request(check_request)
