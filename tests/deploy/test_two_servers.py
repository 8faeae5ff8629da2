"""Two app servers on one PostgreSQL share sessions, rate limits and idempotency; public reads may use a replica."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text

from registry import ConfigError
from registry.db import Store, StoreError
from registry.extensions import get_read_store
from registry.models import AuditEvent, Tribute, TributeCount
from registry.services import Actor
from registry.services.users import create_user
from tests.conftest import make_app, throwaway_database
from tests.deploy.stack import Browser
from tests.factories import demo_like
from tests.servers import Gunicorn


@pytest.fixture
def pg_registry(request, postgis_template):
    url = throwaway_database(request, postgis_template)
    store = Store(url)
    ids = demo_like(store)
    create_user(store, Actor.system("test"), "admin1", "admin-password-1", ["admin"])
    store.dispose()
    return url, ids


@pytest.fixture
def two_servers(pg_registry, tmp_path):
    url, ids = pg_registry
    env = {"REGISTRY_DATABASE_URL": url, "REGISTRY_SECRET_KEY": "shared-secret-of-both-servers",
           "REGISTRY_WORKERS": "1", "REGISTRY_RATE_BUCKET_PURGE_SECONDS": "0"}
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(Gunicorn(tmp_path, env, name=f"gunicorn-{name}"))
        yield servers, url, ids
    finally:
        for server in servers:
            server.stop()


def on(server: Gunicorn, source: str) -> Browser:
    return Browser(server.port, source, tls=False, host_header=f"127.0.0.1:{server.port}")


def flower(browser: Browser, martyr: int, token: str, key: str | None = None) -> int:
    response, _body = browser.post_form(f"/tribute/martyr/{martyr}", {"kind": "flower", "key": key or uuid.uuid4().hex,
                                                                      "csrf_token": token}, referer="")
    return response.status


def test_a_session_made_on_one_server_works_on_the_other(two_servers):
    (a, b), _url, _ids = two_servers
    browser = on(a, "127.0.0.2")
    token = browser.csrf_token("/login")
    response, _body = browser.post_form("/login", {"username": "admin1", "password": "admin-password-1",
                                                   "csrf_token": token}, referer="")
    assert response.status == 302
    browser.port, browser.host_header = b.port, f"127.0.0.1:{b.port}"
    response, body = browser.get("/metrics")  # admins only
    assert response.status == 200, body[:300]
    assert b"registry_http_requests_total" in body


def test_the_rate_limit_counts_across_both_servers(two_servers):
    (a, b), _url, ids = two_servers
    martyr = ids["martyrs"][0]
    browser = on(a, "127.0.0.3")
    token = browser.csrf_token(f"/martyrs/{martyr}")
    assert [flower(browser, martyr, token) for _ in range(3)] == [303] * 3
    browser.port, browser.host_header = b.port, f"127.0.0.1:{b.port}"
    # The same visitor on the other server has only the 2 flowers left of the bucket's 5.
    assert [flower(browser, martyr, token) for _ in range(3)] == [303, 303, 429]


def test_a_flower_retried_on_the_other_server_is_not_doubled(two_servers):
    (a, b), url, ids = two_servers
    martyr = ids["martyrs"][1]
    browser = on(a, "127.0.0.4")
    token = browser.csrf_token(f"/martyrs/{martyr}")
    key = uuid.uuid4().hex
    assert flower(browser, martyr, token, key) == 303
    browser.port, browser.host_header = b.port, f"127.0.0.1:{b.port}"
    assert flower(browser, martyr, token, key) == 303  # the retry is answered as the first was
    response, body = browser.get(f"/martyrs/{martyr}")
    assert "已有 1 人献花" in body.decode()
    store = Store(url)
    try:
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Tribute).where(Tribute.idempotency_key == key)) == 1
    finally:
        store.dispose()


# --- a read replica for public pages -----------------------------------------------------------------

@pytest.fixture
def primary_and_copy(request, pg_registry):
    """The primary and a copy of it standing in for a streaming replica (a copy can be told apart)."""
    url, ids = pg_registry
    primary_name = url.rsplit("/", 1)[1]
    copy_url = throwaway_database(request, primary_name, prefix="registry_copy_")
    copy = Store(copy_url)
    with copy.engine.begin() as conn:
        conn.execute(text("UPDATE martyrs SET name = '副本中的名字' WHERE id = :id"), {"id": ids["martyrs"][0]})
    copy.dispose()
    app = make_app(url, READ_DATABASE_URL=copy_url)
    yield app, url, copy_url, ids
    app.extensions["registry_store"].dispose()
    app.extensions["registry_read_store"].dispose()


def count_in(url: str, model, *where) -> int:
    store = Store(url)
    try:
        with store.session() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        store.dispose()


def test_public_pages_read_from_the_read_engine_and_writes_go_to_the_primary(primary_and_copy):
    app, primary, copy, ids = primary_and_copy
    martyr = ids["martyrs"][0]
    client = app.test_client()
    page = client.get(f"/martyrs/{martyr}").get_data(as_text=True)
    assert "副本中的名字" in page and "张甲（示例）" not in page
    # The roll search finds the martyr by the indexed name and shows the name the replica holds.
    assert "副本中的名字" in client.get("/martyrs?q=张甲").get_data(as_text=True)
    response = client.post(f"/tribute/martyr/{martyr}", data={"kind": "flower", "key": "replica-flower-1"},
                           environ_base={"REMOTE_ADDR": "10.9.0.1"})
    assert response.status_code == 303
    assert count_in(primary, Tribute) == 1 and count_in(copy, Tribute) == 0
    assert count_in(primary, TributeCount, TributeCount.target_id == martyr) == 1
    # The page reads the replica, which (being a copy, not a replica) never receives the flower.
    assert "已有 0 人献花" in client.get(f"/martyrs/{martyr}").get_data(as_text=True)
    # A staff sign-in writes its audit event to the primary too.
    assert client.post("/login", data={"username": "admin1", "password": "admin-password-1"}).status_code == 302
    assert count_in(primary, AuditEvent, AuditEvent.action == "login") == 1
    assert count_in(copy, AuditEvent, AuditEvent.action == "login") == 0


def test_the_read_engine_refuses_every_write(primary_and_copy):
    app, _primary, copy, _ids = primary_and_copy
    with app.app_context():
        read = get_read_store()
        with pytest.raises(StoreError, match="every write goes to the primary"):
            read.write_session()
        # Even a write sent straight down its connection: the database would accept it, the engine does not.
        with pytest.raises(Exception, match="read-only transaction"), read.engine.begin() as conn:
            conn.execute(text("DELETE FROM rate_buckets"))


def test_without_a_read_url_the_primary_serves_public_pages(gpkg_url):
    app = make_app(gpkg_url)
    with app.app_context():
        assert get_read_store() is app.extensions["registry_store"]
    app.extensions["registry_store"].dispose()


def test_a_read_url_beside_a_geopackage_is_refused(gpkg_url):
    with pytest.raises(ConfigError, match="REGISTRY_READ_DATABASE_URL"):
        make_app(gpkg_url, READ_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/x")
