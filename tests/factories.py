"""Builders shared by the tests: actors, records, people, files, ledgers and pages to visit.

Plain functions and constants only; fixtures live in the `conftest.py` files. A test module imports what it
shares from here, never from another test module.
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from PIL import Image
from pypdf import PdfReader
from pypinyin import lazy_pinyin
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from werkzeug.security import generate_password_hash
from werkzeug.test import EnvironBuilder

from geodata.crs import wgs84_to_gcj02
from registry.db import Store
from registry.models import (
    Attachment,
    Correction,
    Facility,
    FacilityDay,
    FacilityZone,
    HeritageSite,
    ImportBatch,
    Inspection,
    MaintenanceTask,
    Martyr,
    PreservationPlan,
    ProblemReport,
    Relocation,
    ServiceStation,
    Tomb,
    Tribute,
    User,
)
from registry.services import Actor, unit_of_work
from registry.services import relocations as service
from registry.services.facilities import create_facility
from registry.services.manage import calendar
from registry.services.manage.inspections import submit_inspection
from registry.services.manage.tasks import create_task
from registry.services.plan.conflicts import save_check
from registry.services.plan.plans import create_plan
from registry.services.plan.zones import save_zone
from registry.services.public.reports import submit_report
from registry.services.public.tribute import leave_message, moderate_tribute
from registry.services.relocations import create_relocation
from registry.services.users import as_actor, create_user

# Actors, counties and places

SYSTEM = Actor.system("test")
ADMIN = Actor(name="tester", roles=("admin",))
SHANGHANG_MANAGER = Actor(name="mgr", roles=("manager",), counties=("350823",))
IMPORTER = Actor(name="importer", roles=("manager",), counties=("350823", "350821"))
SHANGHANG = "350823"
CHANGTING = "350821"
GUTIAN = (116.818, 25.225)


# Public records written in one session, like the demo's

XSS_NAME = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">纪念碑'


def add_facility(session, code, name, lon, lat, *, category="monument", level="county", is_demo=True, **extra):
    facility = Facility(code=code, name=name, category=category, level=level, county_code="350802",
                        geom=Point(lon, lat), is_demo=is_demo, **extra)
    session.add(facility)
    session.flush()
    return facility


def add_martyr(session, name, *, unknown=False, is_demo=True, **extra):
    syllables = lazy_pinyin(name.replace("（示例）", ""))  # as the demo loader does: the name without its mark
    martyr = Martyr(name=name, name_pinyin="".join(syllables), name_initials="".join(s[0] for s in syllables),
                    is_unknown=unknown, is_demo=is_demo, **extra)
    session.add(martyr)
    session.flush()
    return martyr


def add_tomb(session, martyr, facility, lon, lat, *, plot=("A", "1", "1"), is_demo=True):
    tomb = Tomb(martyr_id=martyr.id if martyr else None, facility_id=facility.id if facility else None,
                plot_area=plot[0], plot_row=plot[1], plot_number=plot[2], geom=Point(lon, lat), is_demo=is_demo)
    session.add(tomb)
    session.flush()
    return tomb


def add_relocation(session, code, tomb, dest, origin=(116.9, 25.0)):
    relocation = Relocation(code=code, tomb_id=tomb.id, martyr_id=tomb.martyr_id, dest_facility_id=dest.id,
                            origin_lon=origin[0], origin_lat=origin[1], stage="accepted",
                            geom=LineString([origin, (dest.geom.x, dest.geom.y)]))
    session.add(relocation)
    return relocation


def add_heritage(session, code, name, lon, lat, *, education_base=True, is_demo=True):
    site = HeritageSite(code=code, name=name, kind="旧址", education_base=education_base, county_code="350802",
                        geom=Point(lon, lat), is_demo=is_demo)
    session.add(site)
    session.flush()
    return site


def demo_like(store) -> dict:
    """A small registry like the demo's: graded facilities, a cemetery with relocations, a heritage site."""
    with store.write_session() as session:
        national = add_facility(session, "F-1", "示例烈士陵园（示例）", 117.035, 25.110, category="cemetery",
                                level="national", description="陵园简介", visiting_info="每日 8:00-17:00 开放",
                                address="虎岭山", std_marker="present", std_road="deficient",
                                level_approved_by="国务院")
        monument = add_facility(session, "F-2", XSS_NAME, 117.00, 25.08, category="monument", level="county")
        pavilion = add_facility(session, "F-3", "示例纪念亭（示例）", 116.95, 25.05, category="pavilion",
                                level="ungraded")
        retired = add_facility(session, "F-4", "已撤销的纪念碑", 116.97, 25.06, status="retired")
        site = add_heritage(session, "H-1", "示例革命旧址（示例）", 117.01, 25.10)
        people = [add_martyr(session, name, death_year=1930 + i, native_place="龙岩县", unit="红十二军")
                  for i, name in enumerate(["张甲（示例）", "王乙（示例）", "李丙（示例）"])]
        unknown = add_martyr(session, "无名烈士", unknown=True, death_year=1934)
        tombs = [add_tomb(session, m, national, 117.035 + i * 0.0001, 25.110, plot=("A", "1", str(i + 1)))
                 for i, m in enumerate(people + [unknown])]
        add_relocation(session, "R-1", tombs[0], national)
        add_relocation(session, "R-2", tombs[1], national)
        session.commit()
        return {"national": national.id, "monument": monument.id, "pavilion": pavilion.id, "retired": retired.id,
                "site": site.id, "martyrs": [m.id for m in people], "unknown": unknown.id,
                "tombs": [t.id for t in tombs]}


# People, facilities and inspections of the managers' area; signing in with the test client

_codes = itertools.count(1)
PEOPLE = (
    ("mgr", ["manager"], [SHANGHANG]), ("mgr2", ["manager"], [SHANGHANG]), ("other", ["manager"], [CHANGTING]),
    ("planner1", ["planner"], []), ("reviewer1", ["reviewer"], []), ("admin1", ["admin"], []),
)


def people(store) -> dict[str, Actor]:
    """One user of each role; two managers of 上杭县 (so a second person can verify) and one of 长汀县.

    Written directly with a cheap hash (password ``<name>-password``): the sign-in itself is tested
    elsewhere, and six scrypt hashes per test would make these tests slow.
    """
    made = {}
    with store.write_session() as s:
        for name, roles, counties in PEOPLE:
            user = User(username=name, display_name=name, roles=roles, counties=counties,
                        password_hash=generate_password_hash(f"{name}-password", method="pbkdf2:sha256:1000"))
            s.add(user)
            s.flush()
            made[name] = as_actor(user)
        s.commit()
    return made


def facility(store, county=SHANGHANG, lonlat=GUTIAN, **extra) -> Facility:
    n = next(_codes)
    values = {"code": f"{county}-T{n:04d}", "name": f"测试纪念碑{n}", "category": "monument", "level": "county",
              "county_code": county, "lon": lonlat[0], "lat": lonlat[1], "township": "古田镇"}
    values.update(extra)
    return create_facility(store, SYSTEM, values)


def form(key="key-0001-abcdef", **extra) -> dict:
    values = {"idempotency_key": key, "condition": "good", "tier": "station",
              **{f"std_{k}": "present" for k in ("marker", "deeds", "headstone", "boundary", "rules", "road")}}
    values.update(extra)
    return values


def backdate(store, facility_id: int, days: int, tier="station", condition="good", problems=None) -> None:
    """An inspection made ``days`` ago (written directly: the form refuses nothing in the past anyway)."""
    with store.write_session() as s:
        s.add(Inspection(facility_id=facility_id, inspected_at=datetime.now(UTC) - timedelta(days=days), tier=tier,
                         condition=condition, problems=problems))
        s.commit()


def login(client, name):
    response = client.post("/login", data={"username": name, "password": f"{name}-password"})
    assert response.status_code == 302, name
    return client


def login_with(client, username, password):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302
    return client


# The passwords `create_demo_users` gives the demo's staff.
DEMO_PASSWORDS = {"admin": "demo-admin-pass", "manager": "demo-manager-pass", "manager2": "demo-manager-pass",
                  "reviewer": "demo-reviewer-pass"}


def demo_login(app, username):
    """A test client signed in as one of the demo's staff."""
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": DEMO_PASSWORDS[username]}).status_code == 302
    return client


def as_user(app, name):
    client = app.test_client()
    return login(client, name) if name else client


def multipart(client, url, data, headers=None):
    """POST multipart data, closing the spooled request body afterwards (the test client leaves a large one open)."""
    builder = EnvironBuilder(path=url, method="POST", data=data, headers=headers)
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


# Files: photos, an image bomb, a PDF's text, a valid GeoPackage

def jpeg(width=64, height=48, colour=(120, 30, 30), exif_time: str | None = None, gps=None) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    exif = Image.Exif()
    if exif_time:
        exif[0x0132] = exif_time  # DateTime
    if gps:
        lon, lat = gps
        exif[0x8825] = {1: "N", 2: (float(lat), 0.0, 0.0), 3: "E", 4: (float(lon), 0.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(width=40, height=30) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 100, 0, 128)).save(out, "PNG")
    return out.getvalue()


@functools.cache
def pixel_bomb() -> bytes:
    """A tiny PNG whose header declares 30,000 x 30,000 pixels (900 megapixels)."""
    out = io.BytesIO()
    Image.new("1", (30000, 30000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    # pypdf reads the font's embedded two-byte CMap as spaced-out characters with NULs between them; what
    # a reader sees is the characters in order, so both are dropped before comparing.
    return reader, re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


def assert_valid_geopackage(path) -> None:
    """GDAL's GeoPackage validator passes the file (skipped where the validator is not installed)."""
    result = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(path)],
                            capture_output=True, text=True, timeout=120)
    if "No module named" in result.stderr:
        pytest.skip("the GeoPackage validator is not installed (pip install --no-deps gdal-utils)")
    assert result.returncode == 0, result.stdout + result.stderr


def new_station(county: str, code: str, lon: float, lat: float, **extra) -> ServiceStation:
    """A township service station of ``county`` (not yet added to a session), with all five of the 五有."""
    values = {"name": f"服务站{code}", "level": "township", "county_code": county, "township": "某镇",
              "demonstration": "none", "has_body": True, "has_posts": True, "has_staff": True, "has_funds": True,
              "has_provisions": True, "opening_hours": "周一至周五 9:00—17:00", "phone": "0597-1234567",
              "geom": Point(lon, lat), "version": 1}
    values.update(extra)
    return ServiceStation(code=code, **values)


# Relocations: martyrs, graves, destinations and messy ledgers

MOVED = {"surveyed_on": date(2021, 3, 1), "exhumed_on": date(2021, 5, 2), "reburied_on": date(2021, 5, 3)}


def new_martyr(store, name: str, unknown: bool = False) -> int:
    with unit_of_work(store) as s:
        martyr = Martyr(name=name, is_unknown=unknown, version=1)
        s.add(martyr)
        s.flush()
        return martyr.id


def new_tomb(store, facility_id, martyr_id, plot=(None, None, None), status="active") -> int:
    with unit_of_work(store) as s:
        tomb = Tomb(facility_id=facility_id, martyr_id=martyr_id, state="in_place", plot_area=plot[0],
                    plot_row=plot[1], plot_number=plot[2], status=status, geom=Point(116.355, 25.835))
        s.add(tomb)
        s.flush()
        return tomb.id


def rebury(store, dests, code, martyr_id, number):
    """A relocation of the martyr reburied at the Shanghang cemetery, plot B区 3排 <number>."""
    return service.create_relocation(store, ADMIN, {
        "code": code, "origin_place": "长汀县某村后山", "origin_county_code": "350821", "origin_lon": 116.36,
        "origin_lat": 25.84, "martyr_id": martyr_id, "dest_facility_id": dests["SH-CEM"], "dest_plot_area": "B区",
        "dest_plot_row": "3排", "dest_plot_number": number, **MOVED})


# Two destinations in 上杭县 and one in 长汀县 (WGS 84, approximate, fictional names).
DESTINATIONS = (
    ("SH-CEM", "上杭县烈士陵园（测试）", "cemetery", "350823", 116.420, 25.045),
    ("SH-COL", "蛟洋集中安葬点（测试）", "collective_burial", "350823", 116.650, 25.170),
    ("CT-CEM", "长汀县烈士陵园（测试）", "cemetery", "350821", 116.355, 25.835),
)
HEADERS = ["编号", "县区", "乡镇", "原址", "东经", "北纬", "烈士姓名", "迁入地", "安置陵园", "墓区", "排", "墓号",
           "家属同意", "同意人", "批准文号", "批准机关", "调查日期", "同意日期", "批准日期", "起灵日期", "安葬日期",
           "验收日期", "批次", "遗物", "金额"]
# The fix a user makes for this ledger: its 迁入地 column holds the county moved to, and the cemetery is in 安置陵园.
FIXED_MAPPING = {"迁入地": "", "安置陵园": "dest_facility"}
FIXED_MAPPING_TEXT = "迁入地=\n安置陵园=dest_facility"


def make_destinations(store) -> dict[str, int]:
    """Register the destination facilities the messy ledger names; return code -> id."""
    ids = {}
    for code, name, category, county, lon, lat in DESTINATIONS:
        facility = create_facility(store, SYSTEM, {"code": code, "name": name, "category": category,
                                                   "county_code": county, "lon": lon, "lat": lat})
        ids[code] = facility.id
    return ids


GOOD_DAYS = ("2021-03-01", "2021-03-20", "2021-04-10", "2021-05-02", "2021-05-03", "2021-06-20")


def _row(code, county, township, place, lon, lat, dest, *, name="", consent="是", by="张某", approval="杭民〔2021〕5号",
         days=GOOD_DAYS, batch="2021-上杭-第1批", effects="", amount="3000"):
    return [code, county, township, place, lon, lat, name, "上杭县", dest, "A区", "1排", code[-2:], consent, by,
            approval, "上杭县人民政府", *days, batch, effects, amount]


def messy_rows(with_errors: bool) -> list[list]:
    """The ledger's rows after the header: every kind of mess, and (optionally) rows that must be refused."""
    cem, col, ct = DESTINATIONS[0][1], DESTINATIONS[1][1], DESTINATIONS[2][1]
    rows = [
        _row("SH-001", "上杭县", "蛟洋镇", "蛟洋村后山", 116.61, 25.15, col, effects="搪瓷碗、铜纽扣"),
        # Full-width digits, as typed with a Chinese input method.
        _row("SH-002", "上杭县", "临城镇", "城西村", "１１６.３９", "２５.０６", cem),
        # Degrees-minutes-seconds.
        _row("SH-003", "上杭县", "临城镇", "东山", "116°23′24″", "25°03′36″", cem),
        # Longitude and latitude swapped.
        _row("SH-004", "上杭县", "庐丰乡", "丰济村", 25.01, 116.47, cem),
        # County cell merged over three rows (filled in below by the merge).
        _row("SH-005", "上杭县", "才溪镇", "下才村", 116.55, 25.25, col),
        _row("SH-006", None, "才溪镇", "上才村", 116.56, 25.26, col),
        _row("SH-007", None, "才溪镇", "发坑村", 116.57, 25.24, col),
        [None] * len(HEADERS),  # an empty row
        HEADERS,  # the header row again in the middle (a second sheet pasted below the first)
        _row("CT-001", "长汀县", "南山镇", "中复村", 116.30, 25.70, ct, batch="2021-长汀-第1批"),
        _row("CT-002", "长汀", "南山镇", "钟屋村", 116.31, 25.71, ct, batch="2021-长汀-第1批", amount="0.3万"),
        _row("CT-002", "长汀", "南山镇", "钟屋村", 116.31, 25.71, ct, batch="2021-长汀-第1批", amount="0.3万"),  # dup
    ]
    if with_errors:
        rows += [
            # A point outside its county (in 永定区, far from 长汀).
            _row("CT-003", "长汀县", "南山镇", "远处", 116.75, 24.70, ct),
            # An unknown destination facility.
            _row("SH-008", "上杭县", "蛟洋镇", "文地村", 116.62, 25.16, "不存在的陵园"),
            # Exhumed before the approval.
            _row("SH-009", "上杭县", "蛟洋镇", "坪铺村", 116.63, 25.17, col,
                 days=("2021-03-01", "2021-03-20", "2021-04-10", "2021-04-01", "2021-05-03", "2021-06-20")),
            # Accepted without the family's consent.
            _row("SH-010", "上杭县", "蛟洋镇", "大洋村", 116.64, 25.18, col, consent="否", by=""),
            # A coordinate that is no number.
            _row("SH-011", "上杭县", "蛟洋镇", "华家村", "东经一百一十六", 25.18, col),
        ]
    return rows


def write_messy_ledger(path: Path, with_errors: bool = True) -> Path:
    """Write the messy ledger as XLSX: a merged title, a blank row, the header, then the messy rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = "迁移台账"
    ws.append(["龙岩市零散烈士墓迁移台账（测试）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.append([])
    ws.append(HEADERS)
    for row in messy_rows(with_errors):
        ws.append(row)
    # The 县区 cell of SH-005 merged down over SH-006 and SH-007 (rows 8-10).
    ws.merge_cells("B8:B10")
    wb.save(path)
    return path


def write_clean_csv(path: Path, n: int = 5, encoding: str = "utf-8", gcj: bool = False, start: int = 1) -> Path:
    """A clean CSV ledger in the default headings, optionally with GCJ-02 points (and destination points)."""
    lines = ["编号,县区,原址,经度,纬度,迁入地,迁入地经度,迁入地纬度,家属同意,批准文号,安葬日期"]
    dest = DESTINATIONS[0]
    for i in range(start, start + n):
        lon, lat = 116.40 + i * 0.001, 25.10 + i * 0.001
        dlon, dlat = dest[4], dest[5]
        if gcj:
            lon, lat = wgs84_to_gcj02(lon, lat)
            dlon, dlat = wgs84_to_gcj02(dlon, dlat)
        lines.append(f"CSV-{i:04d},上杭县,某村{i},{lon:.6f},{lat:.6f},{dest[1]},{dlon:.6f},{dlat:.6f},是,"
                     f"杭民〔2022〕1号,2022-05-0{1 + i % 9}")
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


# GIS: a registry of every published kind for OGC clients, and files for the import page

# Tombs lie on a 5 x 5 grid from (116.81, 25.20), 0.01° apart; facilities near 古田 and 长汀.
N_TOMBS = 25
GRID_X0, GRID_Y0, STEP = 116.81, 25.20, 0.01
PUBLIC = ("facilities", "heritage_sites", "tombs", "relocations", "protection_ranges", "service_stations")


def seed_ogc(store) -> dict:
    """A small registry with a row of every published kind, written straight to the store."""
    with store.write_session() as s:
        f1 = Facility(code="F1", name="古田会议烈士纪念碑", category="monument", level="provincial",
                      county_code="350823", caretaker="张三", caretaker_phone="13800000000",
                      level_approved_on=date(2001, 6, 1), geom=Point(116.818, 25.225))
        f2 = Facility(code="F2", name="长汀烈士陵园", category="cemetery", level="county", county_code="350821",
                      geom=Point(116.361, 25.842))
        f3 = Facility(code="F3", name="已撤销设施", category="monument", level="ungraded", county_code="350821",
                      status="retired", geom=Point(116.5, 25.5))
        s.add_all([f1, f2, f3])
        s.flush()
        s.add(HeritageSite(code="H1", name="古田会议会址", kind="会址", county_code="350823", education_base=True,
                           geom=Point(116.8185, 25.2255)))
        martyrs = [Martyr(name=f"烈士{i}", sex="男") for i in range(N_TOMBS)]
        s.add_all(martyrs)
        s.flush()
        for i in range(N_TOMBS):
            s.add(Tomb(martyr_id=martyrs[i].id, facility_id=f2.id, plot_area="A", plot_row=str(i // 5),
                       plot_number=str(i % 5), geom=Point(GRID_X0 + STEP * (i % 5), GRID_Y0 + STEP * (i // 5))))
        s.flush()
        s.add(Relocation(code="R1", origin_place="上杭县某村", origin_county_code="350823", consent_by="李四",
                         consent_relation="孙子",
                         family_consent=True, dest_facility_id=f2.id, reburied_on=date(2021, 4, 1),
                         stage="accepted", funding_amount=5000.0,
                         geom=LineString([(116.7, 25.1), (116.361, 25.842)])))
        s.add(Relocation(code="R2", origin_place="武平县某村", consent_by="王五", consent_relation="侄子",
                         reburied_on=date(2022, 3, 1), stage="accepted",
                         geom=LineString([(116.1, 25.09), (116.361, 25.842)])))
        s.add(FacilityZone(facility_id=f1.id, kind="protection_range", area_m2=1234.0, reported_on=date(2020, 1, 5),
                           geom=MultiPolygon([box(116.817, 25.224, 116.819, 25.226)])))
        s.add(FacilityZone(facility_id=f1.id, kind="control_zone",
                           geom=MultiPolygon([box(116.81, 25.22, 116.83, 25.23)])))
        s.add(Inspection(facility_id=f1.id, inspector_name="巡查员甲", inspected_at=datetime(2025, 3, 1, 2, tzinfo=UTC),
                         condition="good", geom=Point(116.8181, 25.2251), facility_changed=True,
                         facility_version_seen=1))
        s.add(MaintenanceTask(facility_id=f1.id, title="修补墓碑", priority="high"))
        s.add(PreservationPlan(code="P1", title="龙岩市烈士纪念设施保护规划", budget=1.0e6))
        s.commit()
        return {"f1": f1.id, "f2": f2.id, "f3": f3.id}


def get_json(client, url, status=200, **kw):
    response = client.get(url, **kw)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:500])
    return response.get_json(force=True) if response.data else None


HEADER = ["code", "name", "category", "county_code", "lon", "lat"]
GOOD = [["GI-1", "才溪乡调查纪念馆", "memorial_hall", SHANGHANG, "116.45", "25.0"],
        ["GI-2", "瞿秋白烈士纪念碑", "monument", CHANGTING, "116.37", "25.83"]]


def import_csv(rows, header=HEADER) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode("utf-8")


def import_preview(client, data: bytes, filename: str, **form):
    fields = {"kind": "facilities", "crs": "EPSG:4326", **form, "file": (io.BytesIO(data), filename)}
    return client.post("/gis/import/preview", data=fields, content_type="multipart/form-data")


def hidden_value(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def import_commit(client, page: str):
    form = {name: hidden_value(page, name) for name in ("token", "filename", "kind", "crs")}
    return client.post("/gis/import/commit", data=form)


# Rights: one of every county-bound object in each of two counties

A, B = "350823", "350821"  # 上杭县, 长汀县
USERS = {
    "admin": (["admin"], []),
    "manager_a": (["manager"], [A]),
    "manager_b": (["manager"], [B]),
    "planner": (["planner"], []),
    "reviewer": (["reviewer"], []),
}
PDF = b"%PDF-1.4\n% a scan\n"


def seed_rights(store, folder) -> dict:
    """One of every county-bound object in each county, all of it belonging to that county alone."""
    ids: dict = {}
    with store.write_session() as s:
        for name, (roles, counties) in USERS.items():
            s.add(User(username=name, display_name=name, roles=roles, counties=counties, version=1,
                       password_hash=generate_password_hash(f"{name}-password", method="pbkdf2:sha256:1000")))
        s.commit()
    for county, lon, lat in ((A, 116.42, 25.05), (B, 116.36, 25.84)):
        facility = create_facility(store, SYSTEM, {"code": f"CEM-{county}", "name": f"烈士陵园{county}",
                                                   "category": "cemetery", "county_code": county,
                                                   "lon": lon, "lat": lat})
        scan = folder / f"scan-{county}.pdf"
        scan.write_bytes(PDF)
        with store.write_session() as s:
            f = facility.id
            inspection = Inspection(facility_id=f, inspected_at=datetime(2025, 3, 1, tzinfo=UTC), condition="good",
                                    inspector_name=f"巡查员{county}", geom=Point(lon, lat), version=1)
            task = MaintenanceTask(facility_id=f, title=f"修补{county}", version=1)
            report = ProblemReport(reference=f"R-{county}", facility_id=f, text="碑面开裂", contact="13900000000",
                                   idempotency_key=f"rep-{county}", version=1)
            tribute = Tribute(target_type="facility", target_id=f, kind="message", message="缅怀",
                              idempotency_key=f"trib-{county}", version=1)
            tomb = Tomb(facility_id=f, plot_number="9", state="in_place", geom=Point(lon, lat), version=1)
            relocation = Relocation(code=f"REL-{county}", origin_county_code=county, origin_place="某村",
                                    origin_lon=lon + 0.1, origin_lat=lat + 0.1, dest_facility_id=f,
                                    consent_by=f"家属{county}", consent_relation="侄子", family_consent=True,
                                    geom=LineString([(lon + 0.1, lat + 0.1), (lon, lat)]), version=1)
            s.add_all([inspection, task, report, tribute, tomb, relocation])
            s.flush()
            photo = Attachment(entity_type="facilities", entity_id=f, kind="object_photo", filename="p.jpg",
                               content_type="image/jpeg", size=1, sha256="0" * 64, storage_path="missing.jpg",
                               public=False, version=1)
            scan_row = Attachment(entity_type="relocations", entity_id=relocation.id, kind="scan:consent_on",
                                  filename="consent.pdf", content_type="application/pdf", size=len(PDF),
                                  sha256="1" * 64, storage_path=str(scan), public=False, version=1)
            batch = ImportBatch(content_hash=f"hash-{county}", filename="台账.xlsx", crs="EPSG:4326",
                                actor_name="admin", codes=[relocation.code], version=1)
            day = FacilityDay(facility_id=f, name=f"开馆纪念日{county}", month=6, day=18, version=1)
            station = new_station(county, f"ST-{county}", lon, lat)
            correction = Correction(reference=f"JZ-2026-{county}", target_type="facility", target_id=f,
                                    target_version=1, field="address", proposed_value="某路1号", contact="139",
                                    county_code=county, state="pending", idempotency_key=f"corr-{county}", version=1)
            s.add_all([photo, scan_row, batch, day, station, correction])
            s.commit()
            ids[county] = {"facility_id": f, "inspection_id": inspection.id, "task_id": task.id,
                           "report_id": report.id, "tribute_id": tribute.id, "tomb_id": tomb.id,
                           "relocation_id": relocation.id, "photo": photo.id, "scan": scan_row.id,
                           "batch_id": batch.id, "county": county, "day_id": day.id, "station_id": station.id,
                           "correction_id": correction.id}
    return ids


# Markup in every free-text field, and the pages that show it

def marked(label: str) -> str:
    """Text that runs script if any page reads it as HTML: an image whose error handler fires, and a script."""
    return f'<img src=x onerror="window.__pwned=1;alert(1)">{label}<script>window.__pwned=2;alert(2)</script>'


FACILITY_NAME = marked("设施名称")
FACILITY_CODE = marked("F")
CARETAKER = marked("看护人")
CEMETERY = marked("烈士陵园")
MARTYR = marked("烈士")
RELOCATION = marked("R")
ORIGIN = marked("原葬地")
CONSENT = marked("家属")
PROBLEMS = marked("巡查问题")
TASK = marked("维修任务")
MESSAGE = marked("缅怀留言")
AUTHOR = "<img src=x onerror=alert(1)>甲"  # the field holds 30 characters
PENDING = marked("待审留言")
REPORT = marked("群众报告")
CHECK = marked("建设项目")
PLAN = marked("保护规划")
MEASURES = marked("保护措施")
DAY = marked("纪念日")


def seed_markup(store: Store, folder) -> dict:
    """One record of each kind, every free-text field holding markup, written through the services."""
    admin = as_actor(create_user(store, ADMIN, "admin1", "admin1-password", ["admin"]))
    manager = as_actor(create_user(store, ADMIN, "mgr", "mgr-password", ["manager"], ["350823"]))
    planner = as_actor(create_user(store, ADMIN, "planner1", "planner1-password", ["planner"]))
    site = create_facility(store, admin, {
        "code": FACILITY_CODE, "name": FACILITY_NAME, "category": "monument", "level": "county",
        "county_code": "350823", "lon": GUTIAN[0], "lat": GUTIAN[1], "township": "古田镇", "caretaker": CARETAKER,
        "description": marked("简介"), "address": marked("地址")})
    cemetery = create_facility(store, admin, {
        "code": marked("C"), "name": CEMETERY, "category": "cemetery", "level": "county", "county_code": "350823",
        "lon": 116.42, "lat": 25.05})
    with unit_of_work(store) as session:
        martyr = Martyr(name=MARTYR, version=1)
        session.add(martyr)
        session.flush()
        session.add(Tomb(martyr_id=martyr.id, facility_id=cemetery.id, state="in_place", plot_number="1", version=1,
                         geom=Point(116.42, 25.05)))
        session.flush()
        martyr_id = martyr.id
    relocation = create_relocation(store, admin, {
        "code": RELOCATION, "origin_place": ORIGIN, "origin_county_code": "350823", "origin_lon": 116.70,
        "origin_lat": 25.10, "dest_facility_id": cemetery.id, "dest_plot_number": "2", "martyr_id": martyr_id,
        "family_consent": True, "consent_by": CONSENT, "consent_relation": marked("关系"),
        "surveyed_on": date(2024, 3, 1)})
    inspection = submit_inspection(store, manager, site.id, form(problems=PROBLEMS), [],
                                   attachments_dir=str(folder / "attachments")).inspection
    task = create_task(store, manager, site.id, {"title": TASK, "description": marked("任务说明")},
                       inspection_id=inspection.id)
    shown = leave_message(store, "martyr", martyr_id, MESSAGE, AUTHOR, client="c1", idempotency_key="k" * 32)
    moderate_tribute(store, manager, shown.tribute_id, 1, "approve")
    leave_message(store, "facility", site.id, PENDING, AUTHOR, client="c2", idempotency_key="p" * 32)
    submit_report(store, site.id, REPORT, contact="<img src=x onerror=alert(1)>联系", client="c3",
                  idempotency_key="r" * 32, instance_path=str(folder / "instance"))
    save_zone(store, planner, site.id, "protection_range",
              Polygon([(116.817, 25.224), (116.819, 25.224), (116.819, 25.226), (116.817, 25.226)]),
              reported_on="2020-01-01")
    check = save_check(store, planner, CHECK, LineString([(116.80, 25.2252), (116.84, 25.2252)]),
                       note=marked("备注"))
    plan = create_plan(store, planner, {"title": PLAN, "measures": MEASURES, "scope": marked("范围"),
                                        "targets": marked("目标")})
    # A facility's own day three days from now, and its work order: on the calendar page and the home page.
    soon = calendar.today_in_beijing() + timedelta(days=3)
    calendar.add_day(store, manager, {"facility_code": FACILITY_CODE, "name": DAY, "month": str(soon.month),
                                      "day": str(soon.day)})
    calendar.prepare(store, admin, today=soon - timedelta(days=3))
    return {"facility": site.id, "martyr": martyr_id, "relocation": relocation.id, "inspection": inspection.id,
            "task": task.id, "check": check.id, "plan": plan.id}


def staff_pages(ids: dict) -> list[tuple[str, list[str]]]:
    """Every staff page that shows the seeded records, with the texts it must show."""
    return [
        ("/manage", [FACILITY_NAME]),
        (f"/manage/facilities/{ids['facility']}", [FACILITY_NAME, CARETAKER, PROBLEMS, TASK]),
        (f"/manage/inspections/{ids['inspection']}", [FACILITY_NAME, PROBLEMS]),
        ("/manage/tasks", [TASK, REPORT]),
        (f"/manage/tasks/{ids['task']}", [TASK]),
        ("/manage/moderation", [PENDING]),
        (f"/manage/visits?chosen=1&facility={ids['facility']}", [FACILITY_NAME, FACILITY_CODE]),
        ("/relocations", [RELOCATION]),
        (f"/relocations/{ids['relocation']}", [RELOCATION, ORIGIN, CONSENT, MARTYR, CEMETERY]),
        ("/relocations/reconciliation", []),
        ("/plan/zones", [FACILITY_NAME]),
        (f"/plan/zones/{ids['facility']}", [FACILITY_NAME]),
        ("/plan/checks", [CHECK]),
        (f"/plan/checks/{ids['check']}", [CHECK, FACILITY_NAME]),
        ("/plan/plans", [PLAN]),
        (f"/plan/plans/{ids['plan']}", [PLAN, MEASURES]),
        ("/plan/map", []),
        ("/ogc/collections/facilities/items?f=html", [FACILITY_NAME]),
        (f"/ogc/collections/facilities/items/{ids['facility']}?f=html", [FACILITY_NAME]),
        ("/ogc/collections/relocations/items?f=html", [RELOCATION]),
        ("/manage/calendar", [DAY, FACILITY_NAME]),
        ("/history", [FACILITY_NAME]),
        (f"/history/facilities/{ids['facility']}", [FACILITY_NAME]),
    ]


def public_pages(ids: dict) -> list[tuple[str, list[str]]]:
    """Every public page that shows the seeded records, with the texts it must show."""
    return [
        (f"/facilities/{ids['facility']}", [FACILITY_NAME]),
        ("/martyrs?q=烈士", [MARTYR]),
        (f"/martyrs/{ids['martyr']}", [MARTYR, MESSAGE]),
        (f"/facilities/{ids['facility']}/report", [FACILITY_NAME]),
        ("/?county=350823", [DAY]),
        (f"/corrections/new/facility/{ids['facility']}", [FACILITY_NAME]),
        (f"/corrections/new/martyr/{ids['martyr']}", [MARTYR]),
    ]


# The installed npm assets

VENDOR = Path(__file__).resolve().parents[1] / "registry" / "static" / "vendor"


def installed_vendor() -> Path:
    """The installed vendor folder; CI must have it, a bare checkout skips the file checks."""
    if not (VENDOR / "manifest.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{VENDOR} is not installed: the set-up must run npm ci and scripts/install_assets.py")
        pytest.skip("vendor assets not installed (npm ci && python scripts/install_assets.py)")
    return VENDOR
