"""Reconciliation of relocations per county and per batch: target, relocated, accepted and the gaps."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, or_, select

from registry.db import Store
from registry.models import Relocation
from registry.models.vocab import LONGYAN_COUNTIES, RELOCATION_STEPS, RELOCATION_TARGETS

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
class Reconciliation:
    counties: list[Line] = field(default_factory=list)
    batches: list[Line] = field(default_factory=list)
    total: Line | None = None


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


def reconcile(store: Store, county: str | None = None) -> Reconciliation:
    """Count per county (against its target) and per batch; cancelled and retired relocations are left out."""
    live = and_(Relocation.status == "active", Relocation.stage != "cancelled")
    if county:
        live = and_(live, Relocation.origin_county_code == county)
    with store.session() as session:
        by_county = {row.origin_county_code: row for row in session.execute(
            select(Relocation.origin_county_code, *_measures()).where(live).group_by(Relocation.origin_county_code))}
        by_batch = session.execute(
            select(Relocation.origin_county_code, Relocation.batch, *_measures()).where(live)
            .group_by(Relocation.origin_county_code, Relocation.batch)
            .order_by(Relocation.origin_county_code, Relocation.batch)).all()
    result = Reconciliation()
    codes = [county] if county else list(LONGYAN_COUNTIES)
    codes += [c for c in by_county if c not in codes and (county is None)]
    for code in codes:
        row = by_county.get(code)
        name = LONGYAN_COUNTIES.get(code or "", (code or "（未注明县区）",))[0]
        line = Line(key=code or "", label=name, county=code, target=RELOCATION_TARGETS.get(code or ""))
        if row is not None:
            for m in COLUMNS[1:]:
                setattr(line, m, int(getattr(row, m)))
        result.counties.append(line)
    for row in by_batch:
        name = LONGYAN_COUNTIES.get(row.origin_county_code or "", ("",))[0]
        line = Line(key=row.batch or "", label=row.batch or "（未注明批次）", county=name)
        for m in COLUMNS[1:]:
            setattr(line, m, int(getattr(row, m)))
        result.batches.append(line)
    total = Line(key="total", label="合计", target=sum(c.target or 0 for c in result.counties) or None)
    for m in COLUMNS[1:]:
        setattr(total, m, sum(getattr(c, m) for c in result.counties))
    result.total = total
    return result


def to_xlsx(result: Reconciliation, english: bool = False) -> bytes:
    """The reconciliation as an XLSX workbook: one sheet per county, one per batch."""
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
        ws.append([LABELS[c][lang] for c in first + measures])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for line in lines:
            head = [line.label] if kind == "counties" else [line.county, line.label]
            values = []
            for m in measures:
                value = getattr(line, m)
                values.append(round(value, 4) if isinstance(value, float) else value)
            ws.append(head + values)
        if kind == "counties":
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
            share_col = len(first) + len(measures)
            for row in ws.iter_rows(min_row=2, min_col=share_col, max_col=share_col):
                row[0].number_format = "0.0%"
        ws.column_dimensions["A"].width = 16
        ws.column_dimensions["B"].width = 22
    note = wb.create_sheet(("说明", "Notes")[lang])
    note.append([("各县区任务数为演示数值，非官方数据。" if not english else
                  "County targets are demo figures, not official ones.")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
