"""A store that is locked, full or gone answers 503 with Retry-After on pages, /api and /ogc; it recovers alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from registry.models import Tribute
from tests.conftest import _pg_admin, make_app, new_store_url
from tests.factories import demo_like
from tests.faults.disk import fill, small_disk

# Holds the registry file in SQLite's exclusive locking mode: other processes can neither read nor write.
LOCKER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA locking_mode=EXCLUSIVE")
con.execute("BEGIN EXCLUSIVE")
con.execute("CREATE TABLE IF NOT EXISTS lock_probe (x)")
print("locked", flush=True)
sys.stdin.read()
con.execute("ROLLBACK")
"""


def requests_for(ids) -> dict:
    """One page, one API collection, one OGC collection and one write: what visitors and clients send."""
    return {
        "page": ("GET", f"/martyrs/{ids['martyrs'][0]}", {}),
        "api": ("GET", "/api/facilities?bbox=116,24,118,26", {}),
        "ogc": ("GET", "/ogc/collections/facilities/items", {}),
        "flower": ("POST", f"/tribute/martyr/{ids['martyrs'][0]}", {"data": {"kind": "flower", "key": "down-key-01"}}),
    }


def answer(app, method, path, extra):
    return app.test_client().open(path, method=method, **extra)


def assert_unavailable(name, response):
    assert response.status_code == 503, (name, response.status_code, response.get_data(as_text=True)[:300])
    assert response.headers["Retry-After"] == "5"
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "OperationalError" not in body and "sqlite" not in body.lower()
    if name == "page" or name == "flower":
        assert response.mimetype == "text/html" and "服务暂不可用" in body and "请稍后重试" in body
    elif name == "api":
        assert response.json["status"] == 503 and "unavailable" in response.json["message"]
    else:
        assert response.mimetype == "application/problem+json" and "unavailable" in response.json["description"]


def test_a_locked_geopackage_answers_503_then_serves_again(gpkg_url):
    app = make_app(gpkg_url)
    store = app.extensions["registry_store"]
    ids = demo_like(store)
    calls = requests_for(ids)
    path = make_url(gpkg_url).database
    store.dispose()  # exclusive locking mode waits for every other connection to the file to go
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        results = {}
        # All at once: each waits out SQLite's busy timeout before it is told the store is locked.
        threads = [threading.Thread(target=lambda n=n, c=c: results.__setitem__(n, answer(app, *c)))
                   for n, c in calls.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for name in calls:
            assert_unavailable(name, results[name])
    finally:
        locker.communicate("", timeout=30)
    assert answer(app, *calls["flower"]).status_code == 303
    assert answer(app, *calls["page"]).status_code == 200
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Tribute)) == 1
    store.dispose()


def test_a_full_disk_under_the_geopackage_answers_503(gpkg_url, tmp_path):
    source = Path(make_url(gpkg_url).database)
    with small_disk(tmp_path / "disk", "8m") as mount:
        target = mount / "registry.gpkg"
        target.write_bytes(source.read_bytes())
        app = make_app(f"sqlite:///{target}")
        store = app.extensions["registry_store"]
        ids = demo_like(store)
        fill(mount)
        calls = requests_for(ids)
        response = answer(app, *calls["flower"])
        assert_unavailable("flower", response)
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Tribute)) == 0
        (mount / "filler").unlink()  # room again: the same app serves without a restart
        assert answer(app, *calls["flower"]).status_code == 303
        store.dispose()


def _refuse_connections(name: str, refuse: bool) -> None:
    with _pg_admin() as con:
        con.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
        if refuse:
            con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


def test_postgis_gone_answers_503_and_the_pool_recovers(tmp_path, request):
    url = new_store_url("postgis", tmp_path, request)
    name = make_url(url).database
    app = make_app(url)
    store = app.extensions["registry_store"]
    ids = demo_like(store)
    calls = requests_for(ids)
    assert answer(app, *calls["page"]).status_code == 200  # the pool now holds a live connection
    _refuse_connections(name, True)
    try:
        for call_name, call in calls.items():
            assert_unavailable(call_name, answer(app, *call))
    finally:
        _refuse_connections(name, False)
    # Back: the dead pooled connections are replaced, nothing answers 500, the flower is stored once.
    for call_name, call in calls.items():
        expected = 303 if call_name == "flower" else 200
        assert answer(app, *call).status_code == expected, call_name
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Tribute)) == 1
    store.dispose()


def test_a_real_fault_is_still_a_500_not_a_503():
    # Only a store that is away is a 503: a bug stays a 500 (logged), or faults would hide as "try later".
    from registry.web.errors import store_unavailable

    with pytest.raises(sqlite3.OperationalError) as caught:
        sqlite3.connect(":memory:").execute("SELECT * FROM no_such_table")
    assert not store_unavailable(caught.value)
