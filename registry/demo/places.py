"""The demo's places: its two cities and their counties (codes, names, seats, townships), the real sites of
DOMAIN.md, the other prefectures the synthetic sets spread over, former names, relocation targets and the demo
accounts scoped to them. The one module of the program that names real divisions (tests/test_no_place_in_code.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from geodata.crs import gcj02_to_wgs84
from registry.demo.figures import CEM, HALL, MON, NAT
from registry.demo.outlines import county_outlines

__all__ = [
    "ALIASES", "DEMO_ACCOUNTS", "EXAMPLE_COUNTY", "FUJIAN_PREFECTURES", "LEVEL_BODIES", "LONGYAN", "LONGYAN_CITY",
    "LONGYAN_RELOCATION_WEIGHTS", "PROVINCE", "REAL_NAMES", "REAL_SITES", "RELOCATION_TARGETS", "SANMING",
    "SANMING_CITY", "SYNTHETIC_TOWNSHIPS", "County", "demo_aliases", "demo_divisions",
    "longyan", "longyan_counties", "sanming",
]

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
LONGYAN = {
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
PROVINCE = ("350000", "福建省", 119.296, 26.100)
LONGYAN_CITY = ("350800", "龙岩市", 117.017, 25.075)
# The second demo city: a few of Sanming's counties at demo scale, so one registry serves two cities.
SANMING_CITY = ("350400", "三明市", 117.639, 26.263)
# adcode -> (name, seat lon, lat in WGS 84, approval abbreviation, townships); the first township is the seat's.
SANMING = {
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
# Former names and codes still met in old ledgers: (current code, former code, former name, from, to).
# 永定县 became 永定区 by the State Council's approval of December 2014.
ALIASES = (
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
    counties and (for synthetic sets) the synthetic counties with their prefectures. Every county carries a
    sketched outline (``registry.demo.outlines``) marked ``boundary_approximate``.

    Example
    -------
    >>> rows = demo_divisions()
    >>> [r["name"] for r in rows if r["level"] == "city"]
    ['龙岩市', '三明市']
    >>> next(r for r in rows if r["code"] == "350823")["parent"]
    '350800'
    >>> shanghang = next(r for r in rows if r["code"] == "350823")
    >>> shanghang["boundary_approximate"], shanghang["boundary"].geom_type
    (True, 'MultiPolygon')
    """
    def row(code, name, level, parent, lon, lat):
        return {"code": code, "name": name, "level": level, "parent": parent, "seat_lon": round(float(lon), 6),
                "seat_lat": round(float(lat), 6), "valid_from": None, "valid_to": None, "is_demo": True,
                "relocation_target": RELOCATION_TARGETS.get(code)}

    out = [row(*PROVINCE[:2], "province", None, *PROVINCE[2:])]
    cities = {LONGYAN_CITY[0]: LONGYAN_CITY, SANMING_CITY[0]: SANMING_CITY}
    extra = [c for c in (counties or ()) if not c.longyan]
    for c in extra:
        for code, name, lon, lat, _spread in FUJIAN_PREFECTURES:
            if c.code.startswith(code):
                cities.setdefault(code + "00", (code + "00", name, lon, lat))
    for code, name, lon, lat in cities.values():
        out.append(row(code, name, "city", PROVINCE[0], lon, lat))
    for c in longyan():
        out.append(row(c.code, c.name, "county", LONGYAN_CITY[0], c.lon, c.lat))
    for c in sanming():
        out.append(row(c.code, c.name, "county", SANMING_CITY[0], c.lon, c.lat))
    known = {r["code"] for r in out}
    for c in extra:
        if c.code not in known:
            out.append(row(c.code, c.name, "county", c.code[:4] + "00", c.lon, c.lat))
    # Sketched outlines around the seats, marked approximate: drawn on a map without a base map, judged by nothing.
    # The real sites count as places of their counties, so each lies in its own county's outline.
    seats = [(r["code"], r["parent"], r["seat_lon"], r["seat_lat"]) for r in out if r["level"] == "county"]
    city = {code: parent for code, parent, _lon, _lat in seats}
    cells = county_outlines(seats + [(s["county"], city[s["county"]], s["lon"], s["lat"]) for s in REAL_SITES])
    for r in out:
        if r["code"] in cells:
            r.update(boundary=cells[r["code"]], boundary_approximate=True)
    return out


def demo_aliases() -> list[dict]:
    """Former names and codes of the demo's counties, as rows for the aliases table."""
    return [{"code": code, "former_code": former, "former_name": name, "valid_from": start, "valid_to": end,
             "is_demo": True} for code, former, name, start, end in ALIASES]


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
FUJIAN_PREFECTURES = (
    ("3501", "福州市", 119.296, 26.074, 50), ("3502", "厦门市", 118.089, 24.479, 15),
    ("3503", "莆田市", 119.007, 25.454, 30), ("3504", "三明市", 117.639, 26.263, 60),
    ("3505", "泉州市", 118.676, 24.874, 50), ("3506", "漳州市", 117.647, 24.513, 50),
    ("3507", "南平市", 118.178, 26.642, 60), ("3509", "宁德市", 119.548, 26.666, 50),
)
SYNTHETIC_TOWNSHIPS = ("城关镇", "东城街道", "西城街道", "新城镇", "南山乡", "北岭乡", "溪口镇", "红星乡",
                        "坪田镇", "龙门乡", "洋坑乡", "石桥镇")

# The real sites of DOMAIN.md: name, county, township, approximate WGS 84 position, heritage kind,
# and (category, level) when the site is also a memorial facility. Positions are approximate.
REAL_SITES = (
    dict(name="古田会议会址", county="350823", township="古田镇", lon=116.818, lat=25.225, kind="会址",
         period="土地革命战争时期（1929年）", heritage_level="全国重点文物保护单位", education_base=True,
         education_base_level="全国爱国主义教育示范基地", facility=(HALL, NAT), range_m=(300.0, 250.0),
         control_m=200.0, address="福建省龙岩市上杭县古田镇"),
    dict(name="才溪乡调查纪念馆", county="350823", township="才溪镇", lon=116.585, lat=25.300, kind="纪念馆",
         period="土地革命战争时期（1930—1933年）", heritage_level=None, education_base=True,
         education_base_level=None, facility=None, address="福建省龙岩市上杭县才溪镇"),
    dict(name="瞿秋白烈士纪念碑", county="350821", township="汀州镇", lon=116.343, lat=25.832, kind="纪念碑",
         period="土地革命战争时期（1935年）", heritage_level=None, education_base=True,
         education_base_level=None, facility=(MON, NAT), range_m=(120.0, 100.0), control_m=100.0,
         address="福建省龙岩市长汀县罗汉岭"),
    dict(name="松毛岭战役遗址群", county="350821", township="南山镇", lon=116.470, lat=25.640, kind="遗址",
         period="土地革命战争时期（1934年）", heritage_level=None, education_base=True,
         education_base_level=None, facility=None, address="福建省龙岩市长汀县南山镇松毛岭"),
    dict(name="闽西革命烈士陵园", county="350802", township="东城街道", lon=117.035, lat=25.110, kind="陵园",
         period="土地革命战争时期至解放战争时期", heritage_level=None, education_base=True,
         education_base_level=None, facility=(CEM, NAT), range_m=(400.0, 300.0), control_m=150.0,
         address="福建省龙岩市新罗区虎岭山"),
)
REAL_NAMES = frozenset(site["name"] for site in REAL_SITES)

# Who approves a facility's level, by level (a county-level facility: the county's own government).
LEVEL_BODIES = ("国务院", "福建省人民政府", "龙岩市人民政府", None, None)
# How the first city's relocations spread over its counties: 上杭 and 长汀, the old Central Soviet heartland,
# had the most scattered graves.
LONGYAN_RELOCATION_WEIGHTS = (0.13, 0.14, 0.19, 0.21, 0.12, 0.12, 0.09)

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
    return list(longyan())


@functools.cache
def longyan() -> tuple[County, ...]:
    out = []
    for code, (name, glon, glat, abbr, townships) in LONGYAN.items():
        lon, lat = gcj02_to_wgs84(glon, glat)
        out.append(County(code, name, "龙岩市", float(lon), float(lat), abbr, townships, True))
    return tuple(out)


@functools.cache
def sanming() -> tuple[County, ...]:
    return tuple(County(code, name, SANMING_CITY[1], lon, lat, abbr, townships, False)
                 for code, (name, lon, lat, abbr, townships) in SANMING.items())
