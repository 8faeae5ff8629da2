"""Fixtures of the public area's tests."""

from __future__ import annotations

import pytest

from tests.factories import demo_like


@pytest.fixture
def seeded(any_app):
    """A demo-like registry on each store kind: (app, store, the records' ids)."""
    store = any_app.extensions["registry_store"]
    return any_app, store, demo_like(store)
