"""Markup stored in free-text fields reaches every page escaped, on both stores (the browser test runs on one)."""

from __future__ import annotations

import pytest
from markupsafe import escape

from tests.factories import public_pages, seed_markup, staff_pages

# The opening of every stored payload, as it would appear if a page wrote it as markup.
RAW = ('<img src=x onerror="window.__pwned=1', "<img src=x onerror=alert(1)>", "<script>window.__pwned=2")


@pytest.fixture
def marked_app(any_app, tmp_path):
    ids = seed_markup(any_app.extensions["registry_store"], tmp_path)
    return any_app, ids


def _check(client, path: str, texts: list[str]) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    page = response.get_data(as_text=True)
    leaked = [raw for raw in RAW if raw in page]
    assert leaked == [], (path, leaked)
    for text in texts:
        assert str(escape(text)) in page, (path, text)  # shown, as Jinja escapes it


def test_public_pages_escape_stored_markup(marked_app):
    app, ids = marked_app
    client = app.test_client()
    for path, texts in [("/", []), *public_pages(ids)]:
        _check(client, path, texts)


def test_staff_pages_escape_stored_markup(marked_app):
    app, ids = marked_app
    client = app.test_client()
    assert client.post("/login", data={"username": "admin1", "password": "admin1-password"}).status_code == 302
    for path, texts in staff_pages(ids):
        _check(client, path, texts)
