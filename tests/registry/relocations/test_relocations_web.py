"""The relocation pages as staff see them: records, steps and scans, import with preview, the map, permissions."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from registry.files.ledger import MAX_BYTES
from registry.models import Martyr, Relocation
from registry.services import relocations as service
from registry.services import unit_of_work
from registry.services.users import create_user
from tests.conftest import make_app
from tests.factories import FIXED_MAPPING_TEXT, SYSTEM, login_with, make_destinations, write_messy_ledger


@pytest.fixture
def app(gpkg_url, tmp_path):
    """The app with uploaded ledgers and scans kept in the test's own folder, not the instance folder."""
    application = make_app(gpkg_url, RELOCATION_FILES_DIR=str(tmp_path / "files"))
    yield application
    application.extensions["registry_store"].dispose()


@pytest.fixture
def staff(store):
    create_user(store, SYSTEM, "mgr", "manager-password", ["manager"], ["350823", "350821"])
    create_user(store, SYSTEM, "planner1", "planner-password", ["planner"])
    return make_destinations(store)


@pytest.fixture
def manager(client, staff):
    return login_with(client, "mgr", "manager-password")


def relocation_count(store):
    with store.session() as s:
        return s.scalar(select(func.count(Relocation.id)))


def test_anonymous_visitors_are_sent_to_login(client):
    for path in ("/relocations", "/relocations/map", "/relocations/reconciliation", "/relocations/import",
                 "/relocations/journeys.geojson"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_planners_read_but_do_not_import(client, staff):
    login_with(client, "planner1", "planner-password")
    assert client.get("/relocations").status_code == 200
    assert client.get("/relocations/import").status_code == 403
    assert client.post("/relocations/import/commit", data={"token": "0" * 64}).status_code == 403


def upload(client, path, **form):
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), "crs": "EPSG:4326"}
    data.update(form)
    return client.post("/relocations/import/preview", data=data, content_type="multipart/form-data")


def test_import_preview_fix_mapping_import_and_reimport(manager, store, tmp_path):
    path = write_messy_ledger(tmp_path / "上杭台账.xlsx", with_errors=False)
    first = upload(manager, path)
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert 'data-errors="9"' in html and 'id="import-commit"' not in html
    assert "unknown destination facility" in html and "存在错误，不能导入" in html
    token = re.search(r'name="token" value="([0-9a-f]{64})"', html).group(1)
    # Fix the mapping on the stored file and save it for next time.
    fixed = manager.post("/relocations/import/preview", data={
        "token": token, "filename": path.name, "crs": "EPSG:4326", "mapping": FIXED_MAPPING_TEXT,
        "save_mapping_as": "上杭县"})
    html = fixed.get_data(as_text=True)
    assert 'data-errors="0"' in html and 'data-new="9"' in html and 'id="import-commit"' in html
    for why in ("full-width digits", "degrees-minutes-seconds", "swapped", "merged cell", "empty row",
                "header row in the middle", "duplicate of row 14"):
        assert why in html
    assert relocation_count(store) == 0  # the dry runs wrote nothing
    commit = manager.post("/relocations/import/commit", data={
        "token": token, "filename": path.name, "crs": "EPSG:4326", "mapping": FIXED_MAPPING_TEXT})
    assert commit.status_code == 302
    batch_page = manager.get(commit.headers["Location"]).get_data(as_text=True)
    assert 'data-added="9"' in batch_page
    assert relocation_count(store) == 9
    again = manager.post("/relocations/import/commit", data={
        "token": token, "filename": path.name, "crs": "EPSG:4326", "mapping": FIXED_MAPPING_TEXT})
    assert "again=1" in again.headers["Location"]
    assert "没有新增任何记录" in manager.get(again.headers["Location"]).get_data(as_text=True)
    assert relocation_count(store) == 9
    # The saved mapping is offered on the next upload.
    assert "上杭县" in manager.get("/relocations/import").get_data(as_text=True)
    saved = upload(manager, path, saved_mapping="上杭县")
    assert "这份台账已于此前导入" in saved.get_data(as_text=True)


def test_streamed_import_reports_progress_then_the_result(manager, store, tmp_path):
    path = write_messy_ledger(tmp_path / "m.xlsx", with_errors=False)
    token = re.search(r'name="token" value="([0-9a-f]{64})"',
                      upload(manager, path).get_data(as_text=True)).group(1)
    response = manager.post("/relocations/import/commit", headers={"Accept": "application/x-ndjson"}, data={
        "token": token, "filename": path.name, "crs": "EPSG:4326", "mapping": FIXED_MAPPING_TEXT})
    lines = [line for line in response.get_data(as_text=True).splitlines() if line]
    assert '"phase": "写入"' in lines[-2] and '"done": 9' in lines[-2]
    assert lines[-1].startswith('{"url": "/relocations/import/')
    failed = manager.post("/relocations/import/commit", headers={"Accept": "application/x-ndjson"}, data={
        "token": re.search(r'name="token" value="([0-9a-f]{64})"', upload(
            manager, write_messy_ledger(tmp_path / "bad.xlsx")).get_data(as_text=True)).group(1),
        "filename": "bad.xlsx", "crs": "EPSG:4326", "mapping": FIXED_MAPPING_TEXT})
    assert '"error"' in failed.get_data(as_text=True) and relocation_count(store) == 9


@pytest.mark.parametrize("name, content, message", [
    ("scan.pdf", b"%PDF-1.4 ...", "is a PDF document, not a spreadsheet"),
    ("photo.xlsx", b"\xff\xd8\xff\xe0 jpeg", "is a JPEG image"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Excel 97-2003"),
])
def test_files_that_are_not_ledgers_are_named(manager, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    response = upload(manager, path)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_a_200_mb_upload_is_refused_before_it_is_read(manager, store):
    # The declared length says 205 MB; the view answers from it without reading (or receiving) the body.
    response = manager.post("/relocations/import/preview", data=b"x" * 10,
                            headers={"Content-Type": "multipart/form-data; boundary=x"},
                            environ_overrides={"CONTENT_LENGTH": str(MAX_BYTES + 5 * 1024 * 1024)})
    assert response.status_code == 413
    assert "more than the 200 MB" in response.get_data(as_text=True)


@pytest.mark.parametrize("form, message", [
    ({"token": "../../etc/passwd"}, "上传的文件已失效"),
    ({"token": "a" * 64}, "上传的文件已失效"),
    ({"token": "a" * 64, "crs": "EPSG:3857"}, "coordinate system"),
    ({"token": "a" * 64, "mapping": "安葬地"}, "is not 表头=field"),
])
def test_bad_import_forms(manager, form, message):
    response = manager.post("/relocations/import/preview", data={"crs": "EPSG:4326", **form})
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_create_record_steps_and_attach_scans(manager, store, staff):
    created = manager.post("/relocations/new", data={
        "origin_county_code": "350823", "origin_place": "蛟洋镇文地村", "origin_lon": "116.61", "origin_lat": "25.15",
        "dest_facility_id": str(staff["SH-COL"]), "batch": "2022-上杭-第1批", "effects": "搪瓷碗\n铜纽扣"})
    assert created.status_code == 302
    page = manager.get(created.headers["Location"]).get_data(as_text=True)
    assert "蛟洋镇文地村" in page and "搪瓷碗、铜纽扣" in page and "无家属同意" in page
    rid = int(created.headers["Location"].rsplit("/", 1)[1])
    refused = manager.post(f"/relocations/{rid}/edit", data={
        "version": "1", "consent_present": "1", "surveyed_on": "2022-03-01", "accepted_on": "2022-03-05",
        "approval_number": "杭民〔2022〕1号"})
    assert refused.status_code == 400 and "needs the family&#39;s consent" in refused.get_data(as_text=True)
    bad_order = manager.post(f"/relocations/{rid}/edit", data={
        "version": "1", "surveyed_on": "2022-03-01", "consent_on": "2022-02-01", "family_consent": "1",
        "consent_present": "1"})
    assert bad_order.status_code == 400 and "cannot be before Survey" in bad_order.get_data(as_text=True)
    ok = manager.post(f"/relocations/{rid}/edit", data={
        "version": "1", "surveyed_on": "2022-03-01", "consent_on": "2022-03-05", "family_consent": "1",
        "consent_present": "1", "consent_by": "张某"})
    assert ok.status_code == 302
    stale = manager.post(f"/relocations/{rid}/edit", data={"version": "1", "note": "late"})
    assert stale.status_code == 409
    scan = manager.post(f"/relocations/{rid}/scans", data={"step": "consent_on",
                                                           "file": (io.BytesIO(b"%PDF-1.4 consent"), "同意书.pdf")},
                        content_type="multipart/form-data")
    assert scan.status_code == 302
    page = manager.get(f"/relocations/{rid}").get_data(as_text=True)
    link = re.search(r'href="(/relocations/\d+/scans/\d+)">同意书.pdf', page).group(1)
    with manager.get(link) as download:
        assert download.data == b"%PDF-1.4 consent"
    not_scan = manager.post(f"/relocations/{rid}/scans", data={"step": "consent_on",
                                                               "file": (io.BytesIO(b"hello"), "x.txt")},
                            content_type="multipart/form-data")
    assert not_scan.status_code == 400 and "not a PDF, PNG or JPEG" in not_scan.get_data(as_text=True)
    listing = manager.get("/relocations?county=350823").get_data(as_text=True)
    assert "蛟洋镇文地村" in listing
    assert manager.get("/relocations?county=nowhere").status_code == 400


def test_a_refused_edit_keeps_what_was_typed(manager, store, staff):
    created = manager.post("/relocations/new", data={
        "origin_county_code": "350823", "origin_place": "蛟洋镇文地村", "dest_facility_id": str(staff["SH-COL"])})
    rid = int(created.headers["Location"].rsplit("/", 1)[1])
    first = manager.post(f"/relocations/{rid}/edit", data={"version": "1", "consent_present": "1",
                                                           "surveyed_on": "2022-03-01"})
    assert first.status_code == 302
    # A second person, still on version 1, types an approval and a consent: told of the newer version,
    # they get their own values back in the form, beside the stored record.
    stale = manager.post(f"/relocations/{rid}/edit", data={
        "version": "1", "consent_present": "1", "surveyed_on": "2022-03-02", "family_consent": "1",
        "consent_by": "李某", "approval_number": "杭民〔2022〕7号", "dest_facility_id": str(staff["SH-COL"])})
    page = stale.get_data(as_text=True)
    assert stale.status_code == 409
    form = page[page.index('id="steps-form"'):]
    assert 'value="杭民〔2022〕7号"' in form and 'value="李某"' in form and 'value="2022-03-02"' in form
    assert 'name="family_consent" value="1" checked' in form
    assert f'<option value="{staff["SH-COL"]}" selected>' in form
    assert 'name="version" value="2"' in form  # resending now is a decision taken with the newer version seen
    # The page's title is the record's name, nothing else.
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "<" not in title and title.startswith("迁移记录 ")
    with store.session() as s:
        stored = s.get(Relocation, rid)
        assert (stored.version, stored.approval_number, stored.consent_by) == (2, None, None)


def test_a_plot_holding_another_martyr_is_refused_on_the_form(manager, store, staff):
    with unit_of_work(store) as s:
        first, second = Martyr(name="陈某"), Martyr(name="林某")
        s.add_all([first, second])
        s.flush()
        ids = first.id, second.id
    plot = {"dest_facility_id": str(staff["SH-COL"]), "dest_plot_area": "A区", "dest_plot_row": "1排",
            "dest_plot_number": "3号", "origin_county_code": "350823"}
    assert manager.post("/relocations/new", data={**plot, "origin_place": "甲村", "martyr_id": str(ids[0])}
                        ).status_code == 302
    refused = manager.post("/relocations/new", data={**plot, "origin_place": "乙村后山", "martyr_id": str(ids[1])})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'data-field="dest_plot_number"' in page and "陈某" in page
    assert 'value="乙村后山"' in page and 'value="3号"' in page  # what was typed stays in the form
    with store.session() as s:
        assert s.scalar(select(func.count(Relocation.id))) == 1


def test_new_relocation_bad_input_is_named(manager, store, staff):
    response = manager.post("/relocations/new", data={"origin_county_code": "350823", "origin_place": "x",
                                                      "origin_lon": "east", "origin_lat": "25"})
    assert response.status_code == 400 and "origin_lon" in response.get_data(as_text=True)
    assert relocation_count(store) == 0


def test_journey_map_embeds_no_features_and_loads_nothing_remote(manager, store, staff):
    for i in range(3):
        service.create_relocation(store, SYSTEM, {"code": f"J{i}", "origin_county_code": "350823",
                                                  "origin_lon": 116.5 + i / 100, "origin_lat": 25.1,
                                                  "dest_facility_id": staff["SH-CEM"], "origin_place": "某处"})
    page = manager.get("/relocations/map?county=350823").get_data(as_text=True)
    assert "/relocations/journeys.geojson?county=350823" in page
    assert "/static/relocations/journeys.js" in page
    # The random script nonce could spell "J0" by chance: look at the page without it.
    assert "J0" not in re.sub(r'nonce="[^"]*"', "", page) and "116.5" not in page
    assert not re.search(r'(src|href)="https?://', page)
    data = manager.get("/relocations/journeys.geojson?county=350823").get_json()
    assert data["journeys"] == 3 and data["destinations"] == 1
    shifted = manager.get("/relocations/journeys.geojson?county=350823&display=GCJ-02").get_json()
    assert shifted["features"][0]["geometry"]["coordinates"] != data["features"][0]["geometry"]["coordinates"]
    assert manager.get("/relocations/journeys.geojson?year=abc").status_code == 400


def test_pages_in_english(manager, store, staff):
    manager.get("/lang/en")
    html = manager.get("/relocations/reconciliation").get_data(as_text=True)
    assert "<h2>By county</h2>" in html and "County targets are demo figures" in html
    assert "按县区" not in html
    html = manager.get("/relocations/import").get_data(as_text=True)
    assert "Check (dry run)" in html


def test_cancel_from_the_page_keeps_the_record(manager, store, staff):
    r = service.create_relocation(store, SYSTEM, {"code": "X1", "origin_county_code": "350823", "origin_place": "某处"})
    refused = manager.post(f"/relocations/{r.id}/cancel", data={"version": str(r.version), "reason": ""})
    assert refused.status_code == 400 and "reason" in refused.get_data(as_text=True)
    done = manager.post(f"/relocations/{r.id}/cancel", data={"version": str(r.version), "reason": "家属要求原地保护"})
    assert done.status_code == 302
    page = manager.get(f"/relocations/{r.id}").get_data(as_text=True)
    assert 'data-stage="cancelled"' in page and "家属要求原地保护" in page
    assert relocation_count(store) == 1


def test_funding_sources_read_in_the_pages_language(manager, store, staff):
    r = service.create_relocation(store, SYSTEM, {"code": "F1", "origin_county_code": "350823", "origin_place": "某处",
                                                  "funding_source": "county"})
    assert "县级资金" in manager.get("/relocations/new").get_data(as_text=True)
    manager.get("/lang/en")
    form = manager.get("/relocations/new").get_data(as_text=True)
    assert "County funds" in form and "Central funds" in form and "县级资金" not in form
    page = manager.get(f"/relocations/{r.id}").get_data(as_text=True)
    assert "County funds" in page and "县级资金" not in page


@pytest.mark.parametrize("typed", ["2020-13-45", "yesterday", "2020/05/01"])
def test_a_step_date_that_is_not_a_date_names_the_step_and_nothing_changes(manager, store, staff, typed):
    r = service.create_relocation(store, SYSTEM, {"code": "D1", "origin_county_code": "350823", "origin_place": "某处"})
    refused = manager.post(f"/relocations/{r.id}/edit", data={"version": str(r.version), "exhumed_on": typed})
    assert refused.status_code == 400
    assert f"exhumed_on {typed!r} is not a date (YYYY-MM-DD)" in html.unescape(refused.get_data(as_text=True))
    with store.session() as session:
        stored = session.get(Relocation, r.id)
        assert stored.exhumed_on is None and stored.version == r.version


def test_a_step_date_given_as_text_is_read_as_a_date(store, staff):
    r = service.create_relocation(store, SYSTEM, {"code": "D2", "origin_county_code": "350823", "origin_place": "某处",
                                                  "surveyed_on": "2020-05-01"})
    assert r.surveyed_on.isoformat() == "2020-05-01" and r.stage == "in_progress"
