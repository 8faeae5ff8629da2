"""A relocation's rules: its fields and steps, its counties and who may read or write it, and its journey line."""

from __future__ import annotations

from datetime import date

from shapely.geometry import LineString
from sqlalchemy import or_, select

from geodata.checks import GeometryError, check_lonlat
from geodata.origins import public_origin
from geodata.plots import bare
from registry.files import ledger as ledgers
from registry.models import Facility, Martyr, Relocation, Tomb
from registry.models.vocab import FUNDING_SOURCES, RELOCATION_STEPS, STEP_LABELS
from registry.services import divisions
from registry.services.access import (
    readable_counties,
    require_counties,
)
from registry.services.base import (
    Actor,
    InvalidInput,
    optional_date,
)

POINT_METHODS = ("gps", "map", "ledger", "estimate")
DESTINATION_CATEGORIES = ("cemetery", "collective_burial")
EDITABLE = (
    "tomb_id", "martyr_id", "origin_place", "origin_county_code", "origin_township", "origin_village",
    "origin_lon", "origin_lat", "origin_point_method", "dest_facility_id", "dest_plot_area", "dest_plot_row",
    "dest_plot_number", "family_consent", "consent_by", "consent_relation", "approval_number", "approval_body",
    *RELOCATION_STEPS, "batch", "project", "funding_source", "funding_amount", "effects", "note",
)
DEST_FIELDS = ("dest_facility_id", "dest_plot_area", "dest_plot_row", "dest_plot_number")


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


def step_dates(values: dict) -> dict:
    """The values with each step's date (``YYYY-MM-DD`` from a form, or a ``date``) read as a date.

    A step that is not a date is refused naming the step; a blank one is None.
    """
    return {**values, **{step: optional_date(values[step], step, strip=True)
                         for step in RELOCATION_STEPS if step in values}}


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


def check_fields(session, values: dict) -> None:
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


def journey_line(session, values: dict):
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


def ends_at_tomb(session, geom, tomb_id):
    """The journey line ended at the tomb's own point (where the martyr lies), when there is a line and a tomb."""
    if geom is None or tomb_id is None:
        return geom
    tomb = session.get(Tomb, tomb_id)
    if tomb is None or tomb.geom is None:
        return geom
    return LineString([geom.coords[0], (tomb.geom.x, tomb.geom.y)])
