"""Ledger import on both stores: a dry run that writes nothing, an all-or-nothing import, re-import adds nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, ImportBatch, Martyr, Relocation, Tomb
from registry.services import Actor, Forbidden, InvalidInput, unit_of_work
from registry.services.relocations import _gpkg, _postgis, ledger_store
from registry.services.relocations import ledger as imports
from tests.conftest import make_app
from tests.factories import (
    FIXED_MAPPING,
    IMPORTER,
    assert_valid_geopackage,
    make_destinations,
    write_clean_csv,
    write_messy_ledger,
)


def counts(store):
    with store.session() as s:
        return tuple(s.scalar(select(func.count(m.id))) for m in (Relocation, ImportBatch, AuditEvent, Tomb, Martyr))


def test_preview_names_every_error_and_writes_nothing(any_store, dests, tmp_path):
    before = counts(any_store)
    result = imports.preview(any_store, write_messy_ledger(tmp_path / "m.xlsx"), "m.xlsx", mapping=FIXED_MAPPING)
    errors = {(i.row, i.kind) for i in result.errors}
    assert errors == {(16, "outside"), (17, "destination"), (18, "order"), (19, "acceptance"), (20, "value")}
    unknown = next(i for i in result.errors if i.kind == "destination")
    assert unknown.column == "安置陵园" and unknown.value == "不存在的陵园"
    assert not result.clean
    assert counts(any_store) == before


def test_the_wrong_mapping_gives_row_errors_and_the_fixed_one_a_clean_run(any_store, dests, tmp_path):
    path = write_messy_ledger(tmp_path / "m.xlsx", with_errors=False)
    wrong = imports.preview(any_store, path, "m.xlsx")
    assert {i.kind for i in wrong.errors} == {"destination"}
    assert {i.value for i in wrong.errors} == {"上杭县"} and len(wrong.errors) == 9
    fixed = imports.preview(any_store, path, "m.xlsx", mapping=FIXED_MAPPING)
    assert fixed.clean and len(fixed.new) == 9
    assert {i.kind for i in fixed.warnings} == {"fullwidth", "dms", "swapped", "merged", "empty", "header",
                                                "duplicate"}


def test_import_refuses_a_ledger_with_errors_and_writes_nothing(any_store, dests, tmp_path):
    before = counts(any_store)
    with pytest.raises(InvalidInput, match="5 error") as caught:
        imports.run_import(any_store, IMPORTER, write_messy_ledger(tmp_path / "m.xlsx"), "m.xlsx",
                           mapping=FIXED_MAPPING)
    assert len(caught.value.errors) == 5
    assert counts(any_store) == before


def test_import_then_reimport_adds_nothing(any_store, dests, tmp_path):
    path = write_messy_ledger(tmp_path / "m.xlsx", with_errors=False)
    first = imports.run_import(any_store, IMPORTER, path, "m.xlsx", mapping=FIXED_MAPPING)
    assert (first.added, first.existing, first.already_imported) == (9, 0, False)
    with any_store.session() as s:
        r = s.scalar(select(Relocation).where(Relocation.code == "SH-004"))
        assert (r.origin_lon, r.origin_lat) == (116.47, 25.01)  # un-swapped
        assert r.dest_facility_id == dests["SH-CEM"] and r.stage == "accepted" and r.family_consent
        assert list(r.geom.coords)[1] == (116.42, 25.045)
        batch = s.scalars(select(ImportBatch)).one()
        assert batch.rows_added == 9 and sorted(batch.codes)[0] == "CT-001"
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "import"))
        assert "9 relocations added" in event.note
    again = imports.run_import(any_store, IMPORTER, path, "m.xlsx", mapping=FIXED_MAPPING)
    assert (again.added, again.already_imported, again.batch_id) == (0, True, first.batch_id)
    assert counts(any_store)[0] == 9
    # Another file (another hash) naming a relocation already imported adds only the new one.
    other = tmp_path / "other.csv"
    other.write_text("编号,县区,原址,经度,纬度,迁入地,家属同意\n"
                     "SH-001,上杭县,蛟洋村后山,116.61,25.15,蛟洋集中安葬点（测试）,是\n"
                     "NEW-1,上杭县,新村,116.5,25.1,上杭县烈士陵园（测试）,是\n", encoding="utf-8")
    third = imports.run_import(any_store, IMPORTER, other, "other.csv")
    assert (third.added, third.existing) == (1, 1)
    assert counts(any_store)[0] == 10


def test_martyrs_are_linked_by_name_added_when_new_and_unknown_when_unnamed(any_store, dests, tmp_path):
    with unit_of_work(any_store) as s:
        s.add(Martyr(name="李明", version=1))
        s.add_all([Martyr(name="张三", native_county_code="350821", version=1),
                   Martyr(name="张三", native_county_code="350821", version=1)])
    path = tmp_path / "n.csv"
    path.write_text("编号,县区,原址,经度,纬度,迁入地,烈士姓名\n"
                    "N1,上杭县,某处,116.5,25.1,上杭县烈士陵园（测试）,李明\n"
                    "N2,上杭县,某处2,116.5,25.11,上杭县烈士陵园（测试）,王无名\n"
                    "N3,上杭县,某处3,116.5,25.12,上杭县烈士陵园（测试）,\n"
                    "N4,上杭县,某处4,116.5,25.13,上杭县烈士陵园（测试）,张三\n", encoding="utf-8")
    result = imports.preview(any_store, path, "n.csv")
    warnings = {i.row: i for i in result.warnings if i.kind == "martyr"}
    assert warnings[3].value == "王无名" and "adds them to the roll" in warnings[3].why
    assert warnings[5].value == "张三" and "none linked" in warnings[5].why
    imports.run_import(any_store, IMPORTER, path, "n.csv")
    with any_store.session() as s:
        rows = {r.code: r for r in s.scalars(select(Relocation))}
        martyrs = {r.code: s.get(Martyr, r.martyr_id) if r.martyr_id else None for r in rows.values()}
    assert martyrs["N1"].name == "李明"
    assert (martyrs["N2"].name, martyrs["N2"].is_unknown, martyrs["N2"].name_pinyin) == ("王无名", False, "wangwuming")
    assert (martyrs["N3"].name, martyrs["N3"].is_unknown) == ("无名烈士", True)
    # Two 张三 on the roll and none in the row's county: nobody is guessed, the ledger's name is kept.
    assert martyrs["N4"] is None and "张三" in rows["N4"].note


def test_crs_warning_when_points_look_like_gcj02(any_store, dests, tmp_path):
    path = write_clean_csv(tmp_path / "g.csv", gcj=True)
    declared_wgs = imports.preview(any_store, path, "g.csv", crs="EPSG:4326")
    crs_warning = next(i for i in declared_wgs.warnings if i.kind == "crs")
    assert "GCJ-02" in crs_warning.why and declared_wgs.clean
    declared_gcj = imports.preview(any_store, path, "g.csv", crs="GCJ-02")
    assert not [i for i in declared_gcj.warnings if i.kind == "crs"]
    imports.run_import(any_store, IMPORTER, path, "g.csv", crs="GCJ-02")
    with any_store.session() as s:
        r = s.scalar(select(Relocation).where(Relocation.code == "CSV-0001"))
    assert r.origin_lon == pytest.approx(116.401, abs=1e-6) and r.origin_lat == pytest.approx(25.101, abs=1e-6)


def test_file_level_refusals(any_store, dests, tmp_path):
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4 not a ledger")
    result = imports.preview(any_store, pdf, "scan.pdf")
    assert "not a spreadsheet" in result.file_error and not result.clean
    with pytest.raises(InvalidInput, match="not a spreadsheet"):
        imports.run_import(any_store, IMPORTER, pdf, "scan.pdf")


def test_only_staff_who_record_relocations_import(any_store, dests, tmp_path):
    with pytest.raises(Forbidden):
        imports.run_import(any_store, Actor(name="p", roles=("planner",)), write_clean_csv(tmp_path / "c.csv"), "c.csv")


def test_saved_mappings(any_store):
    saved = imports.save_mapping(any_store, IMPORTER, "上杭县民政局", FIXED_MAPPING)
    assert imports.get_mapping(any_store, "上杭县民政局") == FIXED_MAPPING
    imports.save_mapping(any_store, IMPORTER, "上杭县民政局", {"安葬地": "dest_facility"}, version=saved.version)
    assert imports.get_mapping(any_store, "上杭县民政局") == {"安葬地": "dest_facility"}
    with pytest.raises(InvalidInput, match="not a ledger field"):
        imports.save_mapping(any_store, IMPORTER, "x", {"安葬地": "grave"})
    with pytest.raises(InvalidInput, match="needs a name"):
        imports.save_mapping(any_store, IMPORTER, " ", {})


@pytest.mark.parametrize("text, message", [("安葬地", "is not 表头=field"), ("安葬地=grave", "not a ledger field"),
                                           ("=dest_facility", "no header text")])
def test_bad_mapping_text(text, message):
    with pytest.raises(InvalidInput, match=message):
        imports.parse_mapping_text(text)


def test_cli_dry_run_then_commit_then_again(gpkg_url, tmp_path):
    app = make_app(gpkg_url)
    store = app.extensions["registry_store"]
    make_destinations(store)
    path = write_messy_ledger(tmp_path / "m.xlsx", with_errors=False)
    runner = app.test_cli_runner()
    wrong = runner.invoke(args=["import", "relocations", str(path)])
    assert wrong.exit_code == 1 and "unknown destination facility" in wrong.output
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(FIXED_MAPPING, ensure_ascii=False), encoding="utf-8")
    dry = runner.invoke(args=["import", "relocations", str(path), "--mapping", str(mapping)])
    assert dry.exit_code == 0, dry.output
    assert "9 new" in dry.output and "clean" in dry.output and "duplicate of row 14" in dry.output
    assert counts(store)[0] == 0
    done = runner.invoke(args=["import", "relocations", str(path), "--mapping", "迁入地=;安置陵园=dest_facility",
                               "--commit"])
    assert done.exit_code == 0, done.output
    assert "imported 9 relocations" in done.output
    again = runner.invoke(args=["import", "relocations", str(path), "--mapping", str(mapping), "--commit"])
    assert "already imported" in again.output and counts(store)[0] == 9
    bad = runner.invoke(args=["import", "relocations", str(write_messy_ledger(tmp_path / "b.xlsx")),
                              "--mapping", str(mapping), "--commit"])
    assert bad.exit_code == 1 and "row 16" in bad.output and counts(store)[0] == 9
    app.extensions["registry_store"].dispose()


def test_imported_journeys_are_valid_geopackage_features_found_by_box(store, tmp_path):
    from registry import spatial

    make_destinations(store)
    imports.run_import(store, IMPORTER, write_messy_ledger(tmp_path / "m.xlsx", with_errors=False), "m.xlsx",
                       mapping=FIXED_MAPPING)
    with store.session() as s:
        found = spatial.for_store(store).by_box(s, "relocations", 116.25, 25.6, 116.4, 25.75)
        codes = s.scalars(select(Relocation.code).where(Relocation.id.in_(found))).all()
    assert sorted(codes) == ["CT-001", "CT-002"]
    path = store.path
    store.dispose()
    assert_valid_geopackage(path)


def test_a_county_manager_imports_only_their_county(any_store, dests, tmp_path):
    shanghang_only = Actor(name="mgr", roles=("manager",), counties=("350823",))
    with pytest.raises(Forbidden, match="rows 13, 14 are received by"):
        imports.run_import(any_store, shanghang_only, write_messy_ledger(tmp_path / "m.xlsx", with_errors=False),
                           "m.xlsx", mapping=FIXED_MAPPING)
    assert counts(any_store)[0] == 0


def test_a_failure_midway_leaves_nothing_behind(any_store, dests, tmp_path, monkeypatch):
    """All rows or none: the second chunk fails, and the first chunk, the batch and the audit are rolled back."""
    monkeypatch.setattr(ledger_store, "CHUNK", 3)
    sibling, writer = (_postgis, "_copy") if any_store.kind == "postgis" else (_gpkg, "_sqlite_insert")
    real = getattr(sibling, writer)
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args)

    monkeypatch.setattr(sibling, writer, failing)
    before = counts(any_store)
    with pytest.raises(RuntimeError, match="disk full"):
        imports.run_import(any_store, IMPORTER, write_messy_ledger(tmp_path / "m.xlsx", with_errors=False), "m.xlsx",
                           mapping=FIXED_MAPPING)
    assert counts(any_store) == before
    if any_store.kind == "geopackage":
        # The R*Tree insert trigger set aside for the bulk write is back, and a later insert still indexes.
        with any_store.engine.connect() as conn:
            triggers = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
        assert {"rtree_tombs_geom_insert", "rtree_relocations_geom_insert"} <= triggers
