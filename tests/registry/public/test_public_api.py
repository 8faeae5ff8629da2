"""The viewport API as a client reads it: GeoJSON by bbox on both stores, clusters for many tombs, bad boxes refused."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from registry.models import Tomb
from tests.conftest import make_app
from tests.factories import XSS_NAME, demo_like

LONGYAN = "116,24.5,118,26.5"


def names(body):
    return sorted(f["properties"]["name"] for f in body["features"])


def test_facilities_in_a_box_come_as_geojson(seeded):
    app, _store, ids = seeded
    response = app.test_client().get(f"/api/facilities?bbox={LONGYAN}")
    body = response.get_json()

    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert body["type"] == "FeatureCollection" and body["capped"] is False
    assert names(body) == sorted(["示例烈士陵园（示例）", XSS_NAME, "示例纪念亭（示例）"])  # retired left out
    national = next(f for f in body["features"] if f["id"] == ids["national"])
    assert national["geometry"] == {"type": "Point", "coordinates": [117.035, 25.11]}
    assert national["properties"]["level"] == "national" and national["properties"]["is_demo"] is True
    assert national["properties"]["url"] == f"/facilities/{ids['national']}"


def test_a_small_box_holds_only_what_is_inside(seeded):
    app, _store, _ids = seeded
    body = app.test_client().get("/api/facilities?bbox=116.94,25.04,116.96,25.06").get_json()

    assert names(body) == ["示例纪念亭（示例）"]


def test_category_filter_and_cemeteries_sized_by_relocations(seeded):
    app, _store, ids = seeded
    client = app.test_client()

    only = client.get(f"/api/facilities?bbox={LONGYAN}&category=pavilion").get_json()
    cemeteries = client.get(f"/api/cemeteries?bbox={LONGYAN}").get_json()

    assert names(only) == ["示例纪念亭（示例）"]
    assert [(f["id"], f["properties"]["relocated"]) for f in cemeteries["features"]] == [(ids["national"], 2)]


def test_heritage_sites_layer(seeded):
    app, _store, _ids = seeded
    body = app.test_client().get(f"/api/heritage-sites?bbox={LONGYAN}").get_json()

    assert names(body) == ["示例革命旧址（示例）"]
    assert body["features"][0]["properties"]["education_base"] is True


def test_names_with_markup_travel_as_json_text(seeded):
    app, _store, ids = seeded
    body = app.test_client().get(f"/api/facilities?bbox={LONGYAN}").get_json()

    assert next(f for f in body["features"] if f["id"] == ids["monument"])["properties"]["name"] == XSS_NAME


def test_few_tombs_come_one_by_one_with_unknown_martyrs_named_honestly(seeded):
    app, _store, _ids = seeded
    body = app.test_client().get(f"/api/tombs?bbox={LONGYAN}").get_json()

    assert body["clustered"] is False
    assert names(body) == sorted(["张甲（示例）", "王乙（示例）", "李丙（示例）", "无名烈士"])
    first = next(f["properties"] for f in body["features"] if f["properties"]["name"] == "张甲（示例）")
    assert first["plot"] == ["A", "1", "1"]
    assert (first["plot_label"], first["plot_label_en"]) == ("A区 1排 1号", "Area A, row 1, no. 1")


def test_many_tombs_come_as_clusters_that_add_up(any_app):
    store = any_app.extensions["registry_store"]
    with store.write_session() as session:
        session.add_all(Tomb(geom=Point(116.5 + (i % 40) * 0.02, 25.0 + (i // 40) * 0.02)) for i in range(800))
        session.add_all(Tomb(geom=Point(116.51, 25.01), status="retired") for _ in range(10))  # never counted
        session.commit()
    client = any_app.test_client()

    low = client.get(f"/api/tombs?bbox={LONGYAN}&zoom=9").get_json()
    close = client.get("/api/tombs?bbox=116.49,24.99,116.53,25.01&zoom=17").get_json()

    assert low["clustered"] is True and low["numberMatched"] == 800
    assert sum(f["properties"]["count"] for f in low["features"]) == 800
    assert len(low["features"]) < 800
    assert close["clustered"] is False and close["numberReturned"] == 2


def test_capped_answer_says_so(seeded):
    app, _store, _ids = seeded
    body = app.test_client().get("/api/facilities?bbox=-180,-90,180,90&limit=1").get_json()

    assert body["capped"] is True and body["numberReturned"] == 1 and body["numberMatched"] == 3
    # the most important first: the national cemetery
    assert body["features"][0]["properties"]["level"] == "national"


def test_world_sized_box_is_answered(seeded):
    app, _store, _ids = seeded
    response = app.test_client().get("/api/tombs?bbox=-180,-90,180,90")

    assert response.status_code == 200 and response.get_json()["numberMatched"] == 4


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("", "bbox is required"),
        ("bbox=1,2,3", "four numbers"),
        ("bbox=a,b,c,d", "minLon 'a' is not a number"),
        ("bbox=116,25,nan,26", "not a finite number"),
        ("bbox=118,25,116,26", "inverted"),
        ("bbox=116,26,118,25", "inverted"),
        ("bbox=116,25,200,26", "outside -180..180"),
        ("bbox=2800000,400000,2900000,500000", "outside"),
        ("bbox=116,25,118,26&limit=0", "limit 0 must be at least 1"),
        ("bbox=116,25,118,26&limit=x", "limit 'x' is not a whole number"),
        ("bbox=116,25,118,26&zoom=99", "zoom 99 is outside"),
        ("bbox=116,25,118,26&crs=EPSG:3857", "crs"),
    ],
)
def test_bad_boxes_are_refused_with_a_message(app, query, words):
    response = app.test_client().get(f"/api/tombs?{query}")

    assert response.status_code == 400
    assert words in response.get_json()["message"]


def test_gcj02_display_shifts_coordinates_and_reads_the_box_in_gcj02(seeded):
    app, _store, ids = seeded
    client = app.test_client()
    body = client.get(f"/api/facilities?bbox={LONGYAN}&crs=GCJ-02").get_json()
    lon, lat = next(f for f in body["features"] if f["id"] == ids["pavilion"])["geometry"]["coordinates"]

    assert body["crs"] == "GCJ-02"
    assert 0.003 < lon - 116.95 < 0.008 and 0.001 < abs(lat - 25.05) < 0.005  # moved a few hundred metres
    tight = client.get(f"/api/facilities?bbox={lon - 1e-4},{lat - 1e-4},{lon + 1e-4},{lat + 1e-4}&crs=GCJ-02")
    assert names(tight.get_json()) == ["示例纪念亭（示例）"]


def test_search_by_name(seeded):
    app, _store, _ids = seeded
    client = app.test_client()

    assert names(client.get("/api/facilities?q=纪念亭").get_json()) == ["示例纪念亭（示例）"]
    assert names(client.get("/api/facilities?q=旧址").get_json()) == ["示例革命旧址（示例）"]
    assert names(client.get("/api/facilities?q=%25").get_json()) == []
    assert client.get("/api/facilities?q=").status_code == 400


def test_the_map_page_embeds_no_feature(gpkg_url):
    from registry.db import Store

    store = Store(gpkg_url)
    demo_like(store)
    store.dispose()
    app = make_app(gpkg_url, BASEMAP="none")
    html = app.test_client().get("/").get_data(as_text=True)
    app.extensions["registry_store"].dispose()

    assert "RegistryPublicMap.attach(" in html
    assert "示例纪念亭" not in html and "FeatureCollection" not in html


def test_search_without_javascript_answers_on_the_page(gpkg_url):
    from registry.db import Store

    store = Store(gpkg_url)
    ids = demo_like(store)
    store.dispose()
    app = make_app(gpkg_url, BASEMAP="none")
    client = app.test_client()
    html = client.get("/?q=纪念亭").get_data(as_text=True)
    long_query = client.get("/?q=" + "长" * 51).get_data(as_text=True)
    app.extensions["registry_store"].dispose()

    results = html.split('id="map-results"', 1)[1].split("</ul>", 1)[0]
    assert f'<a href="/facilities/{ids["pavilion"]}">示例纪念亭（示例）</a>' in results
    assert "请输入 1 至 50 个字的名称" in long_query


def test_a_gcj02_base_map_makes_the_page_ask_for_gcj02(gpkg_url):
    app = make_app(gpkg_url, BASEMAP="xyz", BASEMAP_CRS="GCJ-02",
                   BASEMAP_URL="http://gis.intranet/tiles/{z}/{x}/{y}.png")
    html = app.test_client().get("/").get_data(as_text=True)
    plain = make_app(gpkg_url, BASEMAP="none")
    plain_html = plain.test_client().get("/").get_data(as_text=True)
    for made in (app, plain):
        made.extensions["registry_store"].dispose()

    assert '"gcj02": true' in html and '"gcj02": false' in plain_html
