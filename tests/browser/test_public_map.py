"""The memorial map in a real browser, offline: markers from the API, legend, list, search, escaped names."""

from __future__ import annotations

import pytest

from registry.db import Store
from tests.factories import XSS_NAME, demo_like

pytestmark = pytest.mark.browser

CLEAN = {"blocked": [], "failed": [], "console": [], "page errors": []}


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    ids = demo_like(store)
    store.dispose()
    return ids


def open_map(watched, base_url):
    page = watched.page
    response = page.goto(base_url + "/", wait_until="networkidle")
    assert response is not None and response.status == 200
    page.locator(".pm-marker").first.wait_for(state="visible", timeout=10_000)
    return page


def test_markers_come_from_the_api_with_the_network_cut_off(seeded, live_server, watched_page):
    page = open_map(watched_page, live_server(BASEMAP="none"))

    # Facilities (two live, the retired one left out) and the heritage site; the cemetery as a circle.
    assert page.locator(".pm-marker").count() == 3
    assert page.locator("path.pm-cemetery").count() == 1
    assert page.locator(".pm-legend").is_visible()
    layer_names = page.locator(".leaflet-control-layers-overlays").inner_text()
    assert "纪念设施" in layer_names and "烈士墓" in layer_names
    listing = page.locator("#map-list").inner_text()
    assert "示例烈士陵园（示例）" in listing and "示例革命旧址（示例）" in listing
    assert "已撤销的纪念碑" not in listing
    assert watched_page.problems() == CLEAN


def test_names_with_markup_show_as_text_in_popups_and_the_list(seeded, live_server, watched_page):
    page = open_map(watched_page, live_server(BASEMAP="none"))

    page.get_by_title(XSS_NAME, exact=True).click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible")

    assert XSS_NAME in popup.inner_text()
    assert popup.locator("script, img").count() == 0
    assert XSS_NAME in page.locator("#map-list").inner_text()
    assert page.evaluate("window.__pwned === undefined")
    assert watched_page.problems() == CLEAN


def test_demo_records_are_marked_in_popups(seeded, live_server, watched_page):
    page = open_map(watched_page, live_server(BASEMAP="none"))

    page.get_by_title("示例纪念亭（示例）", exact=True).click()

    assert "示例数据" in page.locator(".leaflet-popup-content").inner_text()
    assert "示例数据" in page.locator(".notice--demo").inner_text()


def test_search_by_name_moves_the_map_to_the_facility(seeded, live_server, watched_page):
    page = open_map(watched_page, live_server(BASEMAP="none"))

    page.get_by_label("按名称查找纪念设施").fill("纪念亭")
    page.get_by_role("button", name="查找", exact=True).click()
    # The marker is a button of the same name now; the search answer is the one in the results list.
    page.locator("#map-results").get_by_role("button", name="示例纪念亭（示例）").click()

    assert "示例纪念亭（示例）" in page.locator(".leaflet-popup-content").inner_text()
    assert page.evaluate("Object.values(window).find(v => v instanceof L.Map).getZoom()") == 15
    assert watched_page.problems() == CLEAN


def test_tombs_layer_shows_clusters_or_tombs_when_switched_on(seeded, live_server, watched_page):
    page = open_map(watched_page, live_server(BASEMAP="none"))

    page.locator(".leaflet-control-layers").hover()
    page.get_by_label("烈士墓").check()
    page.locator("path.pm-tomb").first.wait_for(state="attached", timeout=10_000)

    assert page.locator("path.pm-tomb").count() == 4
    assert watched_page.problems() == CLEAN


@pytest.mark.parametrize("lang, label", [("zh_CN", "墓位 A区 1排 1号"), ("en", "Plot Area A, row 1, no. 1")])
def test_a_tombs_popup_gives_its_plot_in_the_pages_language(seeded, live_server, watched_page, lang, label):
    page = watched_page.page
    page.goto(live_server(BASEMAP="none") + f"/?lang={lang}", wait_until="networkidle")
    page.locator(".pm-marker").first.wait_for(state="visible", timeout=10_000)
    page.locator(".leaflet-control-layers").hover()
    page.get_by_label("烈士墓" if lang == "zh_CN" else "Martyr tombs").check()
    page.locator("path.pm-tomb").first.wait_for(state="attached", timeout=10_000)
    # Open each tomb's popup in turn (Leaflet shows one at a time) and read what it says.
    texts = page.evaluate("""() => { const map = Object.values(window).find(v => v instanceof L.Map), seen = [];
        map.eachLayer(l => { if (l.options && l.options.className === 'pm-tomb' && l.getPopup()) {
            l.openPopup(); seen.push(document.querySelector('.leaflet-popup-content').innerText); } });
        return seen; }""")
    assert any(label in text for text in texts), texts
    assert watched_page.problems() == CLEAN


def test_near_me_centres_on_the_browsers_position(seeded, live_server, browser):
    context = browser.new_context(geolocation={"latitude": 25.05, "longitude": 116.95}, permissions=["geolocation"],
                                  locale="zh-CN")
    page = context.new_page()
    try:
        base = live_server(BASEMAP="none")
        page.goto(base + "/", wait_until="networkidle")
        page.get_by_role("button", name="我附近的纪念设施").click()
        page.wait_for_function("() => document.getElementById('map-status').textContent.includes('附近')")
        # The status is announced once the map has settled; the view is read after it.
        center = page.evaluate("(() => { const m = Object.values(window).find(v => v instanceof L.Map);"
                               " const c = m.getCenter(); return [c.lat, c.lng, m.getZoom()]; })()")
        assert abs(center[0] - 25.05) < 1e-3 and abs(center[1] - 116.95) < 1e-3 and center[2] == 13
    finally:
        context.close()
