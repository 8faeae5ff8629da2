"""Security headers on every response: the Content-Security-Policy with a fresh script nonce, framing, sniffing."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_app

PAGES = ["/", "/martyrs", "/login", "/ogc", "/ogc/collections/facilities/items?f=html", "/api/facilities",
         "/no/such/page", "/static/css/site.css", "/ogc/collections/nowhere"]


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize("path", PAGES)
def test_every_response_carries_the_headers(any_app, path):
    with any_app.test_client().get(path) as response:
        pass
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    csp = policy(response)
    assert csp["script-src"][0] == "'self'" and csp["script-src"][1].startswith("'nonce-")
    assert len(csp["script-src"]) == 2  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["connect-src"] == ["'self'"]
    assert csp["img-src"][:3] == ["'self'", "data:", "blob:"]


def test_the_nonce_is_new_for_each_response_and_on_every_inline_script(app):
    client = app.test_client()
    first, second = client.get("/"), client.get("/")
    nonces = [policy(r)["script-src"][1][len("'nonce-"):-1] for r in (first, second)]
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22
    html = first.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline, "the map page has its inline script"
    assert all(f'nonce="{nonces[0]}"' in attributes for attributes in inline)
    assert " on" not in " ".join(re.findall(r"<[a-z]+ [^>]*\bon[a-z]+=", html))


@pytest.mark.parametrize(("settings", "sources"), [
    ({"BASEMAP": "osm"}, ["https://tile.openstreetmap.org"]),
    ({"BASEMAP": "tianditu", "TIANDITU_KEY": "abc123"}, [f"https://t{i}.tianditu.gov.cn" for i in range(8)]),
    ({"BASEMAP": "xyz", "BASEMAP_URL": "http://tiles.intranet:8080/{z}/{x}/{y}.png"}, ["http://tiles.intranet:8080"]),
    ({"BASEMAP": "xyz", "BASEMAP_URL": "/tiles/base/{z}/{x}/{y}.png"}, []),
    ({"BASEMAP": "none"}, []),
])
def test_images_may_come_from_the_configured_base_map_only(gpkg_url, settings, sources):
    app = make_app(gpkg_url, **settings)
    try:
        csp = policy(app.test_client().get("/martyrs"))
    finally:
        app.extensions["registry_store"].dispose()
    assert csp["img-src"] == ["'self'", "data:", "blob:", *sources]
