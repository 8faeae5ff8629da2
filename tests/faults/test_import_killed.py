"""`kill -9` during a 100,000-row ledger import leaves no partial rows on either store, and the store still writes."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
from sqlalchemy import func, select

from bench.relocations import _destinations, _roll, write_ledger
from registry import backup as backups
from registry.db import Store
from registry.models import Relocation
from tests.conftest import new_store_url
from tests.servers import ROOT

ROWS = 100_000


def table_counts(url: str) -> dict:
    """Rows in every table (R*Tree indexes included), read through a new engine as a restarted app would."""
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            if store.kind == "geopackage":
                counts = backups._sqlite_tables(conn.connection.driver_connection)
            else:
                counts = backups._pg_tables(conn)
            integrity = (conn.exec_driver_sql("PRAGMA integrity_check").scalar()
                         if store.kind == "geopackage" else "ok")
    finally:
        store.dispose()
    return counts, integrity


def start_import(url: str, ledger) -> tuple[subprocess.Popen, list[bytes], threading.Thread]:
    env = dict(os.environ, REGISTRY_DATABASE_URL=url)
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "registry", "import", "relocations",
                                str(ledger), "--commit"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    seen: list[bytes] = []

    def read():
        for chunk in iter(lambda: process.stderr.read1(4096), b""):
            seen.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return process, seen, reader


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_kill_9_during_a_ledger_import_leaves_no_partial_rows(kind, tmp_path, request):
    url = new_store_url(kind, tmp_path, request)
    store = Store(url)
    _destinations(store)
    _roll(store, ROWS)
    store.dispose()
    ledger = write_ledger(tmp_path / "ledger.csv", ROWS)
    before, _ok = table_counts(url)

    process, seen, reader = start_import(url, ledger)
    deadline = time.monotonic() + 300
    # Killed once it is writing rows: the moment a half-done import would leave the most behind.
    while b"write" not in b"".join(seen) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"write" in b"".join(seen), b"".join(seen)[-2000:]
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    assert process.wait(60) == -signal.SIGKILL, "the import finished before it could be killed"
    reader.join(30)
    process.stderr.close()

    after, integrity = table_counts(url)
    assert integrity == "ok"
    assert after == before  # not one row of the import, in any table or index


    # And the store still takes writes: a restarted application can go on.
    store = Store(url)
    _destinations_more(store)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Relocation)) == before["relocations"]
    store.dispose()


def _destinations_more(store) -> None:
    from registry.services import Actor
    from registry.services.facilities import create_facility

    create_facility(store, Actor.system("test"), {"code": "AFTER-KILL", "name": "测试陵园（事后）",
                                                  "category": "cemetery", "county_code": "350823",
                                                  "lon": 116.5, "lat": 25.1})
