"""Every ledger column accounted for, and the rules of the move, on both stores: service, web form and CLI."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.files.ledger import propose, read_ledger
from registry.models import ColumnMapping, ImportBatch, Relocation
from registry.services import InvalidInput
from registry.services.relocations import ledger as imports
from registry.services.users import create_user
from tests.conftest import make_app
from tests.factories import IMPORTER, SYSTEM, make_destinations

CEMETERY = "上杭县烈士陵园（测试）"
CONSENT_LEDGER = ("编号,县区,原址,经度,纬度,迁入地,家属同意书,批准文号,安葬日期\n"
                  f"C1,上杭县,蛟洋村,116.5,25.1,{CEMETERY},是,杭民〔2021〕5号,2021-05-03\n"
                  f"C2,上杭县,城西村,116.5,25.11,{CEMETERY},否,,2021-05-04\n")


@pytest.fixture
def web_app(store_url, tmp_path):
    application = make_app(store_url, RELOCATION_FILES_DIR=str(tmp_path / "files"))
    yield application
    application.extensions["registry_store"].dispose()


@pytest.fixture
def web_store(web_app):
    store = web_app.extensions["registry_store"]
    make_destinations(store)
    create_user(store, SYSTEM, "mgr", "manager-password", ["manager"], ["350823", "350821"])
    return store


@pytest.fixture
def manager(web_app, web_store):
    client = web_app.test_client()
    assert client.post("/login", data={"username": "mgr", "password": "manager-password"}).status_code == 302
    return client


def write(tmp_path, text: str, name: str = "ledger.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def consents(store) -> dict:
    with store.session() as s:
        return dict(s.execute(select(Relocation.code, Relocation.family_consent)).all())


def relocation_count(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(Relocation.id)))


@pytest.mark.parametrize("header, field", [
    ("家属同意书", "family_consent"), ("是否同意（是/否）", "family_consent"), ("安葬日期（公历）", "reburied_on"),
    ("迁入陵园名称", "dest_facility"), ("longitude (E)", "origin_lon"), ("身份证号", None), ("序号", None),
    ("照片", None), ("relation", None),
])
def test_headings_close_to_a_field_are_proposed_and_others_are_not(header, field):
    assert propose(header) == field


def test_every_column_is_listed_as_mapped_proposed_or_unused(tmp_path):
    text = "编号,县区,原址,经度,纬度,迁入地,家属同意书,身份证号\nA1,上杭县,村,116.5,25.1,某陵园,是,3508\n"
    ledger = read_ledger(text.encode(), "a.csv")
    states = {c.header: (c.letter, c.status, c.field) for c in ledger.columns}
    assert states["编号"] == ("A", "mapped", "code")
    assert states["家属同意书"] == ("G", "proposed", "family_consent")
    assert states["身份证号"] == ("H", "unused", None)
    assert [c.header for c in ledger.undecided] == ["家属同意书", "身份证号"]
    # Not read until confirmed: the consent is taken from nothing, not guessed.
    assert ledger.rows[0].values["family_consent"] is False
    ignored = read_ledger(text.encode(), "a.csv", mapping={"身份证号": "", "家属同意书": "family_consent"})
    assert {c.header: c.status for c in ignored.columns}["身份证号"] == "ignored"
    assert ignored.undecided == [] and ignored.rows[0].values["family_consent"] is True


def test_a_consent_heading_imports_only_once_the_proposal_is_confirmed(any_store, tmp_path):
    make_destinations(any_store)
    path = write(tmp_path, CONSENT_LEDGER)
    dry = imports.preview(any_store, path, "ledger.csv")
    assert dry.clean and not dry.ready
    assert [(c.header, c.status, c.field) for c in dry.undecided] == [("家属同意书", "proposed", "family_consent")]
    with pytest.raises(InvalidInput) as refused:
        imports.run_import(any_store, IMPORTER, path, "ledger.csv")
    assert refused.value.field == "mapping"
    assert "column G '家属同意书' looks like family_consent" in refused.value.message
    assert "nothing was imported" in refused.value.message
    assert relocation_count(any_store) == 0
    done = imports.run_import(any_store, IMPORTER, path, "ledger.csv", mapping={"家属同意书": "family_consent"})
    assert done.added == 2
    assert consents(any_store) == {"C1": True, "C2": False}
    with any_store.session() as s:
        assert s.scalars(select(ImportBatch.mapping)).one() == {"家属同意书": "family_consent"}


def test_confirming_every_proposal_at_once_reads_them_and_the_batch_remembers(any_store, tmp_path):
    make_destinations(any_store)
    path = write(tmp_path, CONSENT_LEDGER)
    done = imports.run_import(any_store, IMPORTER, path, "ledger.csv", accept_proposals=True)
    assert done.added == 2 and consents(any_store) == {"C1": True, "C2": False}
    with any_store.session() as s:
        assert s.scalars(select(ImportBatch.mapping)).one() == {"家属同意书": "family_consent"}


def test_an_unused_column_waits_for_a_decision_then_is_ignored(any_store, tmp_path):
    make_destinations(any_store)
    path = write(tmp_path, "编号,县区,原址,经度,纬度,迁入地,身份证号\n"
                           f"U1,上杭县,某村,116.5,25.1,{CEMETERY},35082319000101\n")
    with pytest.raises(InvalidInput, match="column G '身份证号' is not used"):
        imports.run_import(any_store, IMPORTER, path, "u.csv")
    assert relocation_count(any_store) == 0
    assert imports.run_import(any_store, IMPORTER, path, "u.csv", mapping={"身份证号": ""}).added == 1


# --- the rules of the move in the dry run ---------------------------------------------------------------


@pytest.mark.parametrize("column", ["调查日期", "同意日期", "批准日期", "起灵日期", "安葬日期", "验收日期"])
def test_a_date_after_today_is_an_error_naming_row_column_and_value(any_store, tmp_path, column):
    make_destinations(any_store)
    later = (date.today() + timedelta(days=400)).isoformat()
    path = write(tmp_path, f"编号,县区,原址,经度,纬度,迁入地,家属同意,批准文号,{column}\n"
                           f"F1,上杭县,某村,116.5,25.1,{CEMETERY},是,杭民〔2021〕5号,{later}\n")
    dry = imports.preview(any_store, path, "f.csv")
    future = [(i.row, i.column, i.value) for i in dry.errors if i.kind == "future"]
    assert future == [(2, column, later)]
    assert "after today" in next(i.why for i in dry.errors if i.kind == "future")
    with pytest.raises(InvalidInput, match="after today"):
        imports.run_import(any_store, IMPORTER, path, "f.csv")
    assert relocation_count(any_store) == 0


def test_a_reburial_without_consent_is_a_warning_naming_the_row(any_store, tmp_path):
    make_destinations(any_store)
    path = write(tmp_path, CONSENT_LEDGER)
    dry = imports.preview(any_store, path, "ledger.csv", mapping={"家属同意书": "family_consent"})
    warned = [(i.row, i.column) for i in dry.warnings if i.kind == "consent"]
    assert warned == [(3, "家属同意书")]
    assert "2021-05-04 without the family's consent" in next(i.why for i in dry.warnings if i.kind == "consent")


# --- the web form ----------------------------------------------------------------------------------------


def test_the_dry_run_page_asks_for_the_column_then_imports_consent(manager, web_store, tmp_path):
    path = write(tmp_path, CONSENT_LEDGER)
    first = manager.post("/relocations/import/preview", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(path.read_bytes()), "ledger.csv"), "crs": "EPSG:4326"})
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert re.search(r'data-status="proposed" data-header="家属同意书"', html)
    assert 'id="columns-undecided"' in html and 'id="import-commit"' not in html
    assert 'id="column-decisions"' in html and "确认为 家属同意（family_consent）" in html
    token = re.search(r'name="token" value="([0-9a-f]{64})"', html).group(1)
    # A commit without the decision is refused, and names the column.
    early = manager.post("/relocations/import/commit", data={"token": token, "filename": "ledger.csv",
                                                             "crs": "EPSG:4326", "mapping": ""})
    assert early.status_code == 400 and "家属同意书" in early.get_data(as_text=True)
    assert relocation_count(web_store) == 0
    decided = manager.post("/relocations/import/preview", data={
        "token": token, "filename": "ledger.csv", "crs": "EPSG:4326", "mapping": "",
        "column_header": "家属同意书", "column_field": "family_consent", "save_mapping_as": "上杭县台账"})
    html = decided.get_data(as_text=True)
    assert 'data-status="mapped" data-header="家属同意书"' in html and 'id="import-commit"' in html
    mapping = re.search(r'<input type="hidden" name="mapping" value="([^"]*)"', html).group(1)
    assert mapping == "家属同意书=family_consent"
    commit = manager.post("/relocations/import/commit", data={"token": token, "filename": "ledger.csv",
                                                              "crs": "EPSG:4326", "mapping": mapping})
    assert commit.status_code == 302
    assert consents(web_store) == {"C1": True, "C2": False}
    # The saved mapping remembers the decision for the next ledger of the same layout.
    with web_store.session() as s:
        assert s.scalar(select(ColumnMapping.mapping).where(ColumnMapping.name == "上杭县台账")) == {
            "家属同意书": "family_consent"}


@pytest.mark.parametrize("choice, message", [("no_such_field", "is not a ledger field")])
def test_a_bad_column_decision_is_named(manager, web_store, tmp_path, choice, message):
    path = write(tmp_path, CONSENT_LEDGER)
    first = manager.post("/relocations/import/preview", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(path.read_bytes()), "ledger.csv"), "crs": "EPSG:4326"})
    token = re.search(r'name="token" value="([0-9a-f]{64})"', first.get_data(as_text=True)).group(1)
    bad = manager.post("/relocations/import/preview", data={
        "token": token, "filename": "ledger.csv", "crs": "EPSG:4326", "column_header": "家属同意书",
        "column_field": choice})
    assert bad.status_code == 400 and message in bad.get_data(as_text=True) and "家属同意书" in bad.get_data(
        as_text=True)
    assert relocation_count(web_store) == 0


# --- the command line ------------------------------------------------------------------------------------


def test_the_cli_lists_each_column_and_imports_once_proposals_are_accepted(web_app, web_store, tmp_path):
    path = write(tmp_path, CONSENT_LEDGER)
    runner = web_app.test_cli_runner()
    dry = runner.invoke(args=["import", "relocations", str(path)])
    assert dry.exit_code == 1
    assert re.search(r"column\s+G\s+家属同意书\s+proposed\s+family_consent", dry.output)
    assert "--accept-proposals" in dry.output
    refused = runner.invoke(args=["import", "relocations", str(path), "--commit"])
    assert refused.exit_code == 1 and "家属同意书" in refused.output
    assert relocation_count(web_store) == 0
    done = runner.invoke(args=["import", "relocations", str(path), "--accept-proposals", "--commit",
                               "--save-mapping", "cli-layout"])
    assert done.exit_code == 0, done.output
    assert "imported 2 relocations" in done.output
    assert consents(web_store) == {"C1": True, "C2": False}
    assert imports.get_mapping(web_store, "cli-layout") == {"家属同意书": "family_consent"}


def test_the_cli_ignores_a_column_when_told(web_app, web_store, tmp_path):
    path = write(tmp_path, "编号,县区,原址,经度,纬度,迁入地,身份证号\n"
                           f"U1,上杭县,某村,116.5,25.1,{CEMETERY},35082319000101\n")
    runner = web_app.test_cli_runner()
    dry = runner.invoke(args=["import", "relocations", str(path)])
    assert dry.exit_code == 1 and re.search(r"column\s+G\s+身份证号\s+unused", dry.output)
    done = runner.invoke(args=["import", "relocations", str(path), "--ignore-column", "身份证号", "--commit"])
    assert done.exit_code == 0, done.output
    assert relocation_count(web_store) == 1
