"""A ledger import lays each relocated martyr in a tomb at the destination plot, on both stores."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Martyr, Relocation, Tomb
from registry.services import Actor, unit_of_work
from registry.services.relocations import ledger as imports
from registry.spatial import for_store
from tests.registry.relocations.test_relocations_ledger_gen import FIXED_MAPPING, make_destinations, write_messy_ledger

IMPORTER = Actor(name="importer", roles=("manager",), counties=("350823", "350821"))
HEAD = "编号,县区,原址,经度,纬度,迁入地,墓区,排,墓号,烈士姓名,安葬日期\n"


@pytest.fixture
def dests(any_store):
    return make_destinations(any_store)


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
