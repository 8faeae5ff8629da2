"""The public map over an MBTiles base map, in a real browser with every host but this one blocked."""

from __future__ import annotations

import math

import pytest

from maps.boundaries import STYLES
from registry.db import Store
from registry.services import divisions
from tests.factories import demo_like
from tests.mbtiles_files import make_mbtiles

pytestmark = pytest.mark.browser

CLEAN = {"blocked": [], "failed": [], "console": [], "page errors": []}


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2**z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def corner(x: int, y: int, z: int) -> tuple[float, float]:
    """Longitude, latitude of a tile's north-west corner."""
    n = 2**z
    return x / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


@pytest.fixture
def view_tiles(gpkg_url, tmp_path):
    """An MBTiles file with a block of tiles around the map's first view, its bounds exactly that block."""
    store = Store(gpkg_url)
    demo_like(store)
    (lat, lon), zoom = divisions.first_view(store)
    store.dispose()
    cx, cy = tile_of(lat, lon, zoom)
    xs, ys = range(cx - 4, cx + 5), range(cy - 4, cy + 5)
    tiles = {(zoom, x, y): (40 + 10 * (x % 5), 120, 160 + 10 * (y % 5)) for x in xs for y in ys}
    west, north = corner(xs[0], ys[0], zoom)
    east, south = corner(xs[-1] + 1, ys[-1] + 1, zoom)
    return make_mbtiles(tmp_path / "streets.mbtiles", tiles,
                        metadata={"bounds": f"{west},{south},{east},{north}", "name": "Intranet streets"})


def test_the_map_shows_tiles_from_the_mbtiles_file_with_the_network_cut_off(view_tiles, live_server, watched_page):
    base = live_server(BASEMAP="mbtiles", BASEMAP_PATH=str(view_tiles))
    page = watched_page.page
    response = page.goto(base + "/", wait_until="networkidle")
    assert response is not None and response.status == 200
    page.locator(".pm-marker").first.wait_for(state="visible", timeout=10_000)
    tiles = page.locator("img.leaflet-tile")
    tiles.first.wait_for(state="attached", timeout=10_000)
    loaded = page.evaluate("""() => [...document.querySelectorAll('img.leaflet-tile')]
        .filter(img => img.complete && img.naturalWidth > 0).map(img => new URL(img.src).pathname)""")
    assert loaded and all(path.startswith("/basemap/") for path in loaded)
    # The file's attribution, markup and all, shows as text.
    attribution = page.locator(".leaflet-control-attribution")
    assert "Test tiles <b>bold</b>" in attribution.inner_text()
    assert attribution.locator("b").count() == 0
    assert watched_page.problems() == CLEAN


def test_without_a_base_map_the_demo_map_draws_its_county_outlines_marked_approximate(gpkg_url, live_server,
                                                                                      watched_page):
    from registry.services.demo import load_demo

    store = Store(gpkg_url)
    load_demo(store)
    store.dispose()
    page = watched_page.page
    response = page.goto(live_server(BASEMAP="none") + "/", wait_until="networkidle")
    assert response is not None and response.status == 200
    counties = page.locator(f'path.leaflet-interactive[stroke="{STYLES["county"]["color"]}"]')
    counties.first.wait_for(state="attached", timeout=10_000)
    assert counties.count() == 11  # the demo's 11 counties, one sketched outline each
    assert "示意" in page.locator(".leaflet-control-attribution").inner_text()
    # Each outline names its county, marked approximate, as its tooltip (the outline is unfilled, so the
    # pointer would have to hit its line: the event goes to the path itself).
    box = counties.first.bounding_box()
    assert box is not None
    counties.first.dispatch_event("mouseover", {"clientX": box["x"] + box["width"] / 2,
                                                "clientY": box["y"] + box["height"] / 2, "bubbles": True})
    tooltip = page.locator(".leaflet-tooltip").first
    tooltip.wait_for(state="visible", timeout=5_000)
    assert tooltip.inner_text().endswith("（示意）")
    assert watched_page.problems() == CLEAN
