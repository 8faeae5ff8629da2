"""On a phone, offline: find a martyr by pinyin initials, open the grave's page, see it on the map, lay a flower."""

from __future__ import annotations

import pytest

from registry.db import Store
from tests.browser.conftest import ALLOWED_HOST, cancelled
from tests.factories import demo_like

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    ids = demo_like(store)
    store.dispose()
    return ids


@pytest.fixture
def phone(browser):
    """A phone-sized page with other hosts blocked; it records failed requests and script errors."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    problems = []
    page.route("**/*", lambda route: route.continue_() if ALLOWED_HOST in route.request.url.split("/")[2]
               else (problems.append(route.request.url), route.abort("blockedbyclient")))
    page.on("requestfailed", lambda request: cancelled(request) or problems.append(f"failed {request.url}"))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    yield page, problems
    context.close()


def test_find_a_martyr_by_initials_and_lay_a_flower(seeded, live_server, phone):
    page, problems = phone
    base = live_server(BASEMAP="none")

    page.goto(base + "/martyrs", wait_until="networkidle")
    page.get_by_label("姓名").fill("zj")
    page.get_by_role("button", name="查找").click()
    page.get_by_role("link", name="张甲（示例）").click()
    page.wait_for_load_state("networkidle")

    assert "示例烈士陵园（示例）" in page.locator("main").inner_text()
    assert "A区 1排 1号" in page.locator("main").inner_text()
    assert page.locator(".small-map .leaflet-container").is_visible()
    assert page.locator(".small-map .pm-marker").count() == 1
    assert "示例数据" in page.locator(".notice--demo").inner_text()

    page.get_by_role("button", name="献花").click()
    page.wait_for_load_state("networkidle")

    assert "献花成功" in page.locator(".flashes").inner_text()
    assert "已有 1 人献花" in page.locator("#tribute").inner_text()
    assert problems == []


def test_facility_page_map_and_keyboard_focus(seeded, live_server, phone):
    page, problems = phone
    base = live_server(BASEMAP="none")

    page.goto(base + f"/facilities/{seeded['national']}", wait_until="networkidle")

    assert page.locator(".small-map .leaflet-container").is_visible()
    page.get_by_role("link", name="报告此处的损坏或问题").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert problems == []
