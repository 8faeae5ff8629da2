"""The planning map in a real browser, offline: ranges and zones drawn from the registry for the view."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon

from registry.db import Store
from registry.services.facilities import create_facility
from registry.services.plan.zones import buffer_control_zone, save_zone
from registry.services.users import create_user
from tests.factories import ADMIN

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    create_user(store, ADMIN, "planner1", "planner1-password", ["planner"])
    site = create_facility(store, ADMIN, {"code": "350823-F0001", "name": "<b>古田会议会址</b>",
                                          "category": "memorial_hall", "level": "national", "county_code": "350823",
                                          "lon": 116.818, "lat": 25.225})
    save_zone(store, ADMIN, site.id, "protection_range",
              Polygon([(116.817, 25.224), (116.819, 25.224), (116.819, 25.226), (116.817, 25.226)]))
    buffer_control_zone(store, ADMIN, site.id, 100)
    store.dispose()


def test_planning_map_draws_ranges_offline(seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = watched_page.page
    page.goto(base_url + "/login")
    page.fill("input[name=username]", "planner1")
    page.fill("input[name=password]", "planner1-password")
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    page.goto(base_url + "/plan/map")
    page.locator(".leaflet-container[data-loaded=true]").wait_for(timeout=10_000)
    page.evaluate("""() => { const m = Object.values(window).find(v => v && v._container && v.setView);
                             m.setView([25.225, 116.818], 16); }""")
    page.wait_for_load_state("networkidle")
    assert page.locator("path.leaflet-interactive").count() >= 2
    # One layer switch, open, holding the five planning layers.
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".leaflet-control-layers-overlays label").count() == 5
    assert "已加载" in page.locator("#plan-map-status").inner_text()
    # A name with markup stays text: no <b> element made it into the map.
    assert page.locator(".leaflet-container b").count() == 0
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}


def test_zones_page_shows_the_ranges_on_a_map(seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = watched_page.page
    page.goto(base_url + "/login")
    page.fill("input[name=username]", "planner1")
    page.fill("input[name=password]", "planner1-password")
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    page.goto(base_url + "/plan/zones")
    page.get_by_role("link", name="范围与地带").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("path.leaflet-interactive").count() >= 2  # the range and the control zone
    assert page.locator("#zones tbody tr").count() == 2
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}
