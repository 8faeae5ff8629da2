"""The archive (一处一档) of a facility, and the township (一镇一册) and county ledgers as XLSX."""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import or_, select

from geodata.plots import format_plot
from geodata.sheets import append_row
from registry.db import Store
from registry.models import (
    Attachment,
    AuditEvent,
    Facility,
    FacilityName,
    Inspection,
    MaintenanceTask,
    Relocation,
)
from registry.models.vocab import (
    CATEGORIES,
    CHECK_LABELS,
    CHECK_STATES,
    CONDITION_LABELS,
    CONDITIONS,
    DUE_STATUS_LABELS,
    FUNDING_SOURCES,
    LEVELS,
    RISK_GRADES,
    SIX_ONES,
    TASK_PRIORITIES,
    TASK_STATE_LABELS,
    TIER_LABELS,
    TRENDS,
)
from registry.services import divisions
from registry.services.access import require_county
from registry.services.base import InvalidInput, NotFound, ServiceError, load
from registry.services.manage.due import (
    ACTIVE_TASK_STATES,
    Cadence,
    FacilityDue,
    priority_for,
    statuses,
    trend_for,
)
from registry.solar_terms import BEIJING


def _zh(table: dict, key, default: str = "") -> str:
    """The Chinese label of ``key`` in a (zh, en) table (the archive is in Chinese), else ``default``."""
    pair = table.get(key)
    return pair[0] if pair else default


@dataclass
class Archive:
    """Everything recorded about one facility, oldest history last."""

    facility: Facility
    names: list[FacilityName]
    inspections: list[Inspection]
    tasks: list[MaintenanceTask]
    photos: dict[tuple[str, int], list[Attachment]]
    relocations: list[Relocation]
    events: list[AuditEvent]
    priority: str | None
    trend: str | None
    timeline: list[tuple[datetime, list[Attachment]]] = field(default_factory=list)


def facility_archive(store: Store, actor, facility_id: int) -> Archive:
    """The archive of one facility for staff of its county: inspections, work orders, photos, moves, names, changes."""
    with store.session() as session:
        facility = load(session, Facility, facility_id, "facility")
        require_county(actor, facility.county_code, write=False)
        names = list(session.scalars(select(FacilityName).where(FacilityName.facility_id == facility_id)
                                     .order_by(FacilityName.id)))
        inspections = list(session.scalars(select(Inspection).where(Inspection.facility_id == facility_id)
                                           .order_by(Inspection.inspected_at.desc())))
        tasks = list(session.scalars(select(MaintenanceTask).where(MaintenanceTask.facility_id == facility_id)
                                     .order_by(MaintenanceTask.id.desc())))
        relocations = list(session.scalars(select(Relocation).where(Relocation.dest_facility_id == facility_id)
                                           .order_by(Relocation.code)))
        keys = [("inspections", i.id) for i in inspections] + [("maintenance_tasks", t.id) for t in tasks]
        photos: dict[tuple[str, int], list[Attachment]] = {}
        clauses = [(Attachment.entity_type == "facilities") & (Attachment.entity_id == facility_id)]
        for kind in ("inspections", "maintenance_tasks"):
            ids = [i for k, i in keys if k == kind]
            if ids:
                clauses.append((Attachment.entity_type == kind) & Attachment.entity_id.in_(ids))
        for attachment in session.scalars(select(Attachment).where(or_(*clauses), Attachment.status == "active")
                                          .order_by(Attachment.id)):
            photos.setdefault((attachment.entity_type, attachment.entity_id), []).append(attachment)
        trail = [(AuditEvent.entity_type == "facilities") & (AuditEvent.entity_id == facility_id)]
        for kind in ("inspections", "maintenance_tasks"):
            ids = [i for k, i in keys if k == kind]
            if ids:
                trail.append((AuditEvent.entity_type == kind) & AuditEvent.entity_id.in_(ids))
        events = list(session.scalars(select(AuditEvent).where(or_(*trail)).order_by(AuditEvent.id.desc())))
    active = sum(1 for t in tasks if t.state in ACTIVE_TASK_STATES)
    latest = inspections[0].condition if inspections else None
    timeline = []
    for inspection in reversed(inspections):
        shots = photos.get(("inspections", inspection.id))
        if shots:
            timeline.append((inspection.inspected_at, shots))
    return Archive(facility, names, inspections, tasks, photos, relocations, events,
                   priority_for(latest, active), trend_for([i.condition for i in reversed(inspections)]),
                   timeline)


LEDGER_HEADERS = (
    ("序号", 6), ("设施编号", 16), ("设施名称", 28), ("类别", 12), ("保护级别", 10), ("县（市、区）", 10),
    ("乡镇（街道）", 12), ("村（社区）", 12), ("管理单位", 20), ("管护人", 10), ("联系电话", 14),
    ("保护标志", 8), ("不动产登记", 10),
    *((label, 12) for label, _en in SIX_ONES.values()),
    ("最近巡查时间", 18), ("最近巡查级别", 12), ("现状", 8), ("巡查状态", 10), ("下次应巡查", 12),
    ("风险等级", 8), ("趋势", 8), ("未结维修任务", 12), ("经度", 12), ("纬度", 12), ("位置为概略", 10),
)


def _local(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return when.astimezone(BEIJING).strftime(fmt) if when else ""


def ledger_rows(store: Store, actor, county: str, township: str | None = None,
                cadence: Cadence | None = None, now: datetime | None = None) -> list[list]:
    """The ledger's rows (Chinese labels), one per active facility of the county or township."""
    COUNTIES = divisions.counties(store)  # noqa: N806 - read once, used like the constant it replaces
    if county not in COUNTIES:
        raise InvalidInput(divisions.current(store).unknown(county), field="county")
    require_county(actor, county, write=False)
    cadence = cadence or Cadence()
    due = {d.id: d for d in statuses(store, actor, cadence, county=county, now=now)}
    query = select(Facility).where(Facility.county_code == county, Facility.status == "active")
    if township:
        query = query.where(Facility.township == township)
    with store.session() as session:
        facilities = list(session.scalars(query.order_by(Facility.township, Facility.code)))
        if not facilities:
            if township:
                raise NotFound(f"no facility in township {township!r} of county {county}")
            return []
        ids = [f.id for f in facilities]
        history: dict[int, list[tuple[datetime, str, str]]] = {}
        for fid, when, condition, tier in session.execute(
                select(Inspection.facility_id, Inspection.inspected_at, Inspection.condition, Inspection.tier)
                .where(Inspection.facility_id.in_(ids), Inspection.status == "active")
                .order_by(Inspection.facility_id, Inspection.inspected_at)):
            history.setdefault(fid, []).append((when, condition, tier))
    rows = []
    for number, f in enumerate(facilities, start=1):
        d = due.get(f.id)
        past = history.get(f.id, [])
        last = past[-1] if past else None
        rows.append([
            number, f.code, f.name, CATEGORIES.get(f.category, (f.category,))[0],
            LEVELS.get(f.level, (f.level,))[0], COUNTIES[f.county_code][0], f.township or "",
            f.village or "", f.managing_unit or f.protection_unit or "", f.caretaker or "", f.caretaker_phone or "",
            "有" if f.sign_present else "无", "已登记" if f.land_title_registered else "未登记",
            *(_zh(CHECK_LABELS, getattr(f, f"std_{k}"), "未检查") for k in SIX_ONES),
            _local(last[0]) if last else "未巡查", TIER_LABELS[last[2]][0] if last else "",
            _zh(CONDITION_LABELS, last[1]) if last else "",
            DUE_STATUS_LABELS[d.status][0] if d else "", _local(d.next_due, "%Y-%m-%d") if d else "",
            (d.priority or "") if d else "", TRENDS.get(trend_for([c for _w, c, _t in past]), ("",))[0],
            d.active_tasks if d else 0, round(f.geom.x, 6), round(f.geom.y, 6),
            "是" if f.position_approximate else "否",
        ])
    return rows


def ledger_xlsx(store: Store, actor, county: str, township: str | None = None,
                cadence: Cadence | None = None, demo: bool = False) -> bytes:
    """The county ledger, or a township's book (一镇一册), as an XLSX workbook with Chinese headers."""
    rows = ledger_rows(store, actor, county, township, cadence)
    county_name = divisions.cached_name(county)
    title = f"{county_name}{township or ''}烈士纪念设施台账"
    book = Workbook()
    sheet = book.active
    sheet.title = (township or county_name)[:31]
    append_row(sheet, [title])
    sheet["A1"].font = Font(bold=True, size=14)
    generated = datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    note = f"生成时间：{generated}（北京时间）；共 {len(rows)} 处"
    if demo:
        note += "；示例数据，位置为概略，不代表真实信息"
    append_row(sheet, [note])
    append_row(sheet, [h for h, _w in LEDGER_HEADERS])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        append_row(sheet, row)
    for index, (_h, width) in enumerate(LEDGER_HEADERS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "D4"
    if rows:
        sheet.auto_filter.ref = f"A3:{get_column_letter(len(LEDGER_HEADERS))}{len(rows) + 3}"
    legend = book.create_sheet("说明")
    append_row(legend, ["项目", "取值"])
    append_row(legend, ["六个一", "、".join(label for label, _en in SIX_ONES.values())])
    append_row(legend, ["六个一取值", "、".join(CHECK_LABELS[s][0] for s in CHECK_STATES) + "、未检查"])
    append_row(legend, ["现状", "、".join(CONDITION_LABELS[c][0] for c in CONDITIONS)])
    append_row(legend, ["风险等级", "；".join(f"{k}：{v[0]}" for k, v in RISK_GRADES.items())])
    cycle = (cadence or Cadence()).days.items()
    append_row(legend, ["巡查周期", "；".join(f"{TIER_LABELS[t][0]} {d} 天" for t, d in cycle)])
    append_row(legend, ["维修任务优先级", "、".join(v[0] for v in TASK_PRIORITIES.values())])
    append_row(legend, ["维修任务状态", "、".join(v[0] for v in TASK_STATE_LABELS.values())])
    legend.column_dimensions["A"].width = 16
    legend.column_dimensions["B"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def townships(store: Store, actor, county: str) -> list[str]:
    """The townships of a county that hold active facilities, for the ledger links."""
    require_county(actor, county, write=False)
    with store.session() as session:
        return [t for t in session.scalars(
            select(Facility.township).where(Facility.county_code == county, Facility.status == "active",
                                            Facility.township.is_not(None)).distinct().order_by(Facility.township))]


# -- The archive as PDF ---------------------------------------------------------------------------------------

# The font the project installs (requirements.txt: Noto Sans SC, simplified Chinese glyph shapes, from
# PyPI; SIL Open Font License), then a Debian one, in that order.
PDF_FONT_PACKAGE = "pylopdf_fonts_zh_cn"
PDF_FONT_FILE = "NotoSansSC-Regular.otf"
PDF_FONT_SYSTEM = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # Debian: fonts-droid-fallback
)
PDF_FONT_SUFFIXES = (".ttf", ".otf")


class PdfFontMissing(ServiceError):
    """No font with Chinese glyphs is to be had: the PDF cannot be made (a set-up problem, not the user's)."""

    status = 503


def pdf_font(setting: str | None = None) -> Path:
    """The TrueType/OpenType font embedded (subset) in archive PDFs.

    REGISTRY_PDF_FONT names a file; otherwise the Noto Sans SC font that requirements.txt installs, then
    Debian's DroidSansFallbackFull.ttf. A font collection (.ttc) is not accepted: PDF files embed one font.
    """
    hint = ("set REGISTRY_PDF_FONT to a .ttf or .otf font with Chinese glyphs (for example "
            f"{PDF_FONT_SYSTEM[0]} from Debian's fonts-droid-fallback), or install requirements.txt, "
            "which brings Noto Sans SC (pylopdf-fonts-zh-cn)")
    if setting:
        path = Path(setting)
        if not path.is_file():
            raise PdfFontMissing(f"REGISTRY_PDF_FONT={setting!r}: there is no such font file; {hint}",
                                 field="REGISTRY_PDF_FONT")
        if path.suffix.lower() not in PDF_FONT_SUFFIXES:
            raise PdfFontMissing(f"REGISTRY_PDF_FONT={setting!r}: the PDF needs a single .ttf or .otf font "
                                 f"file; {hint}", field="REGISTRY_PDF_FONT")
        return path
    spec = importlib.util.find_spec(PDF_FONT_PACKAGE)
    if spec is not None and spec.origin and (Path(spec.origin).parent / PDF_FONT_FILE).is_file():
        return Path(spec.origin).parent / PDF_FONT_FILE
    for candidate in PDF_FONT_SYSTEM:
        if Path(candidate).is_file():
            return Path(candidate)
    raise PdfFontMissing(f"no font with Chinese glyphs was found for the PDF; {hint}", field="REGISTRY_PDF_FONT")


def _pdf_tables(a: Archive, due: FacilityDue | None) -> list[tuple[str, tuple, list[tuple], list[tuple]]]:
    """The archive page's sections as (heading, column widths, header, rows), in the page's order."""
    f = a.facility
    six = [(label, _zh(CHECK_LABELS, getattr(f, f"std_{key}"), "未检查")) for key, (label, _en) in SIX_ONES.items()]
    inspections = [(_local(i.inspected_at), TIER_LABELS.get(i.tier, (i.tier,))[0], i.inspector_name or "",
                    _zh(CONDITION_LABELS, i.condition, i.condition),
                    "—" if i.on_site is None else ("是" if i.on_site else "否"), i.problems or "",
                    str(len(a.photos.get(("inspections", i.id), []))))
                   for i in a.inspections]
    tasks = [(str(t.id), t.title, TASK_PRIORITIES.get(t.priority, (t.priority,))[0],
              TASK_STATE_LABELS.get(t.state, (t.state,))[0], _money(t.cost_estimate), _money(t.cost_actual),
              FUNDING_SOURCES.get(t.funding_source, (t.funding_source or "",))[0]) for t in a.tasks]
    relocations = [(r.code, r.origin_place or "",
                    format_plot(r.dest_plot_area, r.dest_plot_row, r.dest_plot_number),
                    r.approval_number or "", str(r.reburied_on or ""), r.stage or "") for r in a.relocations]
    events = [(_local(e.at), e.actor_name or "", e.action, f"{e.entity_type} #{e.entity_id}", e.note or "")
              for e in a.events]
    names = [(n.name, str(n.valid_from or ""), str(n.valid_to or ""), n.approval_number or "", n.approved_by or "")
             for n in a.names]
    return [
        ("“六个一”标准（最近确认）", (3, 1), ("项目", "状况"), six),
        ("名称沿革", (3, 1, 1, 2, 2), ("名称", "起", "止", "批准文号", "批准机关"), names),
        (f"巡查记录（{len(a.inspections)}）", (3, 2, 2, 1, 1, 4, 1),
         ("时间", "巡查级别", "巡查人", "状况", "在现场", "问题", "照片"), inspections),
        (f"维修任务（{len(a.tasks)}）", (1, 4, 1, 1, 2, 2, 2),
         ("#", "任务", "优先级", "状态", "预算（元）", "实际费用（元）", "资金来源"), tasks),
        (f"迁入的烈士墓（{len(a.relocations)}）", (2, 3, 2, 2, 2, 1),
         ("编号", "原址", "墓位", "批准文号", "安葬日期", "阶段"), relocations),
        (f"变更记录（{len(a.events)}）", (3, 2, 2, 3, 5), ("时间", "操作人", "操作", "对象", "备注"), events),
    ]


def _money(value) -> str:
    return "" if value is None else f"{value:g}"


def archive_pdf(a: Archive, due: FacilityDue | None, font: Path, *, photos: dict[int, Path] | None = None,
                now: datetime | None = None) -> bytes:
    """The archive (一处一档) as a PDF with the same content as the printable page.

    The font is embedded as a subset of the characters used, so a PDF of one facility stays small
    whatever the size of the CJK font; ``photos`` maps attachment ids of the photo timeline to
    thumbnail files (missing files are left out).
    """
    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos

    f = a.facility
    pdf = FPDF(format="A4")
    pdf.set_title(f"设施档案：{f.name}")
    pdf.set_creator("烈士纪念设施管理信息系统")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("cjk", fname=str(font))
    pdf.add_page()
    width = pdf.epw

    def heading(text: str, size: float = 12) -> None:
        pdf.set_font("cjk", size=size)
        pdf.ln(2)
        pdf.multi_cell(width, size * 0.55, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR)
        pdf.ln(1)

    def para(text: str, size: float = 9.5) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(width, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR)

    heading(f"设施档案（一处一档）：{f.name}", 15)
    para(_pdf_state(a, due))
    if f.is_demo or f.position_approximate:
        para("示例数据，位置为概略。")
    heading("基本信息")
    _pdf_table(pdf, (1, 4), None, _pdf_facts(f))
    for title, widths, header, rows in _pdf_tables(a, due):
        heading(title)
        if rows:
            _pdf_table(pdf, widths, header, rows)
        else:
            para({"名称沿革": "无名称记录。"}.get(title, "无。"))
        if title.startswith("巡查记录") and a.timeline:
            heading("历次照片对比")
            _pdf_timeline(pdf, a.timeline, photos or {})
    pdf.ln(3)
    para(f"打印时间：{_local(now or datetime.now(UTC))}（北京时间）", 8)
    return bytes(pdf.output())


def _pdf_state(a: Archive, due: FacilityDue | None) -> str:
    """The line under the PDF's title: due status, priority, trend and next inspection."""
    state = []
    if due:
        state.append(DUE_STATUS_LABELS[due.status][0])
    state.append(f"风险等级 {a.priority}：{RISK_GRADES[a.priority][0]}" if a.priority else "风险等级 —")
    state.append(f"趋势：{TRENDS[a.trend][0] if a.trend else '记录不足'}")
    if due and due.next_due:
        state.append(f"应巡查 {_local(due.next_due, '%Y-%m-%d')}")
    return " · ".join(state)


def _pdf_facts(f) -> list[tuple[str, str]]:
    """The PDF's 基本信息 table: (label, value) of the facility."""
    level = LEVELS.get(f.level, (f.level,))[0]
    if f.level_approved_by:
        level += f"（{f.level_approved_by} {f.level_approved_on or ''}）"
    return [
        ("编号", f.code), ("类别", CATEGORIES.get(f.category, (f.category,))[0]), ("保护级别", level),
        ("所在地", " ".join(x for x in (divisions.cached_name(f.county_code), f.township,
                                         f.village, f.address) if x)),
        ("管理单位", f.managing_unit or f.protection_unit or "—"),
        ("管护人", f"{f.caretaker or '—'} {f.caretaker_phone or ''}".strip()),
        ("保护标志", "有" if f.sign_present else "无"),
        ("不动产登记", "已登记" if f.land_title_registered else "未登记"),
        ("位置", f"{f.geom.x:.6f}, {f.geom.y:.6f}（CGCS2000）"), ("记录状态", f"{f.status} · 版本号 {f.version}"),
    ]


def _pdf_table(pdf, widths: tuple, header: tuple | None, rows: list[tuple]) -> None:
    from fpdf.enums import WrapMode
    from fpdf.fonts import FontFace

    pdf.set_font("cjk", size=8.5)
    # Headings shaded rather than bold: the CJK font comes in one weight.
    with pdf.table(col_widths=widths, first_row_as_headings=header is not None, line_height=4.6,
                   wrapmode=WrapMode.CHAR, text_align="LEFT", repeat_headings=1,
                   headings_style=FontFace(emphasis=None, fill_color=(232, 232, 232))) as table:
        for row in ([header] if header else []) + rows:
            line = table.row()
            for value in row:
                line.cell(str(value))


def _pdf_timeline(pdf, timeline: list[tuple[datetime, list[Attachment]]], photos: dict[int, Path]) -> None:
    """Thumbnails of the photo timeline in a row, each with its date; a missing file is named instead."""
    size, gap = 32.0, 4.0
    per_row = max(1, int((pdf.epw + gap) // (size + gap)))
    pdf.set_font("cjk", size=8)
    for start in range(0, len(timeline), per_row):
        if pdf.will_page_break(size + 8):
            pdf.add_page()
        top = pdf.get_y()
        for column, (when, shots) in enumerate(timeline[start:start + per_row]):
            x = pdf.l_margin + column * (size + gap)
            path = photos.get(shots[0].id)
            if path is not None and path.is_file():
                pdf.image(str(path), x=x, y=top, w=size, h=size, keep_aspect_ratio=True)
            else:
                pdf.set_xy(x, top + size / 2 - 2)
                pdf.cell(size, 4, "（照片文件缺失）", align="C")
            pdf.set_xy(x, top + size + 1)
            extra = f" (+{len(shots) - 1})" if len(shots) > 1 else ""
            pdf.cell(size, 4, _local(when, "%Y-%m-%d") + extra, align="C")
        pdf.set_xy(pdf.l_margin, top + size + 6)
