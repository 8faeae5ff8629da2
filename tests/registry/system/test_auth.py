"""Sign-in, roles, CSRF, password hashing and the production safety checks."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from registry import ConfigError
from registry.models import AuditEvent, User
from registry.services.users import create_user
from tests.conftest import make_app
from tests.factories import SYSTEM


@pytest.fixture
def people(store):
    create_user(store, SYSTEM, "planner1", "planner-password", ["planner"])
    create_user(store, SYSTEM, "mgr1", "manager-password", ["manager"], ["350823"])
    return store


def login(client, username, password):
    return client.post("/login", data={"username": username, "password": password})


def test_passwords_are_salted_hashes(people):
    create_user(people, SYSTEM, "planner2", "planner-password", ["planner"])
    with people.session() as s:
        hashes = s.scalars(select(User.password_hash).where(User.username.in_(["planner1", "planner2"]))).all()
    assert len(set(hashes)) == 2
    assert all("planner-password" not in h for h in hashes)


def test_the_audit_trail_never_holds_a_password_hash(people):
    with people.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity_type == "users")).first()
    assert "password_hash" not in event.after


def test_login_and_logout(app, people):
    client = app.test_client()
    assert login(client, "planner1", "wrong-password").status_code == 400
    response = login(client, "planner1", "planner-password")
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "planner1" in page
    client.post("/logout")
    assert "planner1" not in client.get("/").get_data(as_text=True)


def test_history_needs_a_staff_login(app, people):
    client = app.test_client()
    response = client.get("/history")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, "planner1", "planner-password")
    assert client.get("/history").status_code == 200


def test_history_shows_who_changed_what(app, people):
    from registry.services.facilities import create_facility, update_facility

    facility = create_facility(people, SYSTEM, {"code": "F-1", "name": "示例纪念碑", "category": "monument",
                                                "county_code": "350823", "lon": 116.4, "lat": 25.0})
    update_facility(people, SYSTEM, facility.id, 1, {"caretaker": "李某（示例）"})
    client = app.test_client()
    login(client, "planner1", "planner-password")
    page = client.get(f"/history/facilities/{facility.id}").get_data(as_text=True)
    assert "caretaker" in page and "李某（示例）" in page and "test" in page
    assert client.get("/history/facilities/999999").status_code == 404
    assert client.get("/history/nonsense/1").status_code == 404


def test_forms_need_the_csrf_token(gpkg_url):
    app = make_app(gpkg_url, WTF_CSRF_ENABLED=True)
    store = app.extensions["registry_store"]
    create_user(store, SYSTEM, "planner1", "planner-password", ["planner"])
    client = app.test_client()
    assert login(client, "planner1", "planner-password").status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "planner1", "password": "planner-password",
                                           "csrf_token": token})
    assert response.status_code == 302


def test_production_refuses_a_short_secret(gpkg_url):
    with pytest.raises(ConfigError, match="REGISTRY_SECRET_KEY"):
        make_app(gpkg_url, ENV="production", SECRET_KEY="a-guessable-key")


def test_production_refuses_demo_users(gpkg_url):
    app = make_app(gpkg_url)
    create_user(app.extensions["registry_store"], SYSTEM, "admin", "demo-admin-pass", ["admin"], is_demo=True)
    with pytest.raises(ConfigError, match=r"demo users \(admin\)"):
        make_app(gpkg_url, ENV="production", SECRET_KEY="a-long-random-production-secret")
    assert make_app(gpkg_url, SECRET_KEY="x").config["ENV"] != "production"


@pytest.mark.parametrize("username, password, roles, counties, field", [
    ("has space", "long-enough-pw", ["planner"], [], "username"),
    ("short", "short", ["planner"], [], "password"),
    ("who", "long-enough-pw", ["king"], [], "roles"),
    ("mgr", "long-enough-pw", ["manager"], [], "counties"),
    ("mgr", "long-enough-pw", ["manager"], ["999999"], "counties"),
])
def test_bad_accounts_are_refused(store, username, password, roles, counties, field):
    from registry.services import InvalidInput

    with pytest.raises(InvalidInput) as info:
        create_user(store, SYSTEM, username, password, roles, counties)
    assert info.value.field == field
    with store.session() as s:
        assert s.scalar(select(User.id).where(User.username == username)) is None


def test_a_wrong_role_gets_403_and_leaves_an_audit_event(gpkg_url):
    from registry.web.rights import staff
    from registry.web.system.auth import role_required

    app = make_app(gpkg_url)
    app.add_url_rule("/reviewers-only", "reviewers_only", role_required("reviewer")(lambda: "reviewed"))
    app.add_url_rule("/undeclared", "undeclared", role_required("planner")(lambda: "planned"))
    app.extensions["rights"]["reviewers_only"] = staff("reviewer")
    store = app.extensions["registry_store"]
    create_user(store, SYSTEM, "planner1", "planner-password", ["planner"])
    create_user(store, SYSTEM, "rev1", "reviewer-password", ["reviewer"])
    client = app.test_client()
    login(client, "planner1", "planner-password")
    response = client.get("/reviewers-only")
    assert response.status_code == 403
    assert "planner1 may not use /reviewers-only: it needs the role reviewer" in response.get_data(as_text=True)
    with store.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "forbidden")).one()
    assert event.actor_name == "planner1" and event.note.startswith("GET /reviewers-only: ")
    # A route without a row in the rights table is refused to everyone, whatever its own check says.
    response = client.get("/undeclared")
    assert response.status_code == 403 and "has no rights decision (undeclared)" in response.get_data(as_text=True)
    other = app.test_client()
    login(other, "rev1", "reviewer-password")
    assert other.get("/reviewers-only").get_data(as_text=True) == "reviewed"
