"""Requests generated from our own OpenAPI document (schemathesis), on both stores: no input makes a 500."""

from __future__ import annotations

import os

import pytest

from tests.conftest import make_app
from tests.factories import seed_ogc

schemathesis = pytest.importorskip("schemathesis")


# The same examples on every run, so that the suite passes or fails on the code alone; set REGISTRY_FUZZ=1
# to draw new examples (and more of them) when looking for bugs. A bug found that way gets its own test.
EXPLORE = bool(os.environ.get("REGISTRY_FUZZ"))


def test_no_server_errors(store_url):
    # schemathesis' own pytest plugin fails under pytest 9 here, so each operation's strategy is driven directly.
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    app = make_app(store_url)
    try:
        seed_ogc(app.extensions["registry_store"])
        schema = schemathesis.openapi.from_wsgi("/ogc/api", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 10
        statuses = set()
        for operation in operations:
            @given(case=operation.as_strategy())
            @settings(max_examples=200 if EXPLORE else 25, derandomize=not EXPLORE, deadline=None,
                      suppress_health_check=list(HealthCheck), database=None)
            def run(case):
                statuses.add(case.call_and_validate(checks=[not_a_server_error]).status_code)

            run()
        # Both answers and refusals were exercised, and nothing was a server error.
        assert {200, 400} <= statuses and not any(s >= 500 for s in statuses)
    finally:
        app.extensions["registry_store"].dispose()
