"""The authorisation matrix: every route x each kind of user x an object of county A and of B, on both stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from shapely.geometry import LineString, Point
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from registry.models import (
    Attachment,
    AuditEvent,
    FacilityDay,
    ImportBatch,
    Inspection,
    MaintenanceTask,
    ProblemReport,
    Relocation,
    Tomb,
    Tribute,
    User,
)
from registry.services import Actor
from registry.services.facilities import create_facility
from registry.web.rights import RIGHTS
from tests.conftest import STORE_KINDS, make_app, new_store_url

A, B = "350823", "350821"  # 上杭县, 长汀县
SYSTEM = Actor.system("test")
USERS = {
    "admin": (["admin"], []),
    "manager_a": (["manager"], [A]),
    "manager_b": (["manager"], [B]),
    "planner": (["planner"], []),
    "reviewer": (["reviewer"], []),
}
WHO = ("anonymous", *USERS)
PDF = b"%PDF-1.4\n% a scan\n"


def _seed(store, folder) -> dict:
    """One of every county-bound object in each county, all of it belonging to that county alone."""
    ids: dict = {}
    with store.write_session() as s:
        for name, (roles, counties) in USERS.items():
            s.add(User(username=name, display_name=name, roles=roles, counties=counties, version=1,
                       password_hash=generate_password_hash(f"{name}-password", method="pbkdf2:sha256:1000")))
        s.commit()
    for county, lon, lat in ((A, 116.42, 25.05), (B, 116.36, 25.84)):
        facility = create_facility(store, SYSTEM, {"code": f"CEM-{county}", "name": f"烈士陵园{county}",
                                                   "category": "cemetery", "county_code": county,
                                                   "lon": lon, "lat": lat})
        scan = folder / f"scan-{county}.pdf"
        scan.write_bytes(PDF)
        with store.write_session() as s:
            f = facility.id
            inspection = Inspection(facility_id=f, inspected_at=datetime(2025, 3, 1, tzinfo=UTC), condition="good",
                                    inspector_name=f"巡查员{county}", geom=Point(lon, lat), version=1)
            task = MaintenanceTask(facility_id=f, title=f"修补{county}", version=1)
            report = ProblemReport(reference=f"R-{county}", facility_id=f, text="碑面开裂", contact="13900000000",
                                   idempotency_key=f"rep-{county}", version=1)
            tribute = Tribute(target_type="facility", target_id=f, kind="message", message="缅怀",
                              idempotency_key=f"trib-{county}", version=1)
            tomb = Tomb(facility_id=f, plot_number="9", state="in_place", geom=Point(lon, lat), version=1)
            relocation = Relocation(code=f"REL-{county}", origin_county_code=county, origin_place="某村",
                                    origin_lon=lon + 0.1, origin_lat=lat + 0.1, dest_facility_id=f,
                                    consent_by=f"家属{county}", consent_relation="侄子", family_consent=True,
                                    geom=LineString([(lon + 0.1, lat + 0.1), (lon, lat)]), version=1)
            s.add_all([inspection, task, report, tribute, tomb, relocation])
            s.flush()
            photo = Attachment(entity_type="facilities", entity_id=f, kind="object_photo", filename="p.jpg",
                               content_type="image/jpeg", size=1, sha256="0" * 64, storage_path="missing.jpg",
                               public=False, version=1)
            scan_row = Attachment(entity_type="relocations", entity_id=relocation.id, kind="scan:consent_on",
                                  filename="consent.pdf", content_type="application/pdf", size=len(PDF),
                                  sha256="1" * 64, storage_path=str(scan), public=False, version=1)
            batch = ImportBatch(content_hash=f"hash-{county}", filename="台账.xlsx", crs="EPSG:4326",
                                actor_name="admin", codes=[relocation.code], version=1)
            day = FacilityDay(facility_id=f, name=f"开馆纪念日{county}", month=6, day=18, version=1)
            s.add_all([photo, scan_row, batch, day])
            s.commit()
            ids[county] = {"facility_id": f, "inspection_id": inspection.id, "task_id": task.id,
                           "report_id": report.id, "tribute_id": tribute.id, "tomb_id": tomb.id,
                           "relocation_id": relocation.id, "photo": photo.id, "scan": scan_row.id,
                           "batch_id": batch.id, "county": county, "day_id": day.id}
    return ids


@pytest.fixture(scope="module", params=STORE_KINDS)
def world(request, tmp_path_factory):
    """The seeded store once per store kind for the module, and a signed-in client per user."""
    folder = tmp_path_factory.mktemp("rights")
    url = new_store_url(request.param, folder, request)
    app = make_app(url, RELOCATION_FILES_DIR=str(folder))
    app.instance_path = str(folder / "instance")
    store = app.extensions["registry_store"]
    ids = _seed(store, folder)
    clients = {"anonymous": app.test_client()}
    for name in USERS:
        client = app.test_client()
        assert client.post("/login", data={"username": name, "password": f"{name}-password"}).status_code == 302
        clients[name] = client
    yield app, store, ids, clients
    store.dispose()


def _values(rule, objects: dict) -> dict:
    """URL values for a rule, naming the objects of one county."""
    fixed = {"collection_id": "facilities", "z": "0", "x": "0", "y": "0", "segment": "facilities",
             "target_type": "facility", "code": "en", "filename": "leaflet/leaflet.js", "variant": "thumb",
             "step": "start", "action": "submit", "entity_type": "relocations", "plan_id": 1, "line_id": 1,
             "check_id": 1, "feature_id": str(objects["facility_id"]), "target_id": objects["facility_id"],
             "entity_id": objects["relocation_id"], "martyr_id": 1, "username": "reviewer"}
    values = {}
    for arg in rule.arguments:
        if arg == "attachment_id":
            values[arg] = objects["scan" if rule.endpoint.startswith("relocations") else "photo"]
        elif arg in objects:
            values[arg] = objects[arg]
        else:
            values[arg] = fixed[arg]
    return values


def expected(endpoint: str, who: str, county: str) -> str:
    """What the declared table says, worked out here on its own: 'allow', 'login' or 'forbid'."""
    right = RIGHTS[endpoint]
    if right.roles is None:
        return "allow"
    if who == "anonymous":
        return "login"
    roles, counties = USERS[who]
    if "admin" in roles:
        return "allow"
    held = set(right.roles) & set(roles)
    if not held:
        return "forbid"
    if right.county and held == {"manager"}:
        return "allow" if county in counties else "forbid"
    return "allow"


def _forbidden_events(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "forbidden"))


def _writes(store) -> int:
    """Every write commits an audit event: counting the others tells whether anything changed."""
    with store.session() as s:
        return s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.not_in(("forbidden", "login"))))


def _rules(app):
    return [rule for rule in app.url_map.iter_rules()]


def test_every_route_has_a_rights_decision(world):
    app = world[0]
    endpoints = {rule.endpoint for rule in _rules(app)}
    missing = sorted(endpoints - set(RIGHTS))
    assert not missing, f"routes without a row in registry/web/rights.py RIGHTS: {missing}"
    stale = sorted(set(RIGHTS) - endpoints)
    assert not stale, f"rows of RIGHTS naming no route: {stale}"


def _check(response, verdict: str, where: str) -> None:
    response.close()  # a file sent (a scan, a vendor asset) is closed here
    status = response.status_code
    if verdict == "login":
        assert status == 302 and "/login" in response.headers["Location"], where
    elif verdict == "forbid":
        assert status == 403, where
        text = response.get_data(as_text=True)
        assert re.search(r"may not (use|read|change)|has no rights decision", text), where
    else:
        assert status < 500 and status not in (401, 403), f"{where}: {status}"
        assert not (status == 302 and "/login" in response.headers.get("Location", "")), where


@pytest.mark.parametrize("who", WHO)
def test_reading_matches_the_table(world, who):
    """Every GET route, for this user, on the object of county A and of county B."""
    app, store, ids, clients = world
    client = clients[who]
    for rule in sorted(_rules(app), key=lambda r: r.rule):
        if "GET" not in rule.methods:
            continue
        counties = (A, B) if RIGHTS[rule.endpoint].county else (A,)
        for county in counties:
            with app.test_request_context():
                url = app.url_map.bind("localhost").build(rule.endpoint, _values(rule, ids[county]))
            verdict = expected(rule.endpoint, who, county)
            before = _forbidden_events(store) if verdict == "forbid" else None
            response = client.get(url)
            _check(response, verdict, f"{who} GET {url} ({rule.endpoint}) expected {verdict}")
            if before is not None:
                assert _forbidden_events(store) == before + 1, f"{who} GET {url}: the refusal was not audited"


@pytest.mark.parametrize("who", WHO)
def test_refused_writes_change_nothing(world, who):
    """Every POST route the table refuses this user: refused, audited, and nothing written."""
    app, store, ids, clients = world
    client = clients[who]
    for rule in sorted(_rules(app), key=lambda r: r.rule):
        if "POST" not in rule.methods:
            continue
        counties = (A, B) if RIGHTS[rule.endpoint].county else (A,)
        for county in counties:
            verdict = expected(rule.endpoint, who, county)
            if verdict == "allow":
                continue  # allowed writes are the areas' own tests
            url = app.url_map.bind("localhost").build(rule.endpoint, _values(rule, ids[county]))
            writes, refused = _writes(store), _forbidden_events(store)
            response = client.post(url, data={"version": 1, "reason": "试", "decision": "approved",
                                              "note": "试", "origin_place": "某地", "mapping": "编号=code"})
            _check(response, verdict, f"{who} POST {url} ({rule.endpoint}) expected {verdict}")
            assert _writes(store) == writes, f"{who} POST {url} wrote something"
            if verdict == "forbid":
                assert _forbidden_events(store) == refused + 1, f"{who} POST {url}: the refusal was not audited"


def test_the_seed_is_what_the_matrix_assumes(world):
    """Each object belongs to its county alone (a check of the test itself, so no answer passes by accident)."""
    _app, store, ids, _clients = world
    with store.session() as s:
        for county in (A, B):
            relocation = s.get(Relocation, ids[county]["relocation_id"])
            assert relocation.origin_county_code == county and relocation.dest_facility_id == ids[county]["facility_id"]
            assert s.get(Tomb, ids[county]["tomb_id"]).facility_id == ids[county]["facility_id"]


def test_ogc_staff_collections_give_each_role_what_its_pages_give():
    """Each staff collection is read by exactly the roles of its page, county-scoped where the page is."""
    from registry.services.gis.ogc import COLLECTIONS

    pages = {"inspections": "manage.inspection", "maintenance_tasks": "manage.task",
             "preservation_plans": "plan.plan_detail", "relocation_records": "relocations.scan"}
    assert {c.id for c in COLLECTIONS.values() if not c.public} == set(pages)
    for collection_id, endpoint in pages.items():
        collection, right = COLLECTIONS[collection_id], RIGHTS[endpoint]
        assert set(collection.roles) == set(right.roles), collection_id
        assert (collection.county is not None) == (right.county is not None), collection_id
