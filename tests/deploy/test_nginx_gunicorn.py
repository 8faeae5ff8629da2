"""Through Debian's nginx (deploy/'s site) to a real gunicorn (deploy/gunicorn.conf.py) over a GeoPackage registry."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import time
import uuid

import pytest

from tests.conftest import make_app, throwaway_database
from tests.deploy.stack import Browser, Nginx, need_nginx
from tests.factories import demo_like
from tests.servers import Gunicorn

FIVE = 5  # the tribute bucket's size (TRIBUTE_RATE)


@pytest.fixture(scope="module", params=["geopackage", "postgis"])
def stack(request, tmp_path_factory):
    """nginx in front of gunicorn over a registry of each store kind, shared by the tests of this module."""
    need_nginx()
    tmp = tmp_path_factory.mktemp(f"stack-{request.param}")
    if request.param == "geopackage":
        path = tmp / "registry.gpkg"
        shutil.copy(request.getfixturevalue("gpkg_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = throwaway_database(request, request.getfixturevalue("postgis_template"))
    app = make_app(url)
    martyrs = demo_like(app.extensions["registry_store"])["martyrs"]
    app.extensions["registry_store"].dispose()
    server = Gunicorn(tmp, {"REGISTRY_DATABASE_URL": url, "REGISTRY_SECRET_KEY": "stack-test-secret",
                            "REGISTRY_TRUSTED_PROXIES": "1", "REGISTRY_RATE_BUCKET_PURGE_SECONDS": "0"})
    try:
        proxy = Nginx(tmp, f"127.0.0.1:{server.port}")
    except BaseException:
        server.stop()
        raise
    yield {"gunicorn": server, "nginx": proxy, "martyrs": martyrs}
    proxy.stop()
    server.stop()


def visitor(stack, source: str) -> Browser:
    return Browser(stack["nginx"].https_port, source)


def lay_flowers(browser: Browser, martyr: int, count: int, extra: dict | None = None) -> list[int]:
    """Statuses of ``count`` flower submissions, each with a new key, as the grave page's form sends them."""
    page = f"/martyrs/{martyr}"
    token = browser.csrf_token(page)
    statuses = []
    for _ in range(count):
        response, _body = browser.post_form(f"/tribute/martyr/{martyr}",
                                            {"kind": "flower", "key": uuid.uuid4().hex, "csrf_token": token},
                                            referer=f"https://localhost{page}", extra=extra)
        statuses.append(response.status)
    return statuses


def test_each_client_address_has_its_own_rate_bucket_and_a_forged_one_is_ignored(stack):
    martyr = stack["martyrs"][0]
    first, second = visitor(stack, "127.0.0.2"), visitor(stack, "127.0.0.3")
    statuses = lay_flowers(first, martyr, FIVE + 1)
    assert statuses[:FIVE] == [303] * FIVE and statuses[FIVE] == 429, statuses
    # Another address behind the same nginx is another visitor, with a full bucket of its own.
    assert lay_flowers(second, martyr, FIVE) == [303] * FIVE
    # The first visitor claims to be someone else: nginx appends its real address, and the app trusts one hop.
    assert lay_flowers(first, martyr, 1, extra={"X-Forwarded-For": "198.51.100.23"}) == [429]
    # ...nor can a third visitor spend the first one's bucket by claiming its address.
    third = visitor(stack, "127.0.0.4")
    assert lay_flowers(third, martyr, 1, extra={"X-Forwarded-For": "127.0.0.2"}) == [303]


def test_the_app_sees_https_from_the_forwarded_scheme(stack):
    browser = visitor(stack, "127.0.0.5")
    response, body = browser.get("/ogc?f=json")
    assert response.status == 200
    links = [link["href"] for link in json.loads(body)["links"]]
    assert links and all(href.startswith("https://localhost/") for href in links), links
    # Plain HTTP only points to HTTPS.
    plain = Browser(stack["nginx"].http_port, "127.0.0.5", tls=False)
    response, _body = plain.get("/martyrs")
    assert response.status == 301
    assert response.getheader("Location") == "https://localhost/martyrs"


def test_static_files_are_served_by_nginx_with_long_cache_lifetimes(stack):
    browser = visitor(stack, "127.0.0.6")
    response, body = browser.get("/static/vendor/leaflet/leaflet.js")
    assert response.status == 200 and b"Leaflet" in body[:2000]
    assert response.getheader("X-Served-By") == "nginx-static"
    assert response.getheader("Cache-Control") == "public, max-age=604800"
    response, _body = browser.get("/static/vendor/leaflet/leaflet.css?v=0123abcd")
    assert response.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    response, _body = browser.get("/static/vendor/.installed")
    assert response.status == 404
    # gunicorn never saw them; a page, by contrast, went through to it.
    assert not [line for line in stack["gunicorn"].access_lines() if "/static/" in line]
    response, _body = browser.get("/martyrs")
    assert response.status == 200 and response.getheader("X-Served-By") is None


def test_the_request_id_and_latency_are_in_gunicorn_access_log(stack):
    browser = visitor(stack, "127.0.0.7")
    response, _body = browser.get("/martyrs?q=none-such")
    rid = response.getheader("X-Request-Id")
    assert re.fullmatch(r"[0-9a-f]{32}", rid), rid  # nginx's $request_id, passed through the app
    for _ in range(50):  # the access log line is written just after the answer
        lines = [line for line in stack["gunicorn"].access_lines() if f"rid={rid}" in line]
        if lines:
            break
        time.sleep(0.1)
    assert len(lines) == 1, lines
    assert lines[0].startswith("127.0.0.7 ")
    assert re.search(r'"GET /martyrs\?q=none-such HTTP/1.1" 200 \d+ \d+ms rid=', lines[0]), lines[0]


def test_a_body_over_the_app_upload_limit_is_refused_by_nginx(stack):
    port = stack["nginx"].https_port
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as conn:
        conn.sendall(b"POST /facilities/1/report HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/octet-stream\r\nContent-Length: 300000000\r\n\r\n")
        head = conn.recv(4096).decode(errors="replace")
    assert head.startswith("HTTP/1.1 413"), head[:200]


def scrape_totals(stack) -> dict:
    scrape = Browser(stack["gunicorn"].metrics_port, "127.0.0.1", tls=False, host_header="127.0.0.1")
    response, body = scrape.get("/metrics")
    assert response.status == 200
    text = body.decode()

    def total(name, **labels):
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()))

    return {"grave": total("registry_http_requests_total", endpoint="public_pages.grave", status="200"),
            "latency": total("registry_http_request_duration_seconds_count", endpoint="public_pages.grave"),
            "flowers": total("registry_flowers_total", outcome="accepted"),
            "pool": "registry_db_pool_connections{" in text}


def test_a_scrape_of_gunicorns_metrics_listener_counts_every_worker(stack):
    martyr = stack["martyrs"][1]
    before = scrape_totals(stack)
    browser = visitor(stack, "127.0.0.8")
    for _ in range(6):
        response, _body = browser.get(f"/martyrs/{martyr}")
        assert response.status == 200
    assert lay_flowers(browser, martyr, 2) == [303, 303]  # the form's page is one more grave page
    after = scrape_totals(stack)
    # Two workers answered these; the listener in gunicorn's master adds up both.
    assert after["grave"] - before["grave"] == 7
    assert after["latency"] - before["latency"] == 7
    assert after["flowers"] - before["flowers"] == 2
    assert after["pool"]


def booted(server: Gunicorn) -> int:
    return server.log.read_text(errors="replace").count("Booting worker with pid")


def test_a_graceful_reload_answers_every_request(stack):
    server = stack["gunicorn"]
    browser = visitor(stack, "127.0.0.9")
    workers_before = booted(server)
    os.kill(server.proc.pid, signal.SIGHUP)  # what `systemctl reload registry` sends
    statuses = []
    deadline = time.monotonic() + 90
    # Requests keep coming while the old workers finish and new ones start (bounded in count and time).
    while time.monotonic() < deadline and len(statuses) < 400:
        response, _body = browser.get("/martyrs")
        statuses.append(response.status)
        if booted(server) >= workers_before + 2 and len(statuses) >= 10:
            break
    assert booted(server) >= workers_before + 2, server.log.read_text()[-2000:]
    assert set(statuses) == {200}, statuses
