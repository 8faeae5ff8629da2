"""An MBTiles base map: tiles served through the app (rows flipped, ETags, 404), bad files named by /healthz."""

from __future__ import annotations

import io
import sqlite3

import pytest
from PIL import Image

from tests.conftest import make_app
from tests.mbtiles_files import TILES, make_mbtiles


@pytest.fixture
def tiles_path(tmp_path):
    return make_mbtiles(tmp_path / "streets.mbtiles")


@pytest.fixture
def client():
    apps = []

    def start(url, path, **extra):
        app = make_app(url, BASEMAP="mbtiles", BASEMAP_PATH=str(path), **extra)
        apps.append(app)
        return app, app.test_client()
    yield start
    for app in apps:
        app.extensions["registry_store"].dispose()


def colour(data: bytes):
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((5, 5))


@pytest.mark.parametrize(("z", "x", "y"), list(TILES))
def test_a_tile_is_served_at_its_xyz_address(client, gpkg_url, tiles_path, z, x, y):
    _app, web = client(gpkg_url, tiles_path)
    response = web.get(f"/basemap/{z}/{x}/{y}.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    # The file stores (1, 1, 0) at TMS row 1 and (1, 1, 1) at row 0: each comes back at its own XYZ address.
    assert colour(response.data) == TILES[(z, x, y)]
    assert "max-age=" in response.headers["Cache-Control"]


def test_a_tile_seen_before_is_not_sent_again(client, gpkg_url, tiles_path):
    _app, web = client(gpkg_url, tiles_path)
    first = web.get("/basemap/1/1/0.png")
    again = web.get("/basemap/1/1/0.png", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    other = web.get("/basemap/1/1/1.png", headers={"If-None-Match": first.headers["ETag"]})
    assert other.status_code == 200


@pytest.mark.parametrize("path", ["/basemap/1/0/0.png", "/basemap/5/1/1.png", "/basemap/1/7/0.png",
                                  "/basemap/0/0/0.jpg"])
def test_no_tile_there_is_a_404(client, gpkg_url, tiles_path, path):
    _app, web = client(gpkg_url, tiles_path)
    assert web.get(path).status_code == 404


def test_the_public_map_uses_the_served_tiles(client, gpkg_url, tiles_path):
    _app, web = client(gpkg_url, tiles_path)
    page = web.get("/").get_data(as_text=True)
    assert "/basemap/{z}/{x}/{y}.png?v=" in page
    # The file's attribution reaches the page escaped (Leaflet shows attributions as HTML).
    assert "Test tiles \\u0026lt;b\\u0026gt;bold" in page and "<b>bold" not in page
    health = web.get("/healthz").get_json()["basemap"]
    assert health == {"kind": "mbtiles", "status": "ok", "name": "Test streets", "format": "png",
                      "min_zoom": 0, "max_zoom": 1}


def not_sqlite(tmp_path):
    path = tmp_path / "bad.mbtiles"
    path.write_bytes(b"this is a text file, not tiles\n" * 40)
    return path


def no_tiles_table(tmp_path):
    path = tmp_path / "empty.mbtiles"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    con.close()
    return path


def vector_tiles(tmp_path):
    return make_mbtiles(tmp_path / "vector.mbtiles", metadata={"format": "pbf"})


def unknown_format(tmp_path):
    return make_mbtiles(tmp_path / "odd.mbtiles", metadata={"format": "tiff"})


def missing(tmp_path):
    return tmp_path / "nowhere.mbtiles"


@pytest.mark.parametrize(("make", "words"), [
    (missing, "no such file"),
    (not_sqlite, "not an MBTiles file: it is not a SQLite database"),
    (no_tiles_table, "not an MBTiles file: it has no tiles table or view"),
    (vector_tiles, "vector tiles (format pbf)"),
    (unknown_format, "tile format 'tiff', not one of png, jpg, webp"),
])
def test_a_file_that_cannot_serve_is_named_and_the_map_falls_back(client, gpkg_url, tmp_path, make, words):
    path = make(tmp_path)
    _app, web = client(gpkg_url, path)
    health = web.get("/healthz")
    assert health.status_code == 200  # the registry serves; only its base map is missing
    basemap = health.get_json()["basemap"]
    assert basemap["status"] == "unavailable"
    assert words in basemap["message"] and str(path) in basemap["message"]
    page = web.get("/")
    assert page.status_code == 200
    assert "/basemap/" not in page.get_data(as_text=True)
    assert web.get("/basemap/0/0/0.png").status_code == 404


def test_the_registry_file_itself_is_refused(client, gpkg_url):
    from sqlalchemy.engine import make_url

    path = make_url(gpkg_url).database.removeprefix("file:").split("?")[0]
    _app, web = client(gpkg_url, path)
    assert "the registry's own file" in web.get("/healthz").get_json()["basemap"]["message"]


def test_a_replaced_file_is_read_again(client, gpkg_url, tmp_path):
    path = make_mbtiles(tmp_path / "streets.mbtiles")
    _app, web = client(gpkg_url, path)
    first = web.get("/basemap/0/0/0.png")
    path.unlink()
    make_mbtiles(path, {(0, 0, 0): (1, 2, 3)})
    again = web.get("/basemap/0/0/0.png", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and colour(again.data) == (1, 2, 3)
