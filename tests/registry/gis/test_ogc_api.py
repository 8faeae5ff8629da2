"""OGC API – Features: landing, conformance, collections, items, paging, CRS, filters, access and exceptions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import shapely
from shapely.geometry import Point
from sqlalchemy import select

from registry.models import (
    ApiToken,
    Inspection,
)
from registry.services import Actor
from registry.services.gis.ogc.parameters import CRS84, EPSG
from registry.services.gis.tokens import create_token
from registry.services.users import create_user
from tests.conftest import make_app
from tests.factories import GRID_X0, GRID_Y0, N_TOMBS, PUBLIC, STEP, get_json, login_with, seed_ogc


@pytest.fixture
def seeded(any_app):
    store = any_app.extensions["registry_store"]
    ids = seed_ogc(store)
    create_user(store, Actor.system(), "planner1", "planner-pass-123", ["planner"])
    create_user(store, Actor.system(), "manager1", "manager-pass-123", ["manager"], ["350823"])
    return any_app, any_app.test_client(), ids


STAFF = ("inspections", "maintenance_tasks", "preservation_plans", "relocation_records")


def test_landing_conformance_and_collections(seeded):
    _app, client, _ids = seeded
    landing = get_json(client, "/ogc")
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conformance = get_json(client, "/ogc/conformance")["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance
    collections = get_json(client, "/ogc/collections")["collections"]
    assert [c["id"] for c in collections] == list(PUBLIC)
    tombs = get_json(client, "/ogc/collections/tombs")
    assert tombs["extent"]["spatial"]["bbox"][0] == pytest.approx([116.81, 25.20, 116.85, 25.24], abs=1e-4)
    assert CRS84 in tombs["crs"] and EPSG.format(4490) in tombs["crs"]


def test_items_count_paging_and_next_links(seeded):
    _app, client, _ids = seeded
    seen, url, pages = [], "/ogc/collections/tombs/items?limit=10", 0
    while url:
        page = get_json(client, url)
        assert page["numberMatched"] == N_TOMBS
        assert page["numberReturned"] == len(page["features"])
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else None
        pages += 1
    assert pages == 3
    assert len(seen) == N_TOMBS == len(set(seen))
    default = get_json(client, "/ogc/collections/tombs/items")
    assert default["numberReturned"] == N_TOMBS


def test_public_fields_only_and_no_retired_rows(seeded):
    _app, client, ids = seeded
    facilities = get_json(client, "/ogc/collections/facilities/items")
    assert facilities["numberMatched"] == 2
    props = facilities["features"][0]["properties"]
    assert "caretaker_phone" not in props and "caretaker" not in props
    assert props["name"] == "古田会议烈士纪念碑"
    get_json(client, f"/ogc/collections/facilities/items/{ids['f3']}", 404)
    relocations = get_json(client, "/ogc/collections/relocations/items")
    assert relocations["numberMatched"] == 2
    text = json.dumps(relocations, ensure_ascii=False)
    for secret in ("李四", "孙子", "consent_by", "consent_relation", "funding_amount"):
        assert secret not in text
    ranges = get_json(client, "/ogc/collections/protection_ranges/items")
    assert ranges["numberMatched"] == 1
    assert ranges["features"][0]["properties"]["facility_name"] == "古田会议烈士纪念碑"
    tombs = get_json(client, "/ogc/collections/tombs/items?limit=1")
    assert tombs["features"][0]["properties"]["martyr_name"] == "烈士0"


def test_bbox_and_datetime(seeded):
    _app, client, _ids = seeded
    # A box around the first 2 x 2 tombs, edges exactly on grid points (boundary counts).
    bbox = f"{GRID_X0},{GRID_Y0},{GRID_X0 + STEP},{GRID_Y0 + STEP}"
    page = get_json(client, f"/ogc/collections/tombs/items?bbox={bbox}")
    assert page["numberMatched"] == 4
    # The same box in EPSG:4326 has latitude first.
    lat_first = f"{GRID_Y0},{GRID_X0},{GRID_Y0 + STEP},{GRID_X0 + STEP}"
    page = get_json(client, f"/ogc/collections/tombs/items?bbox={lat_first}&bbox-crs={EPSG.format(4326)}")
    assert page["numberMatched"] == 4
    page = get_json(client, "/ogc/collections/relocations/items?datetime=2021-01-01/2021-12-31")
    assert [f["properties"]["code"] for f in page["features"]] == ["R1"]
    page = get_json(client, "/ogc/collections/relocations/items?datetime=../2030-01-01T00:00:00Z")
    assert page["numberMatched"] == 2
    page = get_json(client, "/ogc/collections/relocations/items?datetime=2022-03-01")
    assert [f["properties"]["code"] for f in page["features"]] == ["R2"]


@pytest.mark.parametrize("crs, expected", [
    (CRS84, (116.818, 25.225)),
    (EPSG.format(4326), (25.225, 116.818)),
    (EPSG.format(4490), (25.225, 116.818)),
    (EPSG.format(3857), (13004120.3, 2903406.2)),
])
def test_crs_output_and_header(seeded, crs, expected):
    _app, client, ids = seeded
    response = client.get(f"/ogc/collections/facilities/items/{ids['f1']}?crs={crs}")
    assert response.status_code == 200
    assert response.headers["Content-Crs"] == f"<{crs}>"
    x, y = response.get_json(force=True)["geometry"]["coordinates"]
    tolerance = 5.0 if crs.endswith("3857") else 1e-9
    assert x == pytest.approx(expected[0], abs=tolerance)
    assert y == pytest.approx(expected[1], abs=tolerance)
    page = client.get(f"/ogc/collections/facilities/items?crs={crs}")
    assert page.headers["Content-Crs"] == f"<{crs}>"


@pytest.mark.parametrize("filter_text, expected", [
    ("level = 'provincial'", ["F1"]),
    ("level <> 'provincial' AND county_code = '350821'", ["F2"]),
    ("name LIKE '%陵园'", ["F2"]),
    ("code IN ('F1', 'F2')", ["F1", "F2"]),
    ("level_approved_on BETWEEN DATE('2000-01-01') AND DATE('2002-01-01')", ["F1"]),
    ("NOT (level = 'provincial') OR level_approved_on IS NULL", ["F2"]),
    ("level_approved_on IS NOT NULL", ["F1"]),
])
def test_cql2_filter(seeded, filter_text, expected):
    _app, client, _ids = seeded
    page = get_json(client, "/ogc/collections/facilities/items", query_string={"filter": filter_text,
                                                                              "filter-lang": "cql2-text"})
    assert sorted(f["properties"]["code"] for f in page["features"]) == expected


def test_queryable_as_query_parameter(seeded):
    _app, client, _ids = seeded
    page = get_json(client, "/ogc/collections/facilities/items?level=county")
    assert [f["properties"]["code"] for f in page["features"]] == ["F2"]
    queryables = get_json(client, "/ogc/collections/facilities/queryables")
    assert queryables["properties"]["level"]["type"] == "string"
    assert "caretaker_phone" not in queryables["properties"]


@pytest.mark.parametrize("url, status, field", [
    ("/ogc/collections/tombs/items?foo=1", 400, "foo"),
    ("/ogc/collections/tombs/items?bbox=1,2,3,4,5", 400, "bbox"),
    ("/ogc/collections/tombs/items?bbox=a,b,c,d", 400, "bbox"),
    ("/ogc/collections/tombs/items?bbox=117,25,116,26", 400, "bbox"),
    ("/ogc/collections/tombs/items?limit=-1", 400, "limit"),
    ("/ogc/collections/tombs/items?limit=1000000000", 400, "limit"),
    ("/ogc/collections/tombs/items?limit=ten", 400, "limit"),
    ("/ogc/collections/tombs/items?offset=-5", 400, "offset"),
    ("/ogc/collections/tombs/items?offset=9223372036854775808", 400, "offset"),  # past a 64-bit integer
    ("/ogc/collections/tombs/items?crs=http://www.opengis.net/def/crs/EPSG/0/2000", 400, "crs"),
    ("/ogc/collections/tombs/items?bbox-crs=EPSG:9999&bbox=1,2,3,4", 400, "bbox-crs"),
    ("/ogc/collections/tombs/items?datetime=yesterday", 400, "datetime"),
    ("/ogc/collections/tombs/items?datetime=2020-01-01", 400, "datetime"),
    ("/ogc/collections/relocations/items?datetime=2022-01-01/2021-01-01", 400, "datetime"),
    ("/ogc/collections/facilities/items?filter=level%20%3D", 400, "filter"),
    ("/ogc/collections/facilities/items?filter=level%20%3D%3D%20'x'", 400, "filter"),
    ("/ogc/collections/facilities/items?filter=caretaker_phone%20%3D%20'1'", 400, "filter"),
    ("/ogc/collections/facilities/items?filter=nosuch%20%3D%201", 400, "filter"),
    ("/ogc/collections/facilities/items?filter=level%20%3D%203", 400, "filter"),
    ("/ogc/collections/facilities/items?filter-lang=cql2-json&filter=x", 400, "filter-lang"),
    ("/ogc/collections/facilities/items?level=a&level=b", 400, "level"),
    ("/ogc/collections/facilities/items?area_m2=big", 400, "area_m2"),
    ("/ogc/collections/facilities/items?f=pdf", 400, "f"),
    ("/ogc/collections/nosuch", 404, "collectionId"),
    ("/ogc/collections/nosuch/items", 404, "collectionId"),
    ("/ogc/collections/tombs/items/999999", 404, "featureId"),
    ("/ogc/collections/tombs/items/abc", 404, "featureId"),
    ("/ogc/collections?foo=1", 400, "foo"),
])
def test_bad_input_answers_ogc_exception(seeded, url, status, field):
    _app, client, _ids = seeded
    body = get_json(client, url, status)
    assert body["code"] in ("InvalidParameterValue", "NotFound")
    assert body["description"]
    assert body["parameter"] == field


def test_an_offset_past_the_end_is_an_empty_page(seeded):
    _app, client, _ids = seeded
    page = get_json(client, "/ogc/collections/tombs/items?offset=9007199254740992")
    assert page["features"] == [] and page["numberReturned"] == 0
    assert not [link for link in page["links"] if link["rel"] == "next"]


def test_staff_collections_need_a_role(seeded):
    app, client, _ids = seeded
    for cid in STAFF:
        body = get_json(client, f"/ogc/collections/{cid}/items", 401)
        assert body["code"] == "NotAuthorized"
    listed = [c["id"] for c in get_json(client, "/ogc/collections")["collections"]]
    assert not set(STAFF) & set(listed)
    login_with(client, "manager1", "manager-pass-123")
    inspections = get_json(client, "/ogc/collections/inspections/items")
    assert inspections["features"][0]["properties"]["inspector_name"] == "巡查员甲"
    # An inspection sent from a phone after the facility was edited carries the flag, as on the managers' page.
    assert inspections["features"][0]["properties"]["facility_changed"] is True
    flagged = get_json(client, "/ogc/collections/inspections/items?filter=facility_changed%20%3D%20true")
    assert [f["properties"]["inspector_name"] for f in flagged["features"]] == ["巡查员甲"]
    full = get_json(client, "/ogc/collections/relocation_records/items")
    # manager1 keeps 350823: R1 left it; R2 neither left nor reached it.
    assert {f["properties"]["consent_by"] for f in full["features"]} == {"李四"}
    assert get_json(client, "/ogc/collections/preservation_plans/items", 403)["code"] == "Forbidden"
    # Even a signed-in manager sees no family details through the public collection.
    public = json.dumps(get_json(client, "/ogc/collections/relocations/items"), ensure_ascii=False)
    assert "李四" not in public


def test_a_manager_reads_only_their_counties_staff_rows(seeded):
    app, client, ids = seeded
    store = app.extensions["registry_store"]
    with store.write_session() as s:
        s.add(Inspection(facility_id=ids["f2"], inspector_name="长汀巡查员", condition="poor",
                         inspected_at=datetime(2025, 4, 1, 2, tzinfo=UTC), geom=Point(116.361, 25.842)))
        s.commit()
        other = s.scalar(select(Inspection.id).where(Inspection.facility_id == ids["f2"]))
    login_with(client, "manager1", "manager-pass-123")

    mine = get_json(client, "/ogc/collections/inspections/items")
    assert [f["properties"]["inspector_name"] for f in mine["features"]] == ["巡查员甲"]
    assert mine["numberMatched"] == 1
    get_json(client, f"/ogc/collections/inspections/items/{other}", 404)
    tasks = get_json(client, "/ogc/collections/maintenance_tasks/items")
    assert [f["properties"]["title"] for f in tasks["features"]] == ["修补墓碑"]

    # A planner reads no inspections or work orders, as /manage refuses them; a reviewer reads every county's.
    planner = app.test_client()
    login_with(planner, "planner1", "planner-pass-123")
    for collection in ("inspections", "maintenance_tasks"):
        assert "manager, reviewer" in get_json(planner, f"/ogc/collections/{collection}/items", 403)["description"]
    assert planner.get("/manage/tasks").status_code == 403


def test_api_token(seeded):
    app, client, _ids = seeded
    store = app.extensions["registry_store"]
    info, token = create_token(store, Actor.system("admin"), "planner1", "planner", label="省级一张图平台")
    with store.session() as session:
        row = session.get(ApiToken, info.id)
        assert token not in json.dumps([row.token_hash, row.prefix])
    headers = {"Authorization": f"Bearer {token}"}
    plans = get_json(client, "/ogc/collections/preservation_plans/items", headers=headers)
    assert plans["features"][0]["properties"]["title"] == "龙岩市烈士纪念设施保护规划"
    listed = {c["id"] for c in get_json(client, "/ogc/collections", headers=headers)["collections"]}
    assert "preservation_plans" in listed and not {"inspections", "relocation_records"} & listed
    assert get_json(client, "/ogc/collections/relocation_records/items", 403, headers=headers)["code"] == "Forbidden"
    for bad in ("Bearer rgt_wrong", "Basic abc", "Bearer "):
        get_json(client, "/ogc/collections/inspections/items", 401, headers={"Authorization": bad})


def test_html_rendering(seeded):
    _app, client, ids = seeded
    for url in ("/ogc?f=html", "/ogc/conformance?f=html", "/ogc/collections?f=html", "/ogc/collections/tombs?f=html",
                "/ogc/collections/facilities/items?f=html", f"/ogc/collections/facilities/items/{ids['f1']}?f=html",
                "/ogc/collections/facilities/queryables?f=html", "/ogc/api?f=html"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/html"
    page = client.get("/ogc/collections/facilities/items", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "古田会议烈士纪念碑" in page and "13800000000" not in page
    english = client.get("/ogc?f=html&lang=en").get_data(as_text=True)
    assert "Data services (OGC API – Features)" in english


def test_openapi_document_is_valid(seeded):
    _app, client, _ids = seeded
    document = get_json(client, "/ogc/api")
    assert document["openapi"].startswith("3.0")
    from openapi_spec_validator import validate

    validate(document)
    assert "/ogc/collections/{collectionId}/items" in document["paths"]
    assert "/tiles/{collectionId}/{z}/{x}/{y}.mvt" in document["paths"]


def test_large_limit_is_accepted(gpkg_url):
    app = make_app(gpkg_url)
    try:
        store = app.extensions["registry_store"]
        seed_ogc(store)
        page = get_json(app.test_client(), "/ogc/collections/tombs/items?limit=10000")
        assert page["numberReturned"] == N_TOMBS
        assert not [link for link in page["links"] if link["rel"] == "next"]
        assert shapely.geometry.shape(page["features"][0]["geometry"]).geom_type == "Point"
    finally:
        app.extensions["registry_store"].dispose()


def _same_features(left: list, right: list, metres: bool) -> None:
    assert [f["id"] for f in left] == [f["id"] for f in right]
    for a, b in zip(left, right, strict=True):
        assert a["type"] == b["type"] == "Feature"
        assert a["properties"] == b["properties"]
        assert list(a["properties"]) == list(b["properties"])  # same order as the schema too
        assert a["geometry"]["type"] == b["geometry"]["type"]
        if metres:  # two projection libraries agree to far below a millimetre, not to the last bit
            assert _flat(a["geometry"]["coordinates"]) == pytest.approx(_flat(b["geometry"]["coordinates"]),
                                                                        abs=1e-3)
        else:
            assert a["geometry"]["coordinates"] == b["geometry"]["coordinates"]


def _flat(coordinates) -> list[float]:
    if isinstance(coordinates, (int, float)):
        return [coordinates]
    return [value for part in coordinates for value in _flat(part)]


@pytest.mark.parametrize("crs", [CRS84, EPSG.format(4326), EPSG.format(3857)])
def test_geojson_items_equal_the_html_features(seeded, crs):
    """The GeoJSON page (written by the database on PostGIS) carries what the HTML page shows, value for value."""
    from registry.services.gis import ogc

    app, client, _ids = seeded
    login_with(client, "manager1", "manager-pass-123")  # staff collections too: they have date-times and JSON
    store = app.extensions["registry_store"]
    manager = Actor(name="manager1", roles=("manager",), counties=("350823",))
    for cid in ogc.COLLECTIONS:
        if cid == "preservation_plans":
            continue  # planners only
        collection = ogc.get_collection(cid, manager)  # the manager's view: their counties' staff rows
        page = get_json(client, f"/ogc/collections/{cid}/items", query_string={"crs": crs, "f": "json"})
        with app.app_context(), store.session() as session:
            query = ogc.parse_items_query(collection, {"crs": [crs]})
            # As a client reads them: through JSON (tuples become lists).
            shown = json.loads(json.dumps(ogc.items(store, session, collection, query).features, default=str))
        assert page["numberReturned"] == len(shown) == page["numberMatched"]
        if collection.has_geometry:
            _same_features(page["features"], shown, crs.endswith("3857"))
        else:
            assert page["features"] == shown


def test_a_city_keeps_items_and_exports_to_its_counties_rows(seeded):
    _app, client, _ids = seeded
    longyan = get_json(client, "/ogc/collections/facilities/items?city=350800")
    assert sorted(f["properties"]["code"] for f in longyan["features"]) == ["F1", "F2"]
    assert get_json(client, "/ogc/collections/facilities/items?city=350400")["features"] == []
    # Tombs have no county of their own: their facility's county counts.
    assert get_json(client, "/ogc/collections/tombs/items?city=350400&limit=1")["numberMatched"] == 0
    assert get_json(client, "/ogc/collections/tombs/items?city=350800&limit=1")["numberMatched"] == N_TOMBS
    assert get_json(client, "/ogc/collections/facilities/items?city=all")["numberMatched"] == 2
    sheet = client.get("/ogc/collections/facilities/items?f=csv&city=350400")
    assert sheet.status_code == 200 and "F1" not in sheet.get_data(as_text=True)
    assert "F1" in client.get("/ogc/collections/facilities/items?f=csv&city=350800").get_data(as_text=True)


@pytest.mark.parametrize("query, message", [
    ("city=350823", "city '350823' is not a known city"),
    ("city=nowhere", "city 'nowhere' is not a known city"),
])
def test_a_city_that_is_not_one_is_refused_naming_it(seeded, query, message):
    _app, client, _ids = seeded
    for fmt in ("json", "csv"):
        body = client.get(f"/ogc/collections/facilities/items?f={fmt}&{query}")
        assert body.status_code == 400 and message in body.get_data(as_text=True)
