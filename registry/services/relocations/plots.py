"""The tomb at a relocation's destination: found at its plot, moved there or made, one active tomb a plot."""

from __future__ import annotations

from contextlib import contextmanager

from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from geodata.checks import GeometryError, check_lonlat
from geodata.plots import format_plot
from registry.db import Store
from registry.models import Facility, Martyr, Relocation, Tomb
from registry.services.base import (
    Actor,
    Conflict,
    InvalidInput,
    record_audit,
    snapshot,
)
from registry.services.provenance import stamp_changes
from registry.services.relocations.rules import DEST_FIELDS

# --- the tomb at the destination ------------------------------------------------------------------------
# Every relocation with a destination ends at a tomb there (relocation.tomb_id), as the ledger import
# makes them: the tomb already at the destination plot when the registry has one, else a new tomb.


def dest_point(values: dict) -> tuple[float, float] | None:
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


def plot_label(facility: Facility, area, row, number) -> str:
    return " ".join(p for p in (facility.name, format_plot(area, row, number)) if p)


# The store's own guard (models.martyr, migration 0011): one active tomb per facility, area, row and number, a
# missing area or row counting as the empty one. The checks below find an occupant first; the index catches
# the writer that loses a race for an empty plot.
PLOT_INDEX = "ux_tombs_active_plot"


def plot_filter(facility_id: int, area, row, number) -> tuple:
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
        label = (plot_label(facility, *(values.get(key) for key in DEST_FIELDS[1:])) if facility is not None
                 else values.get("dest_plot_number"))
    return Conflict(f"plot {label} was given a tomb by someone else at the same moment, and a plot holds one active "
                    "tomb: nothing was saved; reload to see that tomb, then check the plot", field="dest_plot_number")


@contextmanager
def plot_guard(store: Store, plot: dict):
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


def _touch_tomb(session, actor: Actor, tomb: Tomb, note: str, code: str, facility: Facility | None = None,
                **changes) -> bool:
    """A versioned update of a tomb with its audit event (before and after), when something changes.

    The parts that change take their provenance from relocation ``code`` (``_stamp_from_relocation``).
    """
    changes = {k: v for k, v in changes.items() if getattr(tomb, k) != v}
    if "geom" in changes and changes["geom"].equals(tomb.geom):
        del changes["geom"]
    if not changes:
        return False
    before = snapshot(tomb)
    for key, value in changes.items():
        setattr(tomb, key, value)
    _stamp_from_relocation(tomb, set(changes), code, facility)
    record_audit(session, actor, "update", tomb, before=before, note=note)
    return True


def _stamp_from_relocation(tomb: Tomb, changed: set, code: str, facility: Facility | None) -> None:
    """A tomb's parts changed by a relocation come from that relocation's record, as staff entered it.

    A tomb placed at its facility's point (no plot point given, ``facility``) takes the facility's position
    provenance instead: its point is the facility's, known as well as that is known.
    """
    stamp_changes(tomb, changed, "staff_edit", ref=f"relocation {code}")
    if facility is not None and "geom" in changed:
        for column in ("position_source", "position_source_ref", "position_checked_on"):
            setattr(tomb, column, getattr(facility, column))


def settle_tomb(session, actor: Actor, want: dict, relocation_id: int | None, code: str,
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
    label = plot_label(facility, area, row, number)
    note = f"relocation {code}: destination {label}"
    current = session.get(Tomb, want["tomb_id"]) if want.get("tomb_id") else None
    occupant = None
    if number:
        query = select(Tomb).where(*plot_filter(facility.id, area, row, number))
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
        _touch_tomb(session, actor, occupant, note, code, **changes)
        found = {"tomb_id": occupant.id}
        if martyr_id is None and occupant.martyr_id is not None:
            found["martyr_id"] = occupant.martyr_id
        return "linked", found
    x, y = point if point is not None else (facility.geom.x, facility.geom.y)
    state = "relocated" if reburied else "awaiting_relocation"
    if own:
        moved = _touch_tomb(session, actor, current, note, code, None if point else facility,
                            facility_id=facility.id, plot_area=area, plot_row=row,
                            plot_number=number, geom=Point(x, y), state=state,
                            martyr_id=current.martyr_id or martyr_id)
        return ("moved" if moved else "unchanged"), {}
    tomb = Tomb(martyr_id=martyr_id, facility_id=facility.id, plot_area=area, plot_row=row, plot_number=number,
                state=state, geom=Point(x, y))
    _stamp_from_relocation(tomb, {"geom", "facility_id"}, code, None if point else facility)
    session.add(tomb)
    record_audit(session, actor, "create", tomb, note=note)
    return "created", {"tomb_id": tomb.id}


def follow_tomb(session, actor: Actor, relocation: Relocation, merged: dict, values: dict) -> None:
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
    _touch_tomb(session, actor, tomb, f"relocation {relocation.code}", relocation.code, **changes)
