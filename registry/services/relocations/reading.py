"""Reading relocations: one with its scans, filtered lists, the journeys map and the public grave story."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, or_, select

from geodata.origins import public_origin
from geodata.plots import format_plot
from registry.db import Store
from registry.models import Attachment, Facility, Martyr, Relocation, Tomb
from registry.models.vocab import RELOCATION_STEPS, STEP_LABELS
from registry.services import divisions
from registry.services.access import (
    may_see_personal,
)
from registry.services.base import (
    Actor,
    Forbidden,
    InvalidInput,
    load,
)
from registry.services.relocations.rules import (
    DESTINATION_CATEGORIES,
    relocation_counties,
    require_read,
    require_write,
    scope_clause,
)

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
