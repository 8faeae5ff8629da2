"""Reconciliation: the demo registry reconciles to 4,377 relocations on both stores, as a page and as XLSX."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from registry.models.vocab import LONGYAN_COUNTIES, RELOCATION_TARGETS
from registry.services import Actor
from registry.services.demo import load_demo
from registry.services.reconciliation import reconcile, to_xlsx
from registry.services.users import create_demo_users


@pytest.fixture
def demo_store(any_store):
    load_demo(any_store)
    return any_store


def test_demo_reconciles_to_4377(demo_store):
    result = reconcile(demo_store)
    total = result.total
    assert total.relocated == 4377
    assert sum(line.relocated for line in result.batches) == 4377
    assert total.target == sum(RELOCATION_TARGETS.values()) == 3033
    assert f"{total.share:.1%}" == "144.3%"
    # The demo's deliberate gaps: 9 without consent (their consent step is missing), 23 not yet accepted.
    assert (total.without_consent, total.steps_missing, total.accepted, total.without_martyr) == (9, 9, 4354, 0)
    assert [line.county for line in result.counties] == list(LONGYAN_COUNTIES)
    one = reconcile(demo_store, "350823")
    assert [line.label for line in one.counties] == ["上杭县"]
    assert one.total.relocated == next(c.relocated for c in result.counties if c.county == "350823")


def test_reconciliation_page_and_xlsx_for_the_demo(app, store):
    load_demo(store)
    create_demo_users(store, Actor.system("test"))
    client = app.test_client()
    client.post("/login", data={"username": "reviewer", "password": "demo-reviewer-pass"})
    page = client.get("/relocations/reconciliation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'data-total="relocated">4377<', html)
    assert "144.3%" in html and "演示数值" in html
    workbook = client.get("/relocations/reconciliation?format=xlsx")
    assert workbook.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(workbook.data)).worksheets[0]
    rows = list(ws.values)
    assert rows[0][:3] == ("县（市、区）", "任务数", "已迁移")
    assert rows[-1][0] == "合计" and rows[-1][2] == 4377
    # The journeys endpoint serves every demo relocation with a line.
    data = client.get("/relocations/journeys.geojson").get_json()
    assert data["journeys"] == 4377
    assert sum(f["properties"]["received"] for f in data["features"] if f["properties"]["kind"] == "destination") \
        == 4377


def test_xlsx_in_english(demo_store):
    ws = load_workbook(io.BytesIO(to_xlsx(reconcile(demo_store), english=True))).worksheets[0]
    assert next(ws.values)[:3] == ("County", "Target", "Relocated")
