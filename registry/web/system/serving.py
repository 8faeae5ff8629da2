"""Serving in production: proxy headers, request ids, the read engine, Prometheus metrics and bucket purges."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from werkzeug.middleware.proxy_fix import ProxyFix

from registry.config import ConfigError
from registry.db import Store
from registry.web.system.auth import role_required

bp = Blueprint("serving", __name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Labelled by the route's endpoint (never the raw path), so unknown URLs cannot grow the series without bound.
REQUESTS = Counter("registry_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram("registry_http_request_duration_seconds", "Time to answer a request (until the body starts)",
                    ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
FLOWERS = Counter("registry_flowers_total", "Flower submissions answered, by outcome", ["outcome"])
IMPORTS = Counter("registry_imports_total", "Import commits answered (GIS files, relocation ledgers)",
                  ["kind", "outcome"])
# livesum: under gunicorn each worker writes its own value; a scrape adds up those of living workers.
POOL = Gauge("registry_db_pool_connections", "Database connections of this server, by engine and state",
             ["engine", "state"], multiprocess_mode="livesum")

IMPORT_ENDPOINTS = {"gis_import.commit": "gis", "relocations.import_commit": "ledger"}


def init_app(app: Flask) -> None:
    """Wrap the app for its proxies and bind the read engine and the per-request hooks."""
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        # Only the last ``hops`` entries of X-Forwarded-* were written by our own proxies; anything a
        # client sent before them is ignored, so a forged header cannot pick another rate bucket.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _bind_read_store(app)
    raw = app.config.get("RATE_BUCKET_PURGE_SECONDS")
    try:
        app.config["RATE_BUCKET_PURGE_SECONDS"] = float(raw if raw not in (None, "") else 0)
    except (TypeError, ValueError):
        app.config["RATE_BUCKET_PURGE_SECONDS"] = -1.0
    if app.config["RATE_BUCKET_PURGE_SECONDS"] < 0:
        raise ConfigError(f"REGISTRY_RATE_BUCKET_PURGE_SECONDS={raw!r} must be a number of seconds (0 turns the "
                          "purge off)")
    app.extensions["registry_purge"] = {"last": time.monotonic(), "lock": threading.Lock()}
    app.before_request(_start)
    app.after_request(_finish)
    app.register_blueprint(bp)


def _bind_read_store(app: Flask) -> None:
    url = app.config.get("READ_DATABASE_URL")
    if not url:
        return
    primary = app.extensions["registry_store"]
    read = Store(url, read_only=True)
    if primary.kind != "postgis" or read.kind != "postgis":
        raise ConfigError("REGISTRY_READ_DATABASE_URL names a read replica of a PostgreSQL primary; with a "
                          "GeoPackage store leave it empty (one file serves reads and writes).")
    app.extensions["registry_read_store"] = read


def _start() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id") or uuid.uuid4().hex
    endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
    status = response.status_code
    REQUESTS.labels(endpoint, request.method, str(status)).inc()
    if "started" in g:
        LATENCY.labels(endpoint).observe(time.perf_counter() - g.started)
    if endpoint == "public_pages.tribute" and _form_kind() == "flower":
        FLOWERS.labels("accepted" if status < 400 else "refused").inc()
    if endpoint in IMPORT_ENDPOINTS:
        IMPORTS.labels(IMPORT_ENDPOINTS[endpoint], "answered" if status < 400 else "refused").inc()
    _pool_gauges(current_app)
    _maybe_purge(current_app, response)
    return response


def _form_kind() -> str | None:
    try:
        return request.form.get("kind")
    except Exception:  # noqa: BLE001 - a body refused as too large or malformed: not a flower to count
        return None


def _pool_gauges(app: Flask) -> None:
    for name, key in (("primary", "registry_store"), ("read", "registry_read_store")):
        store = app.extensions.get(key)
        pool = getattr(getattr(store, "engine", None), "pool", None)
        if pool is None or not hasattr(pool, "checkedout"):
            continue
        POOL.labels(name, "checked_out").set(pool.checkedout())
        POOL.labels(name, "idle").set(pool.checkedin())


def _maybe_purge(app: Flask, response: Response) -> None:
    """Now and then (once per REGISTRY_RATE_BUCKET_PURGE_SECONDS per process), after the answer is sent."""
    interval = app.config["RATE_BUCKET_PURGE_SECONDS"]
    state = app.extensions["registry_purge"]
    if interval <= 0 or time.monotonic() - state["last"] < interval or not state["lock"].acquire(blocking=False):
        return
    state["last"] = time.monotonic()
    state["lock"].release()
    store, logger = app.extensions["registry_store"], app.logger

    def purge():
        from registry.services.rate_buckets import purge_refilled

        try:
            purge_refilled(store)
        except Exception:  # noqa: BLE001 - a chore that fails is retried next time; the visitor was answered
            logger.warning("purging refilled rate buckets failed", exc_info=True)

    response.call_on_close(purge)


def metrics_registry():
    """Under gunicorn every worker writes its metrics to PROMETHEUS_MULTIPROC_DIR; a scrape reads them all."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@bp.get("/metrics")
@role_required("admin")
def metrics():
    """Prometheus text format, for admins; a scraper uses the separate REGISTRY_METRICS_BIND listener."""
    return Response(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
