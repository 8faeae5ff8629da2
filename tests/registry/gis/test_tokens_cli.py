"""`flask --app registry tokens …`: issue, list and revoke API tokens; what a GIS client then reads over /ogc."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.models import ApiToken, AuditEvent, User
from registry.models.types import utcnow
from registry.services.manage.tasks import create_task
from tests.factories import facility, people

SECRET = re.compile(r"^rgt_[A-Za-z0-9_-]{20,}$", re.MULTILINE)


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["tokens", *args])


def _rows(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(ApiToken))


def _audit(store, action: str) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action,
                                                                           AuditEvent.entity_type == "api_tokens"))


def _create(app, *args) -> str:
    result = _run(app, "create", *args)
    assert result.exit_code == 0, result.output
    return SECRET.search(result.output).group(0)


@pytest.fixture
def staff(any_store):
    """People of every role and one work order, so a staff collection has something to read."""
    actors = people(any_store)
    place = facility(any_store)
    create_task(any_store, actors["mgr"], place.id, {"title": "修补碑座裂缝"})
    return actors


def test_create_prints_the_secret_once_and_stores_only_its_hash(app, store):
    people(store)
    result = _run(app, "create", "--user", "reviewer1", "--role", "reviewer", "--expires", "30",
                  "--label", "省级一张图平台")
    assert result.exit_code == 0, result.output
    secret = SECRET.search(result.output).group(0)
    assert "cannot be shown again" in result.output and "省级一张图平台" in result.output
    with store.session() as s:
        row = s.scalar(select(ApiToken))
        assert row.roles == ["reviewer"] and row.name == "省级一张图平台"
        assert secret not in (row.token_hash, row.prefix) and secret.startswith(row.prefix)
    assert _audit(store, "create") == 1
    # The secret is written nowhere else: not in the audit trail, not in the list.
    with store.session() as s:
        assert all(secret not in str(e.after) for e in s.scalars(select(AuditEvent)))
    listed = _run(app, "list")
    assert listed.exit_code == 0 and secret not in listed.output
    assert "reviewer1" in listed.output and "active" in listed.output and "省级一张图平台" in listed.output


def test_list_shows_each_state(app, store):
    people(store)
    assert _run(app, "list").output.strip() == "no API tokens"
    _create(app, "--user", "planner1", "--role", "planner")
    _create(app, "--user", "reviewer1", "--role", "reviewer", "--expires", "1")
    _create(app, "--user", "admin1", "--role", "manager", "--label", "old")
    with store.write_session() as s:
        s.get(ApiToken, 2).expires_at = utcnow() - timedelta(days=1)
        s.commit()
    assert _run(app, "revoke", "3").exit_code == 0
    lines = {line.split()[0]: line for line in _run(app, "list").output.splitlines()[1:]}
    assert "active" in lines["1"] and "never" in lines["1"]
    assert "expired" in lines["2"]
    assert "revoked" in lines["3"]


def test_revoke_is_a_state_with_an_audit_event(app, store):
    people(store)
    _create(app, "--user", "planner1", "--role", "planner")
    result = _run(app, "revoke", "1")
    assert result.exit_code == 0 and "revoked token 1" in result.output
    with store.session() as s:
        assert s.get(ApiToken, 1).status == "retired"
    assert _rows(store) == 1 and _audit(store, "revoke") == 1
    again = _run(app, "revoke", "1")
    assert again.exit_code == 1 and "already revoked" in again.output
    missing = _run(app, "revoke", "99")
    assert missing.exit_code == 1 and "no API token 99" in missing.output
    assert _audit(store, "revoke") == 1


@pytest.mark.parametrize("args, option, why", [
    (["--user", "nobody", "--role", "planner"], "--user", "'nobody' does not exist"),
    (["--user", "reviewer1", "--role", "planner"], "--role", "does not have the role 'planner'"),
    (["--user", "reviewer1", "--role", "emperor"], "--role", "'emperor' is not a role"),
    (["--user", "reviewer1", "--role", "reviewer", "--expires", "-5"], "--expires", "positive number of days"),
    (["--user", "reviewer1", "--role", "reviewer", "--expires", "0"], "--expires", "positive number of days"),
    (["--user", "reviewer1", "--role", "reviewer", "--expires", "soon"], "--expires", "soon"),
    (["--role", "reviewer"], "--user", "Missing option"),
])
def test_bad_input_names_the_option_and_writes_nothing(app, store, args, option, why):
    people(store)
    with store.session() as s:
        events = s.scalar(select(func.count()).select_from(AuditEvent))
    result = _run(app, "create", *args)
    assert result.exit_code != 0
    assert option in result.output and why in result.output
    assert SECRET.search(result.output) is None
    assert _rows(store) == 0
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_retired_user_gets_no_token(app, store):
    people(store)
    assert app.test_cli_runner().invoke(args=["users", "retire", "planner1"]).exit_code == 0
    result = _run(app, "create", "--user", "planner1", "--role", "planner")
    assert result.exit_code == 1 and "--user" in result.output and "retired" in result.output
    assert _rows(store) == 0


def _exception(response, status: int) -> dict:
    assert response.status_code == status
    body = response.get_json(force=True)
    assert set(body) >= {"code", "description"}
    return body


def test_a_created_token_reads_a_staff_collection(any_app, any_store, staff):
    secret = _create(any_app, "--user", "reviewer1", "--role", "reviewer", "--expires", "7")
    client = any_app.test_client()
    anonymous = client.get("/ogc/collections/maintenance_tasks/items")
    assert _exception(anonymous, 401)["code"] == "NotAuthorized"
    response = client.get("/ogc/collections/maintenance_tasks/items", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert [f["properties"]["title"] for f in response.get_json(force=True)["features"]] == ["修补碑座裂缝"]


def test_revoked_and_expired_tokens_get_401(any_app, any_store, staff):
    revoked = _create(any_app, "--user", "reviewer1", "--role", "reviewer")
    expired = _create(any_app, "--user", "planner1", "--role", "planner", "--expires", "2")
    assert _run(any_app, "revoke", "1").exit_code == 0
    with any_store.write_session() as s:
        s.get(ApiToken, 2).expires_at = utcnow() - timedelta(minutes=1)
        s.commit()
    client = any_app.test_client()
    for secret in (revoked, expired):
        response = client.get("/ogc/collections/maintenance_tasks/items", headers={"Authorization": f"Bearer {secret}"})
        body = _exception(response, 401)
        assert body["code"] == "NotAuthorized" and "revoked or expired" in body["description"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_stops_with_its_users_account_and_role(any_app, any_store, staff):
    retired = _create(any_app, "--user", "reviewer1", "--role", "reviewer")
    demoted = _create(any_app, "--user", "planner1", "--role", "planner")
    assert any_app.test_cli_runner().invoke(args=["users", "retire", "reviewer1"]).exit_code == 0
    with any_store.write_session() as s:
        s.scalar(select(User).where(User.username == "planner1")).roles = ["reviewer"]
        s.commit()
    client = any_app.test_client()
    for secret in (retired, demoted):
        response = client.get("/ogc/collections/maintenance_tasks/items", headers={"Authorization": f"Bearer {secret}"})
        assert _exception(response, 401)["code"] == "NotAuthorized"


def test_the_readme_lists_the_token_commands(app):
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    for name in app.cli.commands["tokens"].commands:
        assert f"`tokens {name}" in readme, f"'tokens {name}' missing from README.md"
