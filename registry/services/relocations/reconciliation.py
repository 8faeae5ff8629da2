"""Reconciliation of relocations per county and per batch: target, relocated, accepted and the gaps.

It also lists the known martyrs who still have more than one active tomb on the registry (a grave in a cemetery
that a reburial elsewhere did not retire), for staff to check.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, or_, select

from geodata.plots import format_plot
from geodata.sheets import append_row
from registry.db import Store
from registry.models import Facility, Martyr, Relocation, Tomb
from registry.models.vocab import RELOCATION_STEPS, TOMB_STATE_LABELS
from registry.services import divisions
from registry.services.access import readable_counties, require_counties
from registry.services.base import Actor
from registry.services.relocations import missing_consent_or_approval

COLUMNS = ("target", "relocated", "accepted", "steps_missing", "without_martyr", "without_consent")
LABELS = {
    "county": ("县（市、区）", "County"),
    "batch": ("批次", "Batch"),
    "target": ("任务数", "Target"),
    "relocated": ("已迁移", "Relocated"),
    "accepted": ("已验收", "Accepted"),
    "steps_missing": ("缺少步骤", "Steps missing"),
    "without_martyr": ("未关联烈士", "Without a martyr"),
    "without_consent": ("无家属同意", "Without consent"),
    "share": ("完成率", "Share of target"),
}
# The sheet of martyrs with more than one grave: its columns, in Chinese and English.
GRAVE_LABELS = (("烈士编号", "Martyr id"), ("烈士", "Martyr"), ("墓位编号", "Tomb id"), ("设施", "Facility"),
                ("墓位", "Plot"), ("墓位状态", "Tomb state"),
                ("迁入该墓位的迁移记录", "Relocations ending at the tomb"))
# The page lists this many martyrs with more than one grave (the XLSX lists them all).
GRAVES_ON_PAGE = 200


@dataclass
class Line:
    """One line of the reconciliation."""

    key: str
    label: str
    county: str | None = None
    target: int | None = None
    relocated: int = 0
    accepted: int = 0
    steps_missing: int = 0
    without_martyr: int = 0
    without_consent: int = 0

    @property
    def share(self) -> float | None:
        return self.relocated / self.target if self.target else None


@dataclass
class TombLine:
    """One active tomb of a martyr with more than one: where it is, its state, and the relocations ending at it.

    ``version`` is the tomb's, for the form that retires it from the page.
    """

    id: int
    facility: str | None
    plot: str
    state: str
    version: int = 0
    relocations: list[str] = field(default_factory=list)
    martyr: str | None = None  # (the retired list) whose tomb it is


@dataclass
class MultiGrave:
    """A known, active martyr with two or more active tombs."""

    martyr_id: int
    name: str
    tombs: list[TombLine] = field(default_factory=list)


@dataclass
class Lacking:
    """A relocation reburied without the family's consent or an approval number on file."""

    id: int
    code: str  # its ledger number
    consent: bool  # whether the consent is missing
    approval: bool  # whether the approval number is missing


@dataclass
class LackingCounty:
    """The relocations of one county (the one they left) missing consent or approval."""

    county: str | None
    label: str
    relocations: list[Lacking] = field(default_factory=list)


@dataclass
class Reconciliation:
    counties: list[Line] = field(default_factory=list)
    # Reburied relocations missing consent or approval, per county, with their ledger numbers.
    missing: list[LackingCounty] = field(default_factory=list)
    # The latest retired tombs (of the reader's counties), each restorable when retired by mistake.
    retired: list[TombLine] = field(default_factory=list)
    batches: list[Line] = field(default_factory=list)
    total: Line | None = None
    # Martyrs with more than one active tomb (up to the limit asked for) and how many there are in all.
    multi_graves: list[MultiGrave] = field(default_factory=list)
    multi_graves_total: int = 0

    @property
    def multi_graves_more(self) -> int:
        """How many martyrs with more than one grave are left off this list."""
        return self.multi_graves_total - len(self.multi_graves)


def _gap():
    """A later step is dated while an earlier one is not: a step is missing from the record."""
    conditions = []
    for i, step in enumerate(RELOCATION_STEPS[:-1]):
        later = [getattr(Relocation, s).is_not(None) for s in RELOCATION_STEPS[i + 1:]]
        conditions.append(and_(getattr(Relocation, step).is_(None), or_(*later)))
    return or_(*conditions)


def _measures():
    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return (
        count(Relocation.reburied_on.is_not(None)).label("relocated"),
        count(Relocation.accepted_on.is_not(None)).label("accepted"),
        count(_gap()).label("steps_missing"),
        count(Relocation.martyr_id.is_(None)).label("without_martyr"),
        count(Relocation.family_consent.is_(False)).label("without_consent"),
    )


def _plot(area: str | None, row: str | None, number: str | None) -> str:
    return format_plot(area, row, number)


def multi_graves(session, county: str | None = None, limit: int | None = None,
                 counties: tuple[str, ...] | None = None) -> tuple[list[MultiGrave], int]:
    """Known, active martyrs with two or more active tombs (by id), at most ``limit``; and how many.

    With ``county`` (or ``counties``), a martyr is listed when one of their active tombs lies at a facility of
    that county (one of those counties).
    Two statements: the martyrs (grouped, having more than one tomb), then the tombs of the first ``limit`` of
    them with their facility and the codes of the live relocations ending at each.
    """
    grouped = (
        select(Martyr.id, Martyr.name)
        .join(Tomb, Tomb.martyr_id == Martyr.id)
        .where(Tomb.status == "active", Martyr.status == "active", Martyr.is_unknown.is_(False))
        .group_by(Martyr.id, Martyr.name)
        .having(func.count(Tomb.id) > 1)
    )
    if county:
        counties = (county,)
    if counties is not None:
        grouped = grouped.outerjoin(Facility, Facility.id == Tomb.facility_id).having(
            func.sum(case((Facility.county_code.in_(counties), 1), else_=0)) > 0)
    grouped = grouped.order_by(Martyr.id)
    martyrs = session.execute(grouped).all()
    shown = martyrs if limit is None else martyrs[:limit]
    found = {row.id: MultiGrave(martyr_id=row.id, name=row.name) for row in shown}
    if not found:
        return [], len(martyrs)
    chosen = (grouped if limit is None else grouped.limit(limit)).subquery()
    live_end = and_(Relocation.tomb_id == Tomb.id, Relocation.status == "active", Relocation.stage != "cancelled")
    tombs = session.execute(
        select(Tomb.martyr_id, Tomb.id, Tomb.version, Tomb.state, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number,
               Facility.name.label("facility"), Relocation.code)
        .join(chosen, chosen.c.id == Tomb.martyr_id)
        .outerjoin(Facility, Facility.id == Tomb.facility_id)
        .outerjoin(Relocation, live_end)
        .where(Tomb.status == "active")
        .order_by(Tomb.martyr_id, Tomb.id, Relocation.code))
    for row in tombs:
        graves = found[row.martyr_id].tombs
        if not graves or graves[-1].id != row.id:
            graves.append(TombLine(id=row.id, facility=row.facility, state=row.state, version=row.version,
                                   plot=_plot(row.plot_area, row.plot_row, row.plot_number)))
        if row.code is not None:
            graves[-1].relocations.append(row.code)
    return list(found.values()), len(martyrs)


RETIRED_ON_PAGE = 50


def retired_tombs(session, counties=None, limit: int = RETIRED_ON_PAGE) -> list[TombLine]:
    """The latest retired tombs at facilities of ``counties`` (None: all; tombs without a facility too)."""
    query = (select(Tomb.id, Tomb.version, Tomb.state, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number,
                    Facility.name.label("facility"), Martyr.name.label("martyr"))
             .outerjoin(Facility, Facility.id == Tomb.facility_id).outerjoin(Martyr, Martyr.id == Tomb.martyr_id)
             .where(Tomb.status == "retired").order_by(Tomb.updated_at.desc(), Tomb.id.desc()).limit(limit))
    if counties is not None:
        query = query.where(Facility.county_code.in_(list(counties)))
    return [TombLine(id=r.id, facility=r.facility, plot=_plot(r.plot_area, r.plot_row, r.plot_number),
                     state=r.state, version=r.version, martyr=r.martyr)
            for r in session.execute(query)]


def reconcile(store: Store, county: str | None = None, graves_limit: int | None = None, *,
              actor: Actor | None = None, city: str | None = None) -> Reconciliation:
    """Count per county (against its target) and per batch; cancelled and retired relocations are left out.

    The result also lists the martyrs with more than one active tomb, at most ``graves_limit`` of them.
    A manager sees their own counties only (as the counties that relocations left, and whose facilities
    hold the graves); asking for another county is refused (403). With ``city`` (a city's code) only that
    city's counties are counted: each city's reconciliation on its own.
    """
    live, scope = _live(store, county, actor, city)
    with store.session() as session:
        by_county = {row.origin_county_code: row for row in session.execute(
            select(Relocation.origin_county_code, *_measures()).where(live).group_by(Relocation.origin_county_code))}
        by_batch = session.execute(
            select(Relocation.origin_county_code, Relocation.batch, *_measures()).where(live)
            .group_by(Relocation.origin_county_code, Relocation.batch)
            .order_by(Relocation.origin_county_code, Relocation.batch)).all()
        graves, graves_total = multi_graves(session, county, graves_limit, None if county else scope)
        known = divisions.current(session)
        lacking = session.execute(
            select(Relocation.id, Relocation.code, Relocation.origin_county_code, Relocation.family_consent,
                   Relocation.approval_number).where(live, missing_consent_or_approval())
            .order_by(Relocation.origin_county_code, Relocation.code)).all()
        retired = retired_tombs(session, [county] if county else scope)
    result = Reconciliation(multi_graves=graves, multi_graves_total=graves_total, retired=retired)
    result.missing = _missing_by_county(lacking, known)
    counties = known.counties()
    codes = [county] if county else [c for c in counties if scope is None or c in scope]
    codes += [c for c in by_county if c not in codes and (county is None)]
    for code in codes:
        row = by_county.get(code)
        division = known.by_code.get(code or "")
        line = Line(key=code or "", label=counties.get(code or "", (code or "（未注明县区）",))[0], county=code,
                    target=division.relocation_target if division is not None else None)
        result.counties.append(_counted(line, row))
    for row in by_batch:
        name = counties.get(row.origin_county_code or "", ("",))[0]
        line = Line(key=row.batch or "", label=row.batch or "（未注明批次）", county=name)
        result.batches.append(_counted(line, row))
    total = Line(key="total", label="合计", target=sum(c.target or 0 for c in result.counties) or None)
    for m in COLUMNS[1:]:
        setattr(total, m, sum(getattr(c, m) for c in result.counties))
    result.total = total
    return result


def _live(store: Store, county: str | None, actor: Actor | None, city: str | None) -> tuple:
    """The filter of the relocations counted (active, not cancelled, in the county or the reader's counties),
    and the counties the reader is limited to (None: every county)."""
    live = and_(Relocation.status == "active", Relocation.stage != "cancelled")
    # No actor: a command or a test working for the whole registry.
    scope = readable_counties(actor, planners=True) if actor is not None else None
    if city:
        in_city = divisions.current(store).check_city(city)
        scope = in_city if scope is None else tuple(c for c in scope if c in in_city)
    if county:
        if actor is not None:
            require_counties(actor, (county,), write=False, planners=True)
        live = and_(live, Relocation.origin_county_code == county)
    elif scope is not None:
        live = and_(live, Relocation.origin_county_code.in_(scope))
    return live, scope


def _missing_by_county(lacking, known) -> list:
    """The relocations without consent or approval on file, county by county, in the order given."""
    by_county: dict = {}
    for row in lacking:
        code = row.origin_county_code
        if code not in by_county:
            by_county[code] = LackingCounty(code, known.name(code, code or "（未注明县区）"))
        by_county[code].relocations.append(Lacking(
            row.id, row.code, not row.family_consent, not (row.approval_number or "").strip()))
    return list(by_county.values())


def _counted(line: Line, row) -> Line:
    """The line with the measures of its grouped row (none counted when the row is None)."""
    if row is not None:
        for m in COLUMNS[1:]:
            setattr(line, m, int(getattr(row, m)))
    return line


def to_xlsx(result: Reconciliation, english: bool = False) -> bytes:
    """The reconciliation as an XLSX workbook: one sheet per county, one per batch, one of martyrs with graves."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    lang = 1 if english else 0
    wb = Workbook()
    sheets = ((wb.active, "counties", result.counties + [result.total]), (wb.create_sheet(), "batches", result.batches))
    for ws, kind, lines in sheets:
        ws.title = ("按县区", "By county")[lang] if kind == "counties" else ("按批次", "By batch")[lang]
        first = ["county"] if kind == "counties" else ["county", "batch"]
        measures = list(COLUMNS) + (["share"] if kind == "counties" else [])
        if kind == "batches":
            measures.remove("target")
        append_row(ws, [LABELS[c][lang] for c in first + measures])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for line in lines:
            head = [line.label] if kind == "counties" else [line.county, line.label]
            values = []
            for m in measures:
                value = getattr(line, m)
                values.append(round(value, 4) if isinstance(value, float) else value)
            append_row(ws, head + values)
        if kind == "counties":
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
            share_col = len(first) + len(measures)
            for row in ws.iter_rows(min_row=2, min_col=share_col, max_col=share_col):
                row[0].number_format = "0.0%"
        ws.column_dimensions["A"].width = 16
        ws.column_dimensions["B"].width = 22
    _graves_sheet(wb.create_sheet(), result, lang)
    _missing_sheet(wb.create_sheet(), result, lang)
    note = wb.create_sheet(("说明", "Notes")[lang])
    append_row(note, [("各县区任务数为演示数值，非官方数据。" if not english else
                  "County targets are demo figures, not official ones.")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


MISSING_LABELS = (("县（市、区）", "County"), ("台账编号", "Ledger number"), ("缺家属同意", "Consent missing"),
                  ("缺批准文号", "Approval missing"))


def _missing_sheet(ws, result: Reconciliation, lang: int) -> None:
    """One row per reburied relocation missing consent or approval, by county, with its ledger number."""
    from openpyxl.styles import Font

    ws.title = ("缺少同意或批准", "Missing consent or approval")[lang]
    append_row(ws, [label[lang] for label in MISSING_LABELS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    yes = ("缺", "missing")[lang]
    for county in result.missing:
        for r in county.relocations:
            append_row(ws, [county.label, r.code, yes if r.consent else None, yes if r.approval else None])
    for column, width in zip("ABCD", (16, 20, 14, 14), strict=True):
        ws.column_dimensions[column].width = width


def _graves_sheet(ws, result: Reconciliation, lang: int) -> None:
    """One row per active tomb of each martyr with more than one (all of them, whatever the page shows)."""
    from openpyxl.styles import Font

    ws.title = ("多处墓位烈士", "Martyrs with several graves")[lang]
    append_row(ws, [label[lang] for label in GRAVE_LABELS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for martyr in result.multi_graves:
        for tomb in martyr.tombs:
            state = TOMB_STATE_LABELS.get(tomb.state, (tomb.state, tomb.state))[lang]
            codes = ("、", ", ")[lang].join(tomb.relocations)
            append_row(ws, [martyr.martyr_id, martyr.name, tomb.id, tomb.facility, tomb.plot or None, state,
                            codes or None])
    for column, width in zip("ABCDEFG", (10, 14, 10, 30, 18, 14, 28), strict=True):
        ws.column_dimensions[column].width = width
