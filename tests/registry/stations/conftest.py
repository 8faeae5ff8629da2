"""Fixtures of the service stations' tests: the demo registry on each store kind, loaded once for the package."""

from __future__ import annotations

import pytest

from registry.services.demo import load_demo
from tests.conftest import STORE_KINDS, make_app, new_store_url
from tests.factories import people


@pytest.fixture(scope="package", params=STORE_KINDS)
def demo(request, tmp_path_factory):
    """(app, store, people) over the demo registry, once per store kind; tests edit only stations of their own."""
    folder = tmp_path_factory.mktemp("stations")
    app = make_app(new_store_url(request.param, folder, request))
    store = app.extensions["registry_store"]
    load_demo(store)
    yield app, store, people(store)
    store.dispose()


@pytest.fixture
def signed_in(demo):
    """A test client signed in as one of ``people`` (password ``<name>-password``)."""
    app = demo[0]

    def client(name: str):
        c = app.test_client()
        assert c.post("/login", data={"username": name, "password": f"{name}-password"}).status_code == 302
        return c

    return client
