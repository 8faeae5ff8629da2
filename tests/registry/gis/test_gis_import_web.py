"""The staff page that imports facilities and tombs: upload, dry-run preview with every row's problems, confirm."""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from openpyxl import Workbook
from shapely.geometry import Point
from sqlalchemy import func, select

from geodata.exports import export
from registry.models import AuditEvent, Facility, Tomb
from tests.conftest import make_app
from tests.factories import (
    CHANGTING,
    GOOD,
    HEADER,
    SHANGHANG,
    hidden_value,
    import_commit,
    import_csv,
    import_preview,
    people,
)


@pytest.fixture
def app(folder_app):
    return folder_app


@pytest.fixture
def any_app(any_folder_app):
    return any_folder_app


def _client(app, name):
    people(app.extensions["registry_store"])
    client = app.test_client()
    if name:
        response = client.post("/login", data={"username": name, "password": f"{name}-password"})
        assert response.status_code == 302
    return client


def _xlsx(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _geo(rows, fmt) -> bytes:
    frame = gpd.GeoDataFrame({k: [r[i] for r in rows] for i, k in enumerate(HEADER[:4])},
                             geometry=[Point(float(r[4]), float(r[5])) for r in rows], crs=4326)
    return export(frame, fmt, "facilities")


FILES = {
    "csv": (lambda rows: import_csv(rows), "设施.csv"),
    "xlsx": (lambda rows: _xlsx(rows), "设施.xlsx"),
    "geojson": (lambda rows: _geo(rows, "geojson"), "facilities.geojson"),
    "gpkg": (lambda rows: _geo(rows, "gpkg"), "facilities.gpkg"),
    "shp": (lambda rows: _geo(rows, "shp"), "facilities.zip"),
}


def _summary(page: str) -> dict:
    section = re.search(r'<section class="summary" id="import-summary"(.*?)>', page, re.S).group(1)
    return {k: int(v) for k, v in re.findall(r'data-([a-z-]+)="(\d+)"', section)}


def _problems(page: str) -> list[tuple[str, str, str, str]]:
    rows = re.findall(r'<tr class="problem"[^>]*><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>', page)
    return [tuple(cell.replace("&#39;", "'") for cell in row) for row in rows]


def _counts(app) -> tuple[int, int, int]:
    store = app.extensions["registry_store"]
    with store.session() as s:
        return (s.scalar(select(func.count()).select_from(Facility)), s.scalar(select(func.count()).select_from(Tomb)),
                s.scalar(select(func.count()).select_from(AuditEvent)))


# --- who may import ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, status", [("planner1", 200), ("admin1", 200), ("mgr", 200), ("reviewer1", 403)])
def test_roles(app, name, status):
    client = _client(app, name)
    assert client.get("/gis/import").status_code == status
    response = import_preview(client, import_csv(GOOD[:1]), "a.csv")
    assert response.status_code == status
    if status == 403:
        assert _counts(app)[0] == 0


def test_anonymous_is_sent_to_sign_in(app):
    client = _client(app, None)
    response = client.get("/gis/import")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert import_preview(client, import_csv(GOOD), "a.csv").status_code == 302
    assert _counts(app)[0] == 0


def test_the_forms_carry_a_csrf_token_and_the_staff_navigation_links_here(app):
    client = _client(app, "planner1")
    page = client.get("/gis/import").get_data(as_text=True)
    assert 'name="csrf_token"' in page and 'enctype="multipart/form-data"' in page
    preview = import_preview(client, import_csv(GOOD), "a.csv").get_data(as_text=True)
    assert re.search(r'id="import-commit".*?name="csrf_token" value="[^"]+"', preview, re.S)
    manager = _client_again(app, "mgr")
    assert 'href="/gis/import"' in manager.get("/manage").get_data(as_text=True)


def _client_again(app, name):
    client = app.test_client()
    client.post("/login", data={"username": name, "password": f"{name}-password"})
    return client


def test_a_post_without_the_csrf_token_is_refused(gpkg_url, tmp_path):
    app = make_app(gpkg_url, WTF_CSRF_ENABLED=True)
    app.instance_path = str(tmp_path / "instance")
    response = import_preview(app.test_client(), import_csv(GOOD), "a.csv")
    assert response.status_code == 400
    assert _counts(app)[0] == 0
    app.extensions["registry_store"].dispose()


# --- the happy path, in every format -------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FILES))
def test_preview_then_import_then_reimport_adds_nothing(app, fmt):
    make, filename = FILES[fmt]
    client = _client(app, "planner1")
    before = _counts(app)
    response = import_preview(client, make(GOOD), filename)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert _summary(page) == {"rows": 2, "new": 2, "existing": 0, "problems": 0, "created": 0, "dry-run": 1}
    assert "将新增 2 条" in page and "确认导入" in page
    assert _counts(app) == before  # the dry run wrote nothing
    done = import_commit(client, page).get_data(as_text=True)
    assert _summary(done)["created"] == 2 and 'id="import-done"' in done
    facilities, _tombs, events = _counts(app)
    assert facilities == 2 and events == before[2] + 2
    with app.extensions["registry_store"].session() as s:
        assert sorted(s.scalars(select(Facility.name))) == ["才溪乡调查纪念馆", "瞿秋白烈士纪念碑"]
    # The same file again: every row is already there, so there is nothing to confirm.
    again = import_preview(client, make(GOOD), filename).get_data(as_text=True)
    assert _summary(again)["existing"] == 2 and _summary(again)["new"] == 0
    assert 'id="nothing-new"' in again and 'id="import-commit"' not in again
    # A second confirm of the first preview (a double click) adds nothing either.
    twice = import_commit(client, page).get_data(as_text=True)
    assert _summary(twice)["created"] == 0 and _summary(twice)["existing"] == 2
    assert _counts(app) == (2, 0, before[2] + 2)


def test_both_stores_import_tombs_by_facility_code(any_app):
    client = _client(any_app, "admin1")
    import_commit(client, import_preview(client, import_csv(GOOD), "f.csv").get_data(as_text=True))
    tombs = import_csv([["GI-1", "A", "1", "1", "116.4501", "25.0001"], ["GI-1", "A", "1", "2", "116.4502", "25.0001"]],
                 header=["facility_code", "plot_area", "plot_row", "plot_number", "lon", "lat"])
    page = import_preview(client, tombs, "tombs.csv", kind="tombs").get_data(as_text=True)
    assert _summary(page)["new"] == 2, _problems(page)
    assert _summary(import_commit(client, page).get_data(as_text=True))["created"] == 2
    again = import_preview(client, tombs, "tombs.csv", kind="tombs").get_data(as_text=True)
    assert _summary(again)["existing"] == 2 and 'id="nothing-new"' in again
    assert _counts(any_app)[:2] == (2, 2)


def test_a_declared_gcj02_position_is_converted(app):
    client = _client(app, "planner1")
    page = import_preview(client, import_csv(GOOD[:1]), "a.csv", crs="GCJ-02").get_data(as_text=True)
    assert "GCJ-02" in page
    import_commit(client, page)
    with app.extensions["registry_store"].session() as s:
        geom = s.scalar(select(Facility)).geom
    # GCJ-02 lies a few hundred metres off WGS 84 around Longyan; the stored point is the WGS 84 one.
    assert 0.001 < abs(geom.x - 116.45) + abs(geom.y - 25.0) < 0.02


def test_a_geopackage_with_two_layers_asks_which_one(app):
    client = _client(app, "planner1")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "two.gpkg"
        frame = gpd.GeoDataFrame({k: [r[i] for r in GOOD] for i, k in enumerate(HEADER[:4])},
                                 geometry=[Point(float(r[4]), float(r[5])) for r in GOOD], crs=4326)
        pyogrio.write_dataframe(frame, path, layer="设施")
        pyogrio.write_dataframe(frame.iloc[:1], path, layer="other")
        data = path.read_bytes()
    response = import_preview(client, data, "two.gpkg")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'data-field="layer"' in page
    assert '<option value="设施">' in page and '<option value="other">' in page
    chosen = client.post("/gis/import/preview", data={"token": hidden_value(page, "token"), "filename": "two.gpkg",
                                                      "kind": "facilities", "crs": "EPSG:4326", "layer": "设施"})
    assert _summary(chosen.get_data(as_text=True))["new"] == 2
    assert _counts(app)[0] == 0


# --- bad input: named in the preview, nothing written ----------------------------------------------


@pytest.mark.parametrize("data, filename, field, words", [
    (b"", "empty.csv", "file", "empty"),
    (b"", "empty.gpkg", "file", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.png", "file", "neither a GIS file nor a spreadsheet"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "file", "cannot be read as csv"),
    (b"not a workbook at all", "ledger.xlsx", "file", "cannot be read as xlsx"),
    (b"not a geopackage", "layer.gpkg", "file", "cannot be read as gpkg"),
    (b'{"type": "Feature', "broken.geojson", "file", "cannot be read as geojson"),
    (b"code,name\n", "header-only.csv", "lon", "no lon and no lat column"),
    (import_csv([]), "no-rows.csv", "file", "no rows"),
])
def test_unreadable_files_are_named_and_nothing_is_written(app, data, filename, field, words):
    client = _client(app, "planner1")
    before = _counts(app)
    response = import_preview(client, data, filename)
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 400
    assert f'data-field="{field}"' in page and words in page, page[page.find("<h1>"):][:1500]
    assert 'id="import-commit"' not in page
    assert _counts(app) == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("row, problem", [
    (["GI-3", "", "monument", SHANGHANG, "116.4", "25.0"], ("2", "name", "", "name is required")),
    (["GI-3", "碑", "monument", SHANGHANG, "216.4", "25.0"],
     ("2", "lon, lat", "216.4, 25.0", "longitude 216.4 is outside -180..180")),
    (["GI-3", "碑", "monument", SHANGHANG, "116.4", "95"], ("2", "lon, lat", "116.4, 95", "latitude 95.0 is outside")),
    (["GI-3", "碑", "monument", SHANGHANG, "", ""], ("2", "lon, lat", "", "longitude is missing")),
    (["GI-3", "碑", "castle", SHANGHANG, "116.4", "25.0"], ("2", "category", "castle", "'castle' is not one of")),
    (GOOD[0], ("2", "code", "GI-1", "repeats row 1")),
    (["GI-1", "另一座碑", "monument", SHANGHANG, "116.4", "25.0"], ("2", "code", "GI-1", "already used in row 1")),
])
def test_each_bad_row_is_named_and_nothing_is_written(app, fmt, row, problem):
    make, filename = FILES[fmt]
    client = _client(app, "planner1")
    before = _counts(app)
    data = make([GOOD[0], row])
    page = import_preview(client, data, filename).get_data(as_text=True)
    problems = _problems(page)
    assert len(problems) == 1, problems
    number, column, value, why = problems[0]
    assert (number, column, value) == problem[:3]
    assert problem[3] in why
    assert 'id="not-clean"' in page and 'id="import-commit"' not in page
    # Confirming anyway (a forged or stale form) still writes nothing and shows the same problem.
    forced = client.post("/gis/import/commit", data={"token": hashlib.sha256(data).hexdigest(), "filename": filename,
                                                      "kind": "facilities", "crs": "EPSG:4326"})
    assert _problems(forced.get_data(as_text=True)) == problems
    assert _counts(app) == before


def test_a_tomb_row_repeated_in_the_file_is_a_duplicate(app):
    client = _client(app, "admin1")
    import_commit(client, import_preview(client, import_csv(GOOD), "f.csv").get_data(as_text=True))
    header = ["facility_code", "plot_row", "plot_number", "lon", "lat"]
    rows = [["GI-1", "1", "1", "116.4501", "25.0001"], ["GI-1", "1", "1", "116.4501", "25.0001"],
            ["GI-1", "1", "1", "116.4503", "25.0001"]]
    page = import_preview(client, import_csv(rows, header), "t.csv", kind="tombs").get_data(as_text=True)
    problems = _problems(page)
    assert [(p[0], p[1]) for p in problems] == [("2", "position"), ("3", "plot_number")]
    assert "repeats row 1" in problems[0][3] and "already given in row 1" in problems[1][3]
    assert _counts(app)[1] == 0


def test_a_manager_imports_only_in_their_counties(app):
    client = _client(app, "mgr")  # manages 上杭县 only
    before = _counts(app)
    page = import_preview(client, import_csv(GOOD), "f.csv").get_data(as_text=True)
    assert _problems(page) == [("2", "county_code", CHANGTING, "mgr manages counties 350823 only")]
    assert _counts(app) == before
    mine = import_preview(client, import_csv(GOOD[:1]), "mine.csv").get_data(as_text=True)
    assert _summary(import_commit(client, mine).get_data(as_text=True))["created"] == 1
    assert _counts(app)[0] == 1


def test_an_expired_upload_token_is_named(app):
    client = _client(app, "planner1")
    response = client.post("/gis/import/commit", data={"token": "0" * 64, "filename": "a.csv", "kind": "facilities"})
    assert response.status_code == 400 and 'data-field="file"' in response.get_data(as_text=True)
    assert _counts(app)[0] == 0


def test_the_page_speaks_english_too(app):
    client = _client(app, "planner1")
    client.get("/lang/en?next=/gis/import")
    page = import_preview(client, import_csv([GOOD[0], ["GI-3", "", "monument", SHANGHANG, "116.4", "25.0"]]), "a.csv")
    text = page.get_data(as_text=True)
    assert "Import facilities and tombs" in text and "Dry run: 2 rows read" in text
    assert "There are errors; nothing was written." in text


def test_typed_columns_from_a_spreadsheet(app):
    from datetime import date

    client = _client(app, "planner1")
    header = [*HEADER, "level", "level_approved_on", "area_m2", "sign_present"]
    rows = [[*GOOD[0], "county", date(2019, 4, 1), 1200.5, "是"], [*GOOD[1], "national", "2020-01-15", "80", 0]]
    page = import_preview(client, _xlsx(rows, header), "typed.xlsx").get_data(as_text=True)
    assert _summary(page)["new"] == 2, _problems(page)
    import_commit(client, page)
    with app.extensions["registry_store"].session() as s:
        first, second = s.scalars(select(Facility).order_by(Facility.code)).all()
    assert (first.level_approved_on, first.area_m2, first.sign_present) == (date(2019, 4, 1), 1200.5, True)
    assert (second.level_approved_on, second.area_m2, second.sign_present) == (date(2020, 1, 15), 80.0, False)


@pytest.mark.parametrize("column, value, why", [
    ("level_approved_on", "去年", "is not a date"),
    ("area_m2", "很大", "is not a number"),
    ("sign_present", "maybe", "is not yes or no"),
])
def test_a_badly_typed_value_is_named(app, column, value, why):
    client = _client(app, "planner1")
    data = import_csv([[*GOOD[0], value]], header=[*HEADER, column])
    page = import_preview(client, data, "typed.csv").get_data(as_text=True)
    assert _problems(page) == [("1", column, value, _problems(page)[0][3])]
    assert why in _problems(page)[0][3]
    assert _counts(app)[0] == 0


def test_a_chinese_excel_csv_in_gbk_is_read(app):
    client = _client(app, "planner1")
    data = "\n".join(",".join(r) for r in [["code", "name", "category", "county_code", "经度", "纬度"], *GOOD])
    page = import_preview(client, data.encode("gbk"), "gbk.csv").get_data(as_text=True)
    assert _summary(page)["new"] == 2, _problems(page)
    import_commit(client, page)
    with app.extensions["registry_store"].session() as s:
        assert "瞿秋白烈士纪念碑" in s.scalars(select(Facility.name)).all()
