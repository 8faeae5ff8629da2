"""Recording a relocation: create, edit step by step, cancel; and giving old records their tombs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from registry.db import Store
from registry.models import Relocation
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
from registry.services.relocations.graves import release_tomb, retire_origin_graves
from registry.services.relocations.plots import dest_point, follow_tomb, plot_guard, settle_tomb
from registry.services.relocations.rules import (
    DEST_FIELDS,
    EDITABLE,
    check_fields,
    check_steps,
    ends_at_tomb,
    journey_line,
    require_write,
    stage_of,
    step_dates,
)


def create_relocation(store: Store, actor: Actor, values: dict) -> Relocation:
    """Record a relocation; its steps must be in order and an acceptance needs consent and approval.

    With a destination it ends at a tomb there: the one at its plot, else a new one (``dest_lon`` and
    ``dest_lat`` may give the plot's point; else the facility's).
    """
    values = {k: v for k, v in step_dates(values).items() if v is not None}
    point = dest_point(values)
    if not (values.get("origin_place") or values.get("origin_lon") is not None):
        raise InvalidInput("the origin is required: a place name or a point", field="origin_place")
    values.setdefault("family_consent", False)
    check_steps(values)
    with plot_guard(store, values), unit_of_work(store) as session:
        check_fields(session, values)
        require_write(session, actor, values)
        code = (values.pop("code", None) or "").strip()
        if code and session.scalar(select(Relocation.id).where(Relocation.code == code)) is not None:
            raise Conflict(f"code {code!r} is already used by another relocation", field="code")
        if not code:
            n = (session.scalar(select(func.max(Relocation.id))) or 0) + 1
            code = f"{values.get('origin_county_code') or 'LY'}-N{n:05d}"
        geom = journey_line(session, values)
        if values.get("dest_facility_id") is not None:
            values.update(settle_tomb(session, actor, values, None, code, point)[1])
            geom = ends_at_tomb(session, geom, values.get("tomb_id"))
        relocation = Relocation(code=code, geom=geom, stage=stage_of(values), **values)
        session.add(relocation)
        record_audit(session, actor, "create", relocation)
        retire_origin_graves(session, actor, [relocation.id])
    return relocation


def update_relocation(store: Store, actor: Actor, relocation_id: int, version: int | None,
                      values: dict) -> Relocation:
    """Edit a relocation (record a step, the consent, the approval…) from the version the user saw.

    A new destination facility or plot moves the relocation's tomb there (or links the tomb at that plot,
    or makes one); a plot holding another martyr's tomb is a Conflict and nothing is saved.
    """
    values = step_dates(values)
    point = dest_point(values)
    if "code" in values:
        raise InvalidInput("a relocation's code does not change", field="code")
    with plot_guard(store, {}) as plot, unit_of_work(store) as session:
        relocation = load(session, Relocation, relocation_id, "relocation")
        require_write(session, actor, relocation)
        check_version(relocation, version)
        check_fields(session, values)
        merged = {key: getattr(relocation, key) for key in EDITABLE}
        merged.update(values)
        require_write(session, actor, merged)
        plot.update(merged)
        check_steps(merged)
        before = snapshot(relocation)
        # Lookups first, while the relocation is unchanged: a query's autoflush would otherwise write it
        # half-edited, and the rest of the edit as a second version.
        journey = bool({"origin_lon", "origin_lat", "dest_facility_id"} & set(values))
        geom = journey_line(session, merged) if journey else None
        moved = any(key in values and values[key] != getattr(relocation, key) for key in DEST_FIELDS)
        if relocation.stage != "cancelled" and merged.get("dest_facility_id") is not None and (
                moved or point is not None):
            values.update(settle_tomb(session, actor, merged, relocation.id, relocation.code, point)[1])
            # The tomb may stand elsewhere now: the line follows it to its own point.
            moved_line = ends_at_tomb(session, geom if journey else relocation.geom,
                                       values.get("tomb_id", relocation.tomb_id))
            if journey:
                geom = moved_line
            elif moved_line is not None:
                values["geom"] = moved_line
        elif relocation.stage != "cancelled" and merged.get("tomb_id") is not None:
            follow_tomb(session, actor, relocation, merged, values)
        for key, value in values.items():
            setattr(relocation, key, value)
        if journey:
            relocation.geom = geom
            relocation.origin_lon, relocation.origin_lat = merged.get("origin_lon"), merged.get("origin_lat")
        if relocation.stage != "cancelled":
            relocation.stage = stage_of(merged)
        record_audit(session, actor, "update", relocation, before=before)
        retire_origin_graves(session, actor, [relocation.id])
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
        release_tomb(session, actor, relocation, reason.strip())
    return relocation



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
    with plot_guard(store, {}) as plot, unit_of_work(store) as session:
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
                how, found = settle_tomb(session, actor, want, relocation.id, relocation.code)
            except Conflict as exc:
                report.refused.append((relocation.code, exc.message))
                continue
            setattr(report, how, getattr(report, how) + 1)
            before = snapshot(relocation)
            for key, value in found.items():
                setattr(relocation, key, value)
            record_audit(session, actor, "update", relocation, before=before, note=f"tomb {how} at its destination")
        session.flush()
        report.originals_retired = retire_origin_graves(session, actor)
        if dry_run:
            session.rollback()
        elif report.changed:
            record_audit(session, actor, "link_tombs", entity_type="relocations",
                         note=f"{report.linked} relocations linked to the tomb at their plot, {report.created} "
                              f"given a new tomb, {len(report.refused)} refused, {report.originals_retired} "
                              "original graves of reburied martyrs retired")
    return report
