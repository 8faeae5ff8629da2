"""The calendar's work orders on both stores: once per facility, day and year; duplicate days; skipped dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from registry.models import CalendarOrder, Inspection, MaintenanceTask, Martyr
from registry.services import Forbidden, InvalidInput
from registry.services.manage import calendar as cal
from registry.services.manage.tasks import task_queue
from tests.factories import CHANGTING, SHANGHANG, SYSTEM, add_martyr, add_tomb, facility, people

QINGMING_2027 = date(2027, 4, 5)
QINGMING_2028 = date(2028, 4, 4)


@pytest.fixture
def world(any_store):
    actors = people(any_store)
    a, b = facility(any_store, SHANGHANG), facility(any_store, CHANGTING)
    return any_store, actors, a, b


def orders(store) -> list[tuple[int, date, str, str]]:
    with store.session() as s:
        return [tuple(r) for r in s.execute(
            select(CalendarOrder.facility_id, CalendarOrder.day_on, MaintenanceTask.title, MaintenanceTask.description)
            .join(MaintenanceTask, MaintenanceTask.id == CalendarOrder.task_id)
            .order_by(CalendarOrder.facility_id, CalendarOrder.day_on))]


def task_count(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(MaintenanceTask.id)))


def inspect(store, facility_id, when, **checklist):
    with store.write_session() as s:
        s.add(Inspection(facility_id=facility_id, inspected_at=when, condition="fair", geom=Point(116.8, 25.2),
                         version=1, **checklist))
        s.commit()


def buried(store, facility_obj, name, died: str | None, **extra):
    with store.write_session() as s:
        martyr = add_martyr(s, name, is_demo=False, **extra)
        if died is not None:
            martyr.death_date = date.fromisoformat(died)
            martyr.death_year = martyr.death_year or int(died[:4])
        add_tomb(s, martyr, facility_obj, 116.8, 25.2, plot=("A", "1", str(martyr.id)), is_demo=False)
        s.commit()
        return martyr.id


def test_orders_are_made_once_per_facility_day_and_year(world):
    store, actors, a, b = world
    inspect(store, a.id, datetime(2026, 1, 5, tzinfo=UTC), std_marker="present", std_road="present")
    inspect(store, a.id, datetime(2026, 11, 5, tzinfo=UTC), std_marker="missing", std_road="deficient",
            std_deeds="present")
    first = cal.prepare(store, SYSTEM, today=date(2027, 3, 20))
    assert sorted((f, on) for f, on, _task in first.created) == [(a.id, QINGMING_2027), (b.id, QINGMING_2027)]
    made = orders(store)
    assert [(f, on) for f, on, _t, _d in made] == [(a.id, QINGMING_2027), (b.id, QINGMING_2027)]
    title, description = made[0][2], made[0][3]
    assert title.startswith("清明前清扫与准备") and a.name in title
    # The last inspection's wanting 六个一 items are on the order, not the earlier inspection's.
    assert "一个醒目标示（缺失）" in description and "一条通行道路（不达标）" in description
    assert "一份事迹简介" not in description
    assert "尚无巡查记录" in made[1][3]

    again = cal.prepare(store, SYSTEM, today=date(2027, 3, 20))
    later = cal.prepare(store, SYSTEM, today=date(2027, 4, 5))
    assert (again.created, again.existing, later.created) == ([], 2, [])
    assert task_count(store) == 2
    # The day has passed: nothing more is made for it; next year's Qingming gets its own orders.
    assert cal.prepare(store, SYSTEM, today=date(2027, 4, 6)).created == []
    next_year = cal.prepare(store, SYSTEM, today=date(2028, 3, 25))
    assert sorted(on for _f, on, _t in next_year.created) == [QINGMING_2028, QINGMING_2028]
    assert task_count(store) == 4

    # Each order is in its facility's county's queue only.
    mine = {task.facility_id for task, _f in task_queue(store, actors["mgr"])}
    theirs = {task.facility_id for task, _f in task_queue(store, actors["other"])}
    assert (mine, theirs) == ({a.id}, {b.id})


def test_the_lead_time_is_a_setting_per_kind_of_day(world):
    store, _actors, a, b = world
    lead = cal.LeadDays.from_config({"CALENDAR_QINGMING_LEAD_DAYS": "10", "CALENDAR_ARMY_DAY_LEAD_DAYS": "3"})
    assert cal.prepare(store, SYSTEM, today=date(2027, 3, 20), lead=lead).created == []
    assert len(cal.prepare(store, SYSTEM, today=date(2027, 3, 26), lead=lead).created) == 2
    assert cal.prepare(store, SYSTEM, today=date(2027, 7, 28), lead=lead).created == []
    assert {on for _f, on, _t in cal.prepare(store, SYSTEM, today=date(2027, 7, 29), lead=lead).created} \
        == {date(2027, 8, 1)}


@pytest.mark.parametrize("raw", ["0", "121", "two weeks", "-3"])
def test_a_bad_lead_setting_names_the_setting(raw):
    with pytest.raises(InvalidInput) as caught:
        cal.LeadDays.from_config({"CALENDAR_ANNIVERSARY_LEAD_DAYS": raw})
    assert caught.value.field == "REGISTRY_CALENDAR_ANNIVERSARY_LEAD_DAYS"
    assert "1 to 120" in caught.value.message


def test_duplicate_days_never_make_duplicate_orders(world):
    store, actors, a, b = world
    mgr = actors["mgr"]
    # Two of the facility's own days on one date.
    cal.add_day(store, mgr, {"facility_code": a.code, "name": "纪念馆开馆纪念日", "kind": "opening", "month": "5",
                             "day": "10", "since_year": "1997"})
    cal.add_day(store, mgr, {"facility_code": a.code, "name": "松毛岭战役纪念日", "kind": "battle", "month": "5",
                             "day": "10"})
    made = cal.prepare(store, SYSTEM, today=date(2027, 5, 1)).created
    assert [(f, on) for f, on, _t in made] == [(a.id, date(2027, 5, 10))]
    description = orders(store)[0][3]
    assert "纪念馆开馆纪念日（30周年）" in description and "松毛岭战役纪念日" in description

    # A martyr's anniversary on Martyrs' Day, and a facility day on it too: one order for the facility.
    buried(store, a, "张三", "1934-09-30")
    cal.add_day(store, mgr, {"facility_code": a.code, "name": "公祭日", "month": "9", "day": "30"})
    made = cal.prepare(store, SYSTEM, today=date(2027, 9, 20)).created
    assert sorted((f, on) for f, on, _t in made) == [(a.id, date(2027, 9, 30)), (b.id, date(2027, 9, 30))]
    at_a = [o for o in orders(store) if o[0] == a.id and o[1] == date(2027, 9, 30)]
    assert len(at_a) == 1
    assert all(part in at_a[0][3] for part in ("烈士纪念日", "张三烈士牺牲93周年", "公祭日")), at_a[0][3]
    assert cal.prepare(store, SYSTEM, today=date(2027, 9, 25)).created == []


def test_the_store_keeps_one_order_per_facility_and_day(world):
    store, _actors, a, _b = world
    cal.prepare(store, SYSTEM, today=date(2027, 3, 20))
    with store.write_session() as s:
        task = MaintenanceTask(facility_id=a.id, title="重复", version=1)
        s.add(task)
        s.flush()
        s.add(CalendarOrder(facility_id=a.id, day_on=QINGMING_2027, task_id=task.id, occasions=["清明"]))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()


def test_only_an_administrator_or_the_timer_prepares_every_county(world):
    store, actors, _a, _b = world
    with pytest.raises(Forbidden):
        cal.prepare(store, actors["mgr"], today=date(2027, 3, 20))
    assert task_count(store) == 0


def test_malformed_dates_of_death_are_skipped_and_listed(world, any_app):
    store, actors, a, b = world
    good = buried(store, a, "李四", "1934-05-02")
    future = buried(store, a, "王五", "2090-05-01")
    other_year = buried(store, b, "赵六", "1934-05-01", death_year=1935)
    before_birth = buried(store, a, "钱七", "1934-05-01", birth_date=date(1950, 1, 1))
    bad = {future: "after_today", other_year: "year_differs", before_birth: "before_birth"}
    in_b = {other_year}
    if store.kind == "geopackage":
        # What another tool (QGIS, a script) can leave in the GeoPackage's DATE column: text that is no date.
        impossible, free_text = buried(store, a, "孙八", None), buried(store, b, "周九", None)
        with store.write_session() as s:
            s.execute(text("UPDATE martyrs SET death_date = '1934-02-30' WHERE id = :i"), {"i": impossible})
            s.execute(text("UPDATE martyrs SET death_date = '1934年5月' WHERE id = :i"), {"i": free_text})
            s.commit()
        bad |= {impossible: "no_such_day", free_text: "not_a_date"}
        in_b.add(free_text)
    result = cal.prepare(store, SYSTEM, today=date(2027, 4, 28))
    assert {b_.martyr_id: b_.reason for b_ in result.bad_dates} == bad
    made = [(f, on) for f, on, _t in result.created]
    assert made == [(a.id, date(2027, 5, 2))], "only the good date of death makes an order"
    assert "李四烈士牺牲93周年" in orders(store)[0][3]

    # The archivist's list keeps to the reader's counties.
    assert {x.martyr_id for x in cal.bad_dates(store, actors["other"], date(2027, 4, 28))} == in_b
    assert good not in {x.martyr_id for x in cal.bad_dates(store, actors["admin1"], date(2027, 4, 28))}

    # The command says the same, and the second run adds nothing.
    runner = any_app.test_cli_runner()
    out = runner.invoke(args=["calendar", "prepare", "--today", "2027-04-28"])
    assert out.exit_code == 0, out.output
    assert "0 work order(s) created, 1 already there" in out.output
    assert f"skipped martyr {future} 王五: date of death '2090-05-01' is after today" in out.output
    assert f"{len(bad)} date(s) of death skipped" in out.output
    with store.session() as s:
        assert s.scalar(select(func.count(Martyr.id))) == len(bad) + 1  # nothing was changed or removed


def test_the_command_refuses_a_bad_date_and_a_bad_setting(any_app):
    runner = any_app.test_cli_runner()
    out = runner.invoke(args=["calendar", "prepare", "--today", "2027-02-30"])
    assert out.exit_code != 0 and "'2027-02-30' is not a date (YYYY-MM-DD)" in out.output
    any_app.config["CALENDAR_QINGMING_LEAD_DAYS"] = "500"
    out = runner.invoke(args=["calendar", "prepare", "--today", "2027-03-20"])
    assert out.exit_code == 1 and "REGISTRY_CALENDAR_QINGMING_LEAD_DAYS='500'" in out.output


@pytest.mark.parametrize("values, field", [
    ({"facility_code": "", "name": "x", "month": "5", "day": "1"}, "facility_code"),
    ({"facility_code": "NOPE", "name": "x", "month": "5", "day": "1"}, "facility_code"),
    ({"name": "", "month": "5", "day": "1"}, "name"),
    ({"name": "x", "month": "13", "day": "1"}, "month"),
    ({"name": "x", "month": "2", "day": "30"}, "day"),
    ({"name": "x", "month": "4", "day": "31"}, "day"),
    ({"name": "x", "month": "4", "day": "3", "kind": "party"}, "kind"),
    ({"name": "x", "month": "4", "day": "3", "since_year": "3000"}, "since_year"),
])
def test_bad_facility_days_are_refused_by_field(world, values, field):
    store, actors, a, _b = world
    values = {"facility_code": a.code, **values}
    with pytest.raises(InvalidInput) as caught:
        cal.add_day(store, actors["mgr"], values)
    assert caught.value.field == field
    assert cal.facility_days(store, actors["admin1"]) == []


def test_facility_days_keep_to_the_managers_county(world):
    store, actors, a, b = world
    with pytest.raises(Forbidden):
        cal.add_day(store, actors["mgr"], {"facility_code": b.code, "name": "开馆", "month": "7", "day": "1"})
    day = cal.add_day(store, actors["other"], {"facility_code": b.code, "name": "开馆", "month": "7", "day": "1"})
    with pytest.raises(Forbidden):
        cal.retire_day(store, actors["mgr"], day.id, day.version)
    assert [row["day"].id for row in cal.facility_days(store, actors["other"])] == [day.id]
    assert cal.facility_days(store, actors["mgr"]) == []
    cal.retire_day(store, actors["other"], day.id, day.version)
    assert cal.facility_days(store, actors["other"]) == []
    assert cal.prepare(store, SYSTEM, today=date(2027, 6, 25)).created == []


def test_29_february_is_kept_on_28_february_in_common_years():
    assert cal.anniversary_in(2027, date(1932, 2, 29)) == date(2027, 2, 28)
    assert cal.anniversary_in(2028, date(1932, 2, 29)) == date(2028, 2, 29)


def test_a_day_added_after_its_order_was_made_is_named_on_the_open_order(world):
    store, actors, a, b = world
    cal.prepare(store, SYSTEM, today=date(2027, 3, 20))
    # Facility b's order is finished before the new days are added: it stays as it was.
    with store.write_session() as s:
        done = s.scalar(select(MaintenanceTask).join(CalendarOrder, CalendarOrder.task_id == MaintenanceTask.id)
                        .where(CalendarOrder.facility_id == b.id))
        done.state = "done"
        s.commit()
    before = orders(store)
    for place in (a, b):
        cal.add_day(store, actors["admin1"], {"facility_code": place.code, "name": "烈士公祭日", "month": "4",
                                             "day": "5"})
    again = cal.prepare(store, SYSTEM, today=date(2027, 3, 21))
    assert again.created == []
    assert [(f, on, added) for f, on, _task, added in again.updated] == [(a.id, QINGMING_2027, ["烈士公祭日"])]
    after = orders(store)
    assert task_count(store) == 2
    assert after[0][2].startswith("清明、烈士公祭日前清扫与准备") and "另有纪念日：烈士公祭日" in after[0][3]
    assert after[1] == before[1]
    # Named once: a third run changes nothing more.
    assert cal.prepare(store, SYSTEM, today=date(2027, 3, 22)).updated == []
    with store.session() as s:
        assert s.scalar(select(CalendarOrder.occasions).where(CalendarOrder.facility_id == a.id)) == \
            ["清明", "烈士公祭日"]
