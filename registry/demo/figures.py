"""The demo's fixed figures, codes and word lists: its "today", its sizes, the tables it writes and the words its
fictional records are made of. Nothing here names a place (the places are in ``registry.demo.places``)."""

from __future__ import annotations

from datetime import date

import numpy as np

# "Today" of the demo: inspections, overdue facilities and task states are computed against this fixed
# day (the first city's relocation figures are as of 2022-11), so two runs produce the same registry.
TODAY = date(2022, 11, 30)
INSPECTIONS_FROM = date(2020, 12, 1)
DEMO_MARK = "（示例）"
APPROXIMATE_NOTE = "位置为近似值，示例数据"
FICTION_NOTE = "示例数据：虚构内容，仅供演示，非真实人物或事件。"

# The demo registry's figures (DOMAIN.md): ledgers list 6,850 tombs, 4,377 were relocated by 2022-11;
# the roll is larger than the tombs because not every martyr has a known grave.
DEFAULT_TOMBS = 6850
DEFAULT_RELOCATIONS = 4377
DEFAULT_MARTYRS = 7500
# The second city's demo records, at demo scale: a handful of facilities per county (its own template),
# tombs, martyrs and a few relocations; its layout has random streams of its own, so the first city's records
# are the same with or without it.
SECOND_CITY_TOMBS = 120
SECOND_CITY_RELOCATIONS = 24
SECOND_CITY_MARTYRS = 140

# Veterans service stations of the first city (DOMAIN.md): 2,086 in all, of which 92 national model stations and
# 23 provincial "五有" advanced units. The second city gets its centres and township stations only.
DEFAULT_STATIONS = 2086
NATIONAL_MODEL_STATIONS = 92
PROVINCIAL_ADVANCED_STATIONS = 23

# Tables in the order they must be written (foreign keys point backwards).
TABLES = (
    "facilities", "facility_names", "facility_zones", "heritage_sites",
    "martyrs", "tombs", "relocations", "inspections", "maintenance_tasks", "service_stations",
)

# Codes of registry.models.vocab, repeated so the generator stays free of the models (a test keeps the two
# in step).
CATEGORY_CODES = ("cemetery", "memorial_hall", "monument", "pavilion", "name_wall", "square",
                  "collective_burial", "scattered_tomb")
LEVEL_CODES = ("national", "provincial", "city", "county", "ungraded")
STD_FIELDS = ("std_marker", "std_deeds", "std_headstone", "std_boundary", "std_rules", "std_road")
STD_LABELS = ("一个醒目标示", "一份事迹简介", "一座规范墓碑", "一个保护边界", "一份管理制度", "一条通行道路")
CHECK_STATES = ("present", "deficient", "missing")
CONDITIONS = ("good", "fair", "poor", "critical")

CEM, HALL, MON, PAV, WALL, SQ, COLL, SCAT = range(8)
NAT, PROV, CITY, CNTY, UNGR = range(5)

CHUNK = 5000  # rows per yielded chunk of the big tables (also the unit of their random streams)
FACILITY_BLOCK = 500  # facilities per chunk of inspections (about 4,000 rows)
TASK_BLOCK = 10_000  # facilities per chunk of maintenance tasks

SPREAD_M = 20_000.0  # generated places lie within this distance of their county seat

# Words of the fictional records.
ORIGIN_SPOTS = ("后山", "山坡", "田边", "路旁", "山腰", "竹林", "茶园旁")
HERITAGE_KINDS = (("红军医院旧址", "旧址"), ("苏维埃政府旧址", "旧址"), ("赤卫队驻地遗址", "遗址"),
                  ("红军标语群", "旧址"), ("游击队会议旧址", "会址"))
CATEGORY_LABELS = ("烈士陵园", "革命纪念馆", "革命烈士纪念碑", "烈士纪念亭", "烈士英名墙", "红色纪念广场",
                   "烈士集中安葬点", "烈士墓")
FORMER_LABELS = ("革命公墓", "革命历史陈列馆", "烈士纪念塔", "纪念亭", "英名录墙", "纪念广场", "烈士公墓",
                 "烈士墓")
# Protection range sizes (metres, width x height) by category, before a random factor.
RANGE_SIZE = ((220, 180), (120, 100), (60, 60), (40, 40), (50, 30), (150, 120), (80, 60), (20, 20))
AREA_M2 = ((8000, 60000), (600, 5000), (50, 800), (20, 120), (30, 200), (800, 8000), (300, 3000), (4, 30))
MATERIALS = ("花岗岩", "青石", "混凝土", "砖石", "汉白玉")
RANKS = ("战士", "战士", "战士", "班长", "排长", "连长", "营长", "政治委员", "赤卫队员", "交通员", "游击队员",
         "乡苏维埃政府主席")
CAUSES = ("作战牺牲", "作战牺牲", "被捕就义", "因伤牺牲", "执行任务牺牲")
RELATIONS = ("子", "女", "孙", "孙女", "侄", "侄孙", "曾孙", "外孙")
EFFECTS = ("铜纽扣", "皮带扣", "弹壳", "搪瓷杯", "钢笔", "印章", "铜钱", "怀表")
UNITS = (  # by period of death
    (1937, ("中国工农红军第四军", "中国工农红军第十二军", "闽西赤卫队", "闽西红军独立团", "地方游击队")),
    (1945, ("新四军第二支队", "闽西南抗日游击队")),
    (1949, ("闽粤赣边纵队", "闽西南游击队")),
    (9999, ("中国人民志愿军", "中国人民解放军")),
)
TASK_TITLES = ("更换醒目标示", "补设事迹简介牌", "修缮墓碑", "补立保护界桩", "制定管理制度并上墙", "修复通行道路")
GENERAL_TASK = "清理杂草、疏通排水"

# Share of deaths by year 1927..1949: the Central Soviet years and the three-year guerrilla war weigh most.
DEATH_YEAR_WEIGHTS = np.array([2, 5, 9, 10, 10, 10, 10, 12, 10, 6, 5, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 5], float)


def days(d: date) -> int:
    """A date as its day number (days since 1970-01-01), the unit the layout's arrays count in."""
    return int(np.datetime64(d, "D").astype(np.int64))


def dates(day_numbers: np.ndarray) -> list:
    """Day numbers back to ``datetime.date`` values."""
    return np.asarray(day_numbers, np.int64).astype("datetime64[D]").tolist()
