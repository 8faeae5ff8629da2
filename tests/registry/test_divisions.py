"""Administrative divisions as data, on both stores: loading, refusals by row, aliases, city scopes, two cities."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from registry.demo import SECOND_CITY_RELOCATIONS
from registry.models import AuditEvent, Division, DivisionAlias, Facility, Relocation, User
from registry.services import Actor, InvalidInput
from registry.services import divisions as service
from registry.services.access import readable_counties
from registry.services.facilities import create_facility
from registry.services.gis.imports import import_features
from registry.services.manage.due import Cadence, statuses
from registry.services.manage.inspections import submit_inspection
from registry.services.relocations import ledger as imports
from registry.services.users import as_actor
from tests.factories import SYSTEM, backdate, form

HEADER = "code,name,level,parent,seat_lon,seat_lat,valid_from,valid_to\n"
SANMING_COUNTIES = {"350404", "350421", "350423", "350424"}
LONGYAN_COUNTIES = {"350802", "350803", "350821", "350823", "350824", "350825", "350881"}


def counts(store):
    with store.session() as s:
        return tuple(s.scalar(select(func.count(m.id))) for m in (Division, DivisionAlias, AuditEvent))


def load_cli(app, tmp_path, name: str, content: bytes | str, *extra):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return app.test_cli_runner().invoke(args=["divisions", "load", str(path), *extra])


def square(x, y, d=0.2):
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def geojson(features) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": coords}}
        for props, coords in features]})


def test_the_demo_divisions_are_there_with_the_second_city(any_store):
    divisions = service.current(any_store)
    assert set(divisions.counties()) == SANMING_COUNTIES | LONGYAN_COUNTIES
    assert set(divisions.expand(["350400"])) == SANMING_COUNTIES
    assert set(divisions.expand(["350800"])) == LONGYAN_COUNTIES
    assert all(d.is_demo for d in divisions.by_code.values())


def test_a_csv_loads_after_a_dry_run_that_writes_nothing(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    before = counts(store)
    csv = (HEADER + "990100,测试市,city,,100.5,30.5,,\n990101,测试县,county,990100,100.6,30.6,2001-01-01,\n"
           "990199,旧县,former,990101,,,,2001-01-01\n")
    dry = load_cli(any_app, tmp_path, "d.csv", csv, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would load: 2 new divisions, 0 replaced, 1 former names" in dry.output
    assert counts(store) == before
    done = load_cli(any_app, tmp_path, "d.csv", csv)
    assert done.exit_code == 0, done.output
    assert counts(store) == (before[0] + 2, before[1] + 1, before[2] + 1)
    divisions = service.current(store)
    assert divisions.counties()["990101"] == ("测试县", 100.6, 30.6)
    assert divisions.resolve("旧县") == divisions.resolve("990199") == "990101"
    assert divisions.city_of("990101") == "990100"


TOWNSHIPS = (HEADER + "990100,测试市,city,350000,100.5,30.5,,\n990101,测试县,county,990100,100.6,30.6,,\n"
             "990101001,东乡镇,township,990101,100.61,30.61,,\n990101002,西乡镇,township,990101,100.59,30.6,,\n"
             "990101001001,东村,village,990101001,100.62,30.62,,\n")


def test_townships_and_villages_load_list_and_name_a_facility_township(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    assert load_cli(any_app, tmp_path, "t.csv", TOWNSHIPS).exit_code == 0
    runner = any_app.test_cli_runner()
    listed = runner.invoke(args=["divisions", "list", "--level", "township", "--parent", "990100"])
    assert listed.exit_code == 0, listed.output
    assert [line.split("\t")[:3] for line in listed.output.splitlines()] == [
        ["990101001", "东乡镇", "测试县"], ["990101002", "西乡镇", "测试县"]]
    villages = runner.invoke(args=["divisions", "list", "--level", "village"]).output
    assert villages.startswith("990101001001\t东村\t东乡镇")
    # Where a county's townships are loaded, a facility's township is one of them (given by name or code).
    by_code = create_facility(store, SYSTEM, {"code": "T-1", "name": "乡碑", "category": "monument",
                                              "county_code": "990101", "township": "990101002", "lon": 100.6,
                                              "lat": 30.6})
    assert by_code.township == "西乡镇"
    with pytest.raises(InvalidInput, match=r"township '东相镇' is not a township of 测试县 \(990101\); did you mean"):
        create_facility(store, SYSTEM, {"code": "T-2", "name": "乡碑二", "category": "monument",
                                        "county_code": "990101", "township": "东相镇", "lon": 100.6, "lat": 30.6})
    # Elsewhere (no townships loaded for the county) the township stays free text.
    free = create_facility(store, SYSTEM, {"code": "T-3", "name": "县碑", "category": "monument",
                                           "county_code": "350423", "township": "某某镇", "lon": 116.8, "lat": 26.2})
    assert free.township == "某某镇"


def test_a_gis_import_names_the_row_whose_township_is_not_one_of_its_county(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    assert load_cli(any_app, tmp_path, "t.csv", TOWNSHIPS).exit_code == 0
    sheet = ("code,name,category,county_code,township,lon,lat\n"
             "G-1,东乡碑,monument,990101,990101001,100.6,30.6\n"
             "G-2,错乡碑,monument,990101,东相镇,100.6,30.61\n").encode()
    report = import_features(store, SYSTEM, "facilities", sheet, "csv", dry_run=False)
    assert [(p.row, p.column) for p in report.problems] == [(2, "township")]
    assert "row 2: township '东相镇' is not a township of 测试县 (990101)" in report.problems[0].message
    with store.session() as session:
        assert session.scalar(select(func.count(Facility.id)).where(Facility.code.like("G-%"))) == 0
    report = import_features(store, SYSTEM, "facilities", sheet.replace("东相镇".encode(), "西乡镇".encode()), "csv",
                             dry_run=False)
    assert report.ok
    with store.session() as session:
        made = session.execute(select(Facility.code, Facility.township).where(Facility.code.like("G-%"))).all()
    assert dict(made) == {"G-1": "东乡镇", "G-2": "西乡镇"}


BAD = [
    ("bad code", HEADER + "99010,坏县,county,350800,116.5,25.0,,\n", "row 2: code '99010' is not a GB/T 2260 code"),
    ("unknown parent", HEADER + "990101,孤县,county,990100,116.5,25.0,,\n",
     "row 2: parent 990100 of 990101 does not exist"),
    ("wrong crs", HEADER + "990101,投影县,county,350800,500000,2800000,,\n",
     "row 2: the seat of 990101 (500000, 2.8e+06) is not longitude/latitude: wrong CRS"),
    ("bad level", HEADER + "990101,某县,county-ish,350800,116.5,25.0,,\n", "row 2: level 'county-ish'"),
    ("bad date", HEADER + "990101,某县,county,350800,116.5,25.0,2014-13-45,\n", "row 2: valid_from '2014-13-45'"),
    ("township code of another county", HEADER + "990101,甲县,county,350800,116.5,25.0,,\n"
     "990102001,某镇,township,990101,116.5,25.0,,\n",
     "row 3: the township code 990102001 does not begin with the code of its parent 990101"),
    ("six-digit township",
     HEADER + "990101,甲县,county,350800,116.5,25.0,,\n990109,某镇,township,990101,116.5,25.0,,\n",
     "row 3: code 990109 has 6 digits, but a township code has 9"),
    ("approximate neither true nor false", "code,name,level,parent,seat_lon,seat_lat,boundary_approximate\n"
     "990101,某县,county,350800,116.5,25.0,maybe\n",
     "row 2: boundary_approximate 'maybe' of 990101 is not true or false"),
    ("second bad row", HEADER + "990101,好县,county,350800,116.5,25.0,,\n990102,坏县,county,990999,116.5,25.0,,\n",
     "row 3: parent 990999 of 990102 does not exist"),
]


@pytest.mark.parametrize("case, content, message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_csv_is_refused_naming_the_row_and_nothing_is_written(any_app, tmp_path, case, content, message):
    store = any_app.extensions["registry_store"]
    before = counts(store)
    result = load_cli(any_app, tmp_path, "bad.csv", content)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "nothing was loaded" in result.output
    assert counts(store) == before


def test_a_geojson_with_an_invalid_polygon_is_refused_naming_the_feature(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    before = counts(store)
    bowtie = [[[116.0, 25.0], [116.2, 25.2], [116.2, 25.0], [116.0, 25.2], [116.0, 25.0]]]
    content = geojson([({"code": "990101", "name": "甲县", "level": "county", "parent": "350800"}, square(116, 25)),
                       ({"code": "990102", "name": "乙县", "level": "county", "parent": "350800"}, bowtie)])
    result = load_cli(any_app, tmp_path, "d.geojson", content)
    assert result.exit_code != 0
    assert "feature 2" in result.output and "Self-intersection" in result.output, result.output
    assert counts(store) == before


def test_a_geojson_in_projected_metres_without_its_crs_is_refused(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    before = counts(store)
    metres = [[[500000, 2800000], [510000, 2800000], [510000, 2810000], [500000, 2800000]]]
    result = load_cli(any_app, tmp_path, "d.geojson",
                      geojson([({"code": "990101", "name": "甲县", "level": "county", "parent": "350800"}, metres)]))
    assert result.exit_code != 0
    assert "crs:" in result.output and "projected metres" in result.output, result.output
    assert counts(store) == before


def _with_boundaries(app, tmp_path):
    # Two test counties side by side with outlines; the seats come from the outlines.
    content = geojson([
        ({"code": "990100", "name": "界市", "level": "city", "parent": "350000"}, square(100.0, 30.0, 0.4)),
        ({"code": "990101", "name": "东界县", "level": "county", "parent": "990100"}, square(100.2, 30.0)),
        ({"code": "990102", "name": "西界县", "level": "county", "parent": "990100"}, square(100.0, 30.0)),
    ])
    result = load_cli(app, tmp_path, "b.geojson", content)
    assert result.exit_code == 0, result.output


def test_the_ledger_place_check_names_the_county_a_point_falls_in(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    _with_boundaries(any_app, tmp_path)
    assert service.current(store).locate(100.05, 30.1) == "990102"
    ledger = ("编号,县区,原址,经度,纬度,迁入地\n"
              "B1,东界县,甲村,100.30,30.10,某陵园\n"  # inside its own county
              "B2,东界县,乙村,100.05,30.10,某陵园\n")  # inside 西界县
    result = imports.preview(store, ledger.encode(), "b.csv")
    outside = [i for i in result.errors if i.kind == "outside"]
    assert [(i.row, i.why) for i in outside] == [
        (3, "the point (100.05000, 30.10000) lies outside 东界县: it falls in 西界县")]


def test_an_old_ledger_with_the_former_name_and_code_still_matches(any_store):
    ledger = ("编号,县区,原址,经度,纬度,迁入地\n"
              "Y1,永定县,湖坑村,116.70,24.70,某陵园\n"
              "Y2,350822,下洋村,116.72,24.71,某陵园\n"
              "Y3,永订县,某村,116.72,24.71,某陵园\n")
    result = imports.preview(any_store, ledger.encode(), "old.csv")
    rows = {r.values["code"]: r.values.get("county_code") for r in result.ledger.rows}
    assert rows["Y1"] == rows["Y2"] == "350803"
    unknown = [i for i in result.errors if i.kind == "county"]
    assert len(unknown) == 1 and unknown[0].row == 4
    assert "unknown county 永订县; nearest is 永定区 (350803)" in unknown[0].why


def test_a_former_name_matches_in_its_years_and_with_a_warning_outside_them(any_store):
    # 永定县 (350822) was the name until 2014-12-13, when it became 永定区 (350803).
    ledger = ("编号,县区,原址,经度,纬度,迁入地,调查日期,安葬日期\n"
              "Y1,永定县,湖坑村,116.70,24.70,某陵园,2013-06-01,2013-09-01\n"  # dated while the name was in use
              "Y2,350822,下洋村,116.72,24.71,某陵园,2021-03-01,2021-05-02\n"  # dated years after the renaming
              "Y3,永定县,某村,116.72,24.71,某陵园,,\n"  # no date: nothing to compare
              "Y4,永定区,某村,116.72,24.71,某陵园,2013-06-01,\n")  # the current name: never a warning
    result = imports.preview(any_store, ledger.encode(), "old.csv")
    assert {r.values["code"]: r.values["county_code"] for r in result.ledger.rows} == dict.fromkeys(
        ("Y1", "Y2", "Y3", "Y4"), "350803")
    assert not [i for i in result.errors if i.kind in ("county", "outside")]
    warned = [i for i in result.warnings if i.kind == "alias"]
    assert [(i.row, i.value) for i in warned] == [(3, "350822")]
    assert warned[0].why == ("永定县 (350822) is a former name, in use … to 2014-12-13, read as 永定区 (350803); "
                             "this row is dated 2021-03-01 (调查日期), outside those dates")


def test_an_unknown_county_in_a_form_names_the_nearest(any_store):
    with pytest.raises(InvalidInput, match=r"county_code '350829' is not a known county; did you mean .*\(3508"):
        create_facility(any_store, SYSTEM, {"code": "X-1", "name": "某碑", "category": "monument",
                                            "county_code": "350829", "lon": 116.4, "lat": 25.0})


def _user(store, name, counties):
    with store.write_session() as s:
        user = User(username=name, display_name=name, roles=["manager"], counties=counties,
                    password_hash=generate_password_hash(f"{name}-password", method="pbkdf2:sha256:1000"))
        s.add(user)
        s.commit()
        return user.id


def test_a_city_scoped_manager_sees_all_its_counties_and_none_of_the_other_city(any_app):
    store = any_app.extensions["registry_store"]
    places = {"350421": (117.20, 26.35), "350424": (116.65, 26.26), "350823": (116.42, 25.05)}
    for n, (county, (lon, lat)) in enumerate(places.items()):
        create_facility(store, SYSTEM, {"code": f"T-{n}", "name": f"测试碑{n}", "category": "monument",
                                        "county_code": county, "lon": lon, "lat": lat})
    _user(store, "city", ["350400"])
    with store.session() as s:
        actor = as_actor(s.scalar(select(User).where(User.username == "city")), s)
    assert set(readable_counties(actor)) == SANMING_COUNTIES
    seen = {row.county_code for row in statuses(store, actor, Cadence())}
    assert seen == {"350421", "350424"}
    client = any_app.test_client()
    assert client.post("/login", data={"username": "city", "password": "city-password"}).status_code == 302
    page = client.get("/manage").get_data(as_text=True)
    assert "明溪县" in page and "宁化县" in page and "测试碑0" in page and "测试碑1" in page
    assert "测试碑2" not in page and "上杭县" not in page
    assert client.get("/manage?county=350823").status_code == 403


def test_a_manager_of_the_second_city_works_through_the_due_list_and_imports_a_ledger(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    site = create_facility(store, SYSTEM, {"code": "QL-1", "name": "清流测试纪念碑", "category": "monument",
                                           "county_code": "350423", "lon": 116.82, "lat": 26.18})
    create_facility(store, SYSTEM, {"code": "QL-CEM", "name": "清流县烈士陵园（测试）", "category": "cemetery",
                                    "county_code": "350423", "lon": 116.815, "lat": 26.175})
    _user(store, "ql", ["350423"])
    with store.session() as s:
        actor = as_actor(s.scalar(select(User).where(User.username == "ql")), s)
    backdate(store, site.id, days=800)  # its last inspection was long ago: it is overdue
    due = {d.code: (d.county_name, d.status) for d in statuses(store, actor, Cadence())}
    assert due == {"QL-1": ("清流县", "overdue"), "QL-CEM": ("清流县", "ok")}
    submit_inspection(store, actor, site.id, form(), [], attachments_dir=tmp_path / "att")
    assert {d.code: d.status for d in statuses(store, actor, Cadence())} == {"QL-1": "ok", "QL-CEM": "ok"}
    ledger = ("编号,县区,原址,经度,纬度,迁入地,家属同意,安葬日期\n"
              "QL-001,清流县,嵩溪村,116.80,26.20,清流县烈士陵园（测试）,是,2022-05-01\n"
              "QL-002,清流,林畲村,116.85,26.15,清流县烈士陵园（测试）,是,2022-05-02\n")
    result = imports.run_import(store, actor, ledger.encode(), "ql.csv")
    assert result.added == 2
    with store.session() as s:
        assert set(s.scalars(select(Relocation.origin_county_code))) == {"350423"}
    # A Longyan point in the same county's ledger is refused: far from every seat of 清流县.
    far = ("编号,县区,原址,经度,纬度,迁入地\nQL-003,清流县,远处,116.42,25.05,清流县烈士陵园（测试）\n")
    refused = imports.preview(store, far.encode(), "far.csv")
    assert [(i.row, i.kind) for i in refused.errors] == [(2, "outside")]
    assert "nearer 上杭县" in refused.errors[0].why


def test_each_city_reconciles_on_its_own_and_the_demo_loads_both_cities(any_app):
    from registry.services.demo import load_demo
    from registry.services.relocations.reconciliation import reconcile
    from registry.services.users import create_demo_users

    store = any_app.extensions["registry_store"]
    load_demo(store)
    create_demo_users(store, SYSTEM)
    longyan, sanming = reconcile(store, city="350800"), reconcile(store, city="350400")
    assert {line.county for line in longyan.counties} == LONGYAN_COUNTIES
    assert longyan.total.relocated == 4377
    assert {line.county for line in sanming.counties} == SANMING_COUNTIES
    assert sanming.total.relocated == SECOND_CITY_RELOCATIONS
    with pytest.raises(InvalidInput, match="city '350823' is not a known city"):
        reconcile(store, city="350823")
    client = any_app.test_client()
    assert client.post("/login", data={"username": "citymanager", "password": "demo-manager-pass"}).status_code == 302
    page = client.get("/relocations/reconciliation?city=350400").get_data(as_text=True)
    assert "三元区" in page and "宁化县" in page and "上杭县" not in page
    assert client.get("/relocations/reconciliation?county=350823").status_code == 403


def test_the_plan_dashboard_reports_city_by_city(any_app):
    from registry.services.plan.dashboard import dashboard

    store = any_app.extensions["registry_store"]
    assert {c["code"] for c in dashboard(store)["counties"]} == SANMING_COUNTIES | LONGYAN_COUNTIES
    assert {c["code"] for c in dashboard(store, "350400")["counties"]} == SANMING_COUNTIES
    with pytest.raises(InvalidInput, match="city '350423' is not a known city"):
        dashboard(store, "350423")
    with store.write_session() as s:
        s.add(User(username="pl", display_name="pl", roles=["planner"], counties=[],
                   password_hash=generate_password_hash("pl-password", method="pbkdf2:sha256:1000")))
        s.commit()
    client = any_app.test_client()
    assert client.post("/login", data={"username": "pl", "password": "pl-password"}).status_code == 302
    page = client.get("/plan?city=350800").get_data(as_text=True)
    assert "已达标 0 / 7 个县（市、区）" in page and "上杭县" in page and "清流县" not in page
    assert client.get("/plan?city=999999").status_code == 400


def test_an_account_is_scoped_to_a_city_or_counties_and_an_unknown_code_is_named(any_app):
    runner = any_app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "sm", "--role", "manager", "--county", "350400"],
                         input="a-long-city-pass-9\na-long-city-pass-9\n")
    assert made.exit_code == 0, made.output
    refused = runner.invoke(args=["users", "create", "xx", "--role", "manager", "--county", "350499"],
                            input="a-long-city-pass-9\na-long-city-pass-9\n")
    assert refused.exit_code != 0
    assert "'350499' is not a known county or city; did you mean" in refused.output, refused.output
    store = any_app.extensions["registry_store"]
    with store.session() as s:
        assert s.scalar(select(func.count(User.id)).where(User.username == "xx")) == 0
        actor = as_actor(s.scalar(select(User).where(User.username == "sm")), s)
    assert set(actor.counties) == SANMING_COUNTIES


def test_a_geopackage_of_divisions_loads_with_its_boundaries(any_app, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Polygon

    frame = gpd.GeoDataFrame(
        {"code": ["990100", "990101"], "name": ["包市", "包县"], "level": ["city", "county"],
         "parent": ["350000", "990100"]},
        geometry=[Polygon(square(110.0, 30.0, 0.4)[0]), Polygon(square(110.1, 30.1)[0])], crs=4326)
    path = tmp_path / "d.gpkg"
    frame.to_file(path, driver="GPKG", layer="divisions")
    result = any_app.test_cli_runner().invoke(args=["divisions", "load", str(path)])
    assert result.exit_code == 0, result.output
    divisions = service.current(any_app.extensions["registry_store"])
    assert divisions.locate(110.2, 30.2) == "990101"
    name, lon, lat = divisions.counties()["990101"]
    assert name == "包县" and 110.1 < lon < 110.3 and 30.1 < lat < 30.3  # the seat taken inside the outline


def test_each_city_has_its_own_funds_nominees_and_planned_work_and_city_staff_see_theirs_first(any_app):
    from registry.services.plan.dashboard import dashboard
    from registry.services.plan.plans import add_funding_line, approve_plan, create_plan, get_plan, submit_plan

    store = any_app.extensions["registry_store"]
    sites = {county: create_facility(store, SYSTEM, {
        "code": f"{county}-P1", "name": f"规划测试{county}", "category": "monument", "level": "provincial",
        "county_code": county, "lon": lon, "lat": lat})
        for county, (lon, lat) in {"350823": (116.42, 25.05), "350423": (116.82, 26.18)}.items()}
    # One plan for both cities; a second only for Sanming's, whose county-less funds belong to Sanming.
    plan = create_plan(store, SYSTEM, {"title": "两市规划", "facility_codes": "350823-P1,350423-P1",
                                       "nominated_codes": "350823-P1,350423-P1"})
    for county, amount in (("350823", "100"), ("350423", "30")):
        add_funding_line(store, SYSTEM, plan.id, {"source": "provincial", "county_code": county,
                                                  "amount_allocated": amount})
    only_sanming = create_plan(store, SYSTEM, {"title": "三明规划", "facility_codes": "350423-P1"})
    add_funding_line(store, SYSTEM, only_sanming.id, {"source": "city", "amount_allocated": "7"})
    plan = submit_plan(store, SYSTEM, plan.id, get_plan(store, plan.id)["plan"].version)
    approve_plan(store, SYSTEM, plan.id, plan.version)

    whole = dashboard(store)
    assert whole["funds_total"]["allocated"] == 137
    assert {n["code"] for n in whole["nominees"]} == {"350823-P1", "350423-P1"}
    assert {u["code"] for u in whole["unconfirmed"]} == {"350823-P1", "350423-P1"}
    sanming, longyan = dashboard(store, "350400"), dashboard(store, "350800")
    assert sanming["funds_total"]["allocated"] == 37 and longyan["funds_total"]["allocated"] == 100
    assert [n["code"] for n in sanming["nominees"]] == ["350423-P1"]
    assert [n["code"] for n in longyan["nominees"]] == ["350823-P1"]
    assert [u["code"] for u in sanming["unconfirmed"]] == ["350423-P1"]
    assert [u["facility_id"] for u in longyan["unconfirmed"]] == [sites["350823"].id]

    # A planner whose account names the city sees its report first, and may still ask for all or another.
    runner = any_app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "smpl", "--role", "planner", "--county", "350400"],
                         input="a-long-city-pass-9\na-long-city-pass-9\n")
    assert made.exit_code == 0, made.output
    client = any_app.test_client()
    assert client.post("/login", data={"username": "smpl", "password": "a-long-city-pass-9"}).status_code == 302
    page = client.get("/plan").get_data(as_text=True)
    assert "规划测试350423" in page and "规划测试350823" not in page and "37.00" in page
    assert "已达标 1 / 4 个县（市、区）" in page
    everything = client.get("/plan?city=all").get_data(as_text=True)
    assert "规划测试350823" in everything and "137.00" in everything
    assert "规划测试350423" not in client.get("/plan?city=350800").get_data(as_text=True)
    assert client.get("/plan?city=350423").status_code == 400


def test_the_due_list_the_map_and_the_ledgers_narrow_to_one_city(any_app):
    store = any_app.extensions["registry_store"]
    for n, (county, (lon, lat)) in enumerate({"350421": (117.20, 26.35), "350823": (116.42, 25.05)}.items()):
        create_facility(store, SYSTEM, {"code": f"C-{n}", "name": f"城市碑{n}", "category": "monument",
                                        "county_code": county, "lon": lon, "lat": lat})
    reviewer = Actor(name="rv", roles=("reviewer",))
    assert {d.code for d in statuses(store, reviewer, Cadence(), city="350400")} == {"C-0"}
    assert {d.code for d in statuses(store, reviewer, Cadence())} == {"C-0", "C-1"}
    with pytest.raises(InvalidInput, match="city '350421' is not a known city"):
        statuses(store, reviewer, Cadence(), city="350421")
    with store.write_session() as s:
        s.add(User(username="rv", display_name="rv", roles=["reviewer"], counties=[],
                   password_hash=generate_password_hash("rv-password", method="pbkdf2:sha256:1000")))
        s.commit()
    client = any_app.test_client()
    assert client.post("/login", data={"username": "rv", "password": "rv-password"}).status_code == 302
    page = client.get("/manage?city=350400").get_data(as_text=True)
    assert "城市碑0" in page and "城市碑1" not in page and '<option value="350400" selected>' in page
    mapped = client.get("/manage/map.geojson?city=350800").get_json()
    assert [f["properties"]["code"] for f in mapped["features"]] == ["C-1"]
    ledgers = client.get("/manage/ledgers?city=350400").get_data(as_text=True)
    assert "明溪县" in ledgers and "上杭县" not in ledgers
    assert "上杭县" in client.get("/manage/ledgers").get_data(as_text=True)
    assert client.get("/manage?city=350823").status_code == 400


def test_an_approximate_boundary_is_drawn_marked_but_judges_no_point(any_app, tmp_path):
    # Two test counties side by side: the east one surveyed, the west one a sketch.
    content = geojson([
        ({"code": "990100", "name": "界市", "level": "city", "parent": "350000"}, square(100.0, 30.0, 0.4)),
        ({"code": "990101", "name": "东界县", "level": "county", "parent": "990100",
          "boundary_approximate": False}, square(100.2, 30.0)),
        ({"code": "990102", "name": "西界县", "level": "county", "parent": "990100", "seat_lon": 100.1,
          "seat_lat": 30.1, "boundary_approximate": True}, square(100.0, 30.0)),
    ])
    result = load_cli(any_app, tmp_path, "b.geojson", content)
    assert result.exit_code == 0, result.output
    store = any_app.extensions["registry_store"]
    divisions = service.current(store)
    assert divisions.locate(100.3, 30.1) == "990101"
    assert divisions.locate(100.05, 30.1) is None  # inside the sketch only
    assert divisions.ledger_counties()["990102"][3] is None
    # The extent counts the sketched county by its seat, the surveyed one by its boundary.
    # The west edge is the sketch's seat (100.1), not its outline (100.0); north the surveyed square's edge.
    seats = [(d.lon, d.lat) for d in divisions.current("county") if d.code not in ("990101", "990102")]
    assert divisions.extent() == (100.1, min(y for _, y in seats), max(x for x, _ in seats), 30.2)
    outlines = any_app.test_client().get("/api/boundaries/county.geojson").get_json()["features"]
    marks = {f["properties"]["code"]: f["properties"]["approximate"] for f in outlines}
    assert marks["990101"] is False and marks["990102"] is True
    # A ledger row in the sketch, for the surveyed county: judged by the surveyed boundary alone.
    ledger = "编号,县区,原址,经度,纬度,迁入地\nB1,东界县,乙村,100.05,30.10,某陵园\n"
    outside = [i for i in imports.preview(store, ledger.encode(), "b.csv").errors if i.kind == "outside"]
    assert [i.why for i in outside] == ["the point (100.05000, 30.10000) falls in no county of the registry: "
                                        "it lies outside the region"]  # not "it falls in 西界县"
