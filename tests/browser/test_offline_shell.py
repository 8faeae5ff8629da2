"""The public map page works with the network cut off: everything it needs comes from this server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser


def open_map(watched, base_url: str):
    response = watched.page.goto(base_url + "/", wait_until="networkidle")
    assert response is not None and response.status == 200
    watched.page.locator(".leaflet-container").wait_for(state="visible", timeout=10_000)
    return watched.page


def test_map_page_loads_everything_locally(live_server, watched_page):
    base_url = live_server(BASEMAP="none")

    page = open_map(watched_page, base_url)

    assert page.locator(".leaflet-container").is_visible()
    assert page.locator(".leaflet-control-scale").is_visible()
    assert page.locator(".leaflet-control-layers").is_visible()
    assert page.locator(".leaflet-container").bounding_box()["height"] >= 300
    assert page.evaluate("typeof L === 'object' && typeof L.AwesomeMarkers === 'object'")
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}


def test_a_remote_base_map_only_loses_its_tiles(live_server, watched_page):
    base_url = live_server(BASEMAP="osm")

    page = open_map(watched_page, base_url)

    assert page.locator(".leaflet-container").is_visible()
    assert watched_page.blocked, "the OpenStreetMap tiles should have been asked for"
    assert {urlsplit(url).hostname for url in watched_page.blocked} == {"tile.openstreetmap.org"}
    assert watched_page.page_errors == []


def test_language_switch_in_the_browser(live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = open_map(watched_page, base_url)

    page.get_by_role("link", name="English").click()
    page.wait_for_load_state("networkidle")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Data services").is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#content"
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}
