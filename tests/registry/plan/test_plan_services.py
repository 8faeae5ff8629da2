"""Planners' services on both stores: zones, the conflict check, the plan workflow, the dashboard."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from shapely.geometry import LineString, Point, Polygon, box
from sqlalchemy import func, select

from geodata.crs import area_m2, from_metric, to_metric
from registry.models import AuditEvent, ConflictCheck, FacilityZone, Inspection, PlanVersion
from registry.services import Actor, Conflict, Forbidden, InvalidInput
from registry.services.facilities import create_facility
from registry.services.plan.conflicts import check_geojson, run_check, save_check, save_check_upload
from registry.services.plan.dashboard import dashboard
from registry.services.plan.plans import (
    add_funding_line,
    approve_plan,
    compare_versions,
    create_plan,
    get_plan,
    return_plan,
    submit_plan,
    update_plan,
)
from registry.services.plan.zones import buffer_control_zone, save_zone, upload_zone, zones_of
from tests.factories import ADMIN, assert_valid_geopackage

PLANNER = Actor(name="planner", id=None, roles=("planner",))
REVIEWER = Actor(name="reviewer", id=None, roles=("reviewer",))

GUTIAN = (116.818, 25.225)


def square(lon, lat, half_m):
    """A square of side 2*half_m metres centred on lon, lat."""
    centre, epsg = to_metric(Point(lon, lat))
    return from_metric(centre.buffer(half_m, cap_style="square"), epsg)


def facility(store, code, name, lon, lat, level="ungraded", county="350823"):
    return create_facility(store, ADMIN, {"code": code, "name": name, "category": "monument", "level": level,
                                          "county_code": county, "lon": lon, "lat": lat})


@pytest.fixture
def users(any_store):
    from registry.services.users import as_actor, create_user

    planner = create_user(any_store, ADMIN, "pl", "planner-pass-1", ["planner"])
    planner2 = create_user(any_store, ADMIN, "pl2", "planner-pass-2", ["planner", "reviewer"])
    reviewer = create_user(any_store, ADMIN, "rv", "reviewer-pass-1", ["reviewer"])
    return as_actor(planner), as_actor(planner2), as_actor(reviewer)


@pytest.fixture
def gutian_site(any_store):
    f = facility(any_store, "350823-F0001", "古田会议会址", *GUTIAN, level="national")
    save_zone(any_store, ADMIN, f.id, "protection_range", square(*GUTIAN, 100), reported_on="2020-05-01")
    buffer_control_zone(any_store, ADMIN, f.id, 200)
    return f


ROAD = LineString([(116.80, 25.225), (116.84, 25.225)])  # due east, straight through the range


def test_zone_area_reported_date_and_superseding_keeps_history(any_store):
    f = facility(any_store, "350823-F0002", "某纪念碑", 116.5, 25.1)
    first = save_zone(any_store, ADMIN, f.id, "protection_range", square(116.5, 25.1, 50), reported_on="2021-01-02")
    assert first.area_m2 == pytest.approx(10_000, rel=1e-3)
    assert first.reported_on == date(2021, 1, 2)
    second = save_zone(any_store, ADMIN, f.id, "protection_range", square(116.5, 25.1, 60))
    zones = zones_of(any_store, f.id)
    assert [(z.id, z.status) for z in zones] == [(second.id, "active"), (first.id, "superseded")]


def test_default_control_zone_is_a_metric_buffer(any_store):
    f = facility(any_store, "350823-F0003", "某亭", 116.6, 25.2)
    zone = buffer_control_zone(any_store, ADMIN, f.id, 100)
    # A circle of 100 m: pi * 100^2 within the polygon's approximation.
    assert zone.area_m2 == pytest.approx(31_416, rel=0.01)
    assert zone.kind == "control_zone" and zone.source == "buffer"


@pytest.mark.parametrize(("metres", "words"), [(0, "must be above 0"), (-5, "must be above 0"),
                                               ("ten", "not a number"), (99999, "at most")])
def test_bad_buffer_is_refused(any_store, metres, words):
    f = facility(any_store, "350823-F0004", "某墓", 116.6, 25.2)
    with pytest.raises(InvalidInput) as err:
        buffer_control_zone(any_store, ADMIN, f.id, metres)
    assert err.value.field == "metres" and words in err.value.message


def test_upload_zone_from_projected_geopackage(any_store, tmp_path):
    import geopandas as gpd

    f = facility(any_store, "350823-F0005", "某馆", 116.7, 25.0)
    path = tmp_path / "range.gpkg"
    gpd.GeoDataFrame(geometry=[square(116.7, 25.0, 40)], crs="EPSG:4326").to_crs("EPSG:4498").to_file(path)
    zone = upload_zone(any_store, ADMIN, f.id, "protection_range", path.read_bytes(), "range.gpkg",
                       reported_on="2022-03-04")
    assert zone.area_m2 == pytest.approx(6400, rel=1e-3)
    assert "EPSG:4498" in zone.source


BOWTIE = Polygon([(116.81, 25.22), (116.82, 25.23), (116.82, 25.22), (116.81, 25.23)])


def _gj(geom) -> bytes:
    return json.dumps({"type": "Feature", "properties": {}, "geometry": geom.__geo_interface__}).encode()


@pytest.mark.parametrize(("data", "filename", "field"), [
    (b"", "range.geojson", "file"),
    (_gj(BOWTIE), "range.geojson", "geometry (feature 1)"),
    (_gj(LineString([(20480000.0, 2790000.0), (20484000.0, 2791000.0)])), "range.geojson", "crs"),
    (_gj(ROAD), "range.geojson", "file"),  # a line is not a zone
])
def test_bad_zone_upload_stores_nothing(any_store, data, filename, field):
    f = facility(any_store, "350823-F0006", "某场", 116.7, 25.0)
    with pytest.raises(InvalidInput) as err:
        upload_zone(any_store, ADMIN, f.id, "protection_range", data, filename)
    assert err.value.field == field
    with any_store.session() as s:
        assert s.scalar(select(func.count(FacilityZone.id))) == 0


def test_conflict_check_flags_forbidden_review_and_nearby(any_store, gutian_site):
    other = facility(any_store, "350823-F0009", "路边墓", 116.83, 25.2265)  # ~150 m north of the road
    facility(any_store, "350823-F0010", "远处墓", 116.83, 25.30)  # far away
    results = run_check(any_store, ROAD, distance_m=300, width_m=20)
    assert results["verdict"] == "forbidden"
    [hit] = results["forbidden"]
    assert hit["name"] == "古田会议会址"
    # A 20 m corridor through a 200 m square: about 4,000 m2.
    assert hit["overlap_m2"] == pytest.approx(4000, rel=0.01)
    assert hit["overlap_length_m"] == pytest.approx(200, rel=0.01)
    assert [r["name"] for r in results["review"]] == ["古田会议会址"]
    assert {n["code"]: n["distance_m"] for n in results["nearby"]}.keys() == {"350823-F0001", other.code}


def test_conflict_check_is_identical_on_both_stores(tmp_path, request):
    """The same registry on each store gives the same check, figure for figure."""
    from registry.db import Store
    from tests.conftest import STORE_KINDS, new_store_url

    answers = []
    for kind in STORE_KINDS:
        store = Store(new_store_url(kind, tmp_path, request))
        try:
            f = facility(store, "350823-F0001", "古田会议会址", *GUTIAN, level="national")
            save_zone(store, ADMIN, f.id, "protection_range", square(*GUTIAN, 100))
            buffer_control_zone(store, ADMIN, f.id, 200)
            facility(store, "350823-F0009", "路边墓", 116.83, 25.2265)
            for i in range(20):
                g = facility(store, f"350823-F1{i:03d}", f"墓{i}", 116.80 + i * 0.002, 25.2240 + (i % 3) * 0.001)
                save_zone(store, ADMIN, g.id, "protection_range", square(116.80 + i * 0.002, 25.2240 + (i % 3) * 0.001,
                                                                           30 + i))
            answers.append((run_check(store, ROAD, distance_m=300, width_m=20), run_check(store, ROAD, distance_m=50)))
        finally:
            store.dispose()
    assert answers[0] == answers[1]
    assert len(answers[0][0]["forbidden"]) > 5


def test_saved_check_keeps_name_outline_and_geojson(any_store, gutian_site, users):
    planner, _p2, _rv = users
    check = save_check(any_store, planner, "国道319改线", ROAD, distance_m=300, width_m=20)
    with any_store.session() as s:
        stored = s.get(ConflictCheck, check.id)
        assert stored.project_name == "国道319改线" and stored.verdict == "forbidden"
        assert stored.geom.geom_type == "MultiLineString"
        assert s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.entity_type == "conflict_checks")) == 1
    doc = check_geojson(any_store, check)
    roles = [f["properties"]["role"] for f in doc["features"]]
    assert roles[0] == "outline" and "forbidden" in roles and "review" in roles and "nearby" in roles


@pytest.mark.parametrize(("name", "outline", "field"), [
    ("", ROAD, "project_name"),
    ("x", Point(116.8, 25.2), "outline"),
    ("x", BOWTIE, "outline"),
    ("x", LineString([(116.80, 25.22), (116.82, 25.24), (116.82, 25.22), (116.80, 25.24)]), "outline"),
])
def test_bad_outline_is_refused_and_nothing_saved(any_store, name, outline, field):
    with pytest.raises(InvalidInput) as err:
        save_check(any_store, PLANNER, name, outline)
    assert err.value.field == field
    with any_store.session() as s:
        assert s.scalar(select(func.count(ConflictCheck.id))) == 0


def test_self_intersection_names_the_place_or_is_repaired(any_store):
    with pytest.raises(InvalidInput) as err:
        save_check(any_store, PLANNER, "x", BOWTIE)
    assert "lon 116.815000, lat 25.225000" in err.value.message
    check = save_check(any_store, PLANNER, "x", BOWTIE, repair=True)
    assert "repaired" in check.note


def test_upload_check_with_multilayer_geopackage_asks_for_the_layer(any_store, tmp_path):
    import geopandas as gpd

    path = tmp_path / "two.gpkg"
    gpd.GeoDataFrame(geometry=[ROAD], crs="EPSG:4326").to_file(path, layer="roads")
    gpd.GeoDataFrame(geometry=[box(116.8, 25.2, 116.81, 25.21)], crs="EPSG:4326").to_file(path, layer="plots")
    with pytest.raises(InvalidInput) as err:
        save_check_upload(any_store, PLANNER, "x", path.read_bytes(), "two.gpkg")
    assert err.value.field == "layer" and sorted(err.value.errors) == ["plots", "roads"]
    check = save_check_upload(any_store, PLANNER, "x", path.read_bytes(), "two.gpkg", layer="roads")
    assert check.outline_kind == "line"


def test_plan_workflow_with_return_revision_and_approval(any_store, gutian_site, users):
    planner, _p2, reviewer = users
    plan = create_plan(any_store, planner, {"title": "古田会议会址整修", "facility_codes": "350823-F0001",
                                            "budget": "1000000", "measures": "修缮屋面"})
    line = add_funding_line(any_store, planner, plan.id, {"source": "provincial", "county_code": "350823",
                                                          "year": "2024", "amount_allocated": "500000"})
    assert line.amount_spent == 0.0
    plan = submit_plan(any_store, planner, plan.id, get_plan(any_store, plan.id)["plan"].version)
    with pytest.raises(InvalidInput) as err:
        return_plan(any_store, reviewer, plan.id, plan.version, "")
    assert err.value.field == "comment"
    plan = return_plan(any_store, reviewer, plan.id, plan.version, "请补充排水措施")
    assert plan.state == "returned" and plan.review_comment == "请补充排水措施"
    plan = update_plan(any_store, planner, plan.id, plan.version,
                       {"title": "古田会议会址整修", "facility_codes": "350823-F0001", "budget": "1200000",
                        "measures": "修缮屋面；疏通排水"})
    plan = submit_plan(any_store, planner, plan.id, plan.version)
    plan = approve_plan(any_store, reviewer, plan.id, plan.version, "同意")
    assert plan.state == "approved"
    detail = get_plan(any_store, plan.id)
    assert [v.action for v in detail["versions"]] == ["create", "funding", "submit", "return", "edit", "submit",
                                                      "approve"]
    rows = {r["field"]: r for r in compare_versions(any_store, plan.id, 1, 5)}
    assert rows["budget"]["changed"] and rows["budget"]["before"] == "1000000.0"
    assert rows["measures"]["after"] == "修缮屋面；疏通排水"
    assert not rows["title"]["changed"]
    assert rows["funding"]["added"]


def test_author_cannot_approve_own_plan(any_store, users):
    _pl, planner_reviewer, _rv = users
    plan = create_plan(any_store, planner_reviewer, {"title": "自审计划"})
    plan = submit_plan(any_store, planner_reviewer, plan.id, plan.version)
    with pytest.raises(Forbidden) as err:
        approve_plan(any_store, planner_reviewer, plan.id, plan.version)
    assert "cannot review it" in err.value.message
    with any_store.session() as s:
        assert s.scalar(select(func.count(PlanVersion.id)).where(PlanVersion.state == "approved")) == 0


def test_stale_and_out_of_turn_plan_changes_are_refused(any_store, users):
    planner, _p2, reviewer = users
    plan = create_plan(any_store, planner, {"title": "计划"})
    with pytest.raises(Conflict):
        submit_plan(any_store, planner, plan.id, plan.version + 5)
    with pytest.raises(Conflict):
        approve_plan(any_store, reviewer, plan.id, plan.version)  # still a draft
    with pytest.raises(Forbidden):
        submit_plan(any_store, reviewer, plan.id, plan.version)  # not a planner


@pytest.mark.parametrize(("values", "field"), [
    ({"title": ""}, "title"), ({"title": "x", "budget": "lots"}, "budget"),
    ({"title": "x", "start_on": "2025-02-01", "end_on": "2024-01-01"}, "end_on"),
    ({"title": "x", "facility_codes": "NOPE"}, "facility_codes"), ({"title": "x", "kind": "dream"}, "kind"),
])
def test_bad_plan_fields_are_refused(any_store, values, field):
    with pytest.raises(InvalidInput) as err:
        create_plan(any_store, PLANNER, values)
    assert err.value.field == field


def test_dashboard_indicators(any_store, users, gutian_site):
    planner, _p2, reviewer = users
    facility(any_store, "350802-F0001", "闽西革命烈士陵园", 117.03, 25.09, level="provincial", county="350802")
    plan = create_plan(any_store, planner, {"title": "规划", "facility_codes": "350823-F0001",
                                            "nominated_codes": "350802-F0001"})
    add_funding_line(any_store, planner, plan.id, {"source": "provincial", "county_code": "350823",
                                                   "amount_allocated": "100", "amount_spent": "40"})
    plan = submit_plan(any_store, planner, plan.id, get_plan(any_store, plan.id)["plan"].version)
    approve_plan(any_store, reviewer, plan.id, plan.version)
    board = dashboard(any_store)
    met = {c["code"]: c["met"] for c in board["counties"]}
    assert met["350823"] and met["350802"] and not met["350821"]
    assert [n["code"] for n in board["nominees"]] == ["350802-F0001"] and not board["nominations_met"]
    assert board["funds"][0]["allocated"] == 100 and board["funds"][0]["spent"] == 40
    assert [u["code"] for u in board["unconfirmed"]] == ["350823-F0001"]
    # An inspection after the approval confirms the work.
    from registry.services.base import unit_of_work

    with unit_of_work(any_store) as s:
        s.add(Inspection(facility_id=gutian_site.id, inspected_at=datetime.now(UTC), condition="good"))
    assert dashboard(any_store)["unconfirmed"] == []


def test_zone_areas_agree_with_geodata(any_store):
    f = facility(any_store, "350823-F0011", "某广场", 116.9, 25.3)
    geom = square(116.9, 25.3, 30)
    assert save_zone(any_store, ADMIN, f.id, "footprint", geom).area_m2 == pytest.approx(area_m2(geom), abs=0.1)


def test_long_outline_finds_exactly_what_a_full_scan_finds(any_store):
    """A 30 km diagonal road is checked piece by piece through the index; the answer equals a scan of every zone."""
    import numpy as np
    import shapely

    rng = np.random.default_rng(5)
    road = LineString([(116.60, 25.00), (116.70, 25.12), (116.82, 25.20)])
    expected_ranges, expected_near = set(), set()
    road_m, epsg = to_metric(road)
    corridor = from_metric(road_m.buffer(10, cap_style="flat"), epsg)
    for i in range(60):
        t = rng.uniform(0, 1)
        p = road.interpolate(t, normalized=True)
        lon, lat = p.x + rng.uniform(-0.004, 0.004), p.y + rng.uniform(-0.004, 0.004)
        f = facility(any_store, f"350823-L{i:03d}", f"沿线{i}", lon, lat)
        zone = save_zone(any_store, ADMIN, f.id, "protection_range", square(lon, lat, rng.uniform(20, 120)))
        if shapely.intersects(corridor, zone.geom):
            expected_ranges.add(f.code)
        if road_m.distance(to_metric(Point(lon, lat), epsg)[0]) <= 300:
            expected_near.add(f.code)
    results = run_check(any_store, road, distance_m=300, width_m=20)
    assert {e["code"] for e in results["forbidden"]} == expected_ranges
    assert {e["code"] for e in results["nearby"]} == expected_near
    assert expected_ranges and expected_near


def test_registry_with_checks_and_plans_stays_a_valid_geopackage(store):
    """Saved checks (a GEOMETRY feature table holding lines and polygons) keep the file valid for GDAL and QGIS."""

    f = facility(store, "350823-F0001", "古田会议会址", *GUTIAN, level="national")
    save_zone(store, ADMIN, f.id, "protection_range", square(*GUTIAN, 100))
    save_check(store, ADMIN, "道路", ROAD, width_m=10)
    save_check(store, ADMIN, "地块", box(116.81, 25.22, 116.82, 25.23))
    create_plan(store, ADMIN, {"title": "计划", "facility_codes": "350823-F0001"})
    path = store.path
    store.dispose()
    assert_valid_geopackage(path)


def test_spending_is_recorded_from_the_version_seen(any_store):
    from registry.services.plan.plans import record_spending

    plan = create_plan(any_store, PLANNER, {"title": "资金计划"})
    line = add_funding_line(any_store, PLANNER, plan.id, {"source": "central", "amount_allocated": "1000"})
    updated = record_spending(any_store, PLANNER, line.id, line.version, "250")
    assert updated.amount_spent == 250
    with pytest.raises(Conflict):
        record_spending(any_store, PLANNER, line.id, line.version, "300")  # stale
    with pytest.raises(InvalidInput) as err:
        record_spending(any_store, PLANNER, line.id, updated.version, "-1")
    assert err.value.field == "amount_spent"
    assert dashboard(any_store)["funds"][0]["spent"] == 250


@pytest.mark.parametrize(("values", "field"), [
    ({"source": "lottery"}, "source"), ({"source": "central", "county_code": "999999"}, "county_code"),
    ({"source": "central", "amount_allocated": "-5"}, "amount_allocated"),
    ({"source": "central", "year": "soon"}, "year"),
])
def test_bad_funding_lines_are_refused(any_store, values, field):
    plan = create_plan(any_store, PLANNER, {"title": "资金计划"})
    with pytest.raises(InvalidInput) as err:
        add_funding_line(any_store, PLANNER, plan.id, values)
    assert err.value.field == field
