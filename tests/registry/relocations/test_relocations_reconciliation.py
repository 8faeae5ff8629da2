"""Reconciliation: the demo's Longyan reconciles to 4,377 relocations on both stores, as a page and as XLSX; its
second city on its own; the registry as the sum of both."""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from openpyxl import load_workbook
from shapely.geometry import Point
from sqlalchemy import select

from registry.demo import SECOND_CITY_RELOCATIONS
from registry.models import Martyr, Tomb
from registry.services import Actor, unit_of_work
from registry.services.demo import load_demo
from registry.services.divisions import counties as store_counties
from registry.services.relocations.reconciliation import reconcile, to_xlsx
from registry.services.users import create_demo_users
from tests.factories import DESTINATIONS, new_martyr, new_tomb, rebury


@pytest.fixture
def demo_store(any_store):
    load_demo(any_store)
    return any_store


def test_demo_reconciles_to_4377(demo_store):
    result = reconcile(demo_store, city="350800")
    total = result.total
    assert total.relocated == 4377
    assert sum(line.relocated for line in result.batches) == 4377
    assert total.target == sum(line.target for line in result.counties) == 3033
    assert f"{total.share:.1%}" == "144.3%"
    # The demo's deliberate gaps: 9 without consent (their consent step is missing), 23 not yet accepted.
    assert (total.without_consent, total.steps_missing, total.accepted, total.without_martyr) == (9, 9, 4354, 0)
    # The second city on its own: its few relocations, one without consent and one not yet accepted.
    second = reconcile(demo_store, city="350400").total
    assert second.relocated == SECOND_CITY_RELOCATIONS and second.target
    assert (second.without_consent, second.accepted) == (1, SECOND_CITY_RELOCATIONS - 1)
    # The whole registry is the sum of its cities.
    result = reconcile(demo_store)
    assert [line.county for line in result.counties] == list(store_counties(demo_store))
    assert result.total.relocated == total.relocated + second.relocated
    assert result.total.target == total.target + second.target
    # Every demo reburial retired the scattered grave it left and no demo grave lies in a cemetery before its
    # martyr's move, so no known martyr has two active tombs (counted here tomb by tomb, as a check of the query).
    with demo_store.session() as s:
        known = set(s.scalars(select(Martyr.id).where(Martyr.status == "active", Martyr.is_unknown.is_(False))))
        per_martyr = Counter(s.scalars(select(Tomb.martyr_id).where(Tomb.status == "active")))
    assert sum(1 for m, n in per_martyr.items() if m in known and n > 1) == result.multi_graves_total == 0
    assert result.multi_graves == [] and len(known) > 4000
    one = reconcile(demo_store, "350823")
    assert [line.label for line in one.counties] == ["上杭县"]
    assert one.total.relocated == next(c.relocated for c in result.counties if c.county == "350823")


def test_reconciliation_page_and_xlsx_for_the_demo(app, store):
    load_demo(store)
    create_demo_users(store, Actor.system("test"))
    client = app.test_client()
    client.post("/login", data={"username": "reviewer", "password": "demo-reviewer-pass"})
    whole = client.get("/relocations/reconciliation").get_data(as_text=True)
    assert re.search(rf'data-total="relocated">{4377 + SECOND_CITY_RELOCATIONS}<', whole)
    page = client.get("/relocations/reconciliation?city=350800")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'data-total="relocated">4377<', html)
    assert re.search(r'data-total="multi-graves">0<', html) and "data-martyr=" not in html
    assert "144.3%" in html and "演示数值" in html
    workbook = client.get("/relocations/reconciliation?format=xlsx&city=350800")
    assert workbook.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(workbook.data)).worksheets[0]
    rows = list(ws.values)
    assert rows[0][:3] == ("县（市、区）", "任务数", "已迁移")
    assert rows[-1][0] == "合计" and rows[-1][2] == 4377
    graves = load_workbook(io.BytesIO(workbook.data))["多处墓位烈士"]
    assert list(graves.values) == [("烈士编号", "烈士", "墓位编号", "设施", "墓位", "墓位状态", "迁入该墓位的迁移记录")]
    # The journeys endpoint serves every demo relocation with a line.
    data = client.get("/relocations/journeys.geojson").get_json()
    assert data["journeys"] == 4377 + SECOND_CITY_RELOCATIONS
    assert sum(f["properties"]["received"] for f in data["features"] if f["properties"]["kind"] == "destination") \
        == 4377 + SECOND_CITY_RELOCATIONS


def test_xlsx_in_english(demo_store):
    ws = load_workbook(io.BytesIO(to_xlsx(reconcile(demo_store), english=True))).worksheets[0]
    assert next(ws.values)[:3] == ("County", "Target", "Relocated")


# --- martyrs with more than one grave on the registry ----------------------------------------------------


def graves_of(result):
    return [(m.martyr_id, m.name, [(t.id, t.facility, t.plot, t.state, t.relocations) for t in m.tombs])
            for m in result.multi_graves]


def test_a_martyr_reburied_from_a_cemetery_grave_is_listed_with_both_tombs(any_app, any_store, dests):
    cemetery, changting = DESTINATIONS[0][1], DESTINATIONS[2][1]
    twice = new_martyr(any_store, "李明")
    left = new_tomb(any_store, dests["CT-CEM"], twice, plot=("乙区", "1排", "5号"))
    moved = rebury(any_store, dests, "G1", twice, "12号")
    once = new_martyr(any_store, "王某")  # one tomb: not listed
    new_tomb(any_store, dests["CT-CEM"], once, plot=("乙区", "1排", "6号"))
    unknown = new_martyr(any_store, "无名烈士", unknown=True)  # unknown martyrs are not one person: not listed
    new_tomb(any_store, dests["CT-CEM"], unknown, plot=("乙区", "2排", "1号"))
    new_tomb(any_store, dests["CT-CEM"], unknown, plot=("乙区", "2排", "2号"))
    retired = new_martyr(any_store, "赵某")  # a retired tomb does not count
    new_tomb(any_store, dests["CT-CEM"], retired, plot=("乙区", "3排", "1号"))
    new_tomb(any_store, dests["CT-CEM"], retired, plot=("乙区", "3排", "2号"), status="retired")

    result = reconcile(any_store)
    assert graves_of(result) == [(twice, "李明", [
        (left, changting, "乙区 1排 5号", "in_place", []),
        (moved.tomb_id, cemetery, "B区 3排 12号", "relocated", ["G1"]),
    ])]
    assert (result.multi_graves_total, result.multi_graves_more) == (1, 0)
    # A county's reconciliation lists the martyrs with a tomb in that county.
    assert [m.martyr_id for m in reconcile(any_store, "350823").multi_graves] == [twice]
    assert reconcile(any_store, "350802").multi_graves_total == 0
    create_demo_users(any_store, Actor.system("test"))
    client = any_app.test_client()
    client.post("/login", data={"username": "reviewer", "password": "demo-reviewer-pass"})
    html = client.get("/relocations/reconciliation").get_data(as_text=True)
    section = html[html.index('id="multi-graves"'):]
    assert re.search(r'data-total="multi-graves">1<', section) and "未列出" not in section
    assert f'<a href="/martyrs/{twice}">李明</a>' in section and section.count("data-tomb=") == 2
    for shown in (changting, "乙区 1排 5号", "原地安葬", cemetery, "B区 3排 12号", "已迁入", "G1"):
        assert shown in section
    assert not any(name in section for name in ("王某", "无名烈士", "赵某"))

    # Staff retire the grave the martyr left: the martyr is no longer listed.
    with unit_of_work(any_store) as s:
        s.get(Tomb, left).status = "retired"
    assert (graves_of(reconcile(any_store)), reconcile(any_store).multi_graves_total) == ([], 0)


def test_the_list_is_capped_and_the_xlsx_lists_every_tomb(any_store, dests):
    ids = [new_martyr(any_store, name) for name in ("甲某", "乙某", "丙某")]
    for martyr_id in ids:
        new_tomb(any_store, None, martyr_id)
        new_tomb(any_store, dests["SH-COL"], martyr_id)
    capped = reconcile(any_store, graves_limit=2)
    assert [m.martyr_id for m in capped.multi_graves] == ids[:2]
    assert (capped.multi_graves_total, capped.multi_graves_more) == (3, 1)
    assert all(len(m.tombs) == 2 for m in capped.multi_graves)
    headers = ((False, ("烈士编号", "烈士", "墓位编号", "设施")),
               (True, ("Martyr id", "Martyr", "Tomb id", "Facility")))
    for english, header in headers:
        book = load_workbook(io.BytesIO(to_xlsx(reconcile(any_store), english=english)))
        ws = book.worksheets[2]
        rows = list(ws.values)
        assert rows[0][:len(header)] == header
        assert [(r[0], r[1]) for r in rows[1:]] == [(i, n) for i, n in zip(ids, ("甲某", "乙某", "丙某"), strict=True)
                                                    for _ in range(2)]
        assert {r[3] for r in rows[1:]} == {None, DESTINATIONS[1][1]}  # a grave without a facility: an empty cell
    assert book.sheetnames[2] == "Martyrs with several graves"


def test_the_page_shows_200_martyrs_and_says_how_many_more(app, store):
    create_demo_users(store, Actor.system("test"))
    with unit_of_work(store) as s:
        martyrs = [Martyr(name=f"测试{i:03d}", version=1) for i in range(203)]
        s.add_all(martyrs)
        s.flush()
        s.add_all(Tomb(martyr_id=m.id, state="in_place", geom=Point(116.4, 25.0 + i / 10000), version=1)
                  for m in martyrs for i in range(2))
        first = martyrs[0].id
    client = app.test_client()
    # A reviewer reads every county; these graves lie at no facility, so no manager's county holds them.
    client.post("/login", data={"username": "reviewer", "password": "demo-reviewer-pass"})
    html = client.get("/relocations/reconciliation").get_data(as_text=True)
    section = html[html.index("有多处在册墓位的烈士</h2>"):]
    assert re.search(r'data-total="multi-graves">203<', section)
    assert section.count("data-martyr=") == 200 and section.count("data-tomb=") == 400
    assert f'<a href="/martyrs/{first}">测试000</a>' in section
    assert "另有 3 位未列出" in section and "测试200" not in section
    ws = load_workbook(io.BytesIO(client.get("/relocations/reconciliation?format=xlsx").data)).worksheets[2]
    assert ws.max_row == 1 + 406
