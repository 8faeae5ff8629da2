"""Real servers for the fault tests: a private PostgreSQL cluster, gunicorn, and clients from loopback addresses."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import psycopg
import pytest

from tests.servers import Gunicorn, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a temporary folder on a free loopback port.

    The machine's shared cluster is never stopped: this one exists to be stopped and started.
    PostgreSQL refuses to run as root, so under root it runs as the ``postgres`` account.
    """

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"the fault tests need PostgreSQL's server programs in {PG_BIN}")
        self.port = free_port()
        # Not under pytest's tmp folder: that is private to root, and the server may run as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="registry-faults-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C.UTF-8")
        self.start()

    def _run(self, *args, check=True):
        done = subprocess.run(self.as_user + [str(a) for a in args], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stderr or done.stdout}\n{log[-2000:]}")
        return done

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                   "-c fsync=off -c max_connections=60")
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={name}",
                             autocommit=True) as con:
            con.execute("CREATE EXTENSION postgis")
        return self.url(name)

    def destroy(self) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def serve(database_url: str, tmp: Path, workers: int = 2, threads: int = 4, **env) -> Gunicorn:
    """The production server as `make serve` starts it, over ``database_url``, ready once a grave list answers."""
    environment = {"REGISTRY_DATABASE_URL": database_url, "REGISTRY_SECRET_KEY": "fault-test-secret",
                   "REGISTRY_INSTANCE_PATH": str(tmp / "instance"), **env}
    return Gunicorn(tmp, environment, workers=workers, threads=threads, ready_path="/martyrs")


def request(port: int, method: str, path: str, form: dict | None = None, source: str = "127.0.0.1",
            timeout: float = 30, cookie: str | None = None) -> tuple[int, dict, str]:
    """One request from the loopback address ``source``: status, headers and body."""
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        if cookie:
            headers["Cookie"] = cookie
        con.request(method, path, body=body, headers=headers)
        response = con.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode("utf-8",
                                                                                                        "replace")
    finally:
        con.close()


def visit(port: int, martyr_id: int, source: str) -> tuple[str, str]:
    """Open the grave page as a visitor does: its session cookie and the form's CSRF token."""
    status, headers, body = request(port, "GET", f"/martyrs/{martyr_id}", source=source)
    assert status == 200, (status, body[:300])
    token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
    cookie = headers["set-cookie"].split(";", 1)[0]
    return cookie, token


def address(client: int, n: int) -> str:
    """A loopback address of its own for request ``n`` of client ``client``: the rate limit never trips."""
    return f"127.{10 + client}.{(n // 250) % 250}.{n % 250 + 1}"


class FlowerRun:
    """Clients (threads) laying flowers with distinct keys until stopped; every answer is recorded.

    ``answers`` holds (key, status, retry_after, when) per attempt; status 0 is a dropped connection.
    """

    def __init__(self, port: int, martyr_id: int, clients: int = 6, per_client: int = 5000):
        import threading

        self.port, self.martyr_id = port, martyr_id
        self.answers: list[tuple[str, int, str | None, float]] = []
        self.visitors = [visit(port, martyr_id, address(c, 0)) for c in range(clients + 1)]
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(c, per_client), daemon=True)
                        for c in range(clients)]
        for thread in self.threads:
            thread.start()

    def lay(self, key: str, source: str, client: int = -1) -> tuple[int, str | None]:
        cookie, token = self.visitors[client]
        try:
            status, headers, _body = request(self.port, "POST", f"/tribute/martyr/{self.martyr_id}",
                                             {"kind": "flower", "key": key, "csrf_token": token}, source=source,
                                             cookie=cookie)
        except (OSError, http.client.HTTPException):
            # The connection broke (a worker killed while it answered: the response may be cut mid-way).
            return 0, None
        return status, headers.get("retry-after")

    def _client(self, client: int, limit: int) -> None:
        for n in range(limit):
            if self.stop_event.is_set():
                return
            key = f"fault-{client}-{n:05d}"
            status, retry = self.lay(key, address(client, n), client)
            self.answers.append((key, status, retry, time.monotonic()))
            if status != 303:
                time.sleep(0.05)  # a real client backs off a little before its next attempt

    def count(self, status: int, since: float = 0.0) -> int:
        return sum(1 for a in list(self.answers) if a[1] == status and a[3] >= since)

    def wait_for(self, status: int, n: int, since: float = 0.0, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while self.count(status, since) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {n} answers {status} in {limit} s: "
                                     f"{sorted({a[1] for a in self.answers})}")
            time.sleep(0.05)

    def finish(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(60)


def stored_flowers(database_url: str, martyr_id: int) -> tuple[dict[str, int], int]:
    """Rows per idempotency key of the martyr's flowers, and the running count the pages show."""
    from sqlalchemy import func, select

    from registry.db import Store
    from registry.models import Tribute, TributeCount

    store = Store(database_url)
    try:
        with store.session() as session:
            rows = dict(session.execute(select(Tribute.idempotency_key, func.count()).where(
                Tribute.target_type == "martyr", Tribute.target_id == martyr_id, Tribute.kind == "flower")
                .group_by(Tribute.idempotency_key)).all())
            shown = session.scalar(select(TributeCount.flowers).where(
                TributeCount.target_type == "martyr", TributeCount.target_id == martyr_id)) or 0
    finally:
        store.dispose()
    return rows, shown
