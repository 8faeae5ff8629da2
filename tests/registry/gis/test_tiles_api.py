"""Vector tiles: contents on both stores, clustering at low zoom, ETag and caching, TileJSON, bad tiles."""

from __future__ import annotations

import mapbox_vector_tile
import pytest

from geodata import mvt
from tests.factories import N_TOMBS, get_json, seed_ogc


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


@pytest.fixture
def tiles_client(any_app):
    seed_ogc(any_app.extensions["registry_store"])
    return any_app.test_client()


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data)


def test_z12_tile_has_every_tomb_with_attributes(tiles_client):
    x, y = _tile_of(116.82, 25.22, 12)
    response = tiles_client.get(f"/tiles/tombs/12/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    layer = _decode(response.data)["tombs"]
    assert len(layer["features"]) == N_TOMBS
    assert {f["properties"]["state"] for f in layer["features"]} == {"in_place"}
    assert layer["extent"] == 4096


def test_low_zoom_tile_clusters_points(tiles_client):
    x, y = _tile_of(116.82, 25.22, 6)
    layer = _decode(tiles_client.get(f"/tiles/tombs/6/{x}/{y}.mvt").data)["tombs"]
    assert len(layer["features"]) < N_TOMBS
    assert sum(f["properties"]["count"] for f in layer["features"]) == N_TOMBS


def test_polygons_and_lines_are_tiled(tiles_client):
    x, y = _tile_of(116.818, 25.225, 15)
    layer = _decode(tiles_client.get(f"/tiles/protection_ranges/15/{x}/{y}.mvt").data)["protection_ranges"]
    assert [f["geometry"]["type"] for f in layer["features"]] == ["Polygon"]
    x, y = _tile_of(116.4, 25.5, 7)
    layer = _decode(tiles_client.get(f"/tiles/relocations/7/{x}/{y}.mvt").data)["relocations"]
    assert {f["geometry"]["type"] for f in layer["features"]} == {"LineString"}


def test_etag_and_cache_headers(tiles_client):
    x, y = _tile_of(116.82, 25.22, 14)
    url = f"/tiles/tombs/14/{x}/{y}.mvt"
    first = tiles_client.get(url)
    etag = first.headers["ETag"]
    assert "max-age=300" in first.headers["Cache-Control"] and "public" in first.headers["Cache-Control"]
    again = tiles_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data


def test_empty_tile_is_204(tiles_client):
    assert tiles_client.get("/tiles/tombs/10/0/0.mvt").status_code == 204


def test_tilejson(tiles_client):
    body = get_json(tiles_client, "/tiles/tombs/tilejson.json")
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"][0].endswith("/tiles/tombs/{z}/{x}/{y}.mvt")
    assert body["vector_layers"][0]["id"] == "tombs"
    assert body["bounds"] == pytest.approx([116.81, 25.20, 116.85, 25.24], abs=1e-4)


@pytest.mark.parametrize("url, status", [
    ("/tiles/tombs/3/8/0.mvt", 404),
    ("/tiles/tombs/3/0/8.mvt", 404),
    ("/tiles/tombs/-1/0/0.mvt", 404),
    ("/tiles/tombs/23/0/0.mvt", 404),
    ("/tiles/tombs/a/b/c.mvt", 404),
    ("/tiles/inspections/3/0/0.mvt", 404),
    ("/tiles/nosuch/3/0/0.mvt", 404),
    ("/tiles/nosuch/tilejson.json", 404),
    ("/tiles/tombs/3/0/0.mvt?foo=1", 400),
])
def test_bad_tiles(tiles_client, url, status):
    body = get_json(tiles_client, url, status)
    assert body["code"] in ("NotFound", "InvalidParameterValue") and body["description"]


def test_tile_grid_helpers():
    assert mvt.check_tile(0, 0, 0) == (0, 0, 0)
    with pytest.raises(ValueError, match="outside the grid"):
        mvt.check_tile(2, 4, 0)
