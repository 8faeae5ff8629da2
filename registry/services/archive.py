"""The archive (一处一档) of a facility, and the township (一镇一册) and county ledgers as XLSX."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import or_, select

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
from registry.models.vocab import CATEGORIES, CHECK_STATES, CONDITIONS, LEVELS, LONGYAN_COUNTIES, SIX_ONES
from registry.services.base import InvalidInput, NotFound
from registry.services.due import (
    ACTIVE_TASK_STATES,
    PRIORITIES,
    STATUS_LABELS,
    TIER_LABELS,
    TRENDS,
    Cadence,
    priority_for,
    require_county,
    statuses,
    trend_for,
)
from registry.services.tasks import PRIORITIES as TASK_PRIORITIES
from registry.services.tasks import STATE_LABELS

BEIJING = timezone(timedelta(hours=8))
CONDITION_LABELS = {"good": "良好", "fair": "一般", "poor": "较差", "critical": "危急"}
CHECK_LABELS = {"present": "具备", "deficient": "不规范", "missing": "缺失"}


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
        facility = session.get(Facility, facility_id)
        if facility is None:
            raise NotFound(f"no facility {facility_id}")
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
    if county not in LONGYAN_COUNTIES:
        raise InvalidInput(f"county {county!r} is not a county of Longyan", field="county")
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
            LEVELS.get(f.level, (f.level,))[0], LONGYAN_COUNTIES[f.county_code][0], f.township or "",
            f.village or "", f.managing_unit or f.protection_unit or "", f.caretaker or "", f.caretaker_phone or "",
            "有" if f.sign_present else "无", "已登记" if f.land_title_registered else "未登记",
            *(CHECK_LABELS.get(getattr(f, f"std_{k}"), "未检查") for k in SIX_ONES),
            _local(last[0]) if last else "未巡查", TIER_LABELS[last[2]][0] if last else "",
            CONDITION_LABELS.get(last[1], "") if last else "",
            STATUS_LABELS[d.status][0] if d else "", _local(d.next_due, "%Y-%m-%d") if d else "",
            (d.priority or "") if d else "", TRENDS.get(trend_for([c for _w, c, _t in past]), ("",))[0],
            d.active_tasks if d else 0, round(f.geom.x, 6), round(f.geom.y, 6),
            "是" if f.position_approximate else "否",
        ])
    return rows


def ledger_xlsx(store: Store, actor, county: str, township: str | None = None,
                cadence: Cadence | None = None, demo: bool = False) -> bytes:
    """The county ledger, or a township's book (一镇一册), as an XLSX workbook with Chinese headers."""
    rows = ledger_rows(store, actor, county, township, cadence)
    county_name = LONGYAN_COUNTIES[county][0]
    title = f"{county_name}{township or ''}烈士纪念设施台账"
    book = Workbook()
    sheet = book.active
    sheet.title = (township or county_name)[:31]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    generated = datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    note = f"生成时间：{generated}（北京时间）；共 {len(rows)} 处"
    if demo:
        note += "；示例数据，位置为概略，不代表真实信息"
    sheet.append([note])
    sheet.append([h for h, _w in LEDGER_HEADERS])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        sheet.append(row)
    for index, (_h, width) in enumerate(LEDGER_HEADERS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "D4"
    if rows:
        sheet.auto_filter.ref = f"A3:{get_column_letter(len(LEDGER_HEADERS))}{len(rows) + 3}"
    legend = book.create_sheet("说明")
    legend.append(["项目", "取值"])
    legend.append(["六个一", "、".join(label for label, _en in SIX_ONES.values())])
    legend.append(["六个一取值", "、".join(CHECK_LABELS[s] for s in CHECK_STATES) + "、未检查"])
    legend.append(["现状", "、".join(CONDITION_LABELS[c] for c in CONDITIONS)])
    legend.append(["风险等级", "；".join(f"{k}：{v[0]}" for k, v in PRIORITIES.items())])
    cycle = (cadence or Cadence()).days.items()
    legend.append(["巡查周期", "；".join(f"{TIER_LABELS[t][0]} {d} 天" for t, d in cycle)])
    legend.append(["维修任务优先级", "、".join(v[0] for v in TASK_PRIORITIES.values())])
    legend.append(["维修任务状态", "、".join(v[0] for v in STATE_LABELS.values())])
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
