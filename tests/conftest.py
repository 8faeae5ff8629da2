"""Fixtures: applications made by create_app over a temporary store of either kind."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url

from registry import create_app
from registry.db import Store
from registry.migrate import upgrade
from registry.services.divisions import load_demo_divisions

# The PostgreSQL server used to make throw-away registries; CI sets REGISTRY_REQUIRE_POSTGIS=1 so a
# missing server or PostGIS fails the run instead of skipping.
PG_ADMIN_URL = os.environ.get("REGISTRY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGIS = os.environ.get("REGISTRY_REQUIRE_POSTGIS") == "1"
STORE_KINDS = ("geopackage", "postgis")


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_admin():
    return psycopg.connect(_pg_dsn(PG_ADMIN_URL), autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgis_template():
    """A migrated PostGIS database to clone per test; skipped (or failed in CI) when there is none."""
    try:
        con = _pg_admin()
    except psycopg.OperationalError as exc:
        reason = f"PostGIS tests need PostgreSQL at {PG_ADMIN_URL}: {str(exc).splitlines()[0]}"
        if REQUIRE_POSTGIS:
            pytest.fail(reason)
        pytest.skip(reason)
    has_postgis = con.execute("SELECT 1 FROM pg_available_extensions WHERE name='postgis'").fetchone()
    if not has_postgis:
        con.close()
        reason = "PostGIS tests need the postgis extension (apt-get install postgresql-15-postgis-3)"
        if REQUIRE_POSTGIS:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"registry_tpl_{uuid.uuid4().hex[:10]}"
    con.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    store = Store(url)
    upgrade(store)
    load_demo_divisions(store, audit=False)  # the demo's cities and counties, as `demo load` writes them
    store.dispose()
    yield name
    con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    con.close()


@pytest.fixture(scope="session")
def gpkg_template(tmp_path_factory):
    """A migrated, checkpointed GeoPackage registry to copy per test."""
    path = tmp_path_factory.mktemp("template") / "registry.gpkg"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    load_demo_divisions(store, audit=False)  # the demo's cities and counties, as `demo load` writes them
    store.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def new_store_url(kind: str, tmp_path, request) -> str:
    """A URL of a fresh, migrated, empty registry of the given kind, removed after the test."""
    if kind == "geopackage":
        template = request.getfixturevalue("gpkg_template")
        path = tmp_path / f"registry-{uuid.uuid4().hex[:6]}.gpkg"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    return throwaway_database(request, request.getfixturevalue("postgis_template"))


def throwaway_database(request, template: str | None = None, prefix: str = "registry_t_") -> str:
    """A new PostgreSQL database (a copy of ``template``, else empty), dropped after the test; its URL."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    with _pg_admin() as con:
        con.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def drop():
        with _pg_admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request):
    return request.param


@pytest.fixture
def store_url(store_kind, tmp_path, request):
    """A fresh registry URL, once per store kind (contract tests use this)."""
    return new_store_url(store_kind, tmp_path, request)


@pytest.fixture
def gpkg_url(tmp_path, request):
    """A fresh embedded registry URL."""
    return new_store_url("geopackage", tmp_path, request)


def make_app(url: str, **extra):
    config = {"DATABASE_URL": url, "SECRET_KEY": "test-secret", "TESTING": True, "WTF_CSRF_ENABLED": False}
    config.update(extra)
    return create_app(config)


@pytest.fixture
def app(gpkg_url):
    """An application over a fresh, empty embedded registry."""
    application = make_app(gpkg_url)
    yield application
    application.extensions["registry_store"].dispose()


@pytest.fixture
def any_app(store_url):
    """An application over a fresh, empty registry of each store kind."""
    application = make_app(store_url)
    yield application
    application.extensions["registry_store"].dispose()


def app_over(url: str, tmp_path, **extra):
    """An application over ``url`` with its instance folder (photos, uploads) in the test's own folder; closed after."""
    application = make_app(url, **extra)
    application.instance_path = str(tmp_path / "instance")
    yield application
    application.extensions["registry_store"].dispose()


@pytest.fixture
def folder_app(gpkg_url, tmp_path):
    """An application over a fresh embedded registry, its instance folder in the test's folder."""
    yield from app_over(gpkg_url, tmp_path)


@pytest.fixture
def any_folder_app(store_url, tmp_path):
    """An application over a fresh registry of each store kind, its instance folder in the test's folder."""
    yield from app_over(store_url, tmp_path)


@pytest.fixture
def store(app):
    return app.extensions["registry_store"]


@pytest.fixture
def any_store(any_app):
    return any_app.extensions["registry_store"]


@pytest.fixture
def client(app):
    return app.test_client()
