"""Serving: trusted proxy hops, rate-bucket purges, /healthz and /readyz, request ids and /metrics."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from registry import ConfigError
from registry.models import RateBucket
from registry.models.types import utcnow
from registry.services import Actor
from registry.services.public.tribute import TRIBUTE_RATE
from registry.services.users import create_user
from tests.conftest import make_app
from tests.factories import demo_like


def flower(client, martyr, key, remote="10.0.0.1", forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(f"/tribute/martyr/{martyr}", data={"kind": "flower", "key": key},
                       environ_base={"REMOTE_ADDR": remote}, headers=headers)


def until_limited(client, martyr, prefix, **kwargs) -> int:
    """Flowers accepted from one client before its bucket is empty (bounded)."""
    for n in range(20):
        response = flower(client, martyr, f"{prefix}-key-{n:04d}", **kwargs)
        if response.status_code == 429:
            return n
        assert response.status_code == 303, response.get_data(as_text=True)
    raise AssertionError("no rate limit after 20 flowers")


@pytest.mark.parametrize("hops, second_client_gets", [(0, 0), (1, 5)])
def test_trusted_hops_decide_whose_bucket_a_forwarded_request_uses(gpkg_url, hops, second_client_gets):
    app = make_app(gpkg_url, TRUSTED_PROXIES=hops)
    martyr = demo_like(app.extensions["registry_store"])["martyrs"][0]
    client = app.test_client()
    # Two visitors behind one proxy (127.0.0.1): only a trusted proxy's X-Forwarded-For tells them apart.
    assert until_limited(client, martyr, "a", remote="127.0.0.1", forwarded="198.51.100.1") == 5
    assert until_limited(client, martyr, "b", remote="127.0.0.1", forwarded="198.51.100.2") == second_client_gets
    app.extensions["registry_store"].dispose()


def test_a_forged_forwarded_address_is_not_trusted_beyond_the_hops(gpkg_url):
    app = make_app(gpkg_url, TRUSTED_PROXIES=1)
    martyr = demo_like(app.extensions["registry_store"])["martyrs"][0]
    client = app.test_client()
    assert until_limited(client, martyr, "a", forwarded="203.0.113.9, 198.51.100.7") == 5
    # The visitor changes the address it claims; the proxy's own entry (the last one) stays the same.
    assert until_limited(client, martyr, "b", forwarded="203.0.113.10, 198.51.100.7") == 0
    app.extensions["registry_store"].dispose()


@pytest.mark.parametrize("value", ["-1", "two", "1.5", "11"])
def test_a_wrong_number_of_proxy_hops_is_refused_by_name(gpkg_url, value):
    with pytest.raises(ConfigError, match="REGISTRY_TRUSTED_PROXIES"):
        make_app(gpkg_url, TRUSTED_PROXIES=value)


@pytest.mark.parametrize("value", ["-5", "soon"])
def test_a_wrong_purge_interval_is_refused_by_name(gpkg_url, value):
    with pytest.raises(ConfigError, match="REGISTRY_RATE_BUCKET_PURGE_SECONDS"):
        make_app(gpkg_url, RATE_BUCKET_PURGE_SECONDS=value)


def age_buckets(store, keys_and_ages: dict[str, float]):
    with store.write_session() as session:
        for key, seconds in keys_and_ages.items():
            session.execute(RateBucket.__table__.insert().values(
                key=key, tokens=0.0, refreshed_at=utcnow() - timedelta(seconds=seconds)))
        session.commit()


def bucket_keys(store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(select(RateBucket.key)))


def test_the_purge_command_deletes_only_refilled_buckets(any_app):
    store = any_app.extensions["registry_store"]
    full = TRIBUTE_RATE[0] * TRIBUTE_RATE[1]
    age_buckets(store, {"tribute:old": full + 60, "tribute:recent": 1, "report:old": 3 * 60 + 60,
                        "report:recent": 30, "login:old": 10 ** 6})
    result = any_app.test_cli_runner().invoke(args=["ratelimits", "purge"])
    assert result.exit_code == 0, result.output
    assert "purged 2 refilled rate bucket(s)" in result.output
    # A bucket still refilling keeps its state; a kind the purge does not know is never touched.
    assert bucket_keys(store) == {"tribute:recent", "report:recent", "login:old"}


def test_a_purged_client_starts_again_with_a_full_bucket_and_no_more(any_app):
    store = any_app.extensions["registry_store"]
    martyr = demo_like(store)["martyrs"][0]
    client = any_app.test_client()
    assert until_limited(client, martyr, "a") == 5
    assert any_app.test_cli_runner().invoke(args=["ratelimits", "purge"]).output.startswith("purged 0")
    # Emptied a moment ago: not refilled, so not purged, and the client is still limited.
    assert until_limited(client, martyr, "b") == 0
    with store.write_session() as session:
        session.execute(text("UPDATE rate_buckets SET refreshed_at = :at"), {"at": utcnow() - timedelta(hours=1)})
        session.commit()
    assert any_app.test_cli_runner().invoke(args=["ratelimits", "purge"]).output.startswith("purged 1")
    assert until_limited(client, martyr, "c") == 5


def test_the_server_purges_refilled_buckets_on_its_own(gpkg_url):
    app = make_app(gpkg_url, RATE_BUCKET_PURGE_SECONDS=0.05)
    store = app.extensions["registry_store"]
    age_buckets(store, {"tribute:gone": 3600, "tribute:kept": 1})
    client = app.test_client()
    time.sleep(0.1)
    client.get("/healthz").close()  # the purge runs once the answer is sent
    assert bucket_keys(store) == {"tribute:kept"}
    store.dispose()


def test_no_purge_when_turned_off(gpkg_url):
    app = make_app(gpkg_url, RATE_BUCKET_PURGE_SECONDS=0)
    store = app.extensions["registry_store"]
    age_buckets(store, {"tribute:old": 3600})
    app.test_client().get("/healthz").close()
    assert bucket_keys(store) == {"tribute:old"}
    store.dispose()


def test_healthz_does_not_load_the_migration_scripts_per_call(any_app, monkeypatch):
    client = any_app.test_client()
    assert client.get("/healthz").status_code == 200
    from alembic.script import ScriptDirectory

    def refuse(*_args, **_kwargs):
        raise AssertionError("the migration scripts were loaded again")

    monkeypatch.setattr(ScriptDirectory, "from_config", refuse)
    for _ in range(3):
        assert client.get("/healthz").get_json()["status"] == "ok"


def test_readyz_answers_ready_on_a_current_store(any_app):
    response = any_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ready\n"


def test_readyz_is_503_with_a_plain_message_when_migrations_are_pending(any_app):
    store = any_app.extensions["registry_store"]
    with store.write_session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0010'"))
        session.commit()
    response = any_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.mimetype == "text/plain"
    assert "schema revision 0010" in response.get_data(as_text=True)
    assert "db upgrade" in response.get_data(as_text=True)


def test_readyz_is_503_when_the_store_is_gone(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'gone.gpkg'}")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "not ready: the store cannot serve: There is no registry at" in response.get_data(as_text=True)


@pytest.mark.parametrize("sent, kept", [("abc-123.x_y", True), ("bad id; rm -rf", False), ("<script>", False),
                                        ("x" * 65, False)])
def test_every_answer_carries_a_request_id(app, sent, kept):
    response = app.test_client().get("/healthz", headers={"X-Request-Id": sent})
    rid = response.headers["X-Request-Id"]
    assert (rid == sent) is kept
    assert rid and "\n" not in rid and len(rid) <= 64


def test_metrics_are_for_admins_only(app):
    store = app.extensions["registry_store"]
    create_user(store, Actor.system("test"), "admin1", "admin-password-1", ["admin"])
    create_user(store, Actor.system("test"), "planner1", "planner-password", ["planner"])
    client = app.test_client()
    assert client.get("/metrics").status_code == 302  # to the login page
    client.post("/login", data={"username": "planner1", "password": "planner-password"})
    assert client.get("/metrics").status_code == 403


def sample(text_body: str, name: str, **labels) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text_body.splitlines():
        if line.startswith(name + ("{" if labels else " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_scrape_shows_requests_latency_flowers_and_the_pool(app):
    store = app.extensions["registry_store"]
    martyr = demo_like(store)["martyrs"][0]
    create_user(store, Actor.system("test"), "admin1", "admin-password-1", ["admin"])
    client = app.test_client()
    client.post("/login", data={"username": "admin1", "password": "admin-password-1"})
    before = client.get("/metrics").get_data(as_text=True)
    for _ in range(3):
        assert client.get(f"/martyrs/{martyr}").status_code == 200
    assert flower(client, martyr, "metrics-0001").status_code == 303
    after = client.get("/metrics").get_data(as_text=True)
    grave = {"endpoint": "public_pages.grave", "method": "GET", "status": "200"}
    assert sample(after, "registry_http_requests_total", **grave) - sample(
        before, "registry_http_requests_total", **grave) == 3
    assert sample(after, "registry_http_request_duration_seconds_count", endpoint="public_pages.grave") - sample(
        before, "registry_http_request_duration_seconds_count", endpoint="public_pages.grave") == 3
    assert sample(after, "registry_flowers_total", outcome="accepted") - sample(
        before, "registry_flowers_total", outcome="accepted") == 1
    assert 'registry_db_pool_connections{engine="primary",state="idle"}' in after


def test_a_scrape_counts_import_commits(gpkg_url, tmp_path):
    from tests.factories import GOOD, import_commit, import_csv, import_preview, people

    app = make_app(gpkg_url)
    app.instance_path = str(tmp_path / "instance")
    people(app.extensions["registry_store"])
    client = app.test_client()
    assert client.post("/login", data={"username": "admin1", "password": "admin1-password"}).status_code == 302
    before = client.get("/metrics").get_data(as_text=True)
    preview = import_preview(client, import_csv(GOOD), "设施.csv")
    assert preview.status_code == 200
    assert import_commit(client, preview.get_data(as_text=True)).status_code == 200
    refused = client.post("/gis/import/commit", data={"token": "0" * 64, "filename": "a.csv", "kind": "facilities"})
    assert refused.status_code == 400
    after = client.get("/metrics").get_data(as_text=True)
    for outcome in ("answered", "refused"):
        assert sample(after, "registry_imports_total", kind="gis", outcome=outcome) - sample(
            before, "registry_imports_total", kind="gis", outcome=outcome) == 1
    app.extensions["registry_store"].dispose()
