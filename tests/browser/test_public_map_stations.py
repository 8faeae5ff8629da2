"""The public map's optional layer of veterans service stations, switched on in a real browser, offline."""

from __future__ import annotations

import pytest

from registry.db import Store
from tests.factories import XSS_NAME, demo_like, new_station

pytestmark = pytest.mark.browser

CLEAN = {"blocked": [], "failed": [], "console": [], "page errors": []}


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    demo_like(store)
    with store.write_session() as s:
        s.add(new_station("350823", "ST-1", 116.70, 25.40, name="示例服务站（示例）", demonstration="national_model",
                          opening_hours="周一至周五 8:30—17:30", phone="0597-2345678", is_demo=True))
        s.add(new_station("350802", "ST-2", 117.01, 25.07, name=XSS_NAME, phone=None))
        s.commit()
    store.dispose()


def test_the_stations_layer_is_off_until_switched_on_and_its_popup_says_hours_and_phone(
        seeded, live_server, watched_page):
    page = watched_page.page
    page.goto(live_server(BASEMAP="none") + "/", wait_until="networkidle")
    page.locator(".pm-marker").first.wait_for(state="visible", timeout=10_000)
    assert page.locator("path.pm-station").count() == 0

    page.locator(".leaflet-control-layers").hover()
    page.get_by_label("退役军人服务站").check()
    page.locator("path.pm-station").first.wait_for(state="attached", timeout=10_000)
    assert page.locator("path.pm-station").count() == 2

    # Each station's popup content (an element the script built from text), read without opening them all.
    texts = page.evaluate("""() => { const map = Object.values(window).find(v => v instanceof L.Map), seen = [];
        map.eachLayer(l => { if (l.options && l.options.className === 'pm-station' && l.getPopup()) {
            seen.push(l.getPopup().getContent().textContent); } });
        return seen; }""")
    ours = next(text for text in texts if "示例服务站（示例）" in text)
    assert "全国示范型服务站" in ours and "开放时间：周一至周五 8:30—17:30" in ours and "电话：0597-2345678" in ours
    assert "示例数据" in ours
    # A click on the demonstration station (drawn in its own colour) opens its popup on the map.
    page.locator('path.pm-station[fill="#b45309"]').click()
    shown = page.locator(".leaflet-popup-content").inner_text()
    assert "示例服务站（示例）" in shown and "电话：0597-2345678" in shown
    # A name with markup is shown as text, in the popup and the list beside the map.
    assert any(XSS_NAME in text for text in texts), texts
    assert page.evaluate("window.__pwned === undefined")
    assert "示例服务站（示例）" in page.locator("#map-list").inner_text()
    assert watched_page.problems() == CLEAN
