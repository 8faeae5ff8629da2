"""The authorisation matrix: every route x each kind of user x an object of county A and of B, on both stores."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from registry.models import (
    AuditEvent,
    Relocation,
    Tomb,
)
from registry.web.rights import RIGHTS
from tests.conftest import STORE_KINDS, make_app, new_store_url
from tests.factories import USERS, A, B, seed_rights

WHO = ("anonymous", *USERS)


@pytest.fixture(scope="module", params=STORE_KINDS)
def world(request, tmp_path_factory):
    """The seeded store once per store kind for the module, and a signed-in client per user."""
    folder = tmp_path_factory.mktemp("rights")
    url = new_store_url(request.param, folder, request)
    app = make_app(url, RELOCATION_FILES_DIR=str(folder))
    app.instance_path = str(folder / "instance")
    store = app.extensions["registry_store"]
    ids = seed_rights(store, folder)
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
             "entity_id": objects["relocation_id"], "martyr_id": 1, "username": "reviewer",
             "edit_batch_id": 1, "ext": "png", "level": "county"}
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
