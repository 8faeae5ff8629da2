"""Stations through OGC API – Features (items, a CQL2 filter, the schema), its exports, and the public map's
viewport API, bounded by its box and its limit."""

from __future__ import annotations

import io
import shutil
import subprocess

import geopandas as gpd
import openpyxl
import pytest

from geodata.exports import read_back
from tests.factories import get_json

COLLECTION = "/ogc/collections/service_stations"
NATIONAL = "demonstration = 'national_model'"


def test_items_and_a_cql2_filter(demo):
    client = demo[0].test_client()
    listed = {c["id"] for c in get_json(client, "/ogc/collections")["collections"]}
    assert "service_stations" in listed
    page = get_json(client, f"{COLLECTION}/items?limit=5")
    assert page["numberMatched"] == 2086 + 51 and len(page["features"]) == 5
    first = page["features"][0]
    assert first["geometry"]["type"] == "Point" and first["properties"]["is_demo"] is True
    national = get_json(client, f"{COLLECTION}/items", query_string={"filter": NATIONAL, "limit": 200})
    assert national["numberMatched"] == 92
    assert {f["properties"]["demonstration"] for f in national["features"]} == {"national_model"}
    gaps = get_json(client, f"{COLLECTION}/items", query_string={
        "filter": "has_funds = false AND level = 'village' AND county_code = '350823'", "limit": 1})
    assert gaps["numberMatched"] > 0 and gaps["features"][0]["properties"]["has_funds"] is False
    schema = get_json(client, f"{COLLECTION}/schema")
    assert {"has_body", "has_provisions", "opening_hours", "phone", "demonstration"} <= set(schema["properties"])
    refused = get_json(client, f"{COLLECTION}/items", 400, query_string={"filter": "five = 1"})
    assert "five" in str(refused)


def _download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.data


def test_exports_open_in_gdal_and_geopandas(demo, tmp_path):
    client = demo[0].test_client()
    query = "filter=demonstration%20%3D%20'provincial_advanced'"
    gpkg = _download(client, f"{COLLECTION}/items?f=gpkg&{query}")
    back = read_back(gpkg, "gpkg")
    assert len(back) == 23 and back.crs.to_epsg() == 4326
    assert set(back["demonstration"]) == {"provincial_advanced"} and bool(back["has_body"].all())
    path = tmp_path / "stations.gpkg"
    path.write_bytes(gpkg)
    assert len(gpd.read_file(path)) == 23
    if shutil.which("ogrinfo"):
        out = subprocess.run(["ogrinfo", "-ro", "-so", str(path), "service_stations"], capture_output=True,
                             text=True, timeout=120, check=True).stdout
        assert "Feature Count: 23" in out
    csv = _download(client, f"{COLLECTION}/items?f=csv&{query}").decode("utf-8-sig")
    assert len(csv.strip().splitlines()) == 24 and "opening_hours" in csv.splitlines()[0]
    rows = list(openpyxl.load_workbook(io.BytesIO(_download(client, f"{COLLECTION}/items?f=xlsx&{query}")))
                .active.values)
    assert len(rows) == 24 and "phone" in rows[0]
    # Phones stay text in the sheet (a leading 0 kept), as every cell of an export is.
    phone = rows[1][rows[0].index("phone")]
    assert isinstance(phone, str) and phone.startswith("0")
    geojson = read_back(_download(client, f"{COLLECTION}/items?f=geojson&{query}"), "geojson")
    assert len(geojson) == 23


@pytest.mark.parametrize("bbox", ["116.30,25.00,116.50,25.10", "117.0,25.0,117.05,25.1"])
def test_the_public_api_answers_a_box_and_no_more(demo, bbox):
    client = demo[0].test_client()
    body = get_json(client, f"/api/stations?bbox={bbox}&limit=5000")
    minx, miny, maxx, maxy = map(float, bbox.split(","))
    assert body["numberMatched"] == body["numberReturned"] > 0 and body["numberMatched"] < 2086
    for f in body["features"]:
        x, y = f["geometry"]["coordinates"]
        assert minx <= x <= maxx and miny <= y <= maxy
        assert {"name", "level", "opening_hours", "phone", "five_haves"} <= set(f["properties"])


def test_the_public_api_caps_a_large_box_with_centres_first(demo):
    client = demo[0].test_client()
    body = get_json(client, "/api/stations?bbox=115,24,118,27&limit=20")
    assert body["numberMatched"] == 2086 + 51 and body["numberReturned"] == 20 and body["capped"] is True
    assert [f["properties"]["level"] for f in body["features"][:3]] == ["city", "city", "county"]
    assert get_json(client, "/api/stations?bbox=1,2,3", 400)["field"] == "bbox"
    assert get_json(client, "/api/stations", 400)["field"] == "bbox"
    assert get_json(client, "/api/stations?bbox=115,24,118,27&limit=x", 400)["field"] == "limit"


def test_past_the_centres_and_model_stations_the_villages_follow_in_order(demo):
    client = demo[0].test_client()
    body = get_json(client, "/api/stations?bbox=115,24,118,27&limit=2000")
    props = [f["properties"] for f in body["features"]]
    notable = [p for p in props if p["level"] != "village" or p["demonstration"] != "none"]
    plain = [p for p in props if p["level"] == "village" and p["demonstration"] == "none"]
    # Every centre, township station and model station comes first, then plain villages by id.
    assert props[:len(notable)] == notable and props[len(notable):] == plain
    assert [p["id"] for p in plain] == sorted(p["id"] for p in plain)
    assert sum(p["level"] != "village" for p in notable) == 2 + 11 + 121 + 46 and len(props) == 2000
    assert sum(p["demonstration"] != "none" for p in notable) == 92 + 23
