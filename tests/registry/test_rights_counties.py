"""Rights by county on relocations, history and the public journey: each refused case, on both stores."""

from __future__ import annotations

import math
from datetime import date

import pytest
from shapely.geometry import Point
from sqlalchemy import func, select

from geodata.origins import public_origin
from registry.models import AuditEvent, Martyr, Relocation, Tomb
from registry.services import Actor, Forbidden, unit_of_work
from registry.services import relocations as service
from registry.services.facilities import create_facility
from registry.services.relocations.reconciliation import reconcile
from tests.factories import ADMIN, USERS, A, B, seed_rights

MANAGER_A = Actor(name="manager_a", roles=("manager",), counties=(A,))


@pytest.fixture
def world(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    ids = seed_rights(store, tmp_path)
    clients = {}
    for name in USERS:
        client = any_app.test_client()
        assert client.post("/login", data={"username": name, "password": f"{name}-password"}).status_code == 302
        clients[name] = client
    return any_app, store, ids, clients


def forbidden_events(store) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(AuditEvent.note).where(AuditEvent.action == "forbidden").order_by(AuditEvent.id)))


def count(store, model) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(model.id)))


def test_lists_journeys_and_reconciliation_keep_to_the_managers_counties(world):
    _app, store, _ids, clients = world
    mine = clients["manager_a"]
    page = mine.get("/relocations").get_data(as_text=True)
    assert "REL-350823" in page and "REL-350821" not in page
    journeys = mine.get("/relocations/journeys.geojson").get_json()
    assert {f["properties"]["code"] for f in journeys["features"] if f["properties"]["kind"] == "journey"} == {
        "REL-350823"}
    recon = mine.get("/relocations/reconciliation").get_data(as_text=True)
    assert f'href="/relocations?county={A}">上杭县' in recon and f'href="/relocations?county={B}"' not in recon
    # Asking for another county by name is refused and kept in the audit trail.
    response = mine.get(f"/relocations/reconciliation?county={B}")
    assert response.status_code == 403 and "长汀县 (350821)" in response.get_data(as_text=True)
    assert forbidden_events(store)[-1].startswith("GET /relocations/reconciliation")
    # A reviewer reads every county.
    both = clients["reviewer"].get("/relocations").get_data(as_text=True)
    assert "REL-350823" in both and "REL-350821" in both


def test_a_destination_in_another_county_is_refused_and_nothing_stored(world):
    _app, store, ids, clients = world
    before = count(store, Relocation)
    response = clients["manager_a"].post("/relocations/new", data={
        "origin_place": "蛟洋镇某村", "origin_county_code": A, "dest_facility_id": ids[B]["facility_id"]})
    assert response.status_code == 403
    assert "may not change relocations received of 长汀县 (350821)" in response.get_data(as_text=True)
    assert count(store, Relocation) == before
    assert "POST /relocations/new" in forbidden_events(store)[-1]
    # Moving one of their own relocations to another county's cemetery is refused too; the record is unchanged.
    mine = ids[A]["relocation_id"]
    response = clients["manager_a"].post(f"/relocations/{mine}/edit", data={
        "version": 1, "dest_facility_id": ids[B]["facility_id"]})
    assert response.status_code == 403
    with store.session() as s:
        assert s.get(Relocation, mine).dest_facility_id == ids[A]["facility_id"]


def test_reviewers_read_relocations_but_write_none(world):
    _app, store, ids, clients = world
    reviewer = clients["reviewer"]
    assert reviewer.get(f"/relocations/{ids[B]['relocation_id']}").status_code == 200
    scan = reviewer.get(f"/relocations/{ids[B]['relocation_id']}/scans/{ids[B]['scan']}")
    assert scan.status_code == 200 and scan.get_data().startswith(b"%PDF")
    scan.close()
    response = reviewer.post(f"/relocations/{ids[B]['relocation_id']}/cancel", data={"version": 1, "reason": "x"})
    assert response.status_code == 403 and "needs the role manager" in response.get_data(as_text=True)
    with store.session() as s:
        assert s.get(Relocation, ids[B]["relocation_id"]).stage != "cancelled"


def test_planners_read_relocations_without_the_familys_consent(world):
    _app, _store, ids, clients = world
    planner = clients["planner"]
    page = planner.get(f"/relocations/{ids[A]['relocation_id']}").get_data(as_text=True)
    assert "REL-350823" in page and "家属350823" not in page
    assert "家属350823" in clients["manager_a"].get(f"/relocations/{ids[A]['relocation_id']}").get_data(as_text=True)
    assert planner.get(f"/relocations/{ids[A]['relocation_id']}/scans/{ids[A]['scan']}").status_code == 403


def test_an_original_grave_in_another_county_is_left_for_that_county(world):
    _app, store, ids, _clients = world
    scattered = create_facility(store, ADMIN, {"code": "SCAT-B", "name": "零散烈士墓", "category": "scattered_tomb",
                                               "county_code": B, "lon": 116.30, "lat": 25.80})
    with unit_of_work(store) as s:
        martyr = Martyr(name="罗某", version=1)
        s.add(martyr)
        s.flush()
        grave = Tomb(facility_id=scattered.id, martyr_id=martyr.id, state="in_place", geom=Point(116.30, 25.80),
                     version=1)
        s.add(grave)
        s.flush()
        martyr_id, grave_id = martyr.id, grave.id
    # Shanghang's manager records the reburial in Shanghang's cemetery of a martyr who lay in Changting.
    service.create_relocation(store, MANAGER_A, {
        "code": "MOVE-1", "origin_place": "长汀某村", "origin_county_code": B, "origin_lon": 116.30,
        "origin_lat": 25.80, "dest_facility_id": ids[A]["facility_id"], "dest_plot_number": "20",
        "martyr_id": martyr_id, "surveyed_on": date(2021, 3, 1), "reburied_on": date(2021, 5, 3)})
    with store.session() as s:
        assert s.get(Tomb, grave_id).status == "active"  # not theirs to retire
    # It is listed for Changting, whose managers retire it.
    assert martyr_id in [m.martyr_id for m in reconcile(store, B).multi_graves]
    with pytest.raises(Forbidden, match="长汀县"):
        service.retire_tomb(store, MANAGER_A, grave_id, 1, "已迁葬")
    # An administrator's reburial retires the grave it left, wherever it lies.
    with unit_of_work(store) as s:
        s.get(Relocation, s.scalar(select(Relocation.id).where(Relocation.code == "MOVE-1"))).status = "retired"
    service.create_relocation(store, ADMIN, {
        "code": "MOVE-2", "origin_place": "长汀某村", "origin_county_code": B,
        "dest_facility_id": ids[A]["facility_id"], "dest_plot_number": "21", "martyr_id": martyr_id,
        "reburied_on": date(2021, 5, 3)})
    with store.session() as s:
        assert s.get(Tomb, grave_id).status == "retired"


def test_history_shows_each_role_what_it_may_read(world):
    _app, store, ids, clients = world
    with unit_of_work(store) as s:
        relocation = s.get(Relocation, ids[B]["relocation_id"])
        from registry.services.base import record_audit
        record_audit(s, ADMIN, "update", relocation, before={"consent_by": "旧名", "note": None})
    other = f"/history/relocations/{ids[B]['relocation_id']}"
    response = clients["manager_a"].get(other)
    assert response.status_code == 403 and "长汀县 (350821)" in response.get_data(as_text=True)
    assert forbidden_events(store)[-1].startswith(f"GET {other}")
    assert f"relocations {ids[B]['relocation_id']}" not in clients["manager_a"].get("/history").get_data(as_text=True)
    # Planners read relocations without the family's names; reviewers and the county's managers see them.
    planner = clients["planner"].get(other).get_data(as_text=True)
    assert "家属350821" not in planner and "旧名" not in planner and "(hidden)" in planner
    for who in ("reviewer", "manager_b", "admin"):
        assert "家属350821" in clients[who].get(other).get_data(as_text=True), who


def test_history_hides_visitors_contacts_from_reviewers(world):
    _app, store, ids, clients = world
    from registry.models import ProblemReport
    from registry.services.base import record_audit

    with unit_of_work(store) as s:
        record_audit(s, ADMIN, "create", s.get(ProblemReport, ids[A]["report_id"]))
    url = f"/history/problem_reports/{ids[A]['report_id']}"
    assert "13900000000" in clients["manager_a"].get(url).get_data(as_text=True)
    reviewer = clients["reviewer"].get(url).get_data(as_text=True)
    assert "13900000000" not in reviewer and "(hidden)" in reviewer
    # Planners read no problem reports at all, as /manage refuses them.
    assert clients["planner"].get(url).status_code == 403


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def test_the_public_journey_shows_the_origin_no_finer_than_the_grave_page(any_app, tmp_path):
    store = any_app.extensions["registry_store"]
    dest = create_facility(store, ADMIN, {"code": "CEM-1", "name": "烈士陵园", "category": "cemetery",
                                          "county_code": A, "lon": 116.50, "lat": 25.00})
    exact = (116.6148, 25.1547)  # north-east of its grid point; the line runs south-west from there
    relocation = service.create_relocation(store, ADMIN, {
        "code": "PRIV-1", "origin_place": "某村后山", "origin_county_code": A, "origin_lon": exact[0],
        "origin_lat": exact[1], "dest_facility_id": dest.id, "dest_plot_number": "1"})
    client = any_app.test_client()
    feature = client.get(f"/ogc/collections/relocations/items/{relocation.id}").get_json()
    start = feature["geometry"]["coordinates"][0]
    assert start == pytest.approx(list(public_origin(*exact)), abs=1e-9) and start == pytest.approx([116.61, 25.15])
    assert "116.6148" not in client.get("/ogc/collections/relocations/items").get_data(as_text=True)
    # The tile holding the surveyed point is empty; the tile holding the grid point carries the line.
    z = 17
    x, y = _tile_of(*exact, z)
    assert client.get(f"/tiles/relocations/{z}/{x}/{y}.mvt").status_code == 204
    gx, gy = _tile_of(116.61 + 1e-7, 25.15 + 1e-7, z)
    assert client.get(f"/tiles/relocations/{z}/{gx}/{gy}.mvt").status_code == 200
    # Staff keep the surveyed point.
    with store.session() as s:
        assert (s.get(Relocation, relocation.id).origin_lon, s.get(Relocation, relocation.id).origin_lat) == exact


def test_the_migration_moves_stored_lines_to_the_public_origin(any_app):
    """Lines stored before revision 0012_rights started at the surveyed point; upgrading snaps them."""
    from alembic import command
    from shapely.geometry import LineString

    from registry.migrate import alembic_config, upgrade

    store = any_app.extensions["registry_store"]
    exact = (116.6148, 25.1547)
    with store.write_session() as s:
        s.add(Relocation(code="OLD-1", origin_lon=exact[0], origin_lat=exact[1], version=1,
                         geom=LineString([exact, (116.5, 25.0)])))
        s.commit()
    with store.engine.execution_options(write=True).begin() as conn:
        # Only this revision is undone (other areas may add their own heads beside it).
        command.downgrade(alembic_config(conn), "0012_rights-1")
    with store.session() as s:
        assert s.scalar(select(Relocation)).geom.coords[0] == exact  # the downgrade restores the exact vertex
    upgrade(store)
    with store.session() as s:
        row = s.scalar(select(Relocation))
        assert row.geom.coords[0] == pytest.approx((116.61, 25.15)) and row.geom.coords[1] == (116.5, 25.0)
        assert (row.origin_lon, row.origin_lat) == exact
