"""One active tomb per plot, kept by the store itself (index ux_tombs_active_plot, migration 0011), on both stores.

A plot is a facility's area, row and number; a missing area or row is the empty one. The services check a plot
before writing; the index stops the writer that loses a race for an empty plot, and that writer hears a
Conflict naming the plot with nothing saved.
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager

import pytest
from shapely.geometry import Point
from sqlalchemy import event, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError

from geodata.plots import bare, parse_plot
from registry.db import Store, StoreError
from registry.migrate import current_revision, head_revision, upgrade
from registry.models import AuditEvent, ImportBatch, Martyr, Relocation, Tomb
from registry.services import Conflict, InvalidInput
from registry.services import relocations as service
from registry.services.gis import imports as gis_import
from registry.services.relocations import ledger as imports
from tests.conftest import make_app, new_store_url, throwaway_database
from tests.factories import ADMIN, make_destinations, new_martyr

CEMETERY = "SH-CEM"
CEMETERY_NAME = "上杭县烈士陵园（测试）"
INDEX = "ux_tombs_active_plot"


@pytest.fixture
def pg_store(tmp_path, request):
    """A fresh, migrated PostGIS registry (the races need two real connections that do not queue on a file lock)."""
    app = make_app(new_store_url("postgis", tmp_path, request))
    yield app.extensions["registry_store"]
    app.extensions["registry_store"].dispose()


def add_tomb(store, facility_id, area, row, number, raw=False, **extra) -> int:
    """A tomb written past the services, as any client of the store could (a Core insert).

    Its plot is stored bare, as the store keeps plots (geodata.plots); ``raw`` writes it as given, as a
    registry from before migration 0014 held it.
    """
    if not raw:
        area, row, number = parse_plot(area, row, number)
    with store.write_session() as s:
        tomb_id = s.execute(insert(Tomb.__table__).values(
            facility_id=facility_id, plot_area=area, plot_row=row, plot_number=number, state="in_place",
            geom=Point(116.42, 25.045), version=1, **extra).returning(Tomb.__table__.c.id)).scalar_one()
        s.commit()
    return tomb_id


def active_at(store, facility_id, number) -> list[tuple]:
    with store.session() as s:
        return s.execute(select(Tomb.id, Tomb.plot_area, Tomb.plot_row, Tomb.martyr_id).where(
            Tomb.facility_id == facility_id, Tomb.plot_number == bare(number, "number"), Tomb.status == "active")
            .order_by(Tomb.id)).all()


def counts(store) -> tuple:
    with store.session() as s:
        return tuple(s.scalar(select(func.count(m.id))) for m in (Tomb, Relocation, Martyr, AuditEvent, ImportBatch))


# --- the index ---------------------------------------------------------------------------------------------


def test_the_store_refuses_a_second_active_tomb_at_a_plot(any_store, dests):
    fid = dests[CEMETERY]
    first = add_tomb(any_store, fid, "A区", "1排", "5号")
    with pytest.raises(IntegrityError, match=INDEX):
        add_tomb(any_store, fid, "A区", "1排", "5号")
    assert [t.id for t in active_at(any_store, fid, "5号")] == [first]
    # The next number, the same plot of another facility, and graves with no plot number are other plots.
    add_tomb(any_store, fid, "A区", "1排", "6号")
    add_tomb(any_store, dests["SH-COL"], "A区", "1排", "5号")
    add_tomb(any_store, fid, None, None, None)
    add_tomb(any_store, fid, None, None, None)
    add_tomb(any_store, None, "A区", "1排", "5号")
    assert counts(any_store)[0] == 6


def test_a_retired_tomb_frees_its_plot_and_cannot_come_back_while_it_is_taken(any_store, dests):
    fid = dests[CEMETERY]
    old = add_tomb(any_store, fid, "B区", "2排", "7号")
    with any_store.write_session() as s:
        s.execute(update(Tomb.__table__).where(Tomb.__table__.c.id == old).values(status="retired"))
        s.commit()
    new = add_tomb(any_store, fid, "B区", "2排", "7号")
    assert [t.id for t in active_at(any_store, fid, "7号")] == [new]
    with any_store.write_session() as s, pytest.raises(IntegrityError, match=INDEX):
        s.execute(update(Tomb.__table__).where(Tomb.__table__.c.id == old).values(status="active"))
    assert [t.id for t in active_at(any_store, fid, "7号")] == [new]


@pytest.mark.parametrize("first, second", [((None, None), (None, None)), ((None, "3排"), ("", "3排")),
                                           (("C区", ""), ("C区", None))])
def test_a_missing_area_or_row_is_the_empty_one_so_such_plots_still_collide(any_store, dests, first, second):
    fid = dests[CEMETERY]
    kept = add_tomb(any_store, fid, *first, "9号")
    with pytest.raises(IntegrityError, match=INDEX):
        add_tomb(any_store, fid, *second, "9号")
    assert [t.id for t in active_at(any_store, fid, "9号")] == [kept]


# --- relocations -------------------------------------------------------------------------------------------


def relocation(dests, code, martyr_id=None, plot=("A区", "1排", "5号"), **extra) -> dict:
    return {"code": code, "origin_place": "上杭县蛟洋镇某村后山", "origin_county_code": "350823", "origin_lon": 116.61,
            "origin_lat": 25.15, "martyr_id": martyr_id, "dest_facility_id": dests[CEMETERY],
            "dest_plot_area": plot[0], "dest_plot_row": plot[1], "dest_plot_number": plot[2], **extra}


def test_a_relocation_to_a_plot_held_with_a_blank_area_links_that_tomb(any_store, dests):
    # The check reads the plot as the index does: area '' is no area, so the tomb standing there is found.
    martyr_id = new_martyr(any_store, "李明")
    # Stored bare (as geodata.plots keeps plots); the form's "4排", "2号" are the same plot.
    standing = add_tomb(any_store, dests[CEMETERY], "", "4", "2", martyr_id=martyr_id)
    moved = service.create_relocation(any_store, ADMIN, relocation(dests, "B1", martyr_id, plot=(None, "4排", "2号")))
    assert moved.tomb_id == standing
    assert [t.id for t in active_at(any_store, dests[CEMETERY], "2")] == [standing]


@contextmanager
def interleaved_tomb_inserts(store: Store, first: str, second: str):
    """Make thread ``second`` write its tomb just after thread ``first`` has, both after checking the plot.

    ``first`` waits at its INSERT INTO (or UPDATE) tombs until ``second`` has reached its own (so both found
    the plot empty); ``second`` then waits until ``first``'s statement is done, so it runs into the index while
    ``first``'s transaction is open. Nothing is faked: the two writers run on their own pooled connections.
    """
    second_checked, first_inserted = threading.Event(), threading.Event()

    def tombs_insert(statement) -> bool:
        return statement.lstrip().upper().startswith(("INSERT INTO TOMBS", "UPDATE TOMBS"))

    def before(conn, cursor, statement, parameters, context, executemany):
        name = threading.current_thread().name
        if not tombs_insert(statement):
            return
        if name == first:
            assert second_checked.wait(60), "the second writer never reached its insert"
        elif name == second:
            second_checked.set()
            assert first_inserted.wait(60), "the first writer never inserted"

    def after(conn, cursor, statement, parameters, context, executemany):
        if tombs_insert(statement) and threading.current_thread().name == first:
            first_inserted.set()

    event.listen(store.engine, "before_cursor_execute", before)
    event.listen(store.engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(store.engine, "before_cursor_execute", before)
        event.remove(store.engine, "after_cursor_execute", after)


def run_both(first, second) -> dict:
    """Run two writers in threads named 'first' and 'second'; what each returned or raised."""
    outcome = {}

    def run(name, work):
        try:
            outcome[name] = work()
        except Exception as exc:  # noqa: BLE001 - the test reads what each writer met
            outcome[name] = exc

    threads = [threading.Thread(target=run, args=(name, work), name=name)
               for name, work in (("first", first), ("second", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return outcome


def test_two_relocations_racing_for_one_empty_plot_one_wins_the_other_hears_a_conflict(pg_store):
    dests = make_destinations(pg_store)
    chen, lin = new_martyr(pg_store, "陈某"), new_martyr(pg_store, "林某")
    before = counts(pg_store)
    with pg_store.session() as s:
        last_event = s.scalar(select(func.max(AuditEvent.id)))
    with interleaved_tomb_inserts(pg_store, "first", "second"):
        outcome = run_both(lambda: service.create_relocation(pg_store, ADMIN, relocation(dests, "R-CHEN", chen)),
                           lambda: service.create_relocation(pg_store, ADMIN, relocation(dests, "R-LIN", lin)))
    won, lost = outcome["first"], outcome["second"]
    assert isinstance(won, Relocation), won
    assert isinstance(lost, Conflict), lost
    assert (lost.status, lost.field) == (409, "dest_plot_number")
    assert f"plot {CEMETERY_NAME} A区 1排 5号" in lost.message and "nothing was saved" in lost.message
    # One tomb at the plot, the winner's; the loser left no relocation, tomb or audit event behind.
    assert active_at(pg_store, dests[CEMETERY], "5号") == [(won.tomb_id, "A", "1", chen)]
    with pg_store.session() as s:
        assert s.scalars(select(Relocation.code)).all() == ["R-CHEN"]
        events = s.execute(select(AuditEvent.entity_type, AuditEvent.action, AuditEvent.entity_id)
                           .where(AuditEvent.id > last_event)).all()
    assert sorted(events) == [("relocations", "create", won.id), ("tombs", "create", won.tomb_id)]
    assert counts(pg_store) == (before[0] + 1, before[1] + 1, before[2], before[3] + 2, before[4])


def test_an_edit_racing_a_new_relocation_into_one_plot_is_refused_whole(pg_store):
    dests = make_destinations(pg_store)
    # An edit moves a planned relocation's own tomb to plot A区 1排 5号 while a new relocation fills it.
    planned = service.create_relocation(pg_store, ADMIN, relocation(dests, "R-EDIT", plot=("Z区", "1排", "1号")))
    with pg_store.session() as s:
        tomb_before = s.get(Tomb, planned.tomb_id)
        tomb_before = (tomb_before.version, tomb_before.plot_area, tomb_before.plot_number)
    with interleaved_tomb_inserts(pg_store, "first", "second"):
        outcome = run_both(lambda: service.create_relocation(pg_store, ADMIN, relocation(dests, "R-NEW")),
                           lambda: service.update_relocation(pg_store, ADMIN, planned.id, planned.version, {
                               "dest_plot_area": "A区", "dest_plot_row": "1排", "dest_plot_number": "5号"}))
    assert isinstance(outcome["first"], Relocation), outcome["first"]
    lost = outcome["second"]
    assert isinstance(lost, Conflict) and lost.field == "dest_plot_number", lost
    with pg_store.session() as s:
        stored = s.get(Relocation, planned.id)
        tomb = s.get(Tomb, planned.tomb_id)
        assert (stored.version, stored.dest_plot_number) == (planned.version, "1")
        assert (tomb.version, tomb.plot_area, tomb.plot_number) == tomb_before


# --- the migration -----------------------------------------------------------------------------------------


@pytest.fixture(params=["geopackage", "postgis"])
def store_at_0010(request, tmp_path):
    """A new registry of each kind migrated to revision 0010 only (before the index)."""
    if request.param == "geopackage":
        url = f"sqlite:///{tmp_path / 'old.gpkg'}"
    else:
        request.getfixturevalue("postgis_template")  # skips (or fails in CI) without PostgreSQL
        url = throwaway_database(request)
    store = Store(url)
    assert upgrade(store, "0010") == "0010"
    yield store
    store.dispose()


def indexes_of_tombs(store) -> set:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        names = {index["name"] for index in inspect(store.engine).get_indexes("tombs")}
    if store.kind == "geopackage":  # SQLite's expression indexes are not reflected: ask the schema
        with store.engine.connect() as conn:
            names |= set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index' "
                                              "AND tbl_name = 'tombs'").scalars())
    return names


def _destinations_before_divisions(store) -> dict[str, int]:
    # A registry at 0010 has no divisions table to check counties against: its facilities go in directly.
    from registry.models import Facility
    from tests.factories import DESTINATIONS

    # A Core insert of the older schema's columns: the model's later ones (0018 provenance) are not there yet.
    with store.write_session() as s:
        made = {code: s.execute(insert(Facility.__table__).values(
                    code=code, name=name, category=category, level="ungraded", county_code=county,
                    geom=Point(lon, lat), status="active", is_demo=False, version=1, sign_present=False,
                    land_title_registered=False, position_approximate=False,
                ).returning(Facility.__table__.c.id)).scalar_one()
                for code, name, category, county, lon, lat in DESTINATIONS}
        s.commit()
        return made


def test_the_migration_refuses_doubled_plots_then_applies_once_one_is_retired(store_at_0010):
    store = store_at_0010
    dests = _destinations_before_divisions(store)
    fid = dests[CEMETERY]
    a = add_tomb(store, fid, "A区", "1排", "5号", raw=True)
    b = add_tomb(store, fid, "A区", "1排", "5号", raw=True)
    c = add_tomb(store, fid, None, None, "8号", raw=True)
    d = add_tomb(store, fid, "", None, "8号", raw=True)  # a blank area is no area: the same plot
    add_tomb(store, fid, "A区", "1排", "6号", raw=True)
    add_tomb(store, fid, "A区", "1排", "6号", raw=True, status="retired")  # a retired tomb holds no plot
    before = counts(store)
    with pytest.raises(StoreError) as refused:
        upgrade(store)
    message = str(refused.value)
    assert "2 plot(s) hold more than one active tomb" in message
    assert f"facility {fid}, area -, row -, number 8号: tombs {c}, {d}" in message
    assert f"facility {fid}, area A区, row 1排, number 5号: tombs {a}, {b}" in message
    assert "Retire the extra tombs" in message and "Nothing was changed" in message
    assert "6号" not in message  # one active tomb and one retired: not a doubled plot
    assert current_revision(store) == "0010"
    assert INDEX not in indexes_of_tombs(store)
    assert counts(store) == before
    # The archivist retires the extras (a state, never a delete); then the index goes on.
    with store.write_session() as s:
        s.execute(update(Tomb.__table__).where(Tomb.__table__.c.id.in_([b, d])).values(status="retired"))
        s.commit()
    assert upgrade(store) == head_revision()
    assert INDEX in indexes_of_tombs(store)
    with pytest.raises(IntegrityError, match=INDEX):
        add_tomb(store, fid, "A区", "1排", "5号")


# --- the imports -------------------------------------------------------------------------------------------


def tomb_csv(rows) -> bytes:
    lines = ["facility_id,plot_area,plot_row,plot_number,lon,lat"]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_a_gis_import_of_two_tombs_at_one_plot_names_the_row(any_store, dests):
    fid = dests[CEMETERY]
    held = add_tomb(any_store, fid, None, "2排", "3号")
    before = counts(any_store)
    data = tomb_csv([(fid, "A区", "1排", "5号", 116.4201, 25.0451), (fid, "A区", "1排", "6号", 116.4202, 25.0451),
                     (fid, "A区", "1排", "5号", 116.4203, 25.0451), (fid, "", "2排", "3号", 116.4204, 25.0451)])
    report = gis_import.import_features(any_store, ADMIN, "tombs", data, "csv", dry_run=False)
    problems = [(p.row, p.column, p.why) for p in report.problems]
    assert problems == [(3, "plot_number", f"plot A区 1排 5号 of facility {fid} is already given in row 1"),
                        (4, "plot_number", f"plot 2排 3号 of facility {fid} already holds tomb {held}")]
    assert (report.created, counts(any_store)) == (0, before)


def test_a_gis_import_losing_a_race_for_a_plot_names_the_row_and_writes_nothing(pg_store):
    dests = make_destinations(pg_store)
    fid = dests[CEMETERY]
    before = counts(pg_store)
    data = tomb_csv([(fid, "A区", "1排", "4号", 116.4201, 25.0451), (fid, "A区", "1排", "5号", 116.4202, 25.0451)])
    with interleaved_tomb_inserts(pg_store, "first", "second"):
        outcome = run_both(lambda: service.create_relocation(pg_store, ADMIN, relocation(dests, "R-1")),
                           lambda: gis_import.import_features(pg_store, ADMIN, "tombs", data, "csv", dry_run=False))
    won, lost = outcome["first"], outcome["second"]
    assert isinstance(won, Relocation), won
    assert isinstance(lost, Conflict) and (lost.status, lost.field) == (409, "plot_number"), lost
    assert lost.message.startswith(f"row 2: plot A区 1排 5号 of facility {fid} was given tomb {won.tomb_id} by "
                                   "someone else")
    assert "nothing was imported" in lost.message
    assert [(p.row, p.column) for p in lost.errors] == [(2, "plot_number")]
    assert counts(pg_store)[:2] == (before[0] + 1, before[1] + 1)  # the relocation's tomb only
    assert active_at(pg_store, fid, "4号") == []


LEDGER_HEAD = "编号,县区,原址,经度,纬度,迁入地,烈士姓名,墓区,排,墓号\n"


def ledger(tmp_path, *rows) -> str:
    path = tmp_path / "plots.csv"
    path.write_text(LEDGER_HEAD + "".join(f"{','.join(row)}\n" for row in rows), encoding="utf-8")
    return str(path)


def row(code, name, plot) -> tuple:
    return (code, "上杭县", "某村后山", "116.5", "25.1", CEMETERY_NAME, name, *plot)


def test_a_ledger_giving_one_plot_twice_or_an_occupied_plot_is_refused_by_row(any_store, dests, tmp_path):
    new_martyr(any_store, "李明")
    held = add_tomb(any_store, dests[CEMETERY], None, "2排", "3号", martyr_id=new_martyr(any_store, "王某"))
    path = ledger(tmp_path, row("L1", "陈某", ("A区", "1排", "5号")), row("L2", "林某", ("A区", "1排", "5号")),
                  row("L3", "李明", ("", "2排", "3号")))
    checked = imports.preview(any_store, path, "plots.csv")
    plots = [(i.row, i.column, i.value) for i in checked.errors if i.kind == "plot"]
    assert plots == [(3, "墓号", "5"), (4, "墓号", "3")]
    errors = {i.row: i.why for i in checked.errors}
    assert "is given to row 2 too" in errors[3]
    assert f"already holds the tomb of 王某 (tomb {held})" in errors[4]
    before = counts(any_store)
    with pytest.raises(InvalidInput, match="nothing was imported; first: row 3"):
        imports.run_import(any_store, ADMIN, path, "plots.csv")
    assert counts(any_store) == before


def test_a_ledger_import_losing_a_race_for_a_plot_names_the_row_and_writes_nothing(pg_store, tmp_path):
    # The import checks before its write transaction begins; a relocation recorded in between fills a plot.
    dests = make_destinations(pg_store)
    path = ledger(tmp_path, row("L1", "陈某", ("A区", "1排", "4号")), row("L2", "林某", ("A区", "1排", "5号")))
    before = counts(pg_store)
    taken = []

    def progress(phase, done, total):
        if phase == "write" and not taken:  # the martyrs are in, the tombs not yet: another writer fills 5号
            taken.append(service.create_relocation(pg_store, ADMIN, relocation(dests, "R-BY-HAND")))

    with pytest.raises(Conflict) as refused:
        imports.run_import(pg_store, ADMIN, path, "plots.csv", progress=progress)
    tomb_id = taken[0].tomb_id
    assert refused.value.field == "file"
    assert refused.value.message.startswith(
        f"nothing was imported: first: row 3, 墓号 5: plot {CEMETERY_NAME} A区 1排 5号 was given tomb {tomb_id} by "
        "someone else while this ledger was being imported")
    assert [(i.row, i.column, i.value) for i in refused.value.errors] == [(3, "墓号", "5")]
    # Only the relocation recorded by hand (its tomb, its two audit events) is new.
    assert counts(pg_store) == (before[0] + 1, before[1] + 1, before[2], before[3] + 2, before[4])
    assert active_at(pg_store, dests[CEMETERY], "4号") == []
