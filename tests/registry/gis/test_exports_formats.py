"""Exports of collections and filtered searches: every format opens, and GeoPackage round-trips whole."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pandas as pd
import pytest
import shapely

from geodata.exports import export, read_back
from tests.factories import N_TOMBS, get_json, seed_ogc

FIELDS_CHECKED = ("code", "name", "category", "level", "county_code", "level_approved_on", "sign_present",
                  "area_m2", "position_approximate")


@pytest.fixture
def export_client(any_app):
    seed_ogc(any_app.extensions["registry_store"])
    return any_app.test_client()


def _download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "attachment" in response.headers["Content-Disposition"]
    return response.data


def test_geopackage_round_trip_keeps_everything(export_client):
    original = get_json(export_client, "/ogc/collections/facilities/items")["features"]
    data = _download(export_client, "/ogc/collections/facilities/items?f=gpkg")
    back = read_back(data, "gpkg").sort_values("id").reset_index(drop=True)
    assert back.crs.to_epsg() == 4326
    assert len(back) == len(original)
    for feature, (_i, row) in zip(sorted(original, key=lambda f: f["id"]), back.iterrows(), strict=True):
        assert row["id"] == feature["id"]
        assert row.geometry.equals_exact(shapely.geometry.shape(feature["geometry"]), 1e-12)
        for name in FIELDS_CHECKED:
            value = row[name]
            expected = feature["properties"][name]
            if expected is None:
                assert pd.isna(value), name
                continue
            if hasattr(value, "isoformat"):
                value = value.isoformat()[:10]
            assert value == expected, name
    assert set(feature["properties"]) <= set(back.columns)
    assert "古田会议烈士纪念碑" in set(back["name"])


def test_csv_has_bom_and_chinese_and_coordinates(export_client):
    data = _download(export_client, "/ogc/collections/tombs/items?f=csv")
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert len(lines) == N_TOMBS + 1
    header = lines[0].split(",")
    assert {"martyr_name", "lon", "lat", "wkt"} <= set(header)
    assert "烈士0" in text


def test_zipped_shapefile_declares_utf8(export_client):
    data = _download(export_client, "/ogc/collections/facilities/items?f=shp")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert {"facilities.shp", "facilities.shx", "facilities.dbf", "facilities.prj", "facilities.cpg"} <= names
        assert archive.read("facilities.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
        mapping = archive.read("facilities_fields.csv").decode("utf-8-sig")
    assert "level_approved_on,level_ap_1" in mapping
    back = read_back(data, "shp")
    assert "长汀烈士陵园" in set(back["name"])
    assert {"level_appr", "level_ap_1"} <= set(back.columns)


def test_kml_and_xlsx(export_client):
    kml = _download(export_client, "/ogc/collections/heritage_sites/items?f=kml").decode("utf-8")
    assert "<kml" in kml and "古田会议会址" in kml
    xlsx = _download(export_client, "/ogc/collections/facilities/items?f=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    rows = list(sheet.values)
    assert "name" in rows[0]
    assert len(rows) == 3
    assert "古田会议烈士纪念碑" in {cell for row in rows for cell in row}


def test_export_of_a_filtered_search(export_client):
    data = _download(export_client, "/ogc/collections/facilities/items?f=gpkg&filter=level%20%3D%20'county'")
    assert read_back(data, "gpkg")["code"].tolist() == ["F2"]
    data = _download(export_client, "/ogc/collections/relocations/items?f=csv")
    assert "李四" not in data.decode("utf-8-sig")


def test_staff_exports_need_a_role(export_client):
    assert get_json(export_client, "/ogc/collections/relocation_records/items?f=csv", 401)["code"] == "NotAuthorized"


@pytest.mark.parametrize("url, field", [
    ("/ogc/collections/facilities/items?f=docx", "f"),
    ("/ogc/collections/facilities/items?f=gpkg&bbox=1,2,3", "bbox"),
    ("/ogc/collections/facilities/items?f=csv&filter=nosuch%20%3D%201", "filter"),
])
def test_bad_export_requests(export_client, url, field):
    assert get_json(export_client, url, 400)["parameter"] == field


def test_export_function_refuses_unknown_format_and_missing_crs():
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(1, 2)], crs=4326)
    with pytest.raises(ValueError, match="format"):
        export(gdf, "pdf", "x")
    with pytest.raises(ValueError, match="CRS"):
        export(gdf.set_crs(None, allow_override=True), "csv", "x")
