"""Fixtures of the corrections' tests: a demo-like registry with the county's staff, on each store kind."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from registry.models import User
from tests.conftest import app_over
from tests.factories import demo_like

# name -> (roles, counties); the demo-like facilities are in 新罗区 (350802).
STAFF = {
    "mgr_a": (["manager"], ["350802"]), "mgr_b": (["manager"], ["350823"]),
    "rev_a": (["reviewer"], ["350802"]), "rev_b": (["reviewer"], ["350823"]), "rev_city": (["reviewer"], []),
}


@pytest.fixture
def world(store_url, tmp_path):
    """(app, store, ids) over a demo-like registry with STAFF, each signing in with ``<name>-password``."""
    for app in app_over(store_url, tmp_path):
        store = app.extensions["registry_store"]
        ids = demo_like(store)
        with store.write_session() as s:
            for name, (roles, counties) in STAFF.items():
                s.add(User(username=name, display_name=name, roles=roles, counties=counties,
                           password_hash=generate_password_hash(f"{name}-password", method="pbkdf2:sha256:1000")))
            s.commit()
        yield app, store, ids
