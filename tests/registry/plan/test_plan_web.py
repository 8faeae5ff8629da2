"""The planners' pages as a client sees them: upload a road, read the verdict, file and review a plan."""

from __future__ import annotations

import io
import json
import re

import pytest
from shapely.geometry import LineString, Polygon

from registry.services.facilities import create_facility
from registry.services.plan.zones import buffer_control_zone, save_zone
from registry.services.users import create_user
from tests.factories import ADMIN

ROAD = LineString([(116.80, 25.225), (116.84, 25.225)])
RANGE = Polygon([(116.817, 25.224), (116.819, 25.224), (116.819, 25.226), (116.817, 25.226)])


@pytest.fixture
def site(store):
    for name, roles in (("planner1", ["planner"]), ("planner2", ["planner"]), ("reviewer1", ["reviewer"]),
                        ("both1", ["planner", "reviewer"])):
        create_user(store, ADMIN, name, f"{name}-password", roles)
    f = create_facility(store, ADMIN, {"code": "350823-F0001", "name": "古田会议会址", "category": "memorial_hall",
                                       "level": "national", "county_code": "350823", "lon": 116.818, "lat": 25.225})
    save_zone(store, ADMIN, f.id, "protection_range", RANGE, reported_on="2020-01-01")
    buffer_control_zone(store, ADMIN, f.id, 100)
    return f


def login(client, username):
    client.post("/logout")
    assert client.post("/login", data={"username": username, "password": f"{username}-password"}).status_code == 302


def geojson_file(geom, name="road.geojson"):
    body = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": geom.__geo_interface__}]}).encode()
    return (io.BytesIO(body), name)


def test_pages_need_a_staff_login(client):
    assert client.get("/plan").status_code == 302
    assert client.get("/plan/checks").status_code == 302


def test_upload_road_shows_forbidden_with_overlap_area_and_geojson(client, site):
    login(client, "planner1")
    response = client.post("/plan/checks", data={"project_name": "古田镇道路", "width_m": "20", "distance_m": "500",
                                                 "file": geojson_file(ROAD)}, content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "禁止：进入保护范围" in page and "古田会议会址" in page
    forbidden = page[page.index('id="forbidden"'):page.index('id="review-title"')]
    area = float(re.search(r'class="num">([\d,\.]+)</td>', forbidden).group(1).replace(",", ""))
    assert 3500 < area < 4500  # a 20 m corridor through a ~200 m wide range
    check_id = int(response.headers["Location"].rsplit("/", 1)[1])
    doc = client.get(f"/plan/checks/{check_id}.geojson").get_json()
    assert doc["features"][0]["properties"]["project_name"] == "古田镇道路"
    assert any(f["properties"]["role"] == "forbidden" for f in doc["features"])
    # A reviewer opens it later.
    login(client, "reviewer1")
    assert "古田镇道路" in client.get("/plan/checks").get_data(as_text=True)
    assert client.get(f"/plan/checks/{check_id}").status_code == 200


BOWTIE = Polygon([(116.81, 25.22), (116.82, 25.23), (116.82, 25.22), (116.81, 25.23)])


@pytest.mark.parametrize(("upload", "words"), [
    ((io.BytesIO(b""), "road.geojson"), "empty"),
    (geojson_file(BOWTIE, "plot.geojson"), "lon 116.815000, lat 25.225000"),
    (geojson_file(LineString([(20480000.0, 2790000.0), (20484000.0, 2791000.0)])), "projected metres"),
    ((io.BytesIO(b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]><kml/>'),
      "road.kml"), "external entities"),
])
def test_bad_upload_shows_the_reason_and_saves_nothing(client, site, upload, words):
    login(client, "planner1")
    response = client.post("/plan/checks", data={"project_name": "坏文件", "file": upload},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert words in page and "没有保存任何更改" in page
    assert "坏文件</a>" not in page


def test_zone_upload_and_buffer_pages(client, site):
    login(client, "planner1")
    square = Polygon([(116.9, 25.3), (116.901, 25.3), (116.901, 25.301), (116.9, 25.301)])
    response = client.post(f"/plan/zones/{site.id}", data={"kind": "protection_range", "reported_on": "2024-06-01",
                                                            "file": geojson_file(square, "range.geojson")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    page = client.get(f"/plan/zones/{site.id}").get_data(as_text=True)
    assert "已被替代" in page and "2024-06-01" in page and "11,1" in page  # ~11,1xx m2
    response = client.post(f"/plan/zones/{site.id}", data={"mode": "buffer", "metres": "-3"})
    assert response.status_code == 400 and "metres" in response.get_data(as_text=True)


def _version(client, plan_id):
    page = client.get(f"/plan/plans/{plan_id}").get_data(as_text=True)
    return re.search(r'name="version" value="(\d+)"', page).group(1)


def test_plan_review_round_trip_and_compare(client, site):
    login(client, "planner1")
    response = client.post("/plan/plans/new", data={"title": "古田会议会址整修", "facility_codes": "350823-F0001",
                                                    "measures": "修缮屋面", "budget": "100000"})
    plan_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/plan/plans/{plan_id}/funding", data={"source": "provincial", "county_code": "350823",
                                                        "amount_allocated": "80000", "amount_spent": "0"})
    client.post(f"/plan/plans/{plan_id}/submit", data={"version": _version(client, plan_id)})
    login(client, "reviewer1")
    client.post(f"/plan/plans/{plan_id}/return", data={"version": _version(client, plan_id), "comment": "补充排水"})
    login(client, "planner1")
    page = client.get(f"/plan/plans/{plan_id}").get_data(as_text=True)
    assert "已退回" in page and "补充排水" in page
    client.post(f"/plan/plans/{plan_id}/edit", data={"version": _version(client, plan_id), "title": "古田会议会址整修",
                                                     "facility_codes": "350823-F0001", "measures": "修缮屋面；疏通排水",
                                                     "budget": "120000"})
    client.post(f"/plan/plans/{plan_id}/submit", data={"version": _version(client, plan_id)})
    login(client, "reviewer1")
    client.post(f"/plan/plans/{plan_id}/approve", data={"version": _version(client, plan_id), "comment": ""})
    page = client.get(f"/plan/plans/{plan_id}").get_data(as_text=True)
    assert "已批准" in page
    diff = client.get(f"/plan/plans/{plan_id}/compare?a=1&b=5").get_data(as_text=True)
    assert "<del" in diff and "疏通排水" in diff
    board = client.get("/plan").get_data(as_text=True)
    assert "80,000.00" in board and "古田会议会址" in board  # funds, and planned work with no inspection yet


def test_self_approval_is_refused_on_the_page(client, site, store):
    from registry.services.plan.plans import get_plan

    login(client, "both1")
    response = client.post("/plan/plans/new", data={"title": "自审"})
    plan_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/plan/plans/{plan_id}/submit", data={"version": _version(client, plan_id)})
    page = client.get(f"/plan/plans/{plan_id}").get_data(as_text=True)
    assert "不能审核自己的规划" in page
    version = get_plan(store, plan_id)["plan"].version
    response = client.post(f"/plan/plans/{plan_id}/approve", data={"version": version})
    assert response.status_code == 403 and "cannot review it" in response.get_data(as_text=True)
    assert "已提交" in client.get(f"/plan/plans/{plan_id}").get_data(as_text=True)


def test_planning_map_and_its_layers(client, site):
    login(client, "planner1")
    page = client.get("/plan/map").get_data(as_text=True)
    assert "registryPlanningMap" in page and "/static/plan/planning-map.js" in page
    assert "https://" not in page.split("</head>")[0]
    doc = client.get("/plan/map/features?layer=protection_range&bbox=116.7,25.1,116.9,25.3").get_json()
    assert [f["properties"]["label"] for f in doc["features"]] == ["古田会议会址"]
    assert client.get("/plan/map/features?layer=secrets&bbox=1,2,3,4").status_code == 400


def test_pages_are_translated_into_english(client, site):
    login(client, "planner1")
    client.get("/lang/en")
    page = client.get("/plan/checks").get_data(as_text=True)
    assert "Project conflict check" in page and "Check and save" in page
    board = client.get("/plan").get_data(as_text=True)
    assert "At least one provincial-level facility in every county" in board


def drawn_geojson(*geoms) -> str:
    """What the map's drawing tools write into the form: a FeatureCollection in lon/lat."""
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": g.__geo_interface__} for g in geoms]})


def _options(page: str) -> dict:
    """The drawing widget's options as rendered into the page's script."""
    call = re.search(r"registryDrawOutline\(\w+, (\{.*?\})\);", page, re.S)
    return json.loads(call.group(1))


def test_zone_and_check_pages_offer_drawing_with_local_tools(client, site):
    login(client, "planner1")
    zones_page = client.get(f"/plan/zones/{site.id}").get_data(as_text=True)
    checks_page = client.get("/plan/checks").get_data(as_text=True)

    for page in (zones_page, checks_page):
        head = page.split("</head>")[0]
        assert "/static/vendor/leaflet-geoman-free/leaflet-geoman.min.js" in head
        assert "/static/vendor/leaflet-geoman-free/leaflet-geoman.css" in head
        assert "https://" not in head and "http://" not in head
    zone_tools, check_tools = _options(zones_page), _options(checks_page)
    assert zone_tools["field"] == check_tools["field"] == "geojson"
    assert zone_tools["lang"] == check_tools["lang"] == "zh"
    assert zone_tools["tools"] == {"drawPolygon": True, "drawRectangle": True}
    assert check_tools["tools"] == {"drawPolyline": True, "drawPolygon": True, "drawRectangle": True}
    assert "registryPlanningMap" in checks_page  # the ranges around, for reference while drawing
    client.get("/lang/en")
    assert _options(client.get("/plan/checks").get_data(as_text=True))["lang"] == "en"


def test_a_drawn_road_is_checked_like_an_uploaded_one(client, site):
    login(client, "planner1")
    response = client.post("/plan/checks", data={"project_name": "绘制的道路", "width_m": "20",
                                                 "geojson": drawn_geojson(ROAD)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "禁止：进入保护范围" in page and "古田会议会址" in page


def test_a_drawing_of_a_road_and_a_plot_together_is_refused_and_nothing_saved(client, site):
    login(client, "planner1")
    plot = Polygon([(116.9, 25.3), (116.901, 25.3), (116.901, 25.301), (116.9, 25.301)])
    response = client.post("/plan/checks", data={"project_name": "混合轮廓", "geojson": drawn_geojson(ROAD, plot)})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "outline mixes LineString, Polygon" in page and "<code>outline</code>" in page
    assert "没有保存任何更改" in page and "混合轮廓</a>" not in page
    # The drawing is handed back to the form, so the map shows it again for correction.
    assert "&#34;LineString&#34;" in page or "&quot;LineString&quot;" in page


def test_a_drawn_range_in_two_parts_is_one_zone_with_its_area(client, site):
    login(client, "planner1")
    a = Polygon([(116.9, 25.3), (116.901, 25.3), (116.901, 25.301), (116.9, 25.301)])
    b = Polygon([(116.903, 25.3), (116.904, 25.3), (116.904, 25.301), (116.903, 25.301)])
    response = client.post(f"/plan/zones/{site.id}", data={"kind": "control_zone", "geojson": drawn_geojson(a, b)})
    assert response.status_code == 302
    page = client.get(f"/plan/zones/{site.id}").get_data(as_text=True)
    row = re.search(r"<tr><td>建设控制地带</td><td>现行</td>\s*<td class=\"num\">([\d,.]+)</td>", page)
    assert 22000 < float(row.group(1).replace(",", "")) < 22600  # two squares of ~11,150 m2, one zone


def test_a_drawn_range_that_crosses_itself_names_the_place_and_is_not_saved(client, site):
    login(client, "planner1")
    before = client.get(f"/plan/zones/{site.id}").get_data(as_text=True).count("<tr><td>")
    response = client.post(f"/plan/zones/{site.id}", data={"kind": "protection_range",
                                                            "geojson": drawn_geojson(BOWTIE)})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "lon 116.815000, lat 25.225000" in page and "<code>geometry</code>" in page
    assert page.count("<tr><td>") == before


def test_funding_sources_read_in_the_pages_language(client, site):
    login(client, "planner1")
    response = client.post("/plan/plans/new", data={"title": "古田会议会址整修"})
    plan_id = int(response.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/plan/plans/{plan_id}/funding", data={"source": "provincial", "county_code": "350823",
                                                         "amount_allocated": "80000", "amount_spent": "0"})
    assert "省级资金" in client.get(f"/plan/plans/{plan_id}").get_data(as_text=True)
    client.get("/lang/en")
    page = client.get(f"/plan/plans/{plan_id}").get_data(as_text=True)
    assert "Provincial funds" in page and "Central funds" in page
    assert "省级资金" not in page and "中央资金" not in page
    assert "Provincial funds" in client.get("/plan").get_data(as_text=True)
