"""Planners draw in the browser: a road across 古田会议会址's range for the conflict check, a range for a facility."""

from __future__ import annotations

import json
import re

import pytest
from pyproj import Geod
from shapely.geometry import Polygon, shape

from geodata.crs import wgs84_to_gcj02
from registry.db import Store
from registry.services.facilities import create_facility
from registry.services.plan.zones import buffer_control_zone, save_zone
from registry.services.users import create_user
from tests.browser.conftest import sign_in
from tests.factories import ADMIN

pytestmark = pytest.mark.browser

# The demo places 古田会议会址 near 25.225 N, 116.818 E; this test makes its own copy with a range.
RANGE = Polygon([(116.817, 25.224), (116.819, 25.224), (116.819, 25.226), (116.817, 25.226)])
# A road drawn west to east across the range, 20 m north of the facility's point.
ROAD = [(116.814, 25.2252), (116.822, 25.2252)]
# A second facility with no zones yet; the planner draws its protection range (about 200 m x 220 m).
SECOND = (116.4105, 25.0484)
SQUARE = [(116.4095, 25.0474), (116.4115, 25.0474), (116.4115, 25.0494), (116.4095, 25.0494)]
# A 1x1 transparent PNG: the GCJ-02 base map's tiles, answered by the test itself.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6300010000050001a5f645400000000049454e44ae426082")
CLEAN = {"blocked": [], "failed": [], "console": [], "page errors": []}


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    create_user(store, ADMIN, "planner1", "planner1-password", ["planner"])
    site = create_facility(store, ADMIN, {"code": "350823-F0001", "name": "古田会议会址", "category": "memorial_hall",
                                          "level": "national", "county_code": "350823", "lon": 116.818,
                                          "lat": 25.225})
    save_zone(store, ADMIN, site.id, "protection_range", RANGE, reported_on="2020-01-01")
    buffer_control_zone(store, ADMIN, site.id, 100)
    second = create_facility(store, ADMIN, {"code": "350881-F0002", "name": "才溪乡调查纪念馆",
                                            "category": "memorial_hall", "level": "national",
                                            "county_code": "350881", "lon": SECOND[0], "lat": SECOND[1]})
    store.dispose()
    return {"second_id": second.id}


def map_ready(page):
    """Wait for the drawing tools, then return the Leaflet map's global name (folium names it after the element)."""
    page.locator(".leaflet-container[data-draw-ready='true']").wait_for(state="attached")
    return page.locator(".folium-map").get_attribute("id")


def show(page, map_name, lon, lat, zoom):
    page.evaluate("([name, lat, lon, zoom]) => window[name].setView([lat, lon], zoom, {animate: false})",
                  [map_name, lat, lon, zoom])
    page.wait_for_load_state("networkidle")


def click_at(page, map_name, lon, lat):
    """Click the map where (lon, lat) is drawn, as a planner would."""
    x, y = page.evaluate(
        "([name, lat, lon]) => { const p = window[name].latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [map_name, lat, lon])
    box = page.locator(f"#{map_name}").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def drawn(page) -> dict:
    return json.loads(page.input_value("#geojson"))


def test_planner_draws_a_road_across_a_protection_range(seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = watched_page.page
    sign_in(page, base_url, "planner1")
    page.goto(base_url + "/plan/checks")
    map_name = map_ready(page)
    show(page, map_name, 116.818, 25.225, 16)

    page.get_by_title("绘制线段").click()  # geoman's own Chinese button titles
    for lon, lat in ROAD:
        click_at(page, map_name, lon, lat)
    page.locator(".button-container.active .action-finish").filter(has_text="完成").click()

    outline = drawn(page)
    assert [f["geometry"]["type"] for f in outline["features"]] == ["LineString"]
    coords = outline["features"][0]["geometry"]["coordinates"]
    assert len(coords) == 2
    # One pixel at zoom 16 is about 2 m: the drawn road lies where it was clicked, in lon/lat order.
    assert all(abs(c - e) < 5e-5 for point, expected in zip(coords, ROAD, strict=True)
               for c, e in zip(point, expected, strict=True))

    # Editing reaches the drawn road only: its two vertices get handles, the range and zones none.
    page.get_by_title("编辑图层").click()
    assert page.locator(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)").count() == 2
    page.get_by_title("编辑图层").click()

    page.fill("#project_name", "古田镇连接线（绘制）")
    page.fill("#width_m", "20")
    page.get_by_role("button", name="检查并保存").click()
    page.wait_for_load_state("networkidle")

    assert page.locator("#verdict").inner_text() == "禁止：进入保护范围"
    row = page.locator("#forbidden tbody tr").first
    assert "古田会议会址" in row.inner_text()
    area = float(row.locator("td").nth(2).inner_text().replace(",", ""))
    crossing = float(row.locator("td").nth(3).inner_text().replace(",", ""))
    assert 3500 < area < 4500  # 20 m wide across a range about 200 m wide
    assert 190 < crossing < 215
    near = page.locator("#nearby tbody tr").filter(has_text="古田会议会址")
    assert float(near.locator("td").nth(2).inner_text().replace(",", "")) < 40  # the road passes 20 m north
    assert watched_page.problems() == CLEAN


def test_planner_draws_deletes_and_redraws_a_protection_range(seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = watched_page.page
    sign_in(page, base_url, "planner1")
    page.goto(f"{base_url}/plan/zones/{seeded['second_id']}")
    map_name = map_ready(page)
    assert page.locator("#zones tbody").inner_text().strip() == "尚无范围或地带。"
    show(page, map_name, SECOND[0], SECOND[1], 17)

    # A first attempt, removed again before saving.
    page.get_by_title("绘制多边形").click()
    for lon, lat in [SQUARE[0], SQUARE[1], SQUARE[2], SQUARE[0]]:
        click_at(page, map_name, lon, lat)
    assert len(drawn(page)["features"]) == 1
    page.get_by_title("删除图层").click()
    click_at(page, map_name, 116.4110, 25.0478)  # inside the triangle
    assert page.input_value("#geojson") == ""
    page.get_by_title("删除图层").click()

    page.get_by_title("绘制多边形").click()
    for lon, lat in [*SQUARE, SQUARE[0]]:
        click_at(page, map_name, lon, lat)
    features = drawn(page)["features"]
    assert [f["geometry"]["type"] for f in features] == ["Polygon"]
    assert shape(features[0]["geometry"]).symmetric_difference(Polygon(SQUARE)).area < 0.02 * Polygon(SQUARE).area

    page.select_option("#kind", "protection_range")
    page.fill("#reported_on", "2026-11-01")
    page.get_by_role("button", name="保存范围").click()
    page.wait_for_load_state("networkidle")

    assert not page.locator("#form-error").count()
    row = page.locator("#zones tbody tr").first
    cells = [row.locator("td").nth(i).inner_text() for i in range(4)]
    assert cells[0:2] == ["保护范围", "现行"] and cells[3] == "2026-11-01"
    expected = abs(Geod(ellps="GRS80").geometry_area_perimeter(Polygon(SQUARE))[0])
    assert abs(float(cells[2].replace(",", "")) - expected) < 0.03 * expected
    assert watched_page.problems() == CLEAN


def test_a_drawn_self_intersecting_range_is_refused_where_it_crosses_then_repaired_on_request(
        seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = watched_page.page
    sign_in(page, base_url, "planner1")
    page.goto(f"{base_url}/plan/zones/{seeded['second_id']}")
    map_name = map_ready(page)
    show(page, map_name, SECOND[0], SECOND[1], 17)

    # A bow tie: the edges cross at the facility's point.
    page.get_by_title("绘制多边形").click()
    for lon, lat in [SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3], SQUARE[0]]:
        click_at(page, map_name, lon, lat)
    page.select_option("#kind", "protection_range")
    page.get_by_role("button", name="保存范围").click()
    page.wait_for_load_state("networkidle")

    error = page.locator("#form-error").inner_text()
    assert "geometry" in error and "没有保存任何更改" in error
    place = re.search(r"lon ([\d.]+), lat ([\d.]+)", error)
    assert place and abs(float(place[1]) - SECOND[0]) < 1e-4 and abs(float(place[2]) - SECOND[1]) < 1e-4
    assert page.locator("#zones tbody").inner_text().strip() == "尚无范围或地带。"
    # The drawing is back on the map, editable, and the field still holds it.
    map_ready(page)
    assert page.locator("#geojson").get_attribute("data-drawn") == "1"
    assert drawn(page)["features"][0]["geometry"]["type"] == "Polygon"

    # Asked to, the server repairs it: the two triangles of the bow tie, half the square.
    page.select_option("#kind", "protection_range")
    page.get_by_label("轮廓自相交时自动修复").check()
    page.get_by_role("button", name="保存范围").click()
    page.wait_for_load_state("networkidle")

    assert not page.locator("#form-error").count()
    row = page.locator("#zones tbody tr").first
    assert row.locator("td").first.inner_text() == "保护范围"
    half = abs(Geod(ellps="GRS80").geometry_area_perimeter(Polygon(SQUARE))[0]) / 2
    assert abs(float(row.locator("td").nth(2).inner_text().replace(",", "")) - half) < 0.05 * half
    problems = watched_page.problems()
    # The refused form answers 400 by design; the browser logs that document's status as a console error.
    refused = "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
    assert problems["console"] == [refused]
    problems["console"] = []
    assert problems == CLEAN


def test_on_a_gcj02_base_map_the_drawing_is_written_in_wgs84(seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="xyz", BASEMAP_URL="/test-tiles/{z}/{x}/{y}.png", BASEMAP_CRS="GCJ-02")
    page = watched_page.page
    page.route("**/test-tiles/**", lambda route: route.fulfill(status=200, content_type="image/png", body=PNG))
    sign_in(page, base_url, "planner1")
    page.goto(base_url + "/plan/checks")
    map_name = map_ready(page)
    shown = [wgs84_to_gcj02(lon, lat) for lon, lat in ROAD]  # where the road lies on this base map
    show(page, map_name, *shown[0], 16)

    page.get_by_title("绘制线段").click()
    for lon, lat in shown:
        click_at(page, map_name, lon, lat)
    page.locator(".button-container.active .action-finish").click()

    coords = drawn(page)["features"][0]["geometry"]["coordinates"]
    # The GCJ-02 offset here is several hundred metres; what reaches the form is WGS 84 again.
    assert all(abs(c - e) < 5e-5 for point, expected in zip(coords, ROAD, strict=True)
               for c, e in zip(point, expected, strict=True))
    assert abs(shown[0][0] - ROAD[0][0]) > 1e-3
    assert watched_page.problems() == CLEAN
