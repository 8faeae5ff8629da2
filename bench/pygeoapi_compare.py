"""The items-by-bbox comparison with pygeoapi: both servers over real HTTP, on the same PostGIS table.

pygeoapi 0.24 needs Python 3.12 and pins its own Flask, SQLAlchemy and psycopg2, so it lives in a
venv of its own (``.bench-venv/pygeoapi``, made on first use, ignored by git). Both applications are
served the same way, each in its own process by werkzeug's single-threaded WSGI server, and one
client asks them the same boxes one request at a time; the figure is requests per second.
When pygeoapi cannot be installed or started, ``PygeoapiUnavailable`` says why and the bench prints
that instead of a number.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".bench-venv" / "pygeoapi"
# pygeoapi's PostgreSQL provider needs psycopg2 and GeoAlchemy2, which it does not declare.
REQUIREMENTS = ("pygeoapi==0.24.0", "psycopg2-binary", "geoalchemy2")
STAMP = VENV / ".installed"

# One script serves either application: werkzeug's WSGI server, one thread, no reloader, no log lines.
SERVE = """
import logging, sys
from werkzeug.serving import make_server
logging.getLogger("werkzeug").setLevel(logging.ERROR)
which, port = sys.argv[1], int(sys.argv[2])
if which == "pygeoapi":
    from pygeoapi.flask_app import APP as app
else:
    from registry import create_app
    app = create_app({"DATABASE_URL": sys.argv[3], "SECRET_KEY": "bench"})
make_server("127.0.0.1", port, app, threaded=False).serve_forever()
"""


class PygeoapiUnavailable(RuntimeError):
    """pygeoapi could not be installed or started here; the message says why."""


def _python_312() -> str:
    """A Python of at least 3.12 to build the venv with (pygeoapi 0.24 requires it)."""
    if sys.version_info >= (3, 12):
        return sys.executable
    for name in ("python3.12", "python3.13"):
        found = shutil.which(name)
        if found and subprocess.run([found, "-c", "import venv"], capture_output=True).returncode == 0:
            return found
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for folder in sorted(pyenv_root.glob("3.1[2-9]*"), reverse=True):
        candidate = folder / "bin" / "python3"
        if candidate.exists():
            return str(candidate)
    raise PygeoapiUnavailable("pygeoapi 0.24 needs Python >= 3.12 and none was found (python3.12, pyenv)")


def ensure_venv() -> Path:
    """The venv's python, installing pygeoapi into it the first time."""
    python = VENV / "bin" / "python"
    if STAMP.exists() and STAMP.read_text() == "\n".join(REQUIREMENTS) and python.exists():
        return python
    base = _python_312()
    print(f"installing {', '.join(REQUIREMENTS)} into {VENV.relative_to(ROOT)} (once)", file=sys.stderr,
          flush=True)
    steps = ([base, "-m", "venv", "--clear", str(VENV)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PygeoapiUnavailable(f"{' '.join(step[:3])}… failed: {tail[0]}")
    STAMP.write_text("\n".join(REQUIREMENTS))
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(folder: Path, database_url: str, port: int, extent) -> Path:
    """pygeoapi's configuration: one collection, tombs, read by its PostgreSQL provider."""
    url = make_url(database_url)
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 100, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "none"},
            "pretty_print": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                               "url": "http://127.0.0.1", "terms_of_service": "none"},
            "license": {"name": "none", "url": "http://127.0.0.1"},
            "provider": {"name": "bench"},
            # pygeoapi reads these keys although its schema calls them optional.
            "contact": {"name": "bench", "position": "bench", "address": "bench", "city": "bench",
                        "stateorprovince": "bench", "postalCode": "0", "country": "CN", "phone": "0", "fax": "0",
                        "email": "bench@example.org", "url": "http://127.0.0.1", "instructions": "none",
                        "hours": "none", "role": "pointOfContact"},
        },
        "resources": {
            "tombs": {
                "type": "collection",
                "title": "tombs",
                "description": "tombs",
                "keywords": ["tombs"],
                "extents": {"spatial": {"bbox": list(extent),
                                        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [{
                    "type": "feature",
                    "name": "PostgreSQL",
                    "data": {"host": url.host or "127.0.0.1", "port": url.port or 5432, "dbname": url.database,
                             "user": url.username or "postgres", "password": url.password or "",
                             "search_path": ["public"]},
                    "id_field": "id",
                    "table": "tombs",
                    "geom_field": "geom",
                }],
            },
        },
    }
    # JSON is YAML, so no YAML writer is needed on this side.
    path = folder / "pygeoapi.yml"
    path.write_text(json.dumps(config, indent=1))
    return path


@contextmanager
def serve(python, which: str, port: int, env: dict, *extra: str):
    """Run one application under werkzeug in a child process; wait until it answers; stop it afterwards."""
    process = subprocess.Popen([str(python), "-c", SERVE, which, str(port), *extra], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                lines = (process.stderr.read() or "").strip().splitlines()
                raise PygeoapiUnavailable(f"{which} exited at start: {lines[-1] if lines else 'no output'}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise PygeoapiUnavailable(f"{which} did not listen on port {port} within 90 s") from None
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(port: int, path: str) -> tuple[int, bytes]:
    """One GET over a fresh connection (the same client code for both servers)."""
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        con.request("GET", path, headers={"Accept": "application/geo+json"})
        response = con.getresponse()
        return response.status, response.read()
    finally:
        con.close()


def timed_requests(port: int, prefix: str, boxes, limit: int = 1000) -> tuple[float, int]:
    """Sequential items-by-bbox requests over ``boxes``: (seconds in all, features returned in all)."""
    paths = [f"{prefix}/collections/tombs/items?f=json&limit={limit}&bbox={','.join(f'{v:.6f}' for v in box)}"
             for box in boxes]
    status, body = get(port, paths[0])  # warm-up: connections, caches, lazy imports
    if status != 200:
        raise PygeoapiUnavailable(f"{prefix or '/'} answered {status}: {body[:200]!r}")
    returned = 0
    started = time.perf_counter()
    for path in paths:
        status, body = get(port, path)
        if status != 200:
            raise PygeoapiUnavailable(f"{path} answered {status}: {body[:200]!r}")
        returned += len(json.loads(body)["features"])
    return time.perf_counter() - started, returned


def compare(database_url: str, boxes, extent) -> tuple[float, float, int, int]:
    """(ours requests/s, pygeoapi requests/s, features ours, features pygeoapi) for the same boxes."""
    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="registry-pygeoapi-") as folder:
        folder = Path(folder)
        port = free_port()
        config = write_config(folder, database_url, port, extent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "FLASK"))}
        env.update(PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(folder / "openapi.yml"))
        # The registry turns PostgreSQL's JIT off on its own connections; give pygeoapi's the same
        # setting (libpq reads PGOPTIONS), so the comparison is of the two servers, not of JIT.
        env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c jit=off").strip()
        generate = subprocess.run([str(VENV / "bin" / "pygeoapi"), "openapi", "generate", str(config),
                                   "--output-file", str(folder / "openapi.yml")], env=env, capture_output=True,
                                  text=True)
        if generate.returncode != 0:
            tail = (generate.stderr or generate.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PygeoapiUnavailable(f"pygeoapi openapi generate failed: {tail[0]}")
        ours_env = {**os.environ, "PYTHONPATH": str(ROOT)}
        ours_port = free_port()
        # Interleave halves so that a slow patch of the machine does not land on one server only.
        half = len(boxes) // 2
        seconds = {"ours": 0.0, "pygeoapi": 0.0}
        counts = {"ours": 0, "pygeoapi": 0}
        with serve(python, "pygeoapi", port, env), \
                serve(sys.executable, "registry", ours_port, ours_env, database_url):
            for chunk in (boxes[:half], boxes[half:]):
                for name, where, prefix in (("pygeoapi", port, ""), ("ours", ours_port, "/ogc")):
                    spent, returned = timed_requests(where, prefix, chunk)
                    seconds[name] += spent
                    counts[name] += returned
    return len(boxes) / seconds["ours"], len(boxes) / seconds["pygeoapi"], counts["ours"], counts["pygeoapi"]
