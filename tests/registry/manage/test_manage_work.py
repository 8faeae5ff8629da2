"""Due status, priority and trend, work orders and the ledgers, on both stores."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from registry.models import AuditEvent, MaintenanceTask
from registry.services import Conflict, Forbidden, InvalidInput
from registry.services.manage.archive import facility_archive, ledger_xlsx
from registry.services.manage.due import Cadence, priority_for, statuses, trend_for
from registry.services.manage.inspections import submit_inspection
from registry.services.manage.tasks import complete_task, create_task, start_task, update_task, verify_task
from tests.factories import CHANGTING, backdate, facility, form, jpeg, people


@pytest.fixture
def world(any_store, tmp_path):
    return any_store, people(any_store), tmp_path / "attachments"


def status_of(store, actor, facility_id, cadence=None):
    rows = statuses(store, actor, cadence or Cadence(), ids=[facility_id])
    return rows[0].status if rows else None


def test_status_follows_the_configured_cadence(world):
    store, actors, _folder = world
    mgr = actors["mgr"]
    fresh, soon, late, never = (facility(store) for _ in range(4))
    backdate(store, fresh.id, 10)
    backdate(store, fresh.id, 10, tier="county")
    backdate(store, soon.id, 85)        # quarterly station check due within 14 days
    backdate(store, soon.id, 85, tier="county")
    backdate(store, late.id, 100)       # quarterly station check missed
    backdate(store, late.id, 100, tier="county")
    assert status_of(store, mgr, fresh.id) == "ok"
    assert status_of(store, mgr, soon.id) == "due_soon"
    assert status_of(store, mgr, late.id) == "overdue"
    # Never inspected: due one cadence after registration, so it is not yet overdue.
    assert status_of(store, mgr, never.id) == "ok"
    # The cadence is configuration: a yearly station check makes the late one fine.
    relaxed = Cadence.from_config({"MANAGE_CADENCE_DAYS": "station=365,county=365"})
    assert status_of(store, mgr, late.id, relaxed) == "ok"
    # A county check covers the station's quarter too.
    backdate(store, late.id, 1, tier="county")
    assert status_of(store, mgr, late.id) == "ok"


def test_city_spot_check_applies_to_graded_levels_only(world):
    store, actors, _folder = world
    provincial = facility(store, level="provincial")
    ungraded = facility(store, level="ungraded")
    for site in (provincial, ungraded):
        backdate(store, site.id, 400, tier="city")
        backdate(store, site.id, 5, tier="county")
    assert status_of(store, actors["mgr"], provincial.id) == "overdue"
    assert status_of(store, actors["mgr"], ungraded.id) == "ok"


@pytest.mark.parametrize("setting", ["station=abc", "province=90", "station"])
def test_a_bad_cadence_setting_names_the_setting(setting):
    with pytest.raises((InvalidInput, ValueError)) as caught:
        Cadence.from_config({"MANAGE_CADENCE_DAYS": setting})
    assert "MANAGE_CADENCE_DAYS" in str(caught.value) or "invalid literal" in str(caught.value)


def test_list_is_scoped_to_the_managers_counties(world):
    store, actors, _folder = world
    mine, theirs = facility(store), facility(store, county=CHANGTING, lonlat=(116.36, 25.84))
    ids = {r.id for r in statuses(store, actors["mgr"], Cadence())}
    assert mine.id in ids and theirs.id not in ids
    assert {r.id for r in statuses(store, actors["reviewer1"], Cadence())} >= {mine.id, theirs.id}
    with pytest.raises(Forbidden):
        statuses(store, actors["mgr"], Cadence(), county=CHANGTING)
    with pytest.raises(Forbidden):
        statuses(store, actors["planner1"], Cadence())


def test_a_problem_stays_open_until_the_work_is_verified(world):
    store, actors, folder = world
    mgr, mgr2 = actors["mgr"], actors["mgr2"]
    site = facility(store)
    backdate(store, site.id, 200)
    backdate(store, site.id, 200, tier="county")
    assert status_of(store, mgr, site.id) == "overdue"
    found = submit_inspection(store, mgr, site.id, form(condition="poor", problems="围墙倒塌", tier="county"), [],
                              attachments_dir=folder).inspection
    assert status_of(store, mgr, site.id) == "problem_open"
    rows = statuses(store, mgr, Cadence(), ids=[site.id])
    assert rows[0].priority == "C"  # slow decay, nothing agreed yet
    task = create_task(store, mgr, site.id, {"title": "修复围墙", "priority": "high", "cost_estimate": "12000",
                                             "funding_source": "county", "due_on": "2027-01-31",
                                             "assignee_id": str(mgr.id)}, inspection_id=found.id)
    assert statuses(store, mgr, Cadence(), ids=[site.id])[0].priority == "D"
    task = start_task(store, mgr, task.id, task.version)
    with pytest.raises(InvalidInput, match="completion photo") as caught:
        complete_task(store, mgr, task.id, task.version, {}, [], attachments_dir=folder)
    assert caught.value.field == "photos"
    task = complete_task(store, mgr, task.id, task.version, {"cost_actual": "11800"}, [("done.jpg", jpeg())],
                         attachments_dir=folder)
    assert status_of(store, mgr, site.id) == "problem_open"  # done but not yet verified
    with pytest.raises(Forbidden, match="second person"):
        verify_task(store, mgr, task.id, task.version)
    verified = verify_task(store, mgr2, task.id, task.version)
    assert verified.state == "verified" and verified.verified_by_id == mgr2.id
    # Verified by a second person: the problem is closed and the county inspection keeps it in date.
    assert status_of(store, mgr, site.id) == "ok"
    with store.session() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "maintenance_tasks")
                            .order_by(AuditEvent.id)).all()
    assert actions == ["create", "start", "complete", "verify"]


def test_a_stale_edit_of_a_work_order_is_refused(world):
    store, actors, _folder = world
    site = facility(store)
    task = create_task(store, actors["mgr"], site.id, {"title": "清理杂草"})
    update_task(store, actors["mgr"], task.id, 1, {"title": "清理杂草和落叶"})
    with pytest.raises(Conflict, match="version 2 but your edit was made on version 1"):
        update_task(store, actors["mgr2"], task.id, 1, {"title": "另一个标签页的修改"})
    with store.session() as s:
        assert s.get(MaintenanceTask, task.id).title == "清理杂草和落叶"


@pytest.mark.parametrize("values, field", [
    ({"title": ""}, "title"),
    ({"title": "x", "priority": "whenever"}, "priority"),
    ({"title": "x", "cost_estimate": "-5"}, "cost_estimate"),
    ({"title": "x", "cost_estimate": "lots"}, "cost_estimate"),
    ({"title": "x", "funding_source": "lottery"}, "funding_source"),
    ({"title": "x", "due_on": "31/01/2027"}, "due_on"),
    ({"title": "x", "assignee_id": "99999"}, "assignee_id"),
])
def test_bad_work_orders_are_refused(world, values, field):
    store, actors, _folder = world
    site = facility(store)
    with pytest.raises(InvalidInput) as caught:
        create_task(store, actors["mgr"], site.id, values)
    assert caught.value.field == field
    with store.session() as s:
        assert s.scalars(select(MaintenanceTask)).all() == []


def test_an_assignee_from_another_county_is_refused(world):
    store, actors, _folder = world
    site = facility(store)
    with pytest.raises(InvalidInput, match="does not work in county"):
        create_task(store, actors["mgr"], site.id, {"title": "x", "assignee_id": str(actors["other"].id)})


@pytest.mark.parametrize("condition, active, expected", [
    ("critical", 0, "A"), ("critical", 1, "B"), ("poor", 0, "C"), ("poor", 2, "D"), ("fair", 0, "E"),
    ("good", 1, "E"), ("good", 0, "F"), (None, 0, None),
])
def test_priority_a_to_f(condition, active, expected):
    assert priority_for(condition, active) == expected


@pytest.mark.parametrize("history, expected", [
    (["good", "good", "fair", "poor"], "declining"), (["poor", "poor", "fair", "good"], "improving"),
    (["fair", "good", "fair", "fair"], "stable"), (["good"], None), ([], None),
])
def test_trend_from_history(history, expected):
    assert trend_for(history) == expected


def test_the_archive_holds_everything(world):
    store, actors, folder = world
    site = facility(store)
    inspection = submit_inspection(store, actors["mgr"], site.id, form(condition="fair", problems="标志褪色"),
                                   [("p.jpg", jpeg())], attachments_dir=folder).inspection
    create_task(store, actors["mgr"], site.id, {"title": "重新描红"}, inspection_id=inspection.id)
    record = facility_archive(store, actors["reviewer1"], site.id)
    assert [i.id for i in record.inspections] == [inspection.id]
    assert [t.title for t in record.tasks] == ["重新描红"]
    assert len(record.photos[("inspections", inspection.id)]) == 1
    assert [n.name for n in record.names] == [site.name]
    assert {e.entity_type for e in record.events} >= {"facilities", "inspections", "maintenance_tasks"}
    assert record.priority == "E" and len(record.timeline) == 1
    with pytest.raises(Forbidden):
        facility_archive(store, actors["other"], site.id)


def test_ledgers_are_xlsx_with_chinese_headers(world):
    store, actors, folder = world
    site = facility(store, township="古田镇")
    facility(store, township="才溪镇")
    submit_inspection(store, actors["mgr"], site.id, form(std_road="missing"), [], attachments_dir=folder)
    county_book = load_workbook(io.BytesIO(ledger_xlsx(store, actors["mgr"], "350823")))
    sheet = county_book.active
    assert sheet["A1"].value == "上杭县烈士纪念设施台账"
    headers = [c.value for c in sheet[3]]
    assert headers[:3] == ["序号", "设施编号", "设施名称"] and "一条通行道路" in headers and "巡查状态" in headers
    assert sheet.max_row == 5
    town = load_workbook(io.BytesIO(ledger_xlsx(store, actors["mgr"], "350823", "古田镇"))).active
    assert town.max_row == 4 and town.cell(4, 3).value == site.name
    assert town.cell(4, headers.index("一条通行道路") + 1).value == "缺失"
    with pytest.raises(Forbidden):
        ledger_xlsx(store, actors["other"], "350823")


def test_overdue_is_measured_from_now(world):
    store, actors, _folder = world
    site = facility(store)
    backdate(store, site.id, 50)
    later = datetime.now(UTC) + timedelta(days=60)
    assert statuses(store, actors["mgr"], Cadence(), ids=[site.id], now=later)[0].status == "overdue"
