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
