"""Acknowledged writes survive other programs opening the live GeoPackage while the app serves."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select, text

from registry.db import Store
from registry.models import Tribute
from tests.conftest import make_app
from tests.factories import demo_like

# What the sqlite3 shell, QGIS or a backup script does: open the file read-write, read, close. The last
# connection to close checkpoints and deletes the -wal and -shm files if it can take the exclusive lock.
OUTSIDE_READER = (
    "import sqlite3, sys\n"
    "con = sqlite3.connect(sys.argv[1])\n"
    "print(con.execute('SELECT count(*) FROM tributes').fetchone()[0])\n"
    "con.close()\n"
)


def flowers_stored(url):
    store = Store(url)
    try:
        with store.session() as session:
            return session.scalar(select(func.count()).select_from(Tribute))
    finally:
        store.dispose()


def lay(client, martyr, key, address):
    response = client.post(f"/tribute/martyr/{martyr}", data={"kind": "flower", "key": key},
                           environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 303, response.get_data(as_text=True)


def test_writes_acknowledged_after_health_checks_and_an_outside_reader_survive_a_restart(gpkg_url):
    path = gpkg_url.removeprefix("sqlite:///")
    app = make_app(gpkg_url)
    store = app.extensions["registry_store"]
    martyr = demo_like(store)["martyrs"][0]
    client = app.test_client()

    # A write transaction is open in the app while the health check reads the store's header.
    with store.write_session() as held:
        held.execute(text("UPDATE tribute_counts SET flowers = flowers WHERE 1 = 0"))
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        held.commit()
    lay(client, martyr, "before-outside-01", "10.0.0.1")
    assert client.get("/healthz").status_code == 200

    outside = subprocess.run([sys.executable, "-c", OUTSIDE_READER, path], capture_output=True, text=True,
                             timeout=60, check=True)
    assert outside.stdout.strip() == "1"

    for n in range(10):
        lay(client, martyr, f"after-outside-{n:02d}", f"10.0.1.{n}")
        assert client.get("/healthz").status_code == 200
    assert "已有 11 人献花" in client.get(f"/martyrs/{martyr}").get_data(as_text=True)

    store.dispose()  # the server stops; a restart reads the file afresh
    assert flowers_stored(gpkg_url) == 11
