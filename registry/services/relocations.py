"""Relocation use cases: record and edit a move step by step, attach scans, list, journeys and the public story."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shapely.geometry import LineString, Point
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from geodata import ledger as ledgers
from geodata.checks import GeometryError, check_lonlat
from geodata.images import DEFAULT_MAX_PIXELS, ImageError, check_image
from geodata.origins import public_origin
from geodata.plots import bare, format_plot
from registry.db import Store
from registry.models import Attachment, Facility, Martyr, Relocation, Tomb
from registry.models.vocab import FUNDING_SOURCES, RELOCATION_STEPS
from registry.services import divisions
from registry.services.access import (
    may_county,
    may_see_personal,
    readable_counties,
    require_counties,
    require_county,
)
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.photos import write_whole_file

# Labels of the dated steps, in their order (vocab.RELOCATION_STEPS).
STEP_LABELS = {
    "surveyed_on": ("调查", "Survey"),
    "consent_on": ("家属同意", "Family consent"),
    "approved_on": ("批准", "Approval"),
    "exhumed_on": ("起灵", "Exhumation"),
    "reburied_on": ("安葬", "Reburial"),
    "accepted_on": ("验收", "Acceptance"),
}
POINT_METHODS = ("gps", "map", "ledger", "estimate")
DESTINATION_CATEGORIES = ("cemetery", "collective_burial")
EDITABLE = (
    "tomb_id", "martyr_id", "origin_place", "origin_county_code", "origin_township", "origin_village",
    "origin_lon", "origin_lat", "origin_point_method", "dest_facility_id", "dest_plot_area", "dest_plot_row",
    "dest_plot_number", "family_consent", "consent_by", "consent_relation", "approval_number", "approval_body",
    *RELOCATION_STEPS, "batch", "project", "funding_source", "funding_amount", "effects", "note",
)
DEST_FIELDS = ("dest_facility_id", "dest_plot_area", "dest_plot_row", "dest_plot_number")
SCAN_TYPES = {b"%PDF": ("application/pdf", "pdf"), b"\x89PNG": ("image/png", "png"),
              b"\xff\xd8\xff": ("image/jpeg", "jpg")}
MAX_SCAN_BYTES = 20 * 1024 * 1024


def county_seats_wgs84(source) -> dict[str, tuple]:
    """The store's counties: code -> (name, seat lon, lat in WGS 84, boundary or None)."""
    return divisions.current(source).ledger_counties()


def county_aliases(source) -> dict[str, ledgers.Alias]:
    """Former county codes and names -> the current county and the dates the former one was in use, so old
    ledgers still match (with a warning for a row dated outside those dates)."""
    return {key: ledgers.Alias(*value) for key, value in divisions.current(source).former.items()}


def facility_county(session, facility_id: int | None) -> str | None:
    """The county of a facility (None when there is none)."""
    if facility_id is None:
        return None
    return session.scalar(select(Facility.county_code).where(Facility.id == facility_id))


def relocation_counties(session, relocation) -> tuple[str | None, str | None]:
    """The counties a relocation belongs to: the one it left and the one whose facility received it."""
    get = relocation.get if isinstance(relocation, dict) else lambda k: getattr(relocation, k)
    return get("origin_county_code"), facility_county(session, get("dest_facility_id"))


def require_read(session, actor: Actor, relocation, *, what: str = "relocations") -> None:
    """Refuse (403) reading a relocation outside the actor's counties (origin or destination)."""
    require_counties(actor, relocation_counties(session, relocation), write=False, what=what, planners=True)


def require_write(session, actor: Actor, values) -> None:
    """Refuse (403) writing a relocation the actor may not: the destination facility's county decides, and
    before a destination is chosen the county it leaves. Checked on the record before and after an edit."""
    origin, destination = relocation_counties(session, values)
    if destination is not None:
        require_counties(actor, (destination,), write=True, what="relocations received")
    else:
        require_counties(actor, (origin,), write=True, what="relocations leaving")


def scope_clause(actor: Actor):
    """A WHERE clause keeping the relocations ``actor`` may read (None: all of them)."""
    allowed = readable_counties(actor, planners=True)
    if allowed is None:
        return None
    return or_(Relocation.origin_county_code.in_(allowed),
               Relocation.dest_facility_id.in_(select(Facility.id).where(Facility.county_code.in_(allowed))))


def stage_of(values) -> str:
    """The stage a relocation is in, from its dated steps."""
    get = values.get if isinstance(values, dict) else lambda k: getattr(values, k)
    if get("accepted_on"):
        return "accepted"
    if any(get(step) for step in RELOCATION_STEPS):
        return "in_progress"
    return "planned"


def check_steps(values: dict) -> None:
    """Refuse steps out of order and an acceptance without consent and approval on file."""
    previous = None
    today = date.today()
    for step in RELOCATION_STEPS:
        day = values.get(step)
        if day is None:
            continue
        if not isinstance(day, date):
            raise InvalidInput(f"{step} {day!r} is not a date", field=step)
        if day > today:
            raise InvalidInput(f"{STEP_LABELS[step][1]} ({step}) on {day.isoformat()} is after today "
                               f"({today.isoformat()}): a step is recorded once it has happened", field=step)
        if previous is not None and day < values[previous]:
            raise InvalidInput(
                f"{STEP_LABELS[step][1]} ({step}) on {day.isoformat()} cannot be before "
                f"{STEP_LABELS[previous][1]} ({previous}) on {values[previous].isoformat()}: steps follow each other "
                "in order", field=step)
        previous = step
    if values.get("accepted_on"):
        if not values.get("family_consent"):
            raise InvalidInput("acceptance needs the family's consent on file (家属同意) first", field="accepted_on")
        if not (values.get("approval_number") or "").strip():
            raise InvalidInput("acceptance needs the approval on file (批准文号) first", field="accepted_on")
    if values.get("consent_on") and not values.get("family_consent"):
        raise InvalidInput("a consent date is given but family consent is not marked as given", field="family_consent")


def _check_fields(session, values: dict) -> None:
    unknown = set(values) - set(EDITABLE) - {"code"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    # A plot is stored bare, whether typed "A区 4排 20号" or "A 4 20" (geodata.plots shows it as signed).
    for key, part in zip(DEST_FIELDS[1:], ("area", "row", "number"), strict=True):
        if values.get(key) is not None:
            values[key] = bare(values[key], part)
    county = values.get("origin_county_code")
    divisions.check_county(session, county, "origin_county_code")
    method = values.get("origin_point_method")
    if method is not None and method not in POINT_METHODS:
        raise InvalidInput(f"origin_point_method {method!r} is not one of {', '.join(POINT_METHODS)}",
                           field="origin_point_method")
    source = values.get("funding_source")
    if source is not None and source not in FUNDING_SOURCES:
        raise InvalidInput(f"funding_source {source!r} is not one of {', '.join(FUNDING_SOURCES)}",
                           field="funding_source")
    amount = values.get("funding_amount")
    if amount is not None and (not isinstance(amount, (int, float)) or amount < 0):
        raise InvalidInput(f"funding_amount {amount!r} must be a number of yuan, 0 or more", field="funding_amount")
    effects = values.get("effects")
    if effects is not None and (not isinstance(effects, list) or not all(isinstance(e, str) for e in effects)):
        raise InvalidInput("effects must be a list of texts", field="effects")
    facility_id = values.get("dest_facility_id")
    if facility_id is not None:
        facility = session.get(Facility, facility_id)
        if facility is None:
            raise InvalidInput(f"destination facility {facility_id} does not exist", field="dest_facility_id")
        if facility.category not in DESTINATION_CATEGORIES:
            raise InvalidInput(f"destination {facility.name} is not a cemetery or collective burial ground",
                               field="dest_facility_id")
    if values.get("martyr_id") is not None and session.get(Martyr, values["martyr_id"]) is None:
        raise InvalidInput(f"martyr {values['martyr_id']} is not on the roll", field="martyr_id")


def _journey(session, values: dict):
    lon, lat = values.get("origin_lon"), values.get("origin_lat")
    if (lon is None) != (lat is None):
        raise InvalidInput("the origin point needs both longitude and latitude", field="origin_lon")
    if lon is None:
        return None
    try:
        lon, lat = check_lonlat(lon, lat, field="origin")
    except GeometryError as exc:
        raise InvalidInput(str(exc), field="origin_lon") from None
    values["origin_lon"], values["origin_lat"] = lon, lat
    facility = session.get(Facility, values["dest_facility_id"]) if values.get("dest_facility_id") else None
    if facility is None:
        return None
    # The journey line is public (OGC, tiles): it starts at the origin no more precisely than the grave page
    # names it (geodata.origins); the surveyed point stays in origin_lon/origin_lat for staff.
    return LineString([public_origin(lon, lat), (facility.geom.x, facility.geom.y)])


def _ends_at_tomb(session, geom, tomb_id):
    """The journey line ended at the tomb's own point (where the martyr lies), when there is a line and a tomb."""
    if geom is None or tomb_id is None:
        return geom
    tomb = session.get(Tomb, tomb_id)
    if tomb is None or tomb.geom is None:
        return geom
    return LineString([geom.coords[0], (tomb.geom.x, tomb.geom.y)])


# --- the tomb at the destination ------------------------------------------------------------------------
# Every relocation with a destination ends at a tomb there (relocation.tomb_id), as the ledger import
# makes them: the tomb already at the destination plot when the registry has one, else a new tomb.


def _dest_point(values: dict) -> tuple[float, float] | None:
    """The destination plot's own point, when the caller knows it (``dest_lon``, ``dest_lat``; not stored)."""
    lon, lat = values.pop("dest_lon", None), values.pop("dest_lat", None)
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        raise InvalidInput("the destination plot's point needs both longitude and latitude", field="dest_lon")
    try:
        return check_lonlat(lon, lat, field="destination plot")
    except GeometryError as exc:
        raise InvalidInput(str(exc), field="dest_lon") from None


def _plot_label(facility: Facility, area, row, number) -> str:
    return " ".join(p for p in (facility.name, format_plot(area, row, number)) if p)


# The store's own guard (models.martyr, migration 0011): one active tomb per facility, area, row and number, a
# missing area or row counting as the empty one. The checks below find an occupant first; the index catches
# the writer that loses a race for an empty plot.
PLOT_INDEX = "ux_tombs_active_plot"


def _plot_filter(facility_id: int, area, row, number) -> tuple:
    """The active tombs at a plot, compared as the index compares them."""
    return (Tomb.facility_id == facility_id, func.coalesce(Tomb.plot_area, "") == (area or ""),
            func.coalesce(Tomb.plot_row, "") == (row or ""), Tomb.plot_number == number, Tomb.status == "active")


def plot_taken(exc: Exception) -> bool:
    """Whether a database error is the one-tomb-per-plot index refusing a second active tomb at a plot."""
    return PLOT_INDEX in str(getattr(exc, "orig", None) or exc)


def _plot_race(store: Store, values: dict) -> Conflict:
    """The Conflict for a plot another writer filled between this write's check and its commit."""
    with store.session() as session:
        facility = session.get(Facility, values.get("dest_facility_id"))
        label = (_plot_label(facility, *(values.get(key) for key in DEST_FIELDS[1:])) if facility is not None
                 else values.get("dest_plot_number"))
    return Conflict(f"plot {label} was given a tomb by someone else at the same moment, and a plot holds one active "
                    "tomb: nothing was saved; reload to see that tomb, then check the plot", field="dest_plot_number")


@contextmanager
def _plot_guard(store: Store, plot: dict):
    """Around a write's ``unit_of_work``: the index refusing a tomb at an occupied plot becomes a Conflict.

    ``plot`` is filled by the caller with the destination it is writing (dest_facility_id and the plot), so
    the message names the plot; the transaction has been rolled back by then, so nothing was saved.
    """
    try:
        yield plot
    except IntegrityError as exc:
        if not plot_taken(exc):
            raise
        raise _plot_race(store, plot) from None


def _other_relocations(session, tomb_id: int, relocation_id: int | None) -> int:
    """How many live relocations besides this one end at the tomb."""
    query = select(func.count(Relocation.id)).where(Relocation.tomb_id == tomb_id, Relocation.status == "active")
    if relocation_id is not None:
        query = query.where(Relocation.id != relocation_id)
    return session.scalar(query)


def _touch_tomb(session, actor: Actor, tomb: Tomb, note: str, **changes) -> bool:
    """A versioned update of a tomb with its audit event (before and after), when something changes."""
    changes = {k: v for k, v in changes.items() if getattr(tomb, k) != v}
    if "geom" in changes and changes["geom"].equals(tomb.geom):
        del changes["geom"]
    if not changes:
        return False
    before = snapshot(tomb)
    for key, value in changes.items():
        setattr(tomb, key, value)
    record_audit(session, actor, "update", tomb, before=before, note=note)
    return True


def _settle_tomb(session, actor: Actor, want: dict, relocation_id: int | None, code: str,
                 point: tuple[float, float] | None = None) -> tuple[str, dict]:
    """Put a relocation's tomb at its destination plot, before the relocation itself is written.

    ``want`` holds the relocation's values as they will be (destination, plot, martyr, reburial date and
    ``tomb_id``). The tomb already at that plot (same facility, area, row and number, active) is linked;
    one that holds another martyr is a Conflict naming ``dest_plot_number``, raised before anything is
    written. Else the relocation's own tomb moves there when no other relocation ends at it, or a tomb is
    made at the plot's point (else the facility's) with the relocation's martyr. Returns what was done
    (created, linked, moved, unchanged) and the relocation's fields that change with it.
    """
    facility = session.get(Facility, want["dest_facility_id"])
    # A blank part of the plot is no part: the tomb keeps None, as the index reads it.
    area, row, number = (want.get(key) or None for key in DEST_FIELDS[1:])
    martyr_id = want.get("martyr_id")
    reburied = want.get("reburied_on") is not None
    label = _plot_label(facility, area, row, number)
    note = f"relocation {code}: destination {label}"
    current = session.get(Tomb, want["tomb_id"]) if want.get("tomb_id") else None
    occupant = None
    if number:
        query = select(Tomb).where(*_plot_filter(facility.id, area, row, number))
        if current is not None:
            query = query.where(Tomb.id != current.id)
        occupant = session.scalars(query.order_by(Tomb.id).limit(1)).first()
    if occupant is not None and None not in (occupant.martyr_id, martyr_id) and occupant.martyr_id != martyr_id:
        holder = session.get(Martyr, occupant.martyr_id)
        raise Conflict(f"plot {label} already holds the tomb of {holder.name} (tomb {occupant.id}), not this "
                       "relocation's martyr: check the plot or the martyr; nothing was saved",
                       field="dest_plot_number")
    own = current is not None and current.status == "active" and not _other_relocations(
        session, current.id, relocation_id)
    if occupant is not None:
        if own and current.state != "in_place":
            # The tomb made for this relocation stands at the wrong plot: the grave is the occupant.
            before = snapshot(current)
            current.status = "retired"
            record_audit(session, actor, "retire", current, before=before,
                         note=f"relocation {code}: its grave is tomb {occupant.id} at {label}")
        changes = {"martyr_id": occupant.martyr_id or martyr_id}
        if reburied:
            changes["state"] = "relocated"
        _touch_tomb(session, actor, occupant, note, **changes)
        found = {"tomb_id": occupant.id}
        if martyr_id is None and occupant.martyr_id is not None:
            found["martyr_id"] = occupant.martyr_id
        return "linked", found
    x, y = point if point is not None else (facility.geom.x, facility.geom.y)
    state = "relocated" if reburied else "awaiting_relocation"
    if own:
        moved = _touch_tomb(session, actor, current, note, facility_id=facility.id, plot_area=area, plot_row=row,
                            plot_number=number, geom=Point(x, y), state=state,
                            martyr_id=current.martyr_id or martyr_id)
        return ("moved" if moved else "unchanged"), {}
    tomb = Tomb(martyr_id=martyr_id, facility_id=facility.id, plot_area=area, plot_row=row, plot_number=number,
                state=state, geom=Point(x, y))
    session.add(tomb)
    record_audit(session, actor, "create", tomb, note=note)
    return "created", {"tomb_id": tomb.id}


def _follow_tomb(session, actor: Actor, relocation: Relocation, merged: dict, values: dict) -> None:
    """The tomb keeps up with an edit that leaves the destination alone: a martyr linked, a reburial dated."""
    tomb = session.get(Tomb, merged["tomb_id"])
    if tomb is None or tomb.status != "active":
        return
    changes = {}
    if merged.get("martyr_id") is not None and tomb.martyr_id is None:
        changes["martyr_id"] = merged["martyr_id"]
    if "reburied_on" in values and tomb.state in ("awaiting_relocation", "relocated"):
        if merged.get("reburied_on") is not None:
            changes["state"] = "relocated"
        elif not _other_relocations(session, tomb.id, relocation.id):
            changes["state"] = "awaiting_relocation"
    _touch_tomb(session, actor, tomb, f"relocation {relocation.code}", **changes)


# --- the grave a reburied martyr left -------------------------------------------------------------------
# A scattered grave registered where it lies is an in_place tomb (awaiting_relocation while its move is
# planned) at a facility that is not a cemetery or collective burial ground, or at none. Once a relocation
# of that martyr is reburied at its destination, the martyr no longer lies there: the grave is retired (the
# relocation keeps the origin place and point, so the grave page still tells where they first lay). A tomb
# in a cemetery or collective burial ground, where relocations end, is never taken for an origin, nor is any
# tomb a live relocation ends at; a tomb with no martyr cannot be known to be the same grave and stays.
ORIGIN_STATES = ("in_place", "awaiting_relocation")


def _origin_grave_conditions() -> tuple:
    """What makes a tomb an original grave, for a query with Facility outer-joined on ``Tomb.facility_id``."""
    ends = aliased(Relocation)
    return (Tomb.status == "active", Tomb.state.in_(ORIGIN_STATES),
            or_(Tomb.facility_id.is_(None), Facility.category.not_in(DESTINATION_CATEGORIES)),
            ~select(ends.id).where(ends.tomb_id == Tomb.id, ends.status == "active", ends.stage != "cancelled")
            .exists())


def origin_graves(session, relocation_ids=None) -> list[tuple[int, int]]:
    """(tomb id, relocation id) of each active original grave a reburied live relocation has left.

    ``relocation_ids`` limits the relocations looked at (else every live one). A grave left by several
    relocations is named once, with the first reburial (then the lowest id).
    """
    query = (
        select(Tomb.id, Relocation.id)
        .join(Relocation, Relocation.martyr_id == Tomb.martyr_id)
        .outerjoin(Facility, Facility.id == Tomb.facility_id)
        .where(*_origin_grave_conditions(),
               Relocation.status == "active", Relocation.stage != "cancelled",
               Relocation.reburied_on.is_not(None), Relocation.dest_facility_id.is_not(None))
        .order_by(Tomb.id, Relocation.reburied_on, Relocation.id)
    )
    if relocation_ids is not None:
        query = query.where(Relocation.id.in_(relocation_ids))
    found: dict[int, int] = {}
    for tomb_id, relocation_id in session.execute(query):
        found.setdefault(tomb_id, relocation_id)
    return list(found.items())


def origin_graves_of_martyrs(session, martyr_ids) -> list[tuple[int, int, str, str | None]]:
    """(tomb id, martyr id, martyr name, facility name) of each active original grave of these martyrs, by tomb.

    The graves ``origin_graves`` names once these martyrs have a reburied live relocation: what a ledger
    import would retire, read before its relocations exist (a dry run writes nothing).
    """
    ids = sorted(set(martyr_ids))
    found: list[tuple[int, int, str, str | None]] = []
    for start in range(0, len(ids), 5000):
        found.extend(tuple(r) for r in session.execute(
            select(Tomb.id, Tomb.martyr_id, Martyr.name, Facility.name)
            .join(Martyr, Martyr.id == Tomb.martyr_id)
            .outerjoin(Facility, Facility.id == Tomb.facility_id)
            .where(Tomb.martyr_id.in_(ids[start:start + 5000]), *_origin_grave_conditions())))
    return sorted(found)


def retirement_note(code: str, facility_name: str, area, row, number) -> str:
    """The audit note of an original grave retired by a reburial: the relocation's code and its destination."""
    destination = " ".join(p for p in (facility_name, format_plot(area, row, number)) if p)
    return f"relocation {code}: reburied at {destination}; the martyr no longer lies in this original grave"


def grave_county(session, tomb: Tomb, relocation) -> str | None:
    """The county an original grave belongs to: its facility's, else the county the relocation left."""
    return facility_county(session, tomb.facility_id) or relocation.origin_county_code


def _retire_origin_graves(session, actor: Actor, relocation_ids=None) -> int:
    """Retire the original graves reburied relocations have left, each with its audit event; how many.

    Only graves the actor may write are retired: one in another county stays, and the reconciliation of
    its county lists it among the martyrs with more than one grave for that county's managers to retire.
    """
    left = origin_graves(session, relocation_ids)
    retired = 0
    for tomb_id, relocation_id in left:
        tomb = session.get(Tomb, tomb_id)
        relocation = session.get(Relocation, relocation_id)
        if not may_county(actor, (grave_county(session, tomb, relocation),), write=True):
            continue
        retired += 1
        facility = session.get(Facility, relocation.dest_facility_id)
        before = snapshot(tomb)
        tomb.status = "retired"
        record_audit(session, actor, "retire", tomb, before=before, note=retirement_note(
            relocation.code, facility.name, relocation.dest_plot_area, relocation.dest_plot_row,
            relocation.dest_plot_number))
    return retired


def create_relocation(store: Store, actor: Actor, values: dict) -> Relocation:
    """Record a relocation; its steps must be in order and an acceptance needs consent and approval.

    With a destination it ends at a tomb there: the one at its plot, else a new one (``dest_lon`` and
    ``dest_lat`` may give the plot's point; else the facility's).
    """
    values = {k: v for k, v in dict(values).items() if v is not None}
    point = _dest_point(values)
    if not (values.get("origin_place") or values.get("origin_lon") is not None):
        raise InvalidInput("the origin is required: a place name or a point", field="origin_place")
    values.setdefault("family_consent", False)
    check_steps(values)
    with _plot_guard(store, values), unit_of_work(store) as session:
        _check_fields(session, values)
        require_write(session, actor, values)
        code = (values.pop("code", None) or "").strip()
        if code and session.scalar(select(Relocation.id).where(Relocation.code == code)) is not None:
            raise Conflict(f"code {code!r} is already used by another relocation", field="code")
        if not code:
            n = (session.scalar(select(func.max(Relocation.id))) or 0) + 1
            code = f"{values.get('origin_county_code') or 'LY'}-N{n:05d}"
        geom = _journey(session, values)
        if values.get("dest_facility_id") is not None:
            values.update(_settle_tomb(session, actor, values, None, code, point)[1])
            geom = _ends_at_tomb(session, geom, values.get("tomb_id"))
        relocation = Relocation(code=code, geom=geom, stage=stage_of(values), **values)
        session.add(relocation)
        record_audit(session, actor, "create", relocation)
        _retire_origin_graves(session, actor, [relocation.id])
    return relocation


def update_relocation(store: Store, actor: Actor, relocation_id: int, version: int | None,
                      values: dict) -> Relocation:
    """Edit a relocation (record a step, the consent, the approval…) from the version the user saw.

    A new destination facility or plot moves the relocation's tomb there (or links the tomb at that plot,
    or makes one); a plot holding another martyr's tomb is a Conflict and nothing is saved.
    """
    values = dict(values)
    point = _dest_point(values)
    if "code" in values:
        raise InvalidInput("a relocation's code does not change", field="code")
    with _plot_guard(store, {}) as plot, unit_of_work(store) as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_write(session, actor, relocation)
        check_version(relocation, version)
        _check_fields(session, values)
        merged = {key: getattr(relocation, key) for key in EDITABLE}
        merged.update(values)
        require_write(session, actor, merged)
        plot.update(merged)
        check_steps(merged)
        before = snapshot(relocation)
        # Lookups first, while the relocation is unchanged: a query's autoflush would otherwise write it
        # half-edited, and the rest of the edit as a second version.
        journey = bool({"origin_lon", "origin_lat", "dest_facility_id"} & set(values))
        geom = _journey(session, merged) if journey else None
        moved = any(key in values and values[key] != getattr(relocation, key) for key in DEST_FIELDS)
        if relocation.stage != "cancelled" and merged.get("dest_facility_id") is not None and (
                moved or point is not None):
            values.update(_settle_tomb(session, actor, merged, relocation.id, relocation.code, point)[1])
            # The tomb may stand elsewhere now: the line follows it to its own point.
            moved_line = _ends_at_tomb(session, geom if journey else relocation.geom,
                                       values.get("tomb_id", relocation.tomb_id))
            if journey:
                geom = moved_line
            elif moved_line is not None:
                values["geom"] = moved_line
        elif relocation.stage != "cancelled" and merged.get("tomb_id") is not None:
            _follow_tomb(session, actor, relocation, merged, values)
        for key, value in values.items():
            setattr(relocation, key, value)
        if journey:
            relocation.geom = geom
            relocation.origin_lon, relocation.origin_lat = merged.get("origin_lon"), merged.get("origin_lat")
        if relocation.stage != "cancelled":
            relocation.stage = stage_of(merged)
        record_audit(session, actor, "update", relocation, before=before)
        _retire_origin_graves(session, actor, [relocation.id])
    return relocation


def cancel_relocation(store: Store, actor: Actor, relocation_id: int, version: int | None, reason: str) -> Relocation:
    """Cancel a relocation that will not happen: a stage, the record stays."""
    if not (reason or "").strip():
        raise InvalidInput("a reason is required to cancel a relocation", field="reason")
    with unit_of_work(store) as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_write(session, actor, relocation)
        check_version(relocation, version)
        if relocation.accepted_on:
            raise Conflict("an accepted relocation cannot be cancelled", field="stage")
        before = snapshot(relocation)
        relocation.stage = "cancelled"
        relocation.note = ((relocation.note or "") + f"\n取消：{reason.strip()}").strip()
        record_audit(session, actor, "cancel", relocation, before=before, note=reason.strip())
        _release_tomb(session, actor, relocation, reason.strip())
    return relocation


def _release_tomb(session, actor: Actor, relocation: Relocation, reason: str) -> None:
    """A cancelled relocation's tomb that only waited for it (no reburial, no other live relocation) is retired.

    A tomb where the martyr was reburied, or an original grave, stays: the martyr lies there.
    """
    tomb = session.get(Tomb, relocation.tomb_id) if relocation.tomb_id else None
    if tomb is None or tomb.status != "active" or tomb.state != "awaiting_relocation":
        return
    others = session.scalar(select(func.count(Relocation.id)).where(
        Relocation.tomb_id == tomb.id, Relocation.id != relocation.id, Relocation.status == "active",
        Relocation.stage != "cancelled"))
    if others:
        return
    before = snapshot(tomb)
    tomb.status = "retired"
    record_audit(session, actor, "retire", tomb, before=before,
                 note=f"relocation {relocation.code} cancelled: {reason}")


def retire_tomb(store: Store, actor: Actor, tomb_id: int, version: int | None, reason: str) -> Tomb:
    """Retire a tomb that is not (or no longer) the martyr's grave, from the version the user saw, with a reason.

    Admins may retire any tomb; a manager only one at a facility of their counties (a tomb without a facility:
    admins only). A tomb that a live relocation ends at is refused, naming the relocations: the relocation
    says the martyr lies there, so it is cancelled or moved first.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required to retire a tomb", field="reason")
    with unit_of_work(store) as session:
        tomb = load(session, Tomb, tomb_id, "tomb")
        _require_tomb_writer(session, actor, tomb, "retire")
        if tomb.status == "retired":
            raise Conflict(f"tomb {tomb.id} is already retired; nothing was changed", field="status")
        check_version(tomb, version)
        codes = session.scalars(select(Relocation.code).where(
            Relocation.tomb_id == tomb.id, Relocation.status == "active", Relocation.stage != "cancelled")
            .order_by(Relocation.code)).all()
        if codes:
            raise Conflict(f"tomb {tomb.id} is where relocation {', '.join(codes)} ends: cancel or move that "
                           "relocation first; nothing was changed", field="tomb")
        before = snapshot(tomb)
        tomb.status = "retired"
        record_audit(session, actor, "retire", tomb, before=before, note=reason)
    return tomb


def _require_tomb_writer(session, actor: Actor, tomb: Tomb, verb: str) -> Facility | None:
    """Admins, or a manager of the county of the facility the tomb lies at, may retire or restore it; the facility."""
    facility = session.get(Facility, tomb.facility_id) if tomb.facility_id is not None else None
    if actor.can("admin"):
        return facility
    if facility is None:
        raise Forbidden(f"{actor.name} may not {verb} tomb {tomb.id}: it lies at no facility, so no county "
                        f"is given and only an administrator may {verb} it")
    require_county(actor, facility.county_code)
    return facility


def restore_tomb(store: Store, actor: Actor, tomb_id: int, version: int | None, reason: str) -> Tomb:
    """Bring back a tomb retired by mistake, from the version the user saw, with a reason; audited.

    The same people as retire it may (admins; a manager at a facility of their counties). A tomb whose
    plot another active tomb now holds is refused (409) naming the plot and that tomb: one plot holds one
    active tomb, so the other is retired (or the plot corrected) first.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required to restore a tomb", field="reason")
    with _restore_guard(store, tomb_id), unit_of_work(store) as session:
        tomb = load(session, Tomb, tomb_id, "tomb")
        facility = _require_tomb_writer(session, actor, tomb, "restore")
        if tomb.status != "retired":
            raise Conflict(f"tomb {tomb.id} is not retired; nothing was changed", field="status")
        check_version(tomb, version)
        if facility is not None and tomb.plot_number is not None:
            holder = session.scalar(select(Tomb.id).where(
                *_plot_filter(facility.id, tomb.plot_area, tomb.plot_row, tomb.plot_number), Tomb.id != tomb.id))
            if holder is not None:
                raise Conflict(f"plot {_plot_label(facility, tomb.plot_area, tomb.plot_row, tomb.plot_number)} is "
                               f"held by tomb {holder}, and a plot holds one active tomb: retire that tomb or correct "
                               f"the plot first; tomb {tomb.id} was not restored", field="plot_number")
        before = snapshot(tomb)
        tomb.status = "active"
        record_audit(session, actor, "restore", tomb, before=before, note=reason)
    return tomb


@contextmanager
def _restore_guard(store: Store, tomb_id: int):
    """The index refusing a restored tomb at a plot filled meanwhile becomes a Conflict naming the plot."""
    try:
        yield
    except IntegrityError as exc:
        if not plot_taken(exc):
            raise
        with store.session() as session:
            tomb = session.get(Tomb, tomb_id)
            facility = session.get(Facility, tomb.facility_id)
            label = _plot_label(facility, tomb.plot_area, tomb.plot_row, tomb.plot_number)
        raise Conflict(f"plot {label} was given another tomb at the same moment, and a plot holds one active tomb: "
                       f"tomb {tomb_id} was not restored", field="plot_number") from None


@dataclass
class TombBackfill:
    """What ``link_missing_tombs`` did, or would do on a dry run."""

    dry_run: bool
    considered: int = 0  # live relocations with a destination and no tomb
    linked: int = 0  # given the tomb found at their plot
    created: int = 0  # given a new tomb
    refused: list = field(default_factory=list)  # (code, why): their plot holds another martyr's tomb
    without_destination: int = 0  # live relocations with no destination: nowhere to put a tomb
    originals_retired: int = 0  # original graves of reburied martyrs retired (``origin_graves``)

    @property
    def changed(self) -> int:
        return self.linked + self.created + self.originals_retired


def link_missing_tombs(store: Store, actor: Actor, dry_run: bool = True) -> TombBackfill:
    """Give every live relocation with a destination and no tomb its tomb, as ``create_relocation`` would.

    One transaction: on a dry run it is rolled back, so the counts are exactly what ``dry_run=False``
    writes. A relocation whose plot holds another martyr's tomb is left without one and listed in
    ``refused``; a second run changes nothing. Cancelled and retired relocations are left alone.
    Then every live reburied relocation's original grave still active (``origin_graves``: older records
    kept both) is retired with its audit event, counted in ``originals_retired``.
    """
    if not actor.can("admin"):
        raise Forbidden(f"{actor.name} may not link tombs to relocations: an administrator's task")
    report = TombBackfill(dry_run)
    live = (Relocation.status == "active", Relocation.stage != "cancelled", Relocation.tomb_id.is_(None))
    with _plot_guard(store, {}) as plot, unit_of_work(store) as session:
        report.without_destination = session.scalar(select(func.count(Relocation.id)).where(
            *live, Relocation.dest_facility_id.is_(None)))
        missing = session.scalars(select(Relocation).where(*live, Relocation.dest_facility_id.is_not(None))
                                  .order_by(Relocation.id)).all()
        report.considered = len(missing)
        for relocation in missing:
            want = {key: getattr(relocation, key) for key in EDITABLE}
            plot.clear()
            plot.update(want)
            try:
                how, found = _settle_tomb(session, actor, want, relocation.id, relocation.code)
            except Conflict as exc:
                report.refused.append((relocation.code, exc.message))
                continue
            setattr(report, how, getattr(report, how) + 1)
            before = snapshot(relocation)
            for key, value in found.items():
                setattr(relocation, key, value)
            record_audit(session, actor, "update", relocation, before=before, note=f"tomb {how} at its destination")
        session.flush()
        report.originals_retired = _retire_origin_graves(session, actor)
        if dry_run:
            session.rollback()
        elif report.changed:
            record_audit(session, actor, "link_tombs", entity_type="relocations",
                         note=f"{report.linked} relocations linked to the tomb at their plot, {report.created} "
                              f"given a new tomb, {len(report.refused)} refused, {report.originals_retired} "
                              "original graves of reburied martyrs retired")
    return report


def _checked_scan(filename: str, data: bytes | Path, max_bytes: int, max_pixels: int) -> tuple[str, str]:
    """(content type, suffix) of a scan checked like a photo: signature, size, and pixels read from the header."""
    size = len(data) if isinstance(data, (bytes, bytearray)) else Path(data).stat().st_size
    if not size:
        raise InvalidInput("the file is empty", field="file")
    if size > max_bytes:
        raise TooLarge(f"{filename} is larger than {max_bytes / 1024 / 1024:g} MB, the most a scan may be",
                       field="file")
    if isinstance(data, (bytes, bytearray)):
        head = bytes(data[:16])
    else:
        with Path(data).open("rb") as handle:
            head = handle.read(16)
    kind = next((v for magic, v in SCAN_TYPES.items() if head.startswith(magic)), None)
    if kind is None:
        raise InvalidInput(f"{filename} is not a PDF, PNG or JPEG scan", field="file")
    if kind[1] != "pdf":
        try:
            # The pixel count comes from the header before anything is decoded: a picture bomb never is.
            check_image(data, filename, max_bytes=max_bytes, max_pixels=max_pixels)
        except ImageError as exc:
            error = TooLarge if exc.kind in ("pixels", "size") else InvalidInput
            raise error(str(exc), field="file") from None
    return kind


def attach_scan(store: Store, actor: Actor, relocation_id: int, step: str, filename: str, data: bytes | Path,
                folder: str | Path, *, max_bytes: int = MAX_SCAN_BYTES,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> Attachment:
    """Attach a scan (PDF, PNG or JPEG) to one step of a relocation; the file is kept under ``folder``.

    ``data`` is the scan's bytes or the uploaded file holding them; an image scan is checked like a photo.
    """
    if step not in RELOCATION_STEPS:
        raise InvalidInput(f"step {step!r} is not one of {', '.join(RELOCATION_STEPS)}", field="step")
    kind = _checked_scan(filename, data, max_bytes, max_pixels)
    if isinstance(data, (bytes, bytearray)):
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
    else:
        digest, size = _file_sha256(Path(data)), Path(data).stat().st_size
    with unit_of_work(store) as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_write(session, actor, relocation)
        target = Path(folder) / "relocations" / str(relocation_id) / f"{digest}.{kind[1]}"
        # Whole or not at all: a half-written scan left by a full disk would be taken as done by a retry.
        write_whole_file(target, data)
        attachment = Attachment(entity_type="relocations", entity_id=relocation_id, kind=f"scan:{step}",
                                filename=Path(filename or "scan").name, content_type=kind[0], size=size,
                                sha256=digest, storage_path=str(target), public=False, created_by_id=actor.id)
        session.add(attachment)
        record_audit(session, actor, "attach", attachment, note=f"{relocation.code} {step}")
    return attachment


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def get_attachment(store: Store, actor: Actor, relocation_id: int, attachment_id: int) -> Attachment:
    """A relocation's scan, for those who may see its family's consent: its counties' managers, reviewers
    and administrators (planners read relocations without it)."""
    with store.session() as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_read(session, actor, relocation, what="relocation scans")
        if not may_see_personal(actor, relocation_counties(session, relocation)):
            raise Forbidden(f"{actor.name} may not open consent scans: they name the family, and only the "
                            "county's managers, reviewers and administrators see them")
        att = session.get(Attachment, attachment_id)
        if att is None or att.entity_type != "relocations" or att.entity_id != relocation_id:
            raise NotFound(f"no attachment {attachment_id} on relocation {relocation_id}")
        return att


# --- reading -------------------------------------------------------------------------------------------


def file_lacks(relocation) -> list[tuple[str, str, str]]:
    """What a relocation's file lacks, as (key, Chinese, English): the family's consent, the approval number,
    and each step's date not yet recorded (in the order of the steps).

    A cancelled relocation lacks nothing more: its file is closed.
    """
    get = relocation.get if isinstance(relocation, dict) else lambda k: getattr(relocation, k)
    if get("stage") == "cancelled":
        return []
    out = []
    if not get("family_consent"):
        out.append(("family_consent", "家属同意书", "The family's consent"))
    if not (get("approval_number") or "").strip():
        out.append(("approval_number", "批准文号", "The approval number"))
    for step in RELOCATION_STEPS:
        if get(step) is None:
            zh, en = STEP_LABELS[step]
            out.append((step, f"{zh}日期", f"{en} date"))
    return out


def missing_consent_or_approval():
    """The clause of a relocation reburied without the family's consent or an approval number on file."""
    return (Relocation.reburied_on.is_not(None)
            & (Relocation.family_consent.is_not(True) | Relocation.approval_number.is_(None)
               | (func.trim(Relocation.approval_number) == "")))


@dataclass
class RelocationView:
    relocation: Relocation
    facility_name: str | None
    martyr_name: str | None
    attachments: dict
    personal: bool = True  # whether the reader sees the family's consent (names, relation, scans)
    writable: bool = True  # whether the reader may change it
    lacks: list = field(default_factory=list)  # what the file lacks (file_lacks)


def get_relocation(store: Store, relocation_id: int, actor: Actor) -> RelocationView:
    """One relocation with its destination's and martyr's names and its scans by step, if ``actor`` may read it."""
    with store.session() as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_read(session, actor, relocation)
        counties = relocation_counties(session, relocation)
        personal = may_see_personal(actor, counties)
        try:
            require_write(session, actor, relocation)
            writable = True
        except Forbidden:
            writable = False
        facility = session.get(Facility, relocation.dest_facility_id) if relocation.dest_facility_id else None
        martyr = session.get(Martyr, relocation.martyr_id) if relocation.martyr_id else None
        scans = session.scalars(select(Attachment).where(
            Attachment.entity_type == "relocations", Attachment.entity_id == relocation_id,
            Attachment.status == "active").order_by(Attachment.id)).all()
        by_step: dict[str, list] = {}
        for att in scans:
            by_step.setdefault(att.kind.removeprefix("scan:"), []).append(att)
        if not personal:
            session.expunge(relocation)
            relocation.consent_by = relocation.consent_relation = None
            by_step = {}
        return RelocationView(relocation, facility.name if facility else None, martyr.name if martyr else None,
                              by_step, personal, writable, file_lacks(relocation))


def _filtered(query, county=None, batch=None, year=None, stage=None, search=None, actor: Actor | None = None):
    if actor is not None and (scope := scope_clause(actor)) is not None:
        query = query.where(scope)
    if county:
        query = query.where(Relocation.origin_county_code == county)
    if batch:
        query = query.where(Relocation.batch == batch)
    if year:
        query = query.where(Relocation.reburied_on >= date(int(year), 1, 1),
                            Relocation.reburied_on <= date(int(year), 12, 31))
    if stage:
        query = query.where(Relocation.stage == stage)
    if search:
        like = f"%{search}%"
        query = query.where(or_(Relocation.code.like(like), Relocation.origin_place.like(like),
                                Relocation.approval_number.like(like)))
    return query.where(Relocation.status == "active")


def parse_filters(args, store: Store) -> dict:
    """County, batch, year, stage and search from request arguments, checked."""
    county = (args.get("county") or "").strip() or None
    if county:
        divisions.check_county(store, county, "county")
    year = (args.get("year") or "").strip() or None
    if year and not (year.isdigit() and 1900 <= int(year) <= 2100):
        raise InvalidInput(f"year {year!r} is not a year", field="year")
    stage = (args.get("stage") or "").strip() or None
    if stage and stage not in ("planned", "in_progress", "accepted", "cancelled"):
        raise InvalidInput(f"stage {stage!r} is not a stage", field="stage")
    return {"county": county, "batch": (args.get("batch") or "").strip() or None, "year": year, "stage": stage,
            "search": (args.get("q") or "").strip() or None}


def list_relocations(store: Store, filters: dict, page: int = 1, per_page: int = 50, *, actor: Actor):
    """A page of the relocations ``actor`` may read matching the filters, and the total."""
    with store.session() as session:
        base = _filtered(select(Relocation), **filters, actor=actor)
        total = session.scalar(_filtered(select(func.count(Relocation.id)), **filters, actor=actor))
        rows = session.execute(
            base.add_columns(Facility.name).outerjoin(Facility, Facility.id == Relocation.dest_facility_id)
            .order_by(Relocation.id).limit(per_page).offset((max(page, 1) - 1) * per_page)
        ).all()
        return [(r, name) for r, name in rows], total


def filter_choices(store: Store) -> dict:
    """The batches and years there are, for the filter menus."""
    with store.session() as session:
        batches = session.scalars(select(Relocation.batch).where(Relocation.batch.is_not(None)).distinct()
                                  .order_by(Relocation.batch)).all()
        days = session.execute(select(func.min(Relocation.reburied_on), func.max(Relocation.reburied_on))).one()
    years = list(range(days[0].year, days[1].year + 1)) if days[0] and days[1] else []
    return {"counties": {c: v[0] for c, v in divisions.counties(store).items()}, "batches": batches, "years": years}


def destinations(store: Store) -> list[tuple[int, str]]:
    """Facilities a tomb can be moved to (cemeteries and collective burial grounds)."""
    with store.session() as session:
        return session.execute(select(Facility.id, Facility.name).where(
            Facility.category.in_(DESTINATION_CATEGORIES), Facility.status == "active").order_by(Facility.name)).all()


def journeys_geojson(store: Store, filters: dict, *, actor: Actor) -> dict:
    """GeoJSON of the journeys ``actor`` may read (lines, origin to destination) and destinations sized by the
    tombs received."""
    with store.session() as session:
        rows = session.execute(_filtered(
            select(Relocation.id, Relocation.code, Relocation.origin_lon, Relocation.origin_lat,
                   Relocation.dest_facility_id, Relocation.stage, Relocation.reburied_on, Relocation.tomb_id),
            **filters, actor=actor).where(Relocation.origin_lon.is_not(None))).all()
        # A journey ends where the martyr lies: the tomb's own point where the relocation has a tomb.
        tomb_points = {}
        tomb_ids = sorted({r.tomb_id for r in rows if r.tomb_id})
        for start in range(0, len(tomb_ids), 5000):
            for tid, geom in session.execute(select(Tomb.id, Tomb.geom).where(
                    Tomb.id.in_(tomb_ids[start:start + 5000]), Tomb.geom.is_not(None))):
                tomb_points[tid] = (round(geom.x, 6), round(geom.y, 6))
        dest_ids = {r.dest_facility_id for r in rows if r.dest_facility_id}
        facilities = {}
        if dest_ids:
            for fid, name, geom in session.execute(select(Facility.id, Facility.name, Facility.geom)
                                                   .where(Facility.id.in_(dest_ids))):
                facilities[fid] = (name, round(geom.x, 6), round(geom.y, 6))
    features, received = [], {}
    for r in rows:
        dest = facilities.get(r.dest_facility_id)
        if dest is None:
            continue
        received[r.dest_facility_id] = received.get(r.dest_facility_id, 0) + 1
        end = tomb_points.get(r.tomb_id) or (dest[1], dest[2])
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [
            [round(r.origin_lon, 6), round(r.origin_lat, 6)], list(end)]},
            "properties": {"kind": "journey", "id": r.id, "code": r.code, "stage": r.stage}})
    for fid, count in received.items():
        name, x, y = facilities[fid]
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                         "properties": {"kind": "destination", "id": fid, "name": name, "received": count}})
    return {"type": "FeatureCollection", "features": features,
            "journeys": len(features) - len(received), "destinations": len(received)}


def relocation_story(store: Store, martyr_id: int) -> list[dict]:
    """Where a martyr first lay and when they were brought to their resting place, for the public grave page.

    Only public facts: the origin as a place name (township and village, never a family name or a
    consent), the destination facility and plot, and the reburial date; cancelled moves are left out.
    """
    with store.session() as session:
        rows = session.execute(
            select(Relocation, Facility.name).outerjoin(Facility, Facility.id == Relocation.dest_facility_id)
            .where(Relocation.martyr_id == martyr_id, Relocation.status == "active",
                   Relocation.stage != "cancelled").order_by(Relocation.reburied_on, Relocation.id)
        ).all()
    story = []
    known = divisions.current(store)
    for r, facility_name in rows:
        county = known.name(r.origin_county_code) if r.origin_county_code else None
        story.append({
            "origin_place": r.origin_place,
            "origin_county": county,
            "origin_township": r.origin_township,
            "origin_village": r.origin_village,
            "origin_point": public_origin(r.origin_lon, r.origin_lat) if r.origin_lon is not None else None,
            "destination_facility_id": r.dest_facility_id,
            "destination": facility_name,
            "plot": format_plot(r.dest_plot_area, r.dest_plot_row, r.dest_plot_number) or None,
            "brought_on": r.reburied_on,
            "accepted": r.accepted_on is not None,
        })
    return story
