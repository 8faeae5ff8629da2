"""Controlled vocabularies of the domain: codes stored in the registry and their Chinese and English labels."""

from __future__ import annotations

# Facility categories (烈士纪念设施类别).
CATEGORIES = {
    "cemetery": ("烈士陵园", "Martyrs' cemetery"),
    "memorial_hall": ("纪念馆", "Memorial hall"),
    "monument": ("纪念碑/塔", "Monument"),
    "pavilion": ("纪念亭/廊", "Memorial pavilion"),
    "name_wall": ("英名墙", "Name wall"),
    "square": ("纪念广场", "Memorial square"),
    "collective_burial": ("集中安葬点", "Collective burial ground"),
    "scattered_tomb": ("零散烈士墓", "Scattered tomb"),
}

# Protection levels (保护级别), highest first.
LEVELS = {
    "national": ("国家级", "National"),
    "provincial": ("省级", "Provincial"),
    "city": ("设区的市级", "City"),
    "county": ("县级", "County"),
    "ungraded": ("未定级", "Ungraded"),
}

# The Fujian "六个一" upkeep standard: column suffix and labels.
SIX_ONES = {
    "marker": ("一个醒目标示", "A clearly visible marker"),
    "deeds": ("一份事迹简介", "A short account of the deeds"),
    "headstone": ("一座规范墓碑", "A headstone to standard"),
    "boundary": ("一个保护边界", "A protection boundary"),
    "rules": ("一份管理制度", "A written management rule"),
    "road": ("一条通行道路", "An access road"),
}
CHECK_STATES = ("present", "deficient", "missing")

ZONE_KINDS = {
    "footprint": ("占地范围", "Footprint"),
    "protection_range": ("保护范围", "Protection range"),
    "control_zone": ("建设控制地带", "Construction-control zone"),
}

# Inspections: the condition found and the state of each of the six items.
CONDITION_LABELS = {"good": ("良好", "Good"), "fair": ("一般", "Fair"), "poor": ("较差", "Poor"),
                    "critical": ("危急", "Critical")}
CHECK_LABELS = {"present": ("具备", "Present"), "deficient": ("不规范", "Deficient"), "missing": ("缺失", "Missing")}
# A facility's inspection status, in the order of urgency (the map colours and the list sort follow it).
DUE_STATUS_LABELS = {
    "problem_open": ("问题未结", "Problem open"),
    "overdue": ("已逾期", "Overdue"),
    "due_soon": ("即将到期", "Due soon"),
    "ok": ("正常", "OK"),
}
TIER_LABELS = {"station": ("乡镇/村站巡查", "Station"), "county": ("县级检查", "County"), "city": ("市级抽查", "City")}
# A facility's risk grade, A (worst) to F.
RISK_GRADES = {
    "A": ("立即危险，尚无措施", "Immediate risk, no solution agreed"),
    "B": ("立即危险，已有措施未完成", "Immediate risk, solution agreed, not yet done"),
    "C": ("缓慢损坏，尚无措施", "Slow decay, no solution agreed"),
    "D": ("缓慢损坏，已有措施未完成", "Slow decay, solution agreed, not yet done"),
    "E": ("维修中或状况一般", "Under repair or in fair repair"),
    "F": ("状况良好或已修复", "In good repair or repairs done"),
}
TRENDS = {"declining": ("下降", "Declining"), "stable": ("稳定", "Stable"), "improving": ("改善", "Improving")}
# Work orders: priority (most urgent first) and state.
TASK_PRIORITIES = {"urgent": ("紧急", "Urgent"), "high": ("高", "High"), "normal": ("一般", "Normal"),
                   "low": ("低", "Low")}
TASK_STATE_LABELS = {
    "open": ("待处理", "Open"),
    "in_progress": ("处理中", "In progress"),
    "done": ("已完成待验收", "Done, awaiting verification"),
    "verified": ("已验收", "Verified"),
    "cancelled": ("已取消", "Cancelled"),
}
# A relocation's steps (the date columns of RELOCATION_STEPS) and a tomb's state.
STEP_LABELS = {
    "surveyed_on": ("调查", "Survey"),
    "consent_on": ("家属同意", "Family consent"),
    "approved_on": ("批准", "Approval"),
    "exhumed_on": ("起灵", "Exhumation"),
    "reburied_on": ("安葬", "Reburial"),
    "accepted_on": ("验收", "Acceptance"),
}
TOMB_STATE_LABELS = {"in_place": ("原地安葬", "In place"), "awaiting_relocation": ("待迁移", "Awaiting relocation"),
                     "relocated": ("已迁入", "Relocated here")}
PLAN_STATUS_LABELS = {"draft": ("草稿", "Draft"), "submitted": ("已提交", "Submitted"),
                      "returned": ("已退回", "Returned"), "approved": ("已批准", "Approved")}
# The calendar: the kinds of day every facility keeps, and a facility's own kinds of day.
REMEMBRANCE_DAYS = {
    "qingming": ("清明", "Qingming"),
    "martyrs_day": ("烈士纪念日", "Martyrs' Day"),
    "army_day": ("建军节", "Army Day"),
    "facility_day": ("设施纪念日", "Facility's day"),
    "anniversary": ("烈士牺牲纪念日", "Martyr's anniversary"),
}
FACILITY_DAY_KINDS = {
    "opening": ("开馆纪念日", "Opening anniversary"),
    "battle": ("战役纪念日", "Battle anniversary"),
    "other": ("其他纪念日", "Other day of remembrance"),
}

TOMB_STATES = ("in_place", "awaiting_relocation", "relocated")  # retiring is `status`, as on every record
RELOCATION_STEPS = ("surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on", "accepted_on")
RELOCATION_STATUSES = ("planned", "in_progress", "accepted", "cancelled")
CONDITIONS = ("good", "fair", "poor", "critical")
TASK_STATUSES = ("open", "in_progress", "done", "verified", "cancelled")
PLAN_STATUSES = ("draft", "submitted", "returned", "approved")
ROLES = ("admin", "manager", "planner", "reviewer")
FUNDING_SOURCES = {
    "central": ("中央资金", "Central funds"),
    "provincial": ("省级资金", "Provincial funds"),
    "city": ("市级资金", "City funds"),
    "county": ("县级资金", "County funds"),
    "other": ("其他", "Other"),
}

# Where a position or a fact came from (models/provenance.py): code -> (zh, en) label.
PROVENANCE_SOURCES = {
    "survey_gps": ("实地GPS测定", "Surveyed on site with GPS"),
    "ledger_import": ("台账导入", "Ledger import"),
    "map_digitising": ("地图数字化", "Digitised from a map"),
    "public_correction": ("公众更正（已审核）", "Public correction, reviewed"),
    "qgis_edit": ("QGIS编辑（已审批）", "QGIS edit, approved"),
    "gis_import": ("GIS文件导入", "GIS file import"),
    "staff_edit": ("工作人员录入", "Entered by staff"),
    "demo": ("演示数据", "Demo data"),
}
PROVENANCE_PART_LABELS = {"position": ("位置", "Position"), "facts": ("信息", "Details")}
# Veterans service stations (退役军人服务中心（站）): their levels, demonstration status and the 五有 checklist
# (column name and labels), as issue 15 describes them.
STATION_LEVELS = {
    "city": ("市级服务中心", "City centre"),
    "county": ("县级服务中心", "County centre"),
    "township": ("乡镇（街道）服务站", "Township station"),
    "village": ("村（社区）服务站", "Village station"),
}
STATION_DEMONSTRATION = {
    "none": ("无", "None"),
    "national_model": ("全国示范型服务站", "National model station"),
    "provincial_advanced": ("全省“五有”先进单位", "Provincial \"five haves\" advanced unit"),
}
FIVE_HAVES = {
    "has_body": ("有机构", "A body"),
    "has_posts": ("有编制", "Posts"),
    "has_staff": ("有人员", "Staff"),
    "has_funds": ("有经费", "Funds"),
    "has_provisions": ("有保障", "Provisions"),
}
