"""Original graves a reburial leaves, and retiring or restoring a tomb by hand."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from geodata.plots import format_plot
from registry.db import Store
from registry.models import Facility, Martyr, Relocation, Tomb
from registry.services.access import (
    may_county,
    require_county,
)
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    check_version,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.relocations.plots import plot_filter, plot_label, plot_taken
from registry.services.relocations.rules import DESTINATION_CATEGORIES, facility_county

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


def retire_origin_graves(session, actor: Actor, relocation_ids=None) -> int:
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



def release_tomb(session, actor: Actor, relocation: Relocation, reason: str) -> None:
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
                *plot_filter(facility.id, tomb.plot_area, tomb.plot_row, tomb.plot_number), Tomb.id != tomb.id))
            if holder is not None:
                raise Conflict(f"plot {plot_label(facility, tomb.plot_area, tomb.plot_row, tomb.plot_number)} is "
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
            label = plot_label(facility, tomb.plot_area, tomb.plot_row, tomb.plot_number)
        raise Conflict(f"plot {label} was given another tomb at the same moment, and a plot holds one active tomb: "
                       f"tomb {tomb_id} was not restored", field="plot_number") from None
