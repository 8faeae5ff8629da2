"""Issue 15's "done when" for corrections in a real browser: a visitor picks a new position for a facility on the
map, a reviewer of its county accepts it, and the public page shows the new position with its provenance."""

from __future__ import annotations

import re

import pytest

from registry.db import Store
from registry.services.facilities import create_facility
from registry.services.users import create_user
from tests.browser.conftest import sign_in
from tests.factories import ADMIN

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    create_user(store, ADMIN, "reviewer1", "reviewer1-password", ["reviewer"], ["350823"])
    site = create_facility(store, ADMIN, {"code": "350823-F0001", "name": "古田会议会址", "category": "memorial_hall",
                                          "level": "national", "county_code": "350823", "lon": 116.818,
                                          "lat": 25.225})
    store.dispose()
    return site.id


def test_a_visitor_proposes_a_position_and_a_reviewer_accepts_it(seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = watched_page.page

    page.goto(f"{base_url}/facilities/{seeded}")
    page.get_by_role("link", name="提议更正").click()
    page.wait_for_load_state("networkidle")
    page.select_option("#correction-field", "position")
    box = page.locator("#correction-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 - 40)
    lon, lat = page.input_value("#correction-lon"), page.input_value("#correction-lat")
    assert lon and lat and (lon, lat) != ("116.818000", "25.225000")
    page.fill("#correction-contact", "家属 13900001111")
    page.get_by_role("button", name="提交更正").click()
    page.wait_for_load_state("networkidle")
    reference = page.locator(".correction-reference").inner_text()
    assert re.fullmatch(r"JZ-\d{4}-[2-9A-Z]{8}", reference)
    assert page.locator(".correction-state").inner_text() == "待审核"

    sign_in(page, base_url, "reviewer1")
    page.goto(base_url + "/manage/corrections")
    page.get_by_role("link", name=reference).click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".correction-new").inner_text() == f"{lon}, {lat}"
    assert page.locator("#correction-map .leaflet-marker-icon").count() == 1
    page.get_by_role("button", name="采纳并更正记录").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".correction-state").inner_text() == "已采纳"

    page.goto(f"{base_url}/facilities/{seeded}")
    assert f"{lon}, {lat}" in page.locator(".coordinates").inner_text()
    lines = page.locator(".provenance__line").all_inner_texts()
    assert any(f"位置根据公众更正 {reference} 经审核修改" in line for line in lines), lines
    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}
