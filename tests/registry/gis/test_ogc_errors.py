"""Unmatched URLs and wrong methods under /ogc and /tiles answer the OGC exception JSON, like the rest of /ogc."""

from __future__ import annotations

import pytest


def _exception(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["code"] == code
    assert body["description"]
    return body


@pytest.mark.parametrize("path", [
    "/ogc/whatever",
    "/ogc/collections/tombs/nothing-here",
    "/ogc/collections/facilities/items/1/extra",
    "/tiles/x",
    "/tiles/facilities/1/2/3.png",
])
def test_unmatched_url_is_an_ogc_404(client, path):
    body = _exception(client.get(path), 404, "NotFound")
    assert path in body["description"]


def test_unknown_collection_items_is_an_ogc_404(client):
    body = _exception(client.get("/ogc/collections/nope/items"), 404, "NotFound")
    assert "nope" in body["description"]


@pytest.mark.parametrize("method, path", [
    ("post", "/ogc/collections"),
    ("put", "/ogc/collections/facilities/items"),
    ("delete", "/ogc/collections/facilities/items/1"),
    ("post", "/ogc"),
    ("delete", "/tiles/facilities/12/3370/1800.mvt"),
    ("post", "/tiles/facilities/tilejson.json"),
])
def test_wrong_method_is_an_ogc_405(client, method, path):
    response = getattr(client, method)(path)
    body = _exception(response, 405, "MethodNotAllowed")
    assert method.upper() in body["description"] and path in body["description"]
    assert "GET" in response.headers["Allow"]


def test_a_browser_gets_the_same_format_as_the_rest_of_ogc(client):
    # The OGC blueprint answers its own errors in JSON whatever the Accept header; unmatched URLs agree.
    html = {"Accept": "text/html,application/xhtml+xml;q=0.9"}
    matched = client.get("/ogc/collections/nope", headers=html)
    unmatched = client.get("/ogc/nope", headers=html)
    assert matched.mimetype == unmatched.mimetype == "application/problem+json"
    _exception(unmatched, 404, "NotFound")


def test_other_paths_keep_the_site_error_page(client):
    for path in ("/ogcx/whatever", "/tilesets", "/no-such-page"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404 and response.mimetype == "text/html", path
        assert response.get_data(as_text=True).lstrip().startswith("<!doctype html>")
