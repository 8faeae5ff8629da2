"""Every relocation with a destination ends at a tomb there, on both stores: recorded by hand, edited, backfilled."""

from __future__ import annotations

from datetime import date

import pytest
from shapely.geometry import Point
from sqlalchemy import func, select

from geodata.demo import SECOND_CITY_RELOCATIONS
from registry.models import AuditEvent, Martyr, Relocation, Tomb
from registry.services import Actor, Conflict, Forbidden, InvalidInput, unit_of_work
from registry.services import relocations as service
from registry.services.relocations.reconciliation import reconcile
from tests.registry.relocations.test_relocations_ledger_gen import DESTINATIONS, make_destinations

ADMIN = Actor(name="tester", roles=("admin",))
CEMETERY, CEMETERY_NAME, CEMETERY_POINT = "SH-CEM", DESTINATIONS[0][1], DESTINATIONS[0][4:]
CHANGTING, CHANGTING_NAME, CHANGTING_POINT = "CT-CEM", DESTINATIONS[2][1], DESTINATIONS[2][4:]
MOVED = {"surveyed_on": date(2021, 3, 1), "exhumed_on": date(2021, 5, 2), "reburied_on": date(2021, 5, 3)}


@pytest.fixture
def dests(any_store):
    return make_destinations(any_store)


def add_martyr(store, name: str) -> int:
    with unit_of_work(store) as s:
        martyr = Martyr(name=name)
        s.add(martyr)
        s.flush()
        return martyr.id


def record(store, dests, code: str, martyr_id=None, facility=CEMETERY, plot=("B区", "3排", "12号"), **extra):
    values = {"code": code, "origin_place": "上杭县蛟洋镇某村后山", "origin_county_code": "350823",
              "origin_lon": 116.61, "origin_lat": 25.15, "martyr_id": martyr_id, "dest_facility_id": dests[facility],
              "dest_plot_area": plot[0], "dest_plot_row": plot[1], "dest_plot_number": plot[2], **extra}
    return service.create_relocation(store, ADMIN, values)


def state_of(store) -> dict:
    """Everything a relocation edit may touch, to show that a refused one touched nothing."""
    with store.session() as s:
        return {
            "tombs": sorted((t.id, t.version, t.status, t.facility_id, t.plot_area, t.plot_row, t.plot_number,
                             t.martyr_id, t.state, t.geom.wkt) for t in s.scalars(select(Tomb))),
            "relocations": sorted((r.id, r.version, r.tomb_id, r.martyr_id, r.dest_facility_id, r.dest_plot_number)
                                  for r in s.scalars(select(Relocation))),
            "events": s.scalar(select(func.count(AuditEvent.id))),
        }


def graves_section(app, martyr_id: int) -> str:
    page = app.test_client().get(f"/martyrs/{martyr_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html[html.index("安葬地"):html.index("迁葬经过") if "迁葬经过" in html else len(html)]


def test_a_relocation_recorded_by_hand_ends_at_a_tomb_the_grave_page_shows(any_store, any_app, dests):
    martyr_id = add_martyr(any_store, "李明")
    relocation = record(any_store, dests, "H1", martyr_id, **MOVED)
    with any_store.session() as s:
        stored = s.get(Relocation, relocation.id)
        tomb = s.get(Tomb, stored.tomb_id)
        event = s.scalar(select(AuditEvent).where(AuditEvent.entity_type == "tombs"))
    assert stored.version == 1  # the relocation is written once, already pointing at its tomb
    plot = (tomb.facility_id, tomb.plot_area, tomb.plot_row, tomb.plot_number)
    assert plot == (dests[CEMETERY], "B", "3", "12")  # stored bare, shown as signed
    assert (tomb.martyr_id, tomb.state, tomb.status) == (martyr_id, "relocated", "active")
    assert (tomb.geom.x, tomb.geom.y) == CEMETERY_POINT  # no point for the plot: the facility's
    assert (event.action, event.entity_id, event.after["plot_number"]) == ("create", tomb.id, "12")
    section = graves_section(any_app, martyr_id)
    assert CEMETERY_NAME in section and "B区 3排 12号" in section
    assert section.count("墓位") == 1
    # Not yet reburied: the tomb awaits the martyr; a plot's own point places it.
    planned = record(any_store, dests, "H2", plot=("B区", "3排", "13号"), dest_lon=116.4211, dest_lat=25.0457)
    with any_store.session() as s:
        second = s.get(Tomb, s.get(Relocation, planned.id).tomb_id)
    assert (second.state, second.martyr_id, second.geom.x, second.geom.y) == ("awaiting_relocation", None, 116.4211,
                                                                             25.0457)


@pytest.mark.parametrize("point, message", [({"dest_lon": 116.42}, "needs both longitude and latitude"),
                                            ({"dest_lon": "东", "dest_lat": 25.04}, "not a number")])
def test_a_bad_plot_point_is_named_and_nothing_is_written(any_store, dests, point, message):
    before = state_of(any_store)
    with pytest.raises(InvalidInput) as caught:
        record(any_store, dests, "P1", **point)
    assert caught.value.field == "dest_lon" and message in caught.value.message
    assert state_of(any_store) == before


def test_a_tomb_already_at_the_plot_is_linked_not_doubled(any_store, any_app, dests):
    with unit_of_work(any_store) as s:
        standing = Tomb(facility_id=dests[CEMETERY], plot_area="C", plot_row="1", plot_number="4",
                        geom=Point(116.4205, 25.0451))
        s.add(standing)
        s.flush()
        standing_id = standing.id
    martyr_id = add_martyr(any_store, "王某")
    relocation = record(any_store, dests, "L1", martyr_id, plot=("C区", "1排", "4号"), **MOVED)
    with any_store.session() as s:
        tomb = s.get(Tomb, standing_id)
        assert s.scalar(select(func.count(Tomb.id))) == 1
    assert relocation.tomb_id == standing_id
    assert (tomb.martyr_id, tomb.state, tomb.version) == (martyr_id, "relocated", 2)  # a versioned update
    assert graves_section(any_app, martyr_id).count("墓位") == 1


def test_moving_the_destination_moves_the_tomb(any_store, any_app, dests):
    martyr_id = add_martyr(any_store, "赵某")
    relocation = record(any_store, dests, "M1", martyr_id, **MOVED)
    tomb_id = relocation.tomb_id
    edited = service.update_relocation(any_store, ADMIN, relocation.id, relocation.version, {
        "dest_facility_id": dests[CHANGTING], "dest_plot_area": "甲区", "dest_plot_row": "2排",
        "dest_plot_number": "8号"})
    assert (edited.tomb_id, edited.version) == (tomb_id, 2)
    with any_store.session() as s:
        tomb = s.get(Tomb, tomb_id)
        event = s.scalar(select(AuditEvent).where(AuditEvent.entity_type == "tombs", AuditEvent.action == "update"))
        at_old = s.scalar(select(func.count(Tomb.id)).where(Tomb.facility_id == dests[CEMETERY]))
    assert (tomb.facility_id, tomb.plot_area, tomb.plot_row, tomb.plot_number) == (dests[CHANGTING], "甲", "2", "8")
    assert (tomb.geom.x, tomb.geom.y, tomb.version, tomb.state) == (*CHANGTING_POINT, 2, "relocated")
    assert at_old == 0
    assert event.entity_id == tomb_id
    assert (event.before["facility_id"], event.before["plot_number"]) == (dests[CEMETERY], "12")
    assert (event.after["facility_id"], event.after["plot_number"]) == (dests[CHANGTING], "8")
    section = graves_section(any_app, martyr_id)
    assert CHANGTING_NAME in section and "甲区 2排 8号" in section and CEMETERY_NAME not in section
    assert section.count("墓位") == 1
    # Only the plot number changes: the same tomb follows again.
    again = service.update_relocation(any_store, ADMIN, edited.id, edited.version, {"dest_plot_number": "9号"})
    with any_store.session() as s:
        assert (s.get(Tomb, tomb_id).plot_number, again.tomb_id) == ("9", tomb_id)
        assert s.scalar(select(func.count(Tomb.id))) == 1


def test_a_plot_holding_another_martyrs_tomb_is_refused_and_nothing_changes(any_store, dests):
    first, second = add_martyr(any_store, "甲某"), add_martyr(any_store, "乙某")
    record(any_store, dests, "C1", first, plot=("A区", "1排", "1号"), **MOVED)
    mine = record(any_store, dests, "C2", second, plot=("A区", "1排", "2号"), **MOVED)
    before = state_of(any_store)
    with pytest.raises(Conflict) as caught:
        service.update_relocation(any_store, ADMIN, mine.id, mine.version,
                                  {"dest_plot_number": "1号", "note": "墓号更正"})
    assert caught.value.field == "dest_plot_number"
    assert "甲某" in caught.value.message and "A区 1排 1号" in caught.value.message
    assert state_of(any_store) == before
    # Recording a new relocation to that plot is refused the same way, and writes nothing.
    with pytest.raises(Conflict) as caught:
        record(any_store, dests, "C3", second, plot=("A区", "1排", "1号"))
    assert caught.value.field == "dest_plot_number"
    assert state_of(any_store) == before


def test_the_same_martyrs_tomb_at_the_new_plot_is_linked_and_the_stray_one_retired(any_store, any_app, dests):
    martyr_id = add_martyr(any_store, "孙某")
    with unit_of_work(any_store) as s:
        s.add(Tomb(facility_id=dests[CHANGTING], martyr_id=martyr_id, plot_area="乙", plot_row="1",
                   plot_number="5", state="in_place", geom=Point(116.3551, 25.8352)))
    relocation = record(any_store, dests, "S1", martyr_id, **MOVED)  # recorded at the wrong cemetery first
    assert graves_section(any_app, martyr_id).count("墓位") == 2
    edited = service.update_relocation(any_store, ADMIN, relocation.id, relocation.version, {
        "dest_facility_id": dests[CHANGTING], "dest_plot_area": "乙区", "dest_plot_row": "1排",
        "dest_plot_number": "5号"})
    with any_store.session() as s:
        stray = s.get(Tomb, relocation.tomb_id)
        found = s.get(Tomb, edited.tomb_id)
    assert stray.status == "retired" and found.id != stray.id
    assert (found.plot_number, found.state) == ("5", "relocated")
    section = graves_section(any_app, martyr_id)
    assert section.count("墓位") == 1 and CHANGTING_NAME in section


def test_a_tomb_two_relocations_share_stays_for_the_other(any_store, dests):
    martyr_id = add_martyr(any_store, "周某")
    first = record(any_store, dests, "T1", martyr_id, **MOVED)
    second = record(any_store, dests, "T2", martyr_id)  # a second step of the same grave: the same tomb
    assert second.tomb_id == first.tomb_id
    edited = service.update_relocation(any_store, ADMIN, second.id, second.version,
                                       {"dest_facility_id": dests[CHANGTING], "dest_plot_number": "1号"})
    with any_store.session() as s:
        kept = s.get(Tomb, first.tomb_id)
        new = s.get(Tomb, edited.tomb_id)
    assert (kept.facility_id, kept.plot_number, kept.version) == (dests[CEMETERY], "12", 1)
    assert (new.facility_id, new.plot_number, new.state) == (dests[CHANGTING], "1", "awaiting_relocation")


def test_the_tomb_follows_a_reburial_and_a_martyr_recorded_later(any_store, dests):
    relocation = record(any_store, dests, "F1")
    martyr_id = add_martyr(any_store, "吴某")
    edited = service.update_relocation(any_store, ADMIN, relocation.id, relocation.version,
                                       {"martyr_id": martyr_id, **MOVED})
    with any_store.session() as s:
        tomb = s.get(Tomb, edited.tomb_id)
    assert (tomb.martyr_id, tomb.state, tomb.version) == (martyr_id, "relocated", 2)


def legacy(store, dests, martyrs: dict) -> dict:
    """Relocations as older data holds them: a destination and no tomb (written around the services)."""
    rows = {
        # A plot with a tomb already standing there, without a martyr: linked.
        "OLD-1": dict(martyr_id=martyrs["钱某"], dest_facility_id=dests[CEMETERY], dest_plot_area="D区",
                      dest_plot_row="1排", dest_plot_number="1号", reburied_on=date(2019, 4, 2)),
        # No plot: a tomb at the facility's point.
        "OLD-2": dict(martyr_id=martyrs["冯某"], dest_facility_id=dests[CHANGTING], reburied_on=date(2019, 4, 3)),
        # Two rows at one plot and no martyr: one new tomb, then found.
        "OLD-3": dict(dest_facility_id=dests[CEMETERY], dest_plot_area="D区", dest_plot_row="1排",
                      dest_plot_number="2号"),
        "OLD-4": dict(dest_facility_id=dests[CEMETERY], dest_plot_area="D区", dest_plot_row="1排",
                      dest_plot_number="2号"),
        # A plot holding another martyr's tomb: refused, left as it is.
        "OLD-5": dict(martyr_id=martyrs["冯某"], dest_facility_id=dests[CEMETERY], dest_plot_area="D区",
                      dest_plot_row="1排", dest_plot_number="3号"),
        # Cancelled, and without a destination: nothing to do.
        "OLD-6": dict(dest_facility_id=dests[CEMETERY], dest_plot_number="9号", stage="cancelled"),
        "OLD-7": dict(),
    }
    with unit_of_work(store) as s:
        s.add(Tomb(facility_id=dests[CEMETERY], plot_area="D区", plot_row="1排", plot_number="1号", state="in_place",
                   geom=Point(116.4202, 25.0451)))
        s.add(Tomb(facility_id=dests[CEMETERY], martyr_id=martyrs["钱某"], plot_area="D区", plot_row="1排",
                   plot_number="3号", geom=Point(116.4203, 25.0451)))
        for code, values in rows.items():
            s.add(Relocation(code=code, origin_place="某处", origin_county_code="350823", **values))
    with store.session() as s:
        return {r.code: r.id for r in s.scalars(select(Relocation))}


def test_the_backfill_dry_run_counts_apply_fills_and_a_second_run_adds_nothing(any_store, any_app, dests):
    martyrs = {name: add_martyr(any_store, name) for name in ("钱某", "冯某")}
    ids = legacy(any_store, dests, martyrs)
    before = state_of(any_store)
    dry = service.link_missing_tombs(any_store, ADMIN)
    assert dry.dry_run and (dry.considered, dry.linked, dry.created, dry.without_destination) == (5, 2, 2, 1)
    assert [code for code, _why in dry.refused] == ["OLD-5"] and "钱某" in dry.refused[0][1]
    assert state_of(any_store) == before
    done = service.link_missing_tombs(any_store, ADMIN, dry_run=False)
    assert (done.considered, done.linked, done.created, len(done.refused)) == (5, 2, 2, 1)
    with any_store.session() as s:
        rel = {code: s.get(Relocation, i) for code, i in ids.items()}
        tomb = {code: s.get(Tomb, r.tomb_id) if r.tomb_id else None for code, r in rel.items()}
        summary = s.scalar(select(AuditEvent).where(AuditEvent.action == "link_tombs"))
    assert (tomb["OLD-1"].plot_number, tomb["OLD-1"].martyr_id, tomb["OLD-1"].state) == ("1号", martyrs["钱某"],
                                                                                        "relocated")
    assert (tomb["OLD-2"].facility_id, tomb["OLD-2"].plot_number) == (dests[CHANGTING], None)
    assert (tomb["OLD-2"].geom.x, tomb["OLD-2"].geom.y) == CHANGTING_POINT
    assert tomb["OLD-3"].id == tomb["OLD-4"].id and tomb["OLD-3"].state == "awaiting_relocation"
    assert tomb["OLD-5"] is None and tomb["OLD-6"] is None and tomb["OLD-7"] is None
    assert rel["OLD-1"].version == 2 and "2 relocations linked" in summary.note
    assert graves_section(any_app, martyrs["冯某"]).count("墓位") == 1
    after = state_of(any_store)
    again = service.link_missing_tombs(any_store, ADMIN, dry_run=False)
    assert (again.considered, again.changed, len(again.refused)) == (1, 0, 1)
    assert state_of(any_store) == after


def test_only_an_administrator_runs_the_backfill(any_store, dests):
    with pytest.raises(Forbidden):
        service.link_missing_tombs(any_store, Actor(name="mgr", roles=("manager",), counties=("350823",)),
                                   dry_run=False)


def test_the_command_is_a_dry_run_unless_told_to_apply(any_store, any_app, dests):
    martyrs = {name: add_martyr(any_store, name) for name in ("钱某", "冯某")}
    legacy(any_store, dests, martyrs)
    runner = any_app.test_cli_runner()
    before = state_of(any_store)
    dry = runner.invoke(args=["relocations", "link-tombs"])
    assert dry.exit_code == 0, dry.output
    assert "5 relocations with a destination have no tomb: 2 would be linked" in dry.output
    assert "2 would be given a new tomb, 1 refused" in dry.output and "refused OLD-5" in dry.output
    assert "dry run: nothing was written" in dry.output
    assert state_of(any_store) == before
    applied = runner.invoke(args=["relocations", "link-tombs", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "2 were linked" in applied.output and "dry run" not in applied.output
    assert state_of(any_store) != before
    after = state_of(any_store)
    again = runner.invoke(args=["relocations", "link-tombs", "--apply"])
    assert "0 were linked to the tomb at their plot, 0 were given a new tomb, 1 refused" in again.output
    assert state_of(any_store) == after


def test_the_demo_has_no_relocation_without_its_tomb_and_still_reconciles(any_store):
    from registry.services.demo import load_demo

    load_demo(any_store)
    before = state_of(any_store)
    report = service.link_missing_tombs(any_store, ADMIN, dry_run=False)
    assert (report.considered, report.changed, report.refused) == (0, 0, [])
    assert state_of(any_store) == before
    assert reconcile(any_store, city="350800").total.relocated == 4377
    assert reconcile(any_store).total.relocated == 4377 + SECOND_CITY_RELOCATIONS


def test_cancelling_retires_the_tomb_that_only_waited_for_it(any_store, any_app, dests):
    martyr_id = add_martyr(any_store, "吴某")
    waiting = record(any_store, dests, "C1", martyr_id, plot=("C区", "1排", "1号"))
    service.cancel_relocation(any_store, ADMIN, waiting.id, waiting.version, "家属不同意迁葬")
    with any_store.session() as s:
        tomb = s.get(Tomb, waiting.tomb_id)
        event = s.scalar(select(AuditEvent).where(AuditEvent.entity_type == "tombs", AuditEvent.action == "retire"))
    assert (tomb.status, tomb.version) == ("retired", 2)
    assert event.entity_id == tomb.id and "C1" in event.note and "家属不同意迁葬" in event.note
    assert "C区" not in graves_section(any_app, martyr_id)  # the public no longer sees a grave that never was

    # A tomb where the martyr was reburied stays, and so does one another relocation still ends at.
    reburied = record(any_store, dests, "C2", add_martyr(any_store, "郑某"), plot=("C区", "1排", "2号"),
                      surveyed_on=date(2021, 3, 1), exhumed_on=date(2021, 5, 2), reburied_on=date(2021, 5, 3))
    shared_martyr = add_martyr(any_store, "王某")
    first = record(any_store, dests, "C3", shared_martyr, plot=("C区", "1排", "3号"))
    second = record(any_store, dests, "C4", shared_martyr, plot=("C区", "1排", "3号"))
    assert first.tomb_id == second.tomb_id
    service.cancel_relocation(any_store, ADMIN, reburied.id, reburied.version, "重复登记")
    service.cancel_relocation(any_store, ADMIN, second.id, second.version, "重复登记")
    with any_store.session() as s:
        assert s.get(Tomb, reburied.tomb_id).status == "active"
        assert s.get(Tomb, first.tomb_id).status == "active"
