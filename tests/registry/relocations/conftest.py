"""Fixtures of the relocations area's tests."""

from __future__ import annotations

import pytest

from tests.factories import make_destinations


@pytest.fixture
def dests(any_store):
    """The destination facilities of the test ledgers, by code (their ids)."""
    return make_destinations(any_store)
