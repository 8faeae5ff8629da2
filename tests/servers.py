"""The one way tests start a server: the app in a thread (browser and client tests), or gunicorn as deployed."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app, name: str = "live-server"):
    """Serve ``app`` on 127.0.0.1 at a free port in a thread; yields the base URL, and closes the store after."""
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["registry_store"].dispose()


def wait_for(check, what: str, seconds: float = 60.0, proc: subprocess.Popen | None = None, log: Path | None = None):
    """Poll ``check()`` until it is true; fail naming ``what`` (with the log's tail) if it exits or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}: {log.read_text()[-3000:] if log else ''}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not ready after {seconds:.0f} s: {log.read_text()[-3000:] if log else ''}")


def http_status(host: str, port: int, path: str) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


class Gunicorn:
    """gunicorn as `make serve` starts it (deploy/gunicorn.conf.py) on a free loopback port; its output in a file.

    ``env`` adds to the process environment (the store's URL, the secret...). It runs in a session of its own,
    so stopping it stops its workers too.
    """

    def __init__(self, tmp: Path, env: dict, name: str = "gunicorn", workers: int = 2, threads: int = 2,
                 ready_path: str = "/readyz"):
        self.port = free_port()
        self.metrics_port = free_port()
        self.log = tmp / f"{name}-{self.port}.log"
        full_env = {**os.environ, "REGISTRY_BIND": f"{LOOPBACK}:{self.port}", "REGISTRY_WORKERS": str(workers),
                    "REGISTRY_THREADS": str(threads), "REGISTRY_METRICS_BIND": f"{LOOPBACK}:{self.metrics_port}",
                    "PROMETHEUS_MULTIPROC_DIR": str(tmp / f"{name}-{self.port}-metrics"), **env}
        self._out = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
                                      "registry:create_app()"], cwd=ROOT, env=full_env, stdout=self._out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_ready(ready_path)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, path: str = "/readyz", limit: float = 60) -> None:
        """Wait until ``path`` answers 200."""
        wait_for(lambda: http_status(LOOPBACK, self.port, path) == 200, "gunicorn", seconds=limit, proc=self.proc,
                 log=self.log)

    def access_lines(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if '"GET ' in line
                or '"POST ' in line]

    def workers(self) -> list[int]:
        """The worker processes' ids (children of the gunicorn master)."""
        done = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in done.stdout.split()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._out.close()
