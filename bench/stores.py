"""Throw-away stores for benchmarks: a GeoPackage in a temporary folder or a new PostGIS database."""

from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from registry.db import Store
from registry.migrate import upgrade

PG_ADMIN_URL = os.environ.get("REGISTRY_BENCH_POSTGRES_URL",
                              os.environ.get("REGISTRY_TEST_POSTGRES_URL",
                                             "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))


def _admin():
    dsn = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(dsn, autocommit=True)


def postgis_available() -> bool:
    try:
        with _admin() as con:
            return con.execute("SELECT 1 FROM pg_available_extensions WHERE name='postgis'").fetchone() is not None
    except psycopg.OperationalError:
        return False


@contextmanager
def fresh_store(kind: str):
    """Yield a migrated, empty store of ``kind``; remove it afterwards."""
    if kind == "geopackage":
        with tempfile.TemporaryDirectory(prefix="registry-bench-") as folder:
            store = Store(f"sqlite:///{Path(folder) / 'bench.gpkg'}")
            upgrade(store)
            try:
                yield store
            finally:
                store.dispose()
        return
    name = f"registry_bench_{uuid.uuid4().hex[:8]}"
    with _admin() as con:
        con.execute(f'CREATE DATABASE "{name}"')
    store = Store(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(store)
        yield store
    finally:
        store.dispose()
        with _admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
