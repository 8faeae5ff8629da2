"""Every relocation with a destination ends at a tomb there, on both stores: recorded by hand, edited,
backfilled, or imported from a ledger (each relocated martyr laid at the destination plot)."""

from __future__ import annotations

from datetime import date

import pytest
from shapely.geometry import Point
from sqlalchemy import func, select

from registry.demo import SECOND_CITY_RELOCATIONS
from registry.models import AuditEvent, Martyr, Relocation, Tomb
from registry.services import Actor, Conflict, Forbidden, InvalidInput, unit_of_work
from registry.services import relocations as service
from registry.services.relocations import ledger as imports
from registry.services.relocations.reconciliation import reconcile
from registry.spatial import for_store
from tests.factories import ADMIN, DESTINATIONS, FIXED_MAPPING, IMPORTER, MOVED, new_martyr, write_messy_ledger

CEMETERY, CEMETERY_NAME, CEMETERY_POINT = "SH-CEM", DESTINATIONS[0][1], DESTINATIONS[0][4:]
CHANGTING, CHANGTING_NAME, CHANGTING_POINT = "CT-CEM", DESTINATIONS[2][1], DESTINATIONS[2][4:]


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
    martyr_id = new_martyr(any_store, "李明")
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
    martyr_id = new_martyr(any_store, "王某")
    relocation = record(any_store, dests, "L1", martyr_id, plot=("C区", "1排", "4号"), **MOVED)
    with any_store.session() as s:
        tomb = s.get(Tomb, standing_id)
        assert s.scalar(select(func.count(Tomb.id))) == 1
    assert relocation.tomb_id == standing_id
    assert (tomb.martyr_id, tomb.state, tomb.version) == (martyr_id, "relocated", 2)  # a versioned update
    assert graves_section(any_app, martyr_id).count("墓位") == 1


def test_moving_the_destination_moves_the_tomb(any_store, any_app, dests):
    martyr_id = new_martyr(any_store, "赵某")
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
    first, second = new_martyr(any_store, "甲某"), new_martyr(any_store, "乙某")
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
    martyr_id = new_martyr(any_store, "孙某")
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
    martyr_id = new_martyr(any_store, "周某")
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
    martyr_id = new_martyr(any_store, "吴某")
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
    martyrs = {name: new_martyr(any_store, name) for name in ("钱某", "冯某")}
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
    martyrs = {name: new_martyr(any_store, name) for name in ("钱某", "冯某")}
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
    martyr_id = new_martyr(any_store, "吴某")
    waiting = record(any_store, dests, "C1", martyr_id, plot=("C区", "1排", "1号"))
    service.cancel_relocation(any_store, ADMIN, waiting.id, waiting.version, "家属不同意迁葬")
    with any_store.session() as s:
        tomb = s.get(Tomb, waiting.tomb_id)
        event = s.scalar(select(AuditEvent).where(AuditEvent.entity_type == "tombs", AuditEvent.action == "retire"))
    assert (tomb.status, tomb.version) == ("retired", 2)
    assert event.entity_id == tomb.id and "C1" in event.note and "家属不同意迁葬" in event.note
    assert "C区" not in graves_section(any_app, martyr_id)  # the public no longer sees a grave that never was

    # A tomb where the martyr was reburied stays, and so does one another relocation still ends at.
    reburied = record(any_store, dests, "C2", new_martyr(any_store, "郑某"), plot=("C区", "1排", "2号"),
                      surveyed_on=date(2021, 3, 1), exhumed_on=date(2021, 5, 2), reburied_on=date(2021, 5, 3))
    shared_martyr = new_martyr(any_store, "王某")
    first = record(any_store, dests, "C3", shared_martyr, plot=("C区", "1排", "3号"))
    second = record(any_store, dests, "C4", shared_martyr, plot=("C区", "1排", "3号"))
    assert first.tomb_id == second.tomb_id
    service.cancel_relocation(any_store, ADMIN, reburied.id, reburied.version, "重复登记")
    service.cancel_relocation(any_store, ADMIN, second.id, second.version, "重复登记")
    with any_store.session() as s:
        assert s.get(Tomb, reburied.tomb_id).status == "active"
        assert s.get(Tomb, first.tomb_id).status == "active"


# A ledger import lays each relocated martyr in a tomb at the destination plot.

HEAD = "编号,县区,原址,经度,纬度,迁入地,墓区,排,墓号,烈士姓名,安葬日期\n"


def tomb_count(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(Tomb.id)))


def test_each_imported_relocation_gets_its_tomb_at_the_destination_plot(any_store, any_app, dests, tmp_path):
    with unit_of_work(any_store) as s:
        s.add(Martyr(name="李明", version=1))
    path = tmp_path / "t.csv"
    path.write_text(HEAD + "T1,上杭县,某处,116.5,25.1,上杭县烈士陵园（测试）,B区,3排,12号,李明,2021-05-03\n"
                    "T2,上杭县,某处2,116.5,25.11,上杭县烈士陵园（测试）,B区,3排,13号,,\n", encoding="utf-8")
    imports.run_import(any_store, IMPORTER, path, "t.csv")
    with any_store.session() as s:
        rows = {r.code: r for r in s.scalars(select(Relocation))}
        tombs = {code: s.get(Tomb, r.tomb_id) for code, r in rows.items()}
        unknown = s.get(Martyr, rows["T2"].martyr_id)
    first = tombs["T1"]
    assert (first.facility_id, first.plot_area, first.plot_row, first.plot_number) == (dests["SH-CEM"], "B", "3", "12")
    assert first.martyr_id == rows["T1"].martyr_id and first.state == "relocated"
    assert (first.geom.x, first.geom.y) == (116.42, 25.045)  # no point in the ledger: the facility's
    assert tombs["T2"].state == "awaiting_relocation"  # not yet reburied
    assert (unknown.name, unknown.is_unknown) == ("无名烈士", True) and tombs["T2"].martyr_id == unknown.id
    # The public grave page of the martyr shows the destination and the plot.
    page = any_app.test_client().get(f"/martyrs/{rows['T1'].martyr_id}").get_data(as_text=True)
    section = page[page.index("安葬地"):]
    assert "上杭县烈士陵园（测试）" in section and "B区" in section and "3排" in section and "12号" in section
    unknown_page = any_app.test_client().get(f"/martyrs/{unknown.id}").get_data(as_text=True)
    assert "无名烈士" in unknown_page and "13号" in unknown_page
    # The new tombs are in the spatial index (the bulk write fills the R*Tree itself on GeoPackage).
    with any_store.session() as s:
        found = for_store(any_store).by_box(s, "tombs", 116.41, 25.04, 116.43, 25.05)
    assert {first.id, tombs["T2"].id} <= set(found)


def test_the_ledger_point_places_the_tomb_and_reimport_makes_no_second_tomb(any_store, dests, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("编号,县区,原址,经度,纬度,迁入地,迁入地经度,迁入地纬度,墓区,排,墓号,安葬日期,烈士姓名\n"
                    "P1,上杭县,某处,116.5,25.1,上杭县烈士陵园（测试）,116.4203,25.0452,A区,1排,1号,2021-05-03,钱某\n",
                    encoding="utf-8")
    imports.run_import(any_store, IMPORTER, path, "p.csv")
    with any_store.session() as s:
        tomb = s.scalars(select(Tomb)).one()
    assert (tomb.geom.x, tomb.geom.y) == (116.4203, 25.0452)
    assert imports.run_import(any_store, IMPORTER, path, "p.csv").already_imported
    # A re-saved ledger (another hash) with the same row and another martyr at the same plot: nothing new
    # for P1, and the other row's plot is found taken.
    other = tmp_path / "p2.csv"
    other.write_text(path.read_text(encoding="utf-8")
                     + "P2,上杭县,别处,116.5,25.2,上杭县烈士陵园（测试）,,,A区,1排,1号,2021-05-04,孙某\n",
                     encoding="utf-8")
    checked = imports.preview(any_store, other, "p2.csv")
    assert checked.existing == 1
    taken = next(i for i in checked.errors if i.kind == "plot")
    assert taken.row == 3 and taken.column == "墓号" and "already holds the tomb" in taken.why
    assert tomb_count(any_store) == 1


def test_a_row_for_a_plot_already_in_the_registry_finds_its_tomb(any_store, dests, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEAD + "F1,上杭县,某处,116.5,25.1,上杭县烈士陵园（测试）,C区,1排,1号,王某,2021-05-03\n",
                    encoding="utf-8")
    imports.run_import(any_store, IMPORTER, path, "a.csv")
    # Another ledger records a second move step of the same grave under another code: the tomb is found.
    again = tmp_path / "b.csv"
    again.write_text(HEAD + "F1-B,上杭县,某处,116.5,25.1,上杭县烈士陵园（测试）,C区,1排,1号,王某,2021-05-04\n",
                     encoding="utf-8")
    checked = imports.preview(any_store, again, "b.csv")
    assert checked.clean, checked.errors
    imports.run_import(any_store, IMPORTER, again, "b.csv")
    with any_store.session() as s:
        first, second = s.scalars(select(Relocation).order_by(Relocation.id)).all()
    assert first.tomb_id == second.tomb_id and tomb_count(any_store) == 1


def test_one_plot_given_to_two_rows_is_refused(any_store, dests, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(HEAD + "D1,上杭县,某处,116.5,25.1,上杭县烈士陵园（测试）,A区,2排,5号,,\n"
                    "D2,上杭县,某处2,116.5,25.11,上杭县烈士陵园（测试）,A区,2排,5号,,\n", encoding="utf-8")
    checked = imports.preview(any_store, path, "d.csv")
    error = next(i for i in checked.errors if i.kind == "plot")
    assert (error.row, error.column, error.value) == (3, "墓号", "5") and "row 2" in error.why
    assert tomb_count(any_store) == 0


def test_the_import_event_names_every_record_written_by_ledger_row(any_store, dests, tmp_path):
    result = imports.run_import(any_store, IMPORTER, write_messy_ledger(tmp_path / "m.xlsx", with_errors=False),
                                "m.xlsx", mapping=FIXED_MAPPING)
    with any_store.session() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        relocations = s.scalars(select(Relocation).order_by(Relocation.id)).all()
    trail = event.after
    assert trail["import_batch_id"] == result.batch_id and len(trail["sha256"]) == 64
    written = {}
    for first_row, last_row, first_id in trail["relocations"]:
        for k in range(last_row - first_row + 1):
            written[first_id + k] = first_row + k
    assert set(written) == {r.id for r in relocations}
    # The messy ledger's rows 4–10 and 13–14 (title, header, an empty row and a repeated header between).
    assert sorted(written.values()) == [4, 5, 6, 7, 8, 9, 10, 13, 14]
    tombs = {first_id + k for first, last, first_id in trail["tombs_created"] for k in range(last - first + 1)}
    assert tombs == {r.tomb_id for r in relocations}
    assert "9 tombs and 9 martyrs added" in event.note


def test_a_tomb_found_at_its_plot_without_a_martyr_gets_the_ledgers(any_store, dests, tmp_path):
    from shapely.geometry import Point

    with unit_of_work(any_store) as s:
        s.add(Tomb(facility_id=dests["SH-CEM"], plot_area="D", plot_row="2", plot_number="7",
                   geom=Point(116.42, 25.045), version=1))
    path = tmp_path / "l.csv"
    path.write_text(HEAD + "L1,上杭县,某处,116.5,25.1,上杭县烈士陵园（测试）,D区,2排,7号,周某,2021-05-03\n",
                    encoding="utf-8")
    imports.run_import(any_store, IMPORTER, path, "l.csv")
    with any_store.session() as s:
        relocation = s.scalars(select(Relocation)).one()
        tomb = s.get(Tomb, relocation.tomb_id)
        martyr = s.get(Martyr, relocation.martyr_id)
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
    assert tomb_count(any_store) == 1 and tomb.martyr_id == martyr.id and martyr.name == "周某"
    assert tomb.version == 2  # a versioned update, named in the import's event
    assert event.after["tombs_linked_to_martyr"] == [[tomb.id, martyr.id]]


def test_awkward_text_is_written_exactly_as_the_ledger_has_it(any_store, dests, tmp_path):
    # The bulk write formats COPY's text itself on PostGIS: backslashes, tabs, line breaks and a literal \N
    # (COPY's NULL) must arrive as written, and personal effects as their list.
    note = 'C:\\扫描\\N 件\t第二栏\n第二行 "引号" 完'
    path = tmp_path / "odd.csv"
    path.write_text("编号,县区,原址,经度,纬度,迁入地,墓号,备注,遗物,批次\n"
                    f'W1,上杭县,"某处\\N",116.5,25.1,上杭县烈士陵园（测试）,7号,"{note.replace(chr(34), chr(34) * 2)}",'
                    '"钢笔、怀表",\\N\n', encoding="utf-8")
    imports.run_import(any_store, IMPORTER, path, "odd.csv")
    with any_store.session() as s:
        row = s.scalar(select(Relocation).where(Relocation.code == "W1"))
        tomb = s.get(Tomb, row.tomb_id)
    assert row.note == note
    assert row.origin_place == "某处\\N" and row.batch == "\\N"
    assert row.effects == ["钢笔", "怀表"]
    assert tomb.plot_number == "7"  # a plot is stored bare (geodata.plots)
