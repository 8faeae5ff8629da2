"""Without a base map the public map draws the boundaries: one small GeoJSON per level, sketched ones marked
approximate (the division's ``boundary_approximate``, not its demo flag)."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon

from registry.services import Actor
from registry.services import divisions as service
from tests.conftest import make_app

# A fictional county with a wiggly outline (many points) and a township inside it.
OUTLINE = Polygon([(116.0 + 0.5 * (i / 200), 25.0 + (0.0001 if i % 2 else 0.0)) for i in range(201)]
                  + [(116.5, 25.5), (116.0, 25.5)])


def rows(approximate: bool, is_demo: bool = True):
    """A test province, city and county; the county's boundary is a sketch when ``approximate``."""
    return [
        {"code": "990000", "name": "测试省", "level": "province", "parent": None, "seat_lon": 116.2,
         "seat_lat": 25.2, "is_demo": is_demo},
        {"code": "990100", "name": "测试市", "level": "city", "parent": "990000", "seat_lon": 116.2,
         "seat_lat": 25.2, "is_demo": is_demo},
        {"code": "990101", "name": "<b>测试县</b>", "level": "county", "parent": "990100", "seat_lon": 116.2,
         "seat_lat": 25.2, "is_demo": is_demo, "boundary": OUTLINE, "boundary_approximate": approximate},
    ]


@pytest.fixture
def web_over(store_url):
    apps = []

    def start(approximate: bool, is_demo: bool = True, **settings):
        app = make_app(store_url, **settings)
        apps.append(app)
        service.load_rows(app.extensions["registry_store"], Actor.system("test"), rows(approximate, is_demo),
                          commit=True)
        return app.test_client()
    yield start
    for app in apps:
        app.extensions["registry_store"].dispose()


@pytest.mark.parametrize("approximate, is_demo", [(True, True), (False, True), (False, False)])
def test_county_outlines_come_simplified_and_marked(web_over, approximate, is_demo):
    # A demo row's surveyed boundary is no sketch: only the flag marks an outline approximate.
    web = web_over(approximate, is_demo, BASEMAP="none")
    response = web.get("/api/boundaries/county.geojson")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    features = [f for f in response.get_json()["features"] if f["properties"]["code"].startswith("99")]
    assert [f["properties"] for f in features] == [{"code": "990101", "name": "<b>测试县</b>",
                                                    "approximate": approximate}]
    assert len(features[0]["geometry"]["coordinates"][0][0]) < 20  # 204 points simplified away
    again = web.get("/api/boundaries/county.geojson", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert web.get("/api/boundaries/township.geojson").get_json()["features"] == []
    assert web.get("/api/boundaries/village.geojson").status_code == 404


def test_the_map_without_a_base_map_draws_the_outlines(web_over):
    web = web_over(True, BASEMAP="none")
    page = web.get("/").get_data(as_text=True)
    assert "/api/boundaries/county.geojson" in page and "示意" in page


def test_the_map_with_a_base_map_leaves_them_out(web_over):
    web = web_over(True, BASEMAP="osm")
    assert "/api/boundaries/" not in web.get("/").get_data(as_text=True)
