"""The planners' "done when" in a real browser: a road crossing 古田会议会址's range, then a plan's review round."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import LineString, Polygon

from registry.db import Store
from registry.services.facilities import create_facility
from registry.services.plan.zones import buffer_control_zone, save_zone
from registry.services.users import create_user
from tests.browser.conftest import sign_in
from tests.factories import ADMIN

pytestmark = pytest.mark.browser

# The demo places 古田会议会址 near 25.225 N, 116.818 E; this test makes its own copy with a range.
RANGE = Polygon([(116.817, 25.224), (116.819, 25.224), (116.819, 25.226), (116.817, 25.226)])
ROAD = LineString([(116.80, 25.2252), (116.84, 25.2252)])


@pytest.fixture
def seeded(gpkg_url):
    store = Store(gpkg_url)
    create_user(store, ADMIN, "planner1", "planner1-password", ["planner"])
    create_user(store, ADMIN, "reviewer1", "reviewer1-password", ["reviewer"])
    site = create_facility(store, ADMIN, {"code": "350823-F0001", "name": "古田会议会址", "category": "memorial_hall",
                                          "level": "national", "county_code": "350823", "lon": 116.818,
                                          "lat": 25.225})
    save_zone(store, ADMIN, site.id, "protection_range", RANGE, reported_on="2020-01-01")
    buffer_control_zone(store, ADMIN, site.id, 100)
    store.dispose()


def sign_out(page):
    page.locator(".site-nav__account button").click()
    page.wait_for_load_state("networkidle")


def test_road_check_and_plan_review_round(seeded, live_server, watched_page):
    base_url = live_server(BASEMAP="none")
    page = watched_page.page

    sign_in(page, base_url, "planner1")
    page.goto(base_url + "/plan/checks")
    page.fill("#project_name", "古田镇连接线")
    page.fill("#width_m", "20")
    road = {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": ROAD.__geo_interface__}]}
    page.set_input_files("#file", files=[{"name": "road.geojson", "mimeType": "application/geo+json",
                                          "buffer": json.dumps(road).encode()}])
    page.get_by_role("button", name="检查并保存").click()
    page.wait_for_load_state("networkidle")

    assert page.locator("#verdict").inner_text() == "禁止：进入保护范围"
    row = page.locator("#forbidden tbody tr").first
    assert "古田会议会址" in row.inner_text()
    area = float(row.locator("td").nth(2).inner_text().replace(",", ""))
    assert 3500 < area < 4500  # 20 m wide across a range about 200 m wide
    page.locator(".leaflet-container").wait_for(state="visible")
    assert page.locator("path.leaflet-interactive").count() >= 3  # outline, range, control zone

    page.goto(base_url + "/plan/plans/new")
    page.fill("#title", "古田会议会址周边整治")
    page.fill("#facility_codes", "350823-F0001")
    page.fill("#measures", "迁改道路线位")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state("networkidle")
    plan_url = page.url
    page.get_by_role("button", name="提交审核").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#plan-state").inner_text() == "已提交"
    sign_out(page)

    sign_in(page, base_url, "reviewer1")
    page.goto(plan_url)
    page.fill("#comment", "请说明道路改线后的最小距离")
    page.get_by_role("button", name="退回修改").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#plan-state").inner_text() == "已退回"
    sign_out(page)

    sign_in(page, base_url, "planner1")
    page.goto(plan_url)
    assert "请说明道路改线后的最小距离" in page.locator("#review-comment").inner_text()
    page.get_by_role("link", name="修改").click()
    page.fill("#measures", "迁改道路线位，距保护范围不少于 200 米")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="提交审核").click()
    page.wait_for_load_state("networkidle")
    sign_out(page)

    sign_in(page, base_url, "reviewer1")
    page.goto(plan_url)
    page.get_by_role("button", name="批准").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#plan-state").inner_text() == "已批准"
    assert page.locator("#versions tbody tr").count() == 6
    page.get_by_role("button", name="比较所选版本").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#diff").is_visible()

    assert watched_page.problems() == {"blocked": [], "failed": [], "console": [], "page errors": []}
