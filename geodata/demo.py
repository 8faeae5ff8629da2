"""Deterministic demo data: the demo registry (Longyan, a second city) and large synthetic sets, as dicts per table."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date

import numpy as np
import shapely
from pypinyin import lazy_pinyin
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry import box as shapely_box

from geodata.crs import from_metric, gcj02_to_wgs84, metric_crs_for, to_metric
from geodata.origins import public_origins

__all__ = [
    "APPROXIMATE_NOTE",
    "CATEGORY_CODES",
    "DEMO_MARK",
    "LEVEL_CODES",
    "TABLES",
    "TODAY",
    "County",
    "DEMO_ACCOUNTS",
    "RELOCATION_TARGETS",
    "DemoData",
    "demo_aliases",
    "demo_divisions",
    "fictional_name",
    "generate",
    "longyan_counties",
]

# "Today" of the demo: inspections, overdue facilities and task states are computed against this fixed
# day (Longyan's relocation figures are as of 2022-11), so two runs produce the same registry.
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

# Tables in the order they must be written (foreign keys point backwards).
TABLES = (
    "facilities", "facility_names", "facility_zones", "heritage_sites",
    "martyrs", "tombs", "relocations", "inspections", "maintenance_tasks",
)

# Codes of registry.models.vocab, repeated here because geodata must not import the registry
# (a test keeps the two in step).
CATEGORY_CODES = ("cemetery", "memorial_hall", "monument", "pavilion", "name_wall", "square",
                  "collective_burial", "scattered_tomb")
LEVEL_CODES = ("national", "provincial", "city", "county", "ungraded")
STD_FIELDS = ("std_marker", "std_deeds", "std_headstone", "std_boundary", "std_rules", "std_road")
STD_LABELS = ("一个醒目标示", "一份事迹简介", "一座规范墓碑", "一个保护边界", "一份管理制度", "一条通行道路")
CHECK_STATES = ("present", "deficient", "missing")
CONDITIONS = ("good", "fair", "poor", "critical")

_CEM, _HALL, _MON, _PAV, _WALL, _SQ, _COLL, _SCAT = range(8)
_NAT, _PROV, _CITY, _CNTY, _UNGR = range(5)

CHUNK = 5000  # rows per yielded chunk of the big tables (also the unit of their random streams)
_FACILITY_BLOCK = 500  # facilities per chunk of inspections (about 4,000 rows)
_TASK_BLOCK = 10_000  # facilities per chunk of maintenance tasks

_M_PER_DEG_LAT = 110_574.0
SPREAD_M = 20_000.0  # generated places lie within this distance of their county seat
_M_PER_DEG_LON_EQ = 111_320.0


@dataclass(frozen=True)
class County:
    """A county-level division: adcode, name, seat in WGS 84 and the townships demo records use."""

    code: str
    name: str
    city: str
    lon: float
    lat: float
    abbr: str  # the short name that opens its approval numbers (杭民〔2021〕12号)
    townships: tuple[str, ...]
    longyan: bool = True


# adcode -> (name, seat lon, lat in GCJ-02 as DOMAIN.md gives them, approval abbreviation, townships);
# the first township is the seat's own.
_LONGYAN = {
    "350802": ("新罗区", 117.031, 25.092, "龙新", (
        "东城街道", "西城街道", "南城街道", "中城街道", "西陂街道", "曹溪街道", "铁山镇", "雁石镇", "白沙镇",
        "适中镇", "岩山镇", "苏坂镇", "大池镇", "小池镇", "江山镇", "万安镇", "红坊镇")),
    "350803": ("永定区", 116.733, 24.720, "永", (
        "凤城街道", "坎市镇", "下洋镇", "湖坑镇", "抚市镇", "高头乡", "培丰镇", "龙潭镇", "湖雷镇", "堂堡镇",
        "峰市镇", "高陂镇", "西溪乡", "金砂镇", "虎岗乡", "岐岭镇", "大溪乡", "古竹乡", "仙师镇")),
    "350821": ("长汀县", 116.361, 25.842, "汀", (
        "汀州镇", "大同镇", "古城镇", "新桥镇", "馆前镇", "童坊镇", "河田镇", "南山镇", "濯田镇", "四都镇",
        "涂坊镇", "策武镇", "三洲镇", "红山乡", "羊牯乡", "宣成乡", "铁长乡", "庵杰乡")),
    "350823": ("上杭县", 116.425, 25.050, "杭", (
        "临城镇", "临江镇", "古田镇", "才溪镇", "蛟洋镇", "南阳镇", "旧县镇", "湖洋镇", "稔田镇", "白砂镇",
        "通贤镇", "官庄畲族乡", "庐丰畲族乡", "太拔镇", "珊瑚乡", "下都镇", "溪口镇", "步云乡", "中都镇")),
    "350824": ("武平县", 116.101, 25.089, "武", (
        "平川街道", "中山镇", "岩前镇", "十方镇", "中堡镇", "桃溪镇", "城厢镇", "东留镇", "武东镇", "永平镇",
        "象洞镇", "民主乡", "下坝乡", "大禾镇", "湘店镇")),
    "350825": ("连城县", 116.757, 25.709, "连", (
        "莲峰镇", "北团镇", "姑田镇", "朋口镇", "庙前镇", "四堡镇", "宣和镇", "新泉镇", "林坊镇", "文亨镇",
        "赖源乡", "揭乐乡", "塘前乡", "隔川乡", "罗坊乡", "曲溪乡", "莒溪镇")),
    "350881": ("漳平市", 117.421, 25.292, "漳平", (
        "菁城街道", "桂林街道", "新桥镇", "双洋镇", "永福镇", "溪南镇", "和平镇", "拱桥镇", "象湖镇", "赤水镇",
        "芦芝镇", "西园镇", "南洋镇", "官田乡", "吾祠乡", "灵地乡")),
}

# The province and cities of the demo's divisions (GB/T 2260 codes); seats WGS 84, approximate.
_PROVINCE = ("350000", "福建省", 119.296, 26.100)
_LONGYAN_CITY = ("350800", "龙岩市", 117.017, 25.075)
# The second demo city: a few of Sanming's counties at demo scale, so one registry serves two cities.
_SANMING_CITY = ("350400", "三明市", 117.639, 26.263)
# adcode -> (name, seat lon, lat in WGS 84, approval abbreviation, townships); the first township is the seat's.
_SANMING = {
    "350404": ("三元区", 117.608, 26.234, "元", (
        "城关街道", "列东街道", "列西街道", "徐碧街道", "白沙街道", "富兴堡街道", "荆西街道", "莘口镇", "洋溪镇",
        "中村乡")),
    "350421": ("明溪县", 117.202, 26.356, "明", (
        "雪峰镇", "盖洋镇", "胡坊镇", "瀚仙镇", "城关乡", "沙溪乡", "夏阳乡", "枫溪乡", "夏坊乡")),
    "350423": ("清流县", 116.817, 26.177, "清", (
        "龙津镇", "嵩溪镇", "嵩口镇", "灵地镇", "长校镇", "林畲镇", "赖坊镇", "余朋乡", "田源乡", "沙芜乡",
        "温郊乡", "李家乡")),
    "350424": ("宁化县", 116.654, 26.262, "宁", (
        "翠江镇", "泉上镇", "湖村镇", "石壁镇", "曹坊镇", "安远镇", "淮土镇", "安乐镇", "水茜镇", "城郊镇",
        "城南镇", "济村乡", "方田乡", "中沙乡", "河龙乡")),
}
# The second city's demo records, at demo scale: a handful of facilities per county (its own template),
# tombs, martyrs and a few relocations; its layout has random streams of its own, so Longyan's records
# are the same with or without it.
SECOND_CITY_TOMBS = 120
SECOND_CITY_RELOCATIONS = 24
SECOND_CITY_MARTYRS = 140
# Former names and codes still met in old ledgers: (current code, former code, former name, from, to).
# 永定县 became 永定区 by the State Council's approval of December 2014.
_ALIASES = (
    ("350803", "350822", "永定县", None, "2014-12-13"),
)
# The demo registry's accounts: (username, display name, roles, counties or cities, password).
DEMO_ACCOUNTS = (
    ("admin", "演示管理员（示例）", ("admin",), (), "demo-admin-pass"),
    ("manager", "上杭县管护员（示例）", ("manager",), ("350823",), "demo-manager-pass"),
    ("manager2", "长汀县管护员（示例）", ("manager",), ("350821", "350825"), "demo-manager-pass"),
    ("manager3", "清流县管护员（示例）", ("manager",), ("350423",), "demo-manager-pass"),
    ("citymanager", "三明市管护员（示例）", ("manager",), ("350400",), "demo-manager-pass"),
    ("planner", "规划科（示例）", ("planner",), (), "demo-planner-pass"),
    ("reviewer", "审核人（示例）", ("reviewer",), (), "demo-reviewer-pass"),
)
# A place used by examples and the ledger template: the demo county whose records the examples show.
EXAMPLE_COUNTY = "350823"


def demo_divisions(counties: list[County] | None = None) -> list[dict]:
    """The demo's divisions as rows for ``divisions load``: the province, the two demo cities, their
    counties and (for synthetic sets) the synthetic counties with their prefectures.

    Example
    -------
    >>> rows = demo_divisions()
    >>> [r["name"] for r in rows if r["level"] == "city"]
    ['龙岩市', '三明市']
    >>> next(r for r in rows if r["code"] == "350823")["parent"]
    '350800'
    """
    def row(code, name, level, parent, lon, lat):
        return {"code": code, "name": name, "level": level, "parent": parent, "seat_lon": round(float(lon), 6),
                "seat_lat": round(float(lat), 6), "valid_from": None, "valid_to": None, "is_demo": True,
                "relocation_target": RELOCATION_TARGETS.get(code)}

    out = [row(*_PROVINCE[:2], "province", None, *_PROVINCE[2:])]
    cities = {_LONGYAN_CITY[0]: _LONGYAN_CITY, _SANMING_CITY[0]: _SANMING_CITY}
    extra = [c for c in (counties or ()) if not c.longyan]
    for c in extra:
        for code, name, lon, lat, _spread in _FUJIAN_PREFECTURES:
            if c.code.startswith(code):
                cities.setdefault(code + "00", (code + "00", name, lon, lat))
    for code, name, lon, lat in cities.values():
        out.append(row(code, name, "city", _PROVINCE[0], lon, lat))
    for c in _longyan():
        out.append(row(c.code, c.name, "county", _LONGYAN_CITY[0], c.lon, c.lat))
    for c in _sanming():
        out.append(row(c.code, c.name, "county", _SANMING_CITY[0], c.lon, c.lat))
    known = {r["code"] for r in out}
    for c in extra:
        if c.code not in known:
            out.append(row(c.code, c.name, "county", c.code[:4] + "00", c.lon, c.lat))
    return out


def demo_aliases() -> list[dict]:
    """Former names and codes of the demo's counties, as rows for the aliases table."""
    return [{"code": code, "former_code": former, "former_name": name, "valid_from": start, "valid_to": end,
             "is_demo": True} for code, former, name, start, end in _ALIASES]


# Relocation targets per county (迁移任务数). DEMO FIGURES, not official ones: chosen so that Longyan's 4,377
# demo relocations are 144.3% of the sum of its counties' targets (3,033), as Longyan reported by 2022-11, and
# spread like the demo's relocations. Replace them with the bureau's own targets in a real deployment.
RELOCATION_TARGETS = {
    "350802": 394,
    "350803": 425,
    "350821": 576,
    "350823": 637,
    "350824": 364,
    "350825": 364,
    "350881": 273,
    # The second demo city: targets that its few demo relocations come near, so its report shows a share.
    "350404": 6,
    "350421": 6,
    "350423": 6,
    "350424": 6,
}

# Other prefectures of Fujian for the large synthetic sets: code, name, rough seat (WGS 84), spread in km.
_FUJIAN_PREFECTURES = (
    ("3501", "福州市", 119.296, 26.074, 50), ("3502", "厦门市", 118.089, 24.479, 15),
    ("3503", "莆田市", 119.007, 25.454, 30), ("3504", "三明市", 117.639, 26.263, 60),
    ("3505", "泉州市", 118.676, 24.874, 50), ("3506", "漳州市", 117.647, 24.513, 50),
    ("3507", "南平市", 118.178, 26.642, 60), ("3509", "宁德市", 119.548, 26.666, 50),
)
_SYNTHETIC_TOWNSHIPS = ("城关镇", "东城街道", "西城街道", "新城镇", "南山乡", "北岭乡", "溪口镇", "红星乡",
                        "坪田镇", "龙门乡", "洋坑乡", "石桥镇")

# The real sites of DOMAIN.md: name, county, township, approximate WGS 84 position, heritage kind,
# and (category, level) when the site is also a memorial facility. Positions are approximate.
_REAL_SITES = (
    dict(name="古田会议会址", county="350823", township="古田镇", lon=116.818, lat=25.225, kind="会址",
         period="土地革命战争时期（1929年）", heritage_level="全国重点文物保护单位", education_base=True,
         education_base_level="全国爱国主义教育示范基地", facility=(_HALL, _NAT), range_m=(300.0, 250.0),
         control_m=200.0, address="福建省龙岩市上杭县古田镇"),
    dict(name="才溪乡调查纪念馆", county="350823", township="才溪镇", lon=116.585, lat=25.300, kind="纪念馆",
         period="土地革命战争时期（1930—1933年）", heritage_level=None, education_base=True,
         education_base_level=None, facility=None, address="福建省龙岩市上杭县才溪镇"),
    dict(name="瞿秋白烈士纪念碑", county="350821", township="汀州镇", lon=116.343, lat=25.832, kind="纪念碑",
         period="土地革命战争时期（1935年）", heritage_level=None, education_base=True,
         education_base_level=None, facility=(_MON, _NAT), range_m=(120.0, 100.0), control_m=100.0,
         address="福建省龙岩市长汀县罗汉岭"),
    dict(name="松毛岭战役遗址群", county="350821", township="南山镇", lon=116.470, lat=25.640, kind="遗址",
         period="土地革命战争时期（1934年）", heritage_level=None, education_base=True,
         education_base_level=None, facility=None, address="福建省龙岩市长汀县南山镇松毛岭"),
    dict(name="闽西革命烈士陵园", county="350802", township="东城街道", lon=117.035, lat=25.110, kind="陵园",
         period="土地革命战争时期至解放战争时期", heritage_level=None, education_base=True,
         education_base_level=None, facility=(_CEM, _NAT), range_m=(400.0, 300.0), control_m=150.0,
         address="福建省龙岩市新罗区虎岭山"),
)
_REAL_NAMES = frozenset(site["name"] for site in _REAL_SITES)

# Fictional people: a common surname, the placeholder 某 and a cyclic character (甲乙丙…子丑寅…), then
# the demo mark. Names built like this cannot be a real person's; 曾 and other surnames with a second
# reading are left out so the pinyin of the name is unambiguous.
SURNAMES = "张王李陈林黄刘吴邱罗赖钟谢温傅蓝廖郭江卢范杨邓何"
GIVEN = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"
UNKNOWN_NAME = "无名烈士"

_VILLAGE_A = "上下新大小东西南北中"
_VILLAGE_B = "坑岭田溪坪塘坊洋坝垅"
_ORIGIN_SPOTS = ("后山", "山坡", "田边", "路旁", "山腰", "竹林", "茶园旁")

_CATEGORY_LABELS = ("烈士陵园", "革命纪念馆", "革命烈士纪念碑", "烈士纪念亭", "烈士英名墙", "红色纪念广场",
                    "烈士集中安葬点", "烈士墓")
_FORMER_LABELS = ("革命公墓", "革命历史陈列馆", "烈士纪念塔", "纪念亭", "英名录墙", "纪念广场", "烈士公墓",
                  "烈士墓")
# Protection range sizes (metres, width x height) by category, before a random factor.
_RANGE_SIZE = ((220, 180), (120, 100), (60, 60), (40, 40), (50, 30), (150, 120), (80, 60), (20, 20))
_AREA_M2 = ((8000, 60000), (600, 5000), (50, 800), (20, 120), (30, 200), (800, 8000), (300, 3000), (4, 30))
_MATERIALS = ("花岗岩", "青石", "混凝土", "砖石", "汉白玉")
_RANKS = ("战士", "战士", "战士", "班长", "排长", "连长", "营长", "政治委员", "赤卫队员", "交通员", "游击队员",
          "乡苏维埃政府主席")
_CAUSES = ("作战牺牲", "作战牺牲", "被捕就义", "因伤牺牲", "执行任务牺牲")
_RELATIONS = ("子", "女", "孙", "孙女", "侄", "侄孙", "曾孙", "外孙")
_EFFECTS = ("铜纽扣", "皮带扣", "弹壳", "搪瓷杯", "钢笔", "印章", "铜钱", "怀表")
_UNITS = (  # by period of death
    (1937, ("中国工农红军第四军", "中国工农红军第十二军", "闽西赤卫队", "闽西红军独立团", "地方游击队")),
    (1945, ("新四军第二支队", "闽西南抗日游击队")),
    (1949, ("闽粤赣边纵队", "闽西南游击队")),
    (9999, ("中国人民志愿军", "中国人民解放军")),
)
_TASK_TITLES = ("更换醒目标示", "补设事迹简介牌", "修缮墓碑", "补立保护界桩", "制定管理制度并上墙", "修复通行道路")
_GENERAL_TASK = "清理杂草、疏通排水"
_LEVEL_BODIES = ("国务院", "福建省人民政府", "龙岩市人民政府", None, None)  # county: its own government

# Share of deaths by year 1927..1949: the Central Soviet years and the three-year guerrilla war weigh most.
_DEATH_YEAR_WEIGHTS = np.array([2, 5, 9, 10, 10, 10, 10, 12, 10, 6, 5, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 5], float)


# --------------------------------------------------------------------------------------------- helpers

def fictional_name(surname_index: int, given_index: int) -> str:
    """Return the fictional demo name for a surname and given-character index.

    Parameters
    ----------
    surname_index : int
        Index into ``SURNAMES`` (taken modulo its length).
    given_index : int
        Index into ``GIVEN`` (taken modulo its length).

    Returns
    -------
    str
        A name such as ``陈某甲（示例）``: surname, the placeholder 某, a cyclic character and the demo mark.

    Example
    -------
    >>> fictional_name(3, 0)
    '陈某甲（示例）'
    """
    return _core_name(surname_index % len(SURNAMES), given_index % len(GIVEN)) + DEMO_MARK


def _core_name(s: int, g: int) -> str:
    return f"{SURNAMES[s]}某{GIVEN[g]}"


@functools.cache
def _name_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names, full pinyin and initials of every surname x given combination (a few hundred)."""
    names, pinyin, initials = [], [], []
    for s in range(len(SURNAMES)):
        for g in range(len(GIVEN)):
            core = _core_name(s, g)
            syllables = lazy_pinyin(core)
            names.append(core + DEMO_MARK)
            pinyin.append("".join(syllables))
            initials.append("".join(p[0] for p in syllables))
    return np.array(names, object), np.array(pinyin, object), np.array(initials, object)


@functools.cache
def _unknown_pinyin() -> tuple[str, str]:
    syllables = lazy_pinyin(UNKNOWN_NAME)
    return "".join(syllables), "".join(p[0] for p in syllables)


def longyan_counties() -> list[County]:
    """Return Longyan's seven county-level divisions with their seats converted to WGS 84.

    DOMAIN.md gives the seats in GCJ-02 (as phone map apps hand them out); the registry stores
    WGS 84, so they are converted with :func:`geodata.crs.gcj02_to_wgs84`.

    Returns
    -------
    list of County
        In adcode order; ``lon``/``lat`` are WGS 84.

    Example
    -------
    >>> counties = longyan_counties()
    >>> counties[3].name, round(counties[3].lon, 2), round(counties[3].lat, 2)
    ('上杭县', 116.42, 25.05)
    """
    return list(_longyan())


@functools.cache
def _longyan() -> tuple[County, ...]:
    out = []
    for code, (name, glon, glat, abbr, townships) in _LONGYAN.items():
        lon, lat = gcj02_to_wgs84(glon, glat)
        out.append(County(code, name, "龙岩市", float(lon), float(lat), abbr, townships, True))
    return tuple(out)


@functools.cache
def _sanming() -> tuple[County, ...]:
    return tuple(County(code, name, _SANMING_CITY[1], lon, lat, abbr, townships, False)
                 for code, (name, lon, lat, abbr, townships) in _SANMING.items())


def _offset(lon, lat, dx, dy):
    """Shift lon/lat by metres east/north with a local equirectangular scale.

    Good to well under a metre over the few kilometres demo points are scattered by; exact metric work
    (protection ranges, control zones) goes through the Gauss-Kruger projection instead.
    """
    lat = np.asarray(lat, float)
    return (np.asarray(lon, float) + np.asarray(dx, float) / (_M_PER_DEG_LON_EQ * np.cos(np.radians(lat))),
            lat + np.asarray(dy, float) / _M_PER_DEG_LAT)


def _metres_between(lon1, lat1, lon2, lat2):
    dx = (np.asarray(lon2) - lon1) * _M_PER_DEG_LON_EQ * np.cos(np.radians(lat1))
    dy = (np.asarray(lat2) - lat1) * _M_PER_DEG_LAT
    return np.hypot(dx, dy)


def _scatter(rng, n: int, sigma: float, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian offsets in metres, pulled in to at most ``limit`` from the centre."""
    dx, dy = rng.normal(0.0, sigma, n), rng.normal(0.0, sigma, n)
    r = np.hypot(dx, dy)
    shrink = np.where(r > limit, limit / np.maximum(r, 1e-9), 1.0)
    return dx * shrink, dy * shrink


def _days(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def _dates(days: np.ndarray) -> list:
    return np.asarray(days, np.int64).astype("datetime64[D]").tolist()


def _village(rng) -> str:
    a, b = rng.integers(len(_VILLAGE_A)), rng.integers(len(_VILLAGE_B))
    return f"{_VILLAGE_A[a]}{_VILLAGE_B[b]}村"


def _rect_zone(lon: float, lat: float, width: float, height: float, angle: float) -> tuple[Polygon, float]:
    """A rotated rectangle (metres) centred on a point, built in the metric CRS and returned in lon/lat."""
    epsg = metric_crs_for(lon, lat)
    centre, _ = to_metric(Point(lon, lat), epsg)
    rect = shapely_box(centre.x - width / 2, centre.y - height / 2, centre.x + width / 2, centre.y + height / 2)
    rect = affinity.rotate(rect, angle, origin=centre)
    return from_metric(rect, epsg), float(rect.area)


def _control_zone(range_lonlat: Polygon, distance_m: float) -> tuple[Polygon, float]:
    """The construction-control zone: the ring ``distance_m`` wide around the protection range.

    Grown in the metric CRS (EPSG:4498 in Longyan), since a buffer in degrees would be an ellipse.
    The range itself is cut out: a control zone (建设控制地带) is the land outside the protection range.
    """
    metric, epsg = to_metric(range_lonlat)
    ring = metric.buffer(distance_m, quad_segs=8).difference(metric)
    return from_metric(ring, epsg), float(ring.area)


def _multi(poly: Polygon) -> MultiPolygon:
    return MultiPolygon([poly])


# ------------------------------------------------------------------------------------------- the data

class _CityData:
    """One city's laid-out demo records (the Longyan demo or a synthetic set, or the second demo city),
    with ids from 1 per table; ``DemoData`` puts the cities one after the other."""

    def __init__(self, scale: int | None, seed: int, second: bool = False, used_names: set | None = None):
        self.scale = scale
        self.seed = seed
        self.second = second
        self._used_names = used_names if used_names is not None else set()
        # The second city draws from streams of its own, so the first city's records do not move.
        rng = np.random.default_rng([self.seed, 1] if second else self.seed)
        self._counties(rng)
        self._anchors(rng)
        self._plan_facilities(rng)
        self._plan_relocations(rng)
        self._plan_tombs(rng)
        self._plan_martyrs(rng)
        self._plan_inspections(rng)
        self._build_facilities(rng)
        self._build_heritage(rng)
        self.counts = {
            "facilities": len(self._facility_rows),
            "facility_names": len(self._name_rows),
            "facility_zones": len(self._zone_rows),
            "heritage_sites": len(self._heritage_rows),
            "martyrs": self.n_martyrs,
            "tombs": self.n_tombs,
            "relocations": self.n_relocations,
            "inspections": int(self.insp_count.sum()),
            "maintenance_tasks": int(self.task_count.sum()),
        }

    def rows(self, table: str) -> Iterator[list[dict]]:
        if table in ("facilities", "facility_names", "facility_zones", "heritage_sites"):
            rows = {"facilities": self._facility_rows, "facility_names": self._name_rows,
                    "facility_zones": self._zone_rows, "heritage_sites": self._heritage_rows}[table]
            for start in range(0, len(rows), CHUNK):
                yield [dict(row) for row in rows[start:start + CHUNK]]
            return
        if table == "martyrs":
            for i, start in enumerate(range(0, self.n_martyrs, CHUNK)):
                yield self._martyr_chunk(i, start, min(start + CHUNK, self.n_martyrs))
        elif table == "tombs":
            for i, start in enumerate(range(0, self.n_tombs, CHUNK)):
                yield self._tomb_chunk(i, start, min(start + CHUNK, self.n_tombs))
        elif table == "relocations":
            for i, start in enumerate(range(0, self.n_relocations, CHUNK)):
                yield self._relocation_chunk(i, start, min(start + CHUNK, self.n_relocations))
        elif table == "inspections":
            for i, start in enumerate(range(0, self.n_facilities, _FACILITY_BLOCK)):
                chunk = self._inspection_chunk(i, start, min(start + _FACILITY_BLOCK, self.n_facilities))
                if chunk:
                    yield chunk
        else:
            for i, start in enumerate(range(0, self.n_facilities, _TASK_BLOCK)):
                chunk = self._task_chunk(i, start, min(start + _TASK_BLOCK, self.n_facilities))
                if chunk:
                    yield chunk

    # -- layout: counties and townships -------------------------------------------------------------

    def _counties(self, rng) -> None:
        counties = list(_sanming() if self.second else _longyan())
        if self.scale is not None:
            wanted = min(len(counties) + 9 * len(_FUJIAN_PREFECTURES), max(len(counties), self.scale // 12_500))
            for code, name, lon, lat, spread_km in _FUJIAN_PREFECTURES:
                for k in range(9):
                    if len(counties) >= wanted:
                        break
                    r = spread_km * 1000.0 * math.sqrt(rng.random())
                    theta = 2 * math.pi * rng.random()
                    x, y = _offset(lon, lat, r * math.cos(theta), r * math.sin(theta))
                    counties.append(County(f"{code}9{k}", f"{name[:-1]}示例{k + 1}县", name, float(x), float(y),
                                           f"{name[:2]}{k + 1}", _SYNTHETIC_TOWNSHIPS, False))
        self.county_list = counties
        self.county_seats = np.array([(c.lon, c.lat) for c in counties])

    def _anchors(self, rng) -> None:
        """A position for every township: the seat's own township at the seat, known ones at their site,
        the rest scattered within 15 km of the seat (and, in Longyan, nearer this seat than any other)."""
        known = {(s["county"], s["township"]): (s["lon"], s["lat"]) for s in _REAL_SITES
                 if s["township"] not in ("汀州镇", "东城街道")}
        longyan_seats = self.county_seats[:7]
        self.anchors = []
        for ci, county in enumerate(self.county_list):
            points = []
            for ti, township in enumerate(county.townships):
                if ti == 0:
                    points.append((county.lon, county.lat))
                    continue
                if (county.code, township) in known:
                    points.append(known[(county.code, township)])
                    continue
                while True:
                    r = 15_000.0 * math.sqrt(rng.uniform(0.05, 1.0))
                    theta = 2 * math.pi * rng.random()
                    x, y = _offset(county.lon, county.lat, r * math.cos(theta), r * math.sin(theta))
                    if not county.longyan:
                        break
                    nearest = int(np.argmin(_metres_between(float(x), float(y), longyan_seats[:, 0],
                                                            longyan_seats[:, 1])))
                    if nearest == ci:
                        break
                points.append((float(x), float(y)))
            self.anchors.append(np.array(points))

    def _place(self, rng, county_idx: np.ndarray, township_idx: np.ndarray, sigma: float, limit: float):
        """Points scattered around their townships' anchors, kept within ``SPREAD_M`` of the county seat."""
        base = np.array([self.anchors[c][t] for c, t in zip(county_idx.tolist(), township_idx.tolist(),
                                                              strict=True)]).reshape(-1, 2)
        dx, dy = _scatter(rng, len(county_idx), sigma, limit)
        lon, lat = _offset(base[:, 0], base[:, 1], dx, dy)
        seat_lon, seat_lat = self.county_seats[county_idx, 0], self.county_seats[county_idx, 1]
        # Pull strays back towards the seat: Longyan's counties are 40-60 km across.
        ex = (lon - seat_lon) * _M_PER_DEG_LON_EQ * np.cos(np.radians(seat_lat))
        ny = (lat - seat_lat) * _M_PER_DEG_LAT
        r = np.hypot(ex, ny)
        shrink = np.where(r > SPREAD_M, SPREAD_M / np.maximum(r, 1e-9), 1.0)
        return _offset(seat_lon, seat_lat, ex * shrink, ny * shrink)

    # -- layout: facilities ----------------------------------------------------------------------

    def _plan_facilities(self, rng) -> None:
        county, cat, level, real = [], [], [], []
        real_by_county = {}
        for ri, site in enumerate(_REAL_SITES):
            if site["facility"] is not None:
                real_by_county.setdefault(site["county"], []).append(ri)
        if self.scale is not None:
            n_total = max(self.scale // 50, 2 * len(self.county_list))
            per_county = np.full(len(self.county_list), n_total // len(self.county_list))
            per_county[: n_total % len(self.county_list)] += 1
        for ci, c in enumerate(self.county_list):
            for ri in real_by_county.get(c.code, []):
                county.append(ci)
                cat.append(_REAL_SITES[ri]["facility"][0])
                level.append(_REAL_SITES[ri]["facility"][1])
                real.append(ri)
            if self.second:
                pairs = self._second_city_template(rng)
            elif self.scale is None:
                pairs = self._longyan_template(rng)
            else:
                pairs = self._synthetic_template(rng, int(per_county[ci]))
            for k, v in pairs:
                county.append(ci)
                cat.append(k)
                level.append(v)
                real.append(-1)
        self.fac_county = np.array(county, np.int32)
        self.fac_cat = np.array(cat, np.int8)
        self.fac_level = np.array(level, np.int8)
        self.fac_real = np.array(real, np.int16)
        self.n_facilities = len(county)
        townships = np.array([rng.integers(len(self.county_list[c].townships)) for c in county], np.int32)
        lon, lat = self._place(rng, self.fac_county, townships, 2500.0, 6000.0)
        for i in np.flatnonzero(self.fac_real >= 0):
            site = _REAL_SITES[self.fac_real[i]]
            lon[i], lat[i] = site["lon"], site["lat"]
            townships[i] = self.county_list[self.fac_county[i]].townships.index(site["township"])
        self.fac_township = townships
        self.fac_lon, self.fac_lat = lon, lat

    @staticmethod
    def _longyan_template(rng) -> list[tuple[int, int]]:
        """One county's generated facilities: every category, every level, 40-60 in all.

        The first of some categories gets a fixed level so that each level occurs in every county.
        """
        pick = lambda *levels: int(rng.choice(levels))  # noqa: E731 - a one-line helper reads best here
        pairs = [(_CEM, _CNTY), (_CEM, _PROV)]
        pairs += [(_COLL, pick(_UNGR, _UNGR, _CNTY)) for _ in range(5)]
        pairs += [(_HALL, _CITY), (_HALL, pick(_CNTY, _PROV))]
        pairs += [(_MON, _NAT), (_MON, pick(_UNGR, _CNTY, _CITY)), (_MON, pick(_UNGR, _CNTY)), (_MON, _UNGR)]
        pairs += [(_PAV, pick(_UNGR, _CNTY)) for _ in range(3)]
        pairs += [(_WALL, pick(_CNTY, _UNGR)) for _ in range(2)]
        pairs += [(_SQ, pick(_CNTY, _UNGR, _CITY)) for _ in range(2)]
        pairs += [(_SCAT, _CNTY if rng.random() < 0.1 else _UNGR) for _ in range(int(rng.integers(20, 33)))]
        return pairs

    @staticmethod
    def _second_city_template(rng) -> list[tuple[int, int]]:
        """One county of the second demo city: a county cemetery, a collective burial ground, a memorial
        hall or monument and a few scattered graves (a handful of facilities at demo scale)."""
        pairs = [(_CEM, _CNTY), (_COLL, _UNGR), (int(rng.choice((_HALL, _MON))), int(rng.choice((_CNTY, _CITY))))]
        pairs += [(_SCAT, _UNGR) for _ in range(int(rng.integers(3, 6)))]
        return pairs

    @staticmethod
    def _synthetic_template(rng, n: int) -> list[tuple[int, int]]:
        """A synthetic county's facilities: a cemetery and a collective burial ground, the rest drawn."""
        cats = rng.choice(8, size=max(n - 2, 0), p=[0.06, 0.05, 0.12, 0.08, 0.06, 0.06, 0.12, 0.45])
        graded = rng.choice(5, size=len(cats), p=[0.01, 0.04, 0.10, 0.30, 0.55])
        scattered = rng.random(len(cats)) < 0.1
        levels = np.where(cats == _SCAT, np.where(scattered, _CNTY, _UNGR), graded)
        pairs = [(_CEM, _CNTY), (_COLL, _UNGR)] + list(zip(cats.tolist(), levels.tolist(), strict=True))
        return pairs[:n]

    # -- layout: relocations, tombs, martyrs ----------------------------------------------------------

    def _plan_relocations(self, rng) -> None:
        n_counties = len(self.county_list)
        if self.second:
            self.n_relocations = SECOND_CITY_RELOCATIONS
            weights = np.ones(n_counties)
        elif self.scale is None:
            self.n_relocations = DEFAULT_RELOCATIONS
            # 上杭 and 长汀, the old Central Soviet heartland, had the most scattered graves.
            weights = np.array([0.13, 0.14, 0.19, 0.21, 0.12, 0.12, 0.09])
        else:
            self.n_relocations = self.scale * DEFAULT_RELOCATIONS // DEFAULT_TOMBS
            weights = np.bincount(self.fac_county, minlength=n_counties).astype(float)
        per_county = rng.multinomial(self.n_relocations, weights / weights.sum())
        dest_ok = np.isin(self.fac_cat, (_CEM, _COLL)) & (self.fac_real < 0)
        self.dest_ok = dest_ok
        first_day, last_day = _days(date(2019, 2, 1)), _days(date(2022, 6, 15))
        county_of, dest_of, batch_of, seq_of = [], [], [], []
        self.batch_label, self.batch_day, self.batch_number = [], [], []
        for ci in range(n_counties):
            n = int(per_county[ci])
            if n == 0:
                continue
            dests = np.flatnonzero(dest_ok & (self.fac_county == ci))
            w = np.where(self.fac_cat[dests] == _COLL, 3.0, 1.0)
            county_of.append(np.full(n, ci, np.int32))
            dest_of.append(rng.choice(dests, size=n, p=w / w.sum()).astype(np.int32))
            seq_of.append(np.arange(1, n + 1, dtype=np.int32))
            n_batches = max(1, math.ceil(n / 60))
            days = np.sort(rng.integers(first_day, last_day, n_batches))
            sizes = [len(part) for part in np.array_split(np.arange(n), n_batches)]
            name, abbr = self.county_list[ci].name, self.county_list[ci].abbr
            per_year, doc_number = {}, {}
            for day, size in zip(days.tolist(), sizes, strict=True):
                year = _dates([day])[0].year
                per_year[year] = per_year.get(year, 0) + 1
                doc_number[year] = doc_number.get(year, int(rng.integers(2, 15))) + int(rng.integers(1, 12))
                batch_id = len(self.batch_label)
                self.batch_label.append(f"{year}-{name}-第{per_year[year]}批")
                self.batch_day.append(day)
                self.batch_number.append(f"{abbr}民〔{year}〕{doc_number[year]}号")
                batch_of.append(np.full(size, batch_id, np.int32))
        self.rel_county = np.concatenate(county_of) if county_of else np.zeros(0, np.int32)
        self.rel_dest = np.concatenate(dest_of) if dest_of else np.zeros(0, np.int32)
        self.rel_batch = np.concatenate(batch_of) if batch_of else np.zeros(0, np.int32)
        self.rel_seq = np.concatenate(seq_of) if seq_of else np.zeros(0, np.int32)
        self.batch_day = np.array(self.batch_day, np.int64)
        # A few gaps for reconciliation to find: relocations without recorded family consent, and
        # reburials not yet accepted.
        n_no_consent = 9 if self.scale is None and not self.second else max(1, self.n_relocations // 500)
        n_open = 23 if self.scale is None and not self.second else max(1, self.n_relocations // 200)
        picks = rng.choice(self.n_relocations, size=min(self.n_relocations, n_no_consent + n_open), replace=False)
        self.rel_no_consent = np.zeros(self.n_relocations, bool)
        self.rel_not_accepted = np.zeros(self.n_relocations, bool)
        self.rel_no_consent[picks[:n_no_consent]] = True
        self.rel_not_accepted[picks[n_no_consent:]] = True

    def _plan_tombs(self, rng) -> None:
        n_tombs = SECOND_CITY_TOMBS if self.second else DEFAULT_TOMBS if self.scale is None else self.scale
        scattered = np.flatnonzero(self.fac_cat == _SCAT)
        scattered = scattered[: max(0, n_tombs - self.n_relocations)]
        n_orig = n_tombs - self.n_relocations - len(scattered)
        dests = np.flatnonzero(self.dest_ok)
        # Graves that were always in a cemetery lie mostly in the old county cemeteries.
        w = np.where(self.fac_cat[dests] == _CEM, 3.0, 1.0)
        orig = rng.choice(dests, size=n_orig, p=w / w.sum()).astype(np.int32)
        fac = np.concatenate([orig, self.rel_dest, scattered.astype(np.int32)])
        kind = np.concatenate([np.zeros(n_orig, np.int8), np.ones(self.n_relocations, np.int8),
                               np.full(len(scattered), 2, np.int8)])
        rel = np.concatenate([np.full(n_orig, -1), np.arange(self.n_relocations), np.full(len(scattered), -1)])
        # Tombs are listed facility by facility, as a ledger would (一墓一表); within a facility the old
        # graves come first, then the reburials in the order they happened.
        order = np.argsort(fac, kind="stable")
        self.tomb_fac, self.tomb_kind, tomb_rel = fac[order], kind[order], rel[order]
        self.n_tombs = n_tombs
        self.rel_tomb = np.empty(self.n_relocations, np.int64)
        moved = np.flatnonzero(tomb_rel >= 0)
        self.rel_tomb[tomb_rel[moved]] = moved
        starts = np.r_[0, np.flatnonzero(np.diff(self.tomb_fac)) + 1]
        group = np.cumsum(np.r_[0, (np.diff(self.tomb_fac) != 0).astype(np.int64)])
        self.tomb_plot = np.arange(n_tombs) - starts[group]
        self.fac_first_tomb = np.full(self.n_facilities, -1, np.int64)
        self.fac_first_tomb[self.tomb_fac[starts]] = starts
        # Some scattered graves still wait for their move.
        self.tomb_awaiting = (self.tomb_kind == 2) & (rng.random(n_tombs) < 0.3)

    def _plan_martyrs(self, rng) -> None:
        n_martyrs = SECOND_CITY_MARTYRS if self.second else DEFAULT_MARTYRS if self.scale is None else self.scale
        self.n_martyrs = n_martyrs
        perm = rng.permutation(n_martyrs)
        self.tomb_martyr = perm[: self.n_tombs]
        self.martyr_tomb = np.full(n_martyrs, -1, np.int64)
        self.martyr_tomb[self.tomb_martyr] = np.arange(self.n_tombs)
        self.martyr_unknown = np.zeros(n_martyrs, bool)
        n_unknown = round(0.03 * n_martyrs)
        self.martyr_unknown[rng.choice(self.tomb_martyr, size=min(n_unknown, self.n_tombs), replace=False)] = True
        self.martyr_surname = rng.integers(len(SURNAMES), size=n_martyrs).astype(np.int16)
        self.martyr_given = rng.integers(len(GIVEN), size=n_martyrs).astype(np.int16)
        random_county = rng.integers(len(self.county_list), size=n_martyrs)
        tomb_county = np.where(self.martyr_tomb >= 0,
                               self.fac_county[self.tomb_fac[np.maximum(self.martyr_tomb, 0)]], random_county)
        self.martyr_county = np.where(rng.random(n_martyrs) < 0.8, tomb_county, random_county).astype(np.int32)

    # -- layout: inspections and tasks -----------------------------------------------------------------

    def _plan_inspections(self, rng) -> None:
        n = self.n_facilities
        real = self.fac_real >= 0
        never = (rng.random(n) < 0.03) & ~real
        if self.scale is None and never.sum() < 2:
            never[rng.choice(np.flatnonzero(self.fac_cat == _SCAT), 2, replace=False)] = True
        overdue = (rng.random(n) < 0.10) & ~never & ~real
        today, start = _days(TODAY), _days(INSPECTIONS_FROM)
        self.insp_last = today - np.where(overdue, rng.integers(190, 420, n), rng.integers(3, 85, n))
        self.insp_step = rng.integers(75, 100, n)
        self.insp_count = np.where(never, 0, (self.insp_last - start) // self.insp_step + 1).astype(np.int64)
        self.insp_offset = np.r_[0, np.cumsum(self.insp_count)[:-1]]
        self.fac_overdue = overdue
        graded = self.fac_level != _UNGR
        p_present = np.where(graded, 0.82, 0.62)
        p_deficient = np.where(graded, 0.13, 0.24)
        u = rng.random((n, 6))
        std = np.where(u < p_present[:, None], 0, np.where(u < (p_present + p_deficient)[:, None], 1, 2))
        std[real] = 0
        self.fac_std = std.astype(np.int8)
        score = (std == 1).sum(axis=1) + 2 * (std == 2).sum(axis=1) + rng.integers(0, 2, n)
        self.fac_condition = np.select([score <= 1, score <= 3, score <= 6], [0, 1, 2], 3).astype(np.int8)
        self.fac_condition[real] = 0
        self.fac_never = never
        troubled = (self.fac_condition >= 2) | (std == 2).any(axis=1)
        self.task_count = np.where(never, 0, np.where(troubled, rng.integers(1, 3, n),
                                                      (rng.random(n) < 0.08).astype(int))).astype(np.int64)
        if self.second:
            # At demo scale chance may leave a county with nothing merely overdue (no work order open, so its
            # due list shows it as overdue rather than as a problem): make one such facility per county.
            for ci in range(len(self.county_list)):
                calm = np.flatnonzero((self.fac_county == ci) & ~never & ~real & (self.task_count == 0))
                if calm.size and not overdue[calm].any():
                    f = calm[-1]
                    overdue[f] = True
                    self.insp_last[f] = today - 200
            self.insp_count = np.where(never, 0, (self.insp_last - start) // self.insp_step + 1).astype(np.int64)
            self.insp_offset = np.r_[0, np.cumsum(self.insp_count)[:-1]]
        self.task_offset = np.r_[0, np.cumsum(self.task_count)[:-1]]

    # -- rows: facilities, names, zones, heritage sites --------------------------------------------------

    def _facility_name(self, i: int, used: set, rng) -> str:
        county = self.county_list[self.fac_county[i]]
        township = county.townships[self.fac_township[i]]
        cat = int(self.fac_cat[i])
        if self.fac_real[i] >= 0:
            return _REAL_SITES[self.fac_real[i]]["name"]
        if cat == _SCAT:
            t = self.fac_first_tomb[i]
            if t >= 0:
                m = self.tomb_martyr[t]
                person = UNKNOWN_NAME if self.martyr_unknown[m] else _core_name(self.martyr_surname[m],
                                                                               self.martyr_given[m])
            else:
                person = _core_name(int(rng.integers(len(SURNAMES))), int(rng.integers(len(GIVEN))))
            rest = f"{person}烈士墓"
        elif cat == _CEM and f"{county.name}烈士陵园{DEMO_MARK}" not in used:
            used.add(f"{county.name}烈士陵园{DEMO_MARK}")
            return f"{county.name}烈士陵园{DEMO_MARK}"
        else:
            rest = _CATEGORY_LABELS[cat]
        # A second facility of a kind in one township is told apart by its village, as locals would.
        candidates = [f"{township}{rest}{DEMO_MARK}"] + [f"{township}{_village(rng)}{rest}{DEMO_MARK}"
                                                         for _ in range(3)]
        name = next((c for c in candidates if c not in used), f"{township}{rest}{i + 1}号{DEMO_MARK}")
        used.add(name)
        return name

    def _build_facilities(self, rng) -> None:
        rows, names, zones = [], [], []
        used = self._used_names
        seq_in_county: dict[int, int] = {}
        self.fac_code = []
        self.fac_name = []
        start_days = _days(date(1986, 1, 1))
        for i in range(self.n_facilities):
            ci = int(self.fac_county[i])
            county = self.county_list[ci]
            seq_in_county[ci] = seq_in_county.get(ci, 0) + 1
            code = f"{county.code}-F{seq_in_county[ci]:04d}"
            cat, level = int(self.fac_cat[i]), int(self.fac_level[i])
            real = _REAL_SITES[self.fac_real[i]] if self.fac_real[i] >= 0 else None
            name = self._facility_name(i, used, rng)
            township = county.townships[self.fac_township[i]]
            village = None if real else _village(rng)
            graded = level != _UNGR
            approved_on = None
            approved_by = None
            if graded:
                approved_on = _dates([int(rng.integers(start_days, _days(date(2021, 6, 30))))])[0]
                approved_by = _LEVEL_BODIES[level] or f"{county.name}人民政府"
                if not county.longyan and level == _CITY:
                    approved_by = f"{county.city}人民政府"
            label = _CATEGORY_LABELS[cat]
            if real:
                description = f"{real['name']}（{label}）。{APPROXIMATE_NOTE}。"
                address = real["address"]
            else:
                description = f"示例数据：{county.name}{township}的{label}，虚构设施，仅供演示。"
                address = f"福建省{county.city}{county.name}{township}{village}"
            lo, hi = _AREA_M2[cat]
            entrusted = cat == _SCAT and not graded
            std = self.fac_std[i]
            checked = not self.fac_never[i]
            rows.append({
                "id": i + 1,
                "code": code,
                "name": name,
                "category": CATEGORY_CODES[cat],
                "level": LEVEL_CODES[level],
                "level_approved_by": approved_by,
                "level_approved_on": approved_on,
                "protection_unit": f"{county.name}退役军人事务局" if graded else None,
                "managing_unit": (f"{village}村民委员会" if entrusted and village else
                                  f"{county.name}{township}人民政府" if entrusted else
                                  f"{county.name}退役军人事务局"),
                "caretaker": fictional_name(int(rng.integers(len(SURNAMES))), int(rng.integers(len(GIVEN)))),
                # A local number cannot begin with 0, so these can never reach anyone.
                "caretaker_phone": f"0597-0{int(rng.integers(0, 1_000_000)):06d}",
                "address": address,
                "county_code": county.code,
                "township": township,
                "village": village,
                "description": description,
                "visiting_info": "开放时间 8:30—17:30（示例）" if graded and cat != _SCAT else None,
                "area_m2": float(round(rng.uniform(lo, hi), 1)),
                "material": str(rng.choice(_MATERIALS)),
                "dimensions": f"高 {rng.uniform(3, 30):.1f} 米（示例）" if cat in (_MON, _PAV) else None,
                "sign_present": bool(rng.random() < (0.92 if graded else 0.55)) or real is not None,
                "land_title_registered": bool(rng.random() < (0.75 if graded else 0.35)) or real is not None,
                **{f: (CHECK_STATES[std[k]] if checked else None) for k, f in enumerate(STD_FIELDS)},
                "position_approximate": real is not None,
                "retired_reason": None,
                "status": "active",
                "is_demo": True,
                "geom": Point(float(self.fac_lon[i]), float(self.fac_lat[i])),
            })
            self.fac_code.append(code)
            self.fac_name.append(name)
            # The name of record, and for a few facilities the name they bore before an approved renaming.
            valid_from = approved_on or _dates([int(rng.integers(_days(date(2005, 1, 1)), _days(date(2020, 1, 1))))])[0]
            if real is None and cat != _SCAT and rng.random() < 0.06:
                former_from = _dates([_days(valid_from) - int(rng.integers(2000, 8000))])[0]
                names.append({"facility_id": i + 1, "name": f"{township}{_FORMER_LABELS[cat]}{DEMO_MARK}",
                              "valid_from": former_from, "valid_to": _dates([_days(valid_from) - 1])[0],
                              "approval_number": None, "approved_by": None, "note": "示例数据：原名"})
                approval = f"{county.abbr}政〔{valid_from.year}〕{int(rng.integers(5, 90))}号"
                names.append({"facility_id": i + 1, "name": name, "valid_from": valid_from, "valid_to": None,
                              "approval_number": approval, "approved_by": f"{county.name}人民政府",
                              "note": "示例数据：经批准更名"})
            else:
                names.append({"facility_id": i + 1, "name": name, "valid_from": valid_from, "valid_to": None,
                              "approval_number": None, "approved_by": None, "note": "示例数据"})
            if graded:
                zones.extend(self._zones_for(i, rng, real, approved_on, approved_by))
        for k, row in enumerate(names, start=1):
            row["id"] = k
        for k, row in enumerate(zones, start=1):
            row["id"] = k
        self._facility_rows, self._name_rows, self._zone_rows = rows, names, zones

    def _zones_for(self, i: int, rng, real, approved_on, approved_by) -> list[dict]:
        cat, level = int(self.fac_cat[i]), int(self.fac_level[i])
        lon, lat = float(self.fac_lon[i]), float(self.fac_lat[i])
        if real:
            width, height = real["range_m"]
            angle, control = 0.0, real["control_m"]
            note = (f"示例数据：保护范围约 {width:.0f} 米 × {height:.0f} 米，控制地带外扩 {control:.0f} 米；"
                    f"{APPROXIMATE_NOTE}。")
        else:
            factor = rng.uniform(0.8, 1.3)
            width, height = _RANGE_SIZE[cat][0] * factor, _RANGE_SIZE[cat][1] * factor
            angle = float(rng.uniform(-30, 30))
            wants_control = level in (_NAT, _PROV) or rng.random() < 0.3
            control = float(rng.choice((100.0, 150.0, 200.0))) if wants_control else None
            note = "示例数据：范围为示意，非批准的保护范围。"
        poly, area = _rect_zone(lon, lat, width, height, angle)
        reported = None
        if approved_on is not None and rng.random() < 0.9:
            reported = min(TODAY, _dates([_days(approved_on) + int(rng.integers(30, 400))])[0])
        base = {"facility_id": i + 1, "reported_on": reported, "approved_by": approved_by, "source": "demo",
                "status": "active", "is_demo": True}
        out = [{**base, "kind": "protection_range", "area_m2": round(area, 1), "note": note, "geom": _multi(poly)}]
        if control is not None:
            grown, grown_area = _control_zone(poly, control)
            out.append({**base, "kind": "control_zone", "area_m2": round(grown_area, 1),
                        "note": f"示例数据：保护范围外扩 {control:.0f} 米。", "geom": _multi(grown)})
        return out

    def _build_heritage(self, rng) -> None:
        rows = []
        fac_of_real = {int(self.fac_real[i]): i for i in np.flatnonzero(self.fac_real >= 0)}
        seq: dict[str, int] = {}
        kinds = (("红军医院旧址", "旧址"), ("苏维埃政府旧址", "旧址"), ("赤卫队驻地遗址", "遗址"),
                 ("红军标语群", "旧址"), ("游击队会议旧址", "会址"))

        def code_for(county_code: str) -> str:
            seq[county_code] = seq.get(county_code, 0) + 1
            return f"{county_code}-H{seq[county_code]:03d}"

        codes = {c.code for c in self.county_list}
        for ri, site in enumerate(_REAL_SITES):
            if site["county"] not in codes:
                continue
            fi = fac_of_real.get(ri)
            rows.append({
                "code": code_for(site["county"]), "name": site["name"], "kind": site["kind"],
                "period": site["period"], "heritage_level": site["heritage_level"],
                "education_base": site["education_base"], "education_base_level": site["education_base_level"],
                "county_code": site["county"], "township": site["township"], "address": site["address"],
                "description": f"{site['name']}。{APPROXIMATE_NOTE}。",
                "facility_id": None if fi is None else int(fi) + 1, "position_approximate": True,
                "status": "active", "is_demo": True, "geom": Point(site["lon"], site["lat"]),
            })
        n_per_county = 1 if self.second else 3
        ci = np.repeat(np.arange(len(self.county_list)), n_per_county).astype(np.int32)
        ti = np.array([rng.integers(len(self.county_list[c].townships)) for c in ci], np.int32)
        lon, lat = self._place(rng, ci, ti, 2500.0, 6000.0)
        for k in range(len(ci)):
            county = self.county_list[ci[k]]
            township = county.townships[ti[k]]
            label, kind = kinds[int(rng.integers(len(kinds)))]
            name = f"{township}{label}{DEMO_MARK}"
            rows.append({
                "code": code_for(county.code), "name": name, "kind": kind, "period": "土地革命战争时期",
                "heritage_level": None, "education_base": bool(rng.random() < 0.3), "education_base_level": None,
                "county_code": county.code, "township": township,
                "address": f"福建省{county.city}{county.name}{township}{_village(rng)}",
                "description": "示例数据：虚构的革命旧址，仅供演示。", "facility_id": None,
                "position_approximate": False, "status": "active", "is_demo": True,
                "geom": Point(float(lon[k]), float(lat[k])),
            })
        for k, row in enumerate(rows, start=1):
            row["id"] = k
        self._heritage_rows = rows

    # -- rows: the big tables, chunk by chunk ---------------------------------------------------------

    def _rng(self, table: str, chunk: int):
        if self.second:
            return np.random.default_rng([self.seed, TABLES.index(table), chunk, 1])
        return np.random.default_rng([self.seed, TABLES.index(table), chunk])

    def _martyr_chunk(self, chunk: int, a: int, b: int) -> list[dict]:
        rng = self._rng("martyrs", chunk)
        n = b - a
        names, pinyin, initials = _name_table()
        combo = self.martyr_surname[a:b].astype(np.int64) * len(GIVEN) + self.martyr_given[a:b]
        unknown = self.martyr_unknown[a:b]
        county = self.martyr_county[a:b]
        modern = rng.random(n) < 0.05
        death_year = np.where(modern, rng.integers(1950, 1959, n),
                              1927 + rng.choice(len(_DEATH_YEAR_WEIGHTS), n,
                                                p=_DEATH_YEAR_WEIGHTS / _DEATH_YEAR_WEIGHTS.sum()))
        age = np.rint(rng.triangular(16, 22, 48, n)).astype(np.int64)
        birth_year = death_year - age
        has_death_date = rng.random(n) < 0.6
        year_start = (death_year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
        year_len = np.where(((death_year % 4 == 0) & (death_year % 100 != 0)) | (death_year % 400 == 0), 366, 365)
        death_dates = _dates(year_start + (rng.random(n) * year_len).astype(np.int64))
        has_birth_date = rng.random(n) < 0.1
        birth_start = (birth_year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
        birth_dates = _dates(birth_start + rng.integers(0, 365, n))
        enlist_from = np.maximum(birth_year + 14, np.where(modern, 1945, 1927))
        enlisted = enlist_from + (rng.random(n) * (death_year - enlist_from + 1)).astype(np.int64)
        enlisted = np.minimum(enlisted, death_year)
        has_enlisted = rng.random(n) < 0.8
        female = rng.random(n) < 0.08
        township_pick = rng.integers(0, 1_000_000, n)
        death_township_pick = rng.integers(0, 1_000_000, n)
        rank = rng.integers(len(_RANKS), size=n)
        cause = rng.integers(len(_CAUSES), size=n)
        unit_pick = rng.integers(0, 1_000, n)
        unknown_py, unknown_ini = _unknown_pinyin()
        rows = []
        for k in range(n):
            c = self.county_list[county[k]]
            township = c.townships[township_pick[k] % len(c.townships)]
            died_in = c.townships[death_township_pick[k] % len(c.townships)]
            dy = int(death_year[k])
            units = next(u for limit, u in _UNITS if dy <= limit)
            unit = units[unit_pick[k] % len(units)]
            death_date = death_dates[k] if has_death_date[k] else None
            place = f"{c.name}{died_in}"
            cause_text = _CAUSES[cause[k]]
            if unknown[k]:
                rows.append({
                    "id": a + k + 1, "name": UNKNOWN_NAME, "name_pinyin": unknown_py, "name_initials": unknown_ini,
                    "is_unknown": True, "sex": None, "native_place": None, "native_county_code": None,
                    "birth_year": None, "birth_date": None, "death_year": dy if has_death_date[k] else None,
                    "death_date": None, "enlisted_year": None, "unit": unit if has_enlisted[k] else None,
                    "rank": None, "place_of_death": place, "cause_of_death": cause_text,
                    "deeds": f"{FICTION_NOTE}无名烈士，姓名、籍贯不详，{dy}年前后于{place}{cause_text}。",
                    "status": "active", "is_demo": True,
                })
                continue
            by = int(birth_year[k])
            en = int(enlisted[k]) if has_enlisted[k] else None
            rows.append({
                "id": a + k + 1, "name": names[combo[k]], "name_pinyin": pinyin[combo[k]],
                "name_initials": initials[combo[k]], "is_unknown": False, "sex": "女" if female[k] else "男",
                "native_place": f"福建省{c.city}{c.name}{township}", "native_county_code": c.code,
                "birth_year": by,
                "birth_date": birth_dates[k] if has_birth_date[k] else None,
                "death_year": dy, "death_date": death_date, "enlisted_year": en, "unit": unit,
                "rank": _RANKS[rank[k]], "place_of_death": place, "cause_of_death": cause_text,
                "deeds": (f"{FICTION_NOTE}{en}年参加革命，" if en else FICTION_NOTE) + f"{dy}年于{place}{cause_text}。",
                "status": "active", "is_demo": True,
            })
        return rows

    def _tomb_chunk(self, chunk: int, a: int, b: int) -> list[dict]:
        rng = self._rng("tombs", chunk)
        fac = self.tomb_fac[a:b]
        plot = self.tomb_plot[a:b]
        kind = self.tomb_kind[a:b]
        # Plots lie in a grid: areas of 300 graves (A, B, …) around the facility, 15 rows of 20.
        area = plot // 300
        row = (plot % 300) // 20
        number = plot % 20
        dx = (number - 9.5) * 2.5 + ((area % 3) - 1) * 60.0 + rng.normal(0, 0.3, b - a)
        dy = (row - 7.0) * 3.5 + (((area // 3) % 3) - 1) * 70.0 + (area // 9) * 70.0 + rng.normal(0, 0.3, b - a)
        scattered = kind == 2
        dx, dy = np.where(scattered, 0.0, dx), np.where(scattered, 0.0, dy)
        lon, lat = _offset(self.fac_lon[fac], self.fac_lat[fac], dx, dy)
        points = shapely.points(lon, lat)
        state = np.where(kind == 1, "relocated", np.where(self.tomb_awaiting[a:b], "awaiting_relocation", "in_place"))
        rows = []
        for k in range(b - a):
            letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            ar = int(area[k])
            rows.append({
                "id": a + k + 1, "martyr_id": int(self.tomb_martyr[a + k]) + 1, "facility_id": int(fac[k]) + 1,
                # Stored bare, as geodata.plots keeps them; pages show them as signed (A区 4排 20号).
                "plot_area": None if scattered[k] else (letters[ar] if ar < 26 else f"Z{ar}"),
                "plot_row": None if scattered[k] else f"{int(row[k]) + 1}",
                "plot_number": None if scattered[k] else f"{int(number[k]) + 1}",
                "state": str(state[k]), "status": "active", "is_demo": True, "geom": points[k],
            })
        return rows

    def _relocation_chunk(self, chunk: int, a: int, b: int) -> list[dict]:
        rng = self._rng("relocations", chunk)
        n = b - a
        county = self.rel_county[a:b]
        dest = self.rel_dest[a:b]
        tomb = self.rel_tomb[a:b]
        batch = self.rel_batch[a:b]
        base = self.batch_day[batch]
        surveyed = base + rng.integers(0, 21, n)
        consent = np.minimum(surveyed + rng.integers(3, 41, n), base + 60)
        approved = base + 65  # one approval per batch, after every consent in it
        exhumed = approved + rng.integers(5, 41, n)
        reburied = exhumed + rng.integers(0, 4, n)
        accepted = reburied + rng.integers(10, 61, n)
        townships = rng.integers(0, 1_000_000, n)
        ti = np.array([townships[k] % len(self.county_list[county[k]].townships) for k in range(n)], np.int32)
        olon, olat = self._place(rng, county, ti, 3000.0, 7000.0)
        method = rng.choice(("gps", "map", "ledger", "estimate"), size=n, p=(0.6, 0.2, 0.15, 0.05))
        source = rng.choice(("provincial", "county", "city"), size=n, p=(0.85, 0.1, 0.05))
        amount = 2000.0 + 100.0 * rng.integers(0, 16, n)
        has_effects = rng.random(n) < 0.12
        spot = rng.integers(len(_ORIGIN_SPOTS), size=n)
        relation = rng.integers(len(_RELATIONS), size=n)
        kin_s, kin_g = rng.integers(len(SURNAMES), size=n), rng.integers(len(GIVEN), size=n)
        dlon, dlat = self.fac_lon[dest], self.fac_lat[dest]
        # The journey line starts at the origin as the public may see it (geodata.origins); the exact point
        # stays in origin_lon/origin_lat.
        plon, plat = public_origins(olon, olat)
        lines = shapely.linestrings(np.stack([np.column_stack([plon, plat]), np.column_stack([dlon, dlat])], axis=1))
        d_surveyed, d_consent, d_approved = _dates(surveyed), _dates(consent), _dates(approved)
        d_exhumed, d_reburied, d_accepted = _dates(exhumed), _dates(reburied), _dates(accepted)
        rows = []
        for k in range(n):
            i = a + k
            c = self.county_list[county[k]]
            township = c.townships[ti[k]]
            village = _village(rng)
            t = int(tomb[k])
            plot = int(self.tomb_plot[t])
            ar = plot // 300
            consented = not self.rel_no_consent[i]
            is_accepted = not self.rel_not_accepted[i]
            effects = None
            if has_effects[k]:
                picked = rng.choice(len(_EFFECTS), size=int(rng.integers(1, 4)), replace=False)
                effects = [_EFFECTS[e] + DEMO_MARK for e in sorted(picked.tolist())]
            rows.append({
                "id": i + 1, "code": f"{c.code}-R{int(self.rel_seq[i]):05d}", "tomb_id": t + 1,
                "martyr_id": int(self.tomb_martyr[t]) + 1,
                "origin_place": f"{c.name}{township}{village}{_ORIGIN_SPOTS[spot[k]]}",
                "origin_county_code": c.code, "origin_township": township, "origin_village": village,
                "origin_lon": round(float(olon[k]), 7), "origin_lat": round(float(olat[k]), 7),
                "origin_point_method": str(method[k]), "dest_facility_id": int(dest[k]) + 1,
                "dest_plot_area": ("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[ar] if ar < 26 else f"Z{ar}"),
                "dest_plot_row": f"{(plot % 300) // 20 + 1}", "dest_plot_number": f"{plot % 20 + 1}",
                "family_consent": consented,
                "consent_by": fictional_name(int(kin_s[k]), int(kin_g[k])) if consented else None,
                "consent_relation": _RELATIONS[relation[k]] if consented else None,
                "approval_number": self.batch_number[batch[k]], "approval_body": f"{c.name}人民政府",
                "surveyed_on": d_surveyed[k], "consent_on": d_consent[k] if consented else None,
                "approved_on": d_approved[k], "exhumed_on": d_exhumed[k], "reburied_on": d_reburied[k],
                "accepted_on": d_accepted[k] if is_accepted else None,
                "batch": self.batch_label[batch[k]], "project": f"{c.name}零散烈士墓集中迁移项目{DEMO_MARK}",
                "funding_source": str(source[k]), "funding_amount": float(amount[k]), "effects": effects,
                "stage": "accepted" if is_accepted else "in_progress", "note": "示例数据",
                "status": "active", "is_demo": True, "geom": lines[k],
            })
        return rows

    def _inspection_chunk(self, chunk: int, a: int, b: int) -> list[dict]:
        rng = self._rng("inspections", chunk)
        rows = []
        for f in range(a, b):
            n = int(self.insp_count[f])
            if n == 0:
                continue
            # Visits step back from the last one at this facility's cadence, a few days either way.
            back = np.arange(n)[::-1]
            days = self.insp_last[f] - back * self.insp_step[f] + np.where(back > 0, rng.integers(-5, 6, n), 0)
            days = np.maximum(days, _days(INSPECTIONS_FROM))
            minutes = rng.integers(0, 9 * 60 + 30, n)  # 08:00–17:30 Beijing time is 00:00–09:30 UTC
            stamps = (days.astype("datetime64[D]") + minutes.astype("timedelta64[m]")).tolist()
            tier = rng.choice(("station", "county", "city"), size=n, p=(0.65, 0.28, 0.07))
            u = rng.random((n, 6))
            std = np.where(u < 0.7, 0, np.where(u < 0.9, 1, 2))
            cond = rng.choice(4, size=n, p=(0.5, 0.3, 0.15, 0.05))
            if self.fac_real[f] >= 0:  # the well-kept real sites: nothing worse than fair, nothing missing
                cond = np.minimum(cond, 1)
                std = np.minimum(std, 1)
            std[-1] = self.fac_std[f]
            cond[-1] = self.fac_condition[f]
            has_fix = rng.random(n) < 0.95
            far = rng.random(n) < 0.03
            dist = np.where(far, rng.uniform(300, 2000, n), np.abs(rng.normal(0, 25, n)))
            angle = rng.uniform(0, 2 * np.pi, n)
            lon, lat = _offset(np.full(n, self.fac_lon[f]), np.full(n, self.fac_lat[f]),
                               dist * np.cos(angle), dist * np.sin(angle))
            who_s, who_g = rng.integers(len(SURNAMES)), rng.integers(len(GIVEN))
            for k in range(n):
                problems = [f"{STD_LABELS[j]}：{'不规范' if std[k, j] == 1 else '缺失'}" for j in range(6)
                            if std[k, j] != 0]
                rows.append({
                    "id": int(self.insp_offset[f]) + k + 1, "facility_id": f + 1, "inspector_id": None,
                    "inspector_name": fictional_name(int(who_s), int(who_g)),
                    "inspected_at": stamps[k].replace(tzinfo=UTC), "tier": str(tier[k]),
                    "condition": CONDITIONS[cond[k]],
                    **{field: CHECK_STATES[std[k, j]] for j, field in enumerate(STD_FIELDS)},
                    "problems": ("；".join(problems) + DEMO_MARK) if problems else None,
                    "distance_m": round(float(dist[k]), 1) if has_fix[k] else None,
                    "on_site": bool(dist[k] <= 100.0) if has_fix[k] else None,
                    "idempotency_key": None, "status": "active", "is_demo": True,
                    "geom": Point(float(lon[k]), float(lat[k])) if has_fix[k] else None,
                })
        return rows

    def _task_chunk(self, chunk: int, a: int, b: int) -> list[dict]:
        rng = self._rng("maintenance_tasks", chunk)
        rows = []
        today = _days(TODAY)
        for f in range(a, b):
            n = int(self.task_count[f])
            if n == 0:
                continue
            last_insp = int(self.insp_offset[f] + self.insp_count[f])  # id of the facility's last inspection
            found = int(self.insp_last[f])
            failing = [j for j in range(6) if self.fac_std[f, j] != 0]
            cond = int(self.fac_condition[f])
            for k in range(n):
                title = _TASK_TITLES[failing[k]] if k < len(failing) else _GENERAL_TASK
                state = str(rng.choice(("open", "in_progress", "done"), p=(0.35, 0.25, 0.40)))
                estimate = float(1000 * rng.integers(2, 80))
                completed = None
                if state == "done":
                    day = int(rng.integers(min(found + 7, today), today + 1))
                    minute = int(rng.integers(0, 9 * 60))
                    completed = (np.datetime64(day, "D") + np.timedelta64(minute, "m")).tolist()
                    completed = completed.replace(tzinfo=UTC)
                rows.append({
                    "id": int(self.task_offset[f]) + k + 1, "facility_id": f + 1, "inspection_id": last_insp,
                    "title": title + DEMO_MARK,
                    "description": f"示例数据：{self.fac_name[f]}巡查发现的问题，需{title}。",
                    "priority": ("normal", "normal", "high", "urgent")[cond] if k == 0 else
                    str(rng.choice(("low", "normal"))),
                    "assignee_id": None, "due_on": _dates([found + int(rng.integers(30, 121))])[0],
                    "cost_estimate": estimate,
                    "cost_actual": round(estimate * float(rng.uniform(0.8, 1.2)), -1) if state == "done" else None,
                    "funding_source": str(rng.choice(("provincial", "county", "city"), p=(0.5, 0.4, 0.1))),
                    "state": state, "completed_at": completed, "verified_by_id": None, "verified_at": None,
                    "status": "active", "is_demo": True,
                })
        return rows


# Foreign keys of the demo's rows: the column and the table it points into (shifted with that table's ids).
_REFERENCES = {"facility_id": "facilities", "dest_facility_id": "facilities", "martyr_id": "martyrs",
               "tomb_id": "tombs", "inspection_id": "inspections"}


class DemoData:
    """A deterministic demo registry: counts per table and chunks of plain row dicts.

    The demo registry holds two cities: Longyan (the figures of DOMAIN.md: 6,850 tombs, 4,377
    relocations) and, at demo scale, four counties of Sanming (``SECOND_CITY_*``), so one registry
    serves two cities. A synthetic set (``scale``) spreads over Longyan and the rest of Fujian.

    Everything is laid out once from ``seed`` (which facility, tomb, martyr and relocation goes
    where, as numpy arrays); the rows of the big tables are then built chunk by chunk, each chunk
    from its own random stream, so a million-tomb set never sits in memory as dicts and any chunk
    is the same whichever order they are read in.

    Rows carry explicit ``id`` values (1..n per table, the second city's after the first's) and
    foreign keys between them, ``is_demo=True`` and ``status='active'``; geometries are shapely
    objects in WGS 84 longitude/latitude. Columns a loader stamps itself (``version``,
    ``created_at``, ``updated_at``) are left out so the data stays the same from run to run.

    Parameters
    ----------
    scale : int, optional
        ``None`` for the demo registry; N for a synthetic set of N tombs and N martyrs
        with N/50 facilities over Longyan and the rest of Fujian.
    seed : int, default 2022
        Seed of every random stream.

    Example
    -------
    >>> data = DemoData(seed=2022)
    >>> data.by_city["350800"]["relocations"], data.by_city["350400"]["relocations"]
    (4377, 24)
    >>> data.counts["relocations"]
    4401
    >>> table, rows = next(data.chunks())
    >>> table, rows[0]["is_demo"]
    ('facilities', True)
    """

    def __init__(self, scale: int | None = None, seed: int = 2022):
        if scale is not None and (isinstance(scale, bool) or int(scale) != scale or scale < 1):
            raise ValueError(f"scale must be a positive whole number of tombs or None, not {scale!r}")
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
        self.scale = None if scale is None else int(scale)
        self.seed = int(seed)
        used: set[str] = set()  # facility names are unique across the cities
        self._parts = [_CityData(self.scale, self.seed, used_names=used)]
        if self.scale is None:
            self._parts.append(_CityData(None, self.seed, second=True, used_names=used))
        self.county_list = [c for part in self._parts for c in part.county_list]
        self.counts = {t: sum(part.counts[t] for part in self._parts) for t in TABLES}
        # The records of each demo city (the synthetic sets count as their first city's).
        cities = (_LONGYAN_CITY[0], _SANMING_CITY[0])
        self.by_city = {city: dict(part.counts) for city, part in zip(cities, self._parts, strict=False)}

    def rows(self, table: str) -> Iterator[list[dict]]:
        """Yield the rows of one table in chunks of plain dicts (every dict of a table has the same keys).

        Parameters
        ----------
        table : str
            One of ``TABLES``.

        Yields
        ------
        list of dict
            Column name to value; geometries are shapely objects in WGS 84 lon/lat.

        Example
        -------
        >>> data = DemoData(seed=2022)
        >>> first = next(data.rows("relocations"))[0]
        >>> first["stage"] in ("accepted", "in_progress"), first["geom"].geom_type
        (True, 'LineString')
        """
        if table not in TABLES:
            raise ValueError(f"unknown demo table {table!r}; the demo writes {', '.join(TABLES)}")
        offsets = dict.fromkeys(TABLES, 0)
        for part in self._parts:
            for chunk in part.rows(table):
                if any(offsets.values()):
                    for row in chunk:
                        row["id"] += offsets[table]
                        for column, target in _REFERENCES.items():
                            if row.get(column) is not None:
                                row[column] += offsets[target]
                yield chunk
            for t in TABLES:
                offsets[t] += part.counts[t]

    def chunks(self) -> Iterator[tuple[str, list[dict]]]:
        """Yield ``(table, rows)`` for every table in write order (referenced tables first).

        Yields
        ------
        tuple of (str, list of dict)
            The table name and a chunk of at most a few thousand rows.

        Example
        -------
        >>> data = DemoData(scale=200, seed=1)
        >>> sum(len(rows) for table, rows in data.chunks() if table == "tombs")
        200
        """
        for table in TABLES:
            for rows in self.rows(table):
                yield table, rows


def generate(scale: int | None = None, seed: int = 2022) -> DemoData:
    """Lay out a deterministic demo registry (pure: no Flask, no database).

    Parameters
    ----------
    scale : int, optional
        ``None`` for the demo registry: Longyan (about 330 facilities, 6,850 tombs, 7,500 martyrs, 4,377
        relocations, two years of inspections) and a second city at demo scale (``SECOND_CITY_*``);
        N for a synthetic benchmark set of N tombs and N
        martyrs, N/50 facilities, relocations in Longyan's proportion.
    seed : int, default 2022
        The same seed gives the same registry, row for row.

    Returns
    -------
    DemoData
        ``.counts`` per table and ``.chunks()`` yielding ``(table, list of dict)`` in write order.

    Example
    -------
    >>> data = generate()
    >>> data.by_city["350800"]["tombs"], data.by_city["350800"]["relocations"]
    (6850, 4377)
    """
    return DemoData(scale=scale, seed=seed)
