"""Flowers under faults, through gunicorn: PostgreSQL stopped and started, a worker killed; nothing answered is lost."""

from __future__ import annotations

import os
import signal
import time

import pytest

from registry.db import Store
from registry.migrate import upgrade
from tests.conftest import new_store_url
from tests.factories import demo_like
from tests.faults.servers import FlowerRun, PrivatePostgres, address, request, serve, stored_flowers

# How long the app may take to serve again once PostgreSQL is back. The promise is 10 s; the machine
# running the tests is shared and may be slow, so the bound is generous and the figure is printed.
RECOVERY_BOUND = 30.0


def seeded(url: str) -> int:
    store = Store(url)
    try:
        upgrade(store)
        return demo_like(store)["martyrs"][0]
    finally:
        store.dispose()


def retry_until_taken(run: FlowerRun, keys: list[str], limit: float = 60) -> dict[str, int]:
    """A client retrying each unanswered flower with its own key (from a new address) until it is taken."""
    final = {}
    deadline = time.monotonic() + limit
    for n, key in enumerate(keys):
        status = 0
        while status != 303 and time.monotonic() < deadline:
            status, _retry = run.lay(key, address(40, n))
            if status != 303:
                time.sleep(0.2)
        final[key] = status
    return final


def check_nothing_lost(run: FlowerRun, url: str, martyr: int, retried: dict[str, int]) -> None:
    rows, shown = stored_flowers(url, martyr)
    answered = {key for key, status, _r, _t in run.answers if status == 303} | {
        key for key, status in retried.items() if status == 303}
    sent = {key for key, *_rest in run.answers}
    assert answered - set(rows) == set(), "a flower answered 303 is missing"
    assert set(rows) <= sent, "a flower nobody sent is stored"
    assert max(rows.values(), default=1) == 1, "a retried key was stored twice"
    assert shown == len(rows), "the running count disagrees with the stored flowers"
    assert all(status == 303 for status in retried.values()), retried


def test_postgres_stopped_and_started_during_a_flower_run(tmp_path):
    pg = PrivatePostgres()
    server = None
    try:
        url = pg.create_database("registry_faults")
        martyr = seeded(url)
        server = serve(url, tmp_path)
        run = FlowerRun(server.port, martyr)
        try:
            run.wait_for(303, 30)
            pg.stop("fast")
            down = time.monotonic()
            run.wait_for(503, 10, since=down)
            issued = time.monotonic()
            pg.start()  # returns once PostgreSQL accepts connections
            back = time.monotonic()
            run.wait_for(303, 1, since=back, limit=RECOVERY_BOUND)
            recovered = min(t for _k, s, _r, t in run.answers if s == 303 and t >= back) - back
            run.wait_for(303, 30, since=back)
        finally:
            run.finish()
        print(f"\nPostgreSQL restart: first flower taken {recovered:.2f} s after the server accepted connections "
              f"({back - issued:.2f} s after pg_ctl start was issued); {run.count(503)} answers 503, "
              f"{run.count(303)} answers 303")
        statuses = {status for _k, status, _r, _t in run.answers}
        assert statuses <= {303, 503}, f"unexpected answers {statuses - {303, 503}} (no 500, no dropped connection)"
        assert all(retry for _k, status, retry, _t in run.answers if status == 503), "a 503 without Retry-After"
        # The page a visitor sees while the store is down says to come back, without a traceback.
        pg.stop("fast")
        status, headers, body = request(server.port, "GET", f"/martyrs/{martyr}")
        assert status == 503 and headers["retry-after"] and "Traceback" not in body and "服务暂不可用" in body
        pg.start()
        server.wait_ready("/martyrs", limit=RECOVERY_BOUND)
        refused = [key for key, status, _r, _t in run.answers if status != 303][:150]
        replayed = [key for key, status, _r, _t in run.answers if status == 303][:50]
        retried = retry_until_taken(run, refused + replayed)
        check_nothing_lost(run, url, martyr, retried)
        assert recovered <= RECOVERY_BOUND
    finally:
        if server is not None:
            server.stop()
        pg.destroy()


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_a_worker_killed_mid_request_loses_nothing_answered(kind, tmp_path, request):
    url = new_store_url(kind, tmp_path, request)
    martyr = seeded(url)
    server = serve(url, tmp_path)
    try:
        run = FlowerRun(server.port, martyr)
        try:
            run.wait_for(303, 30)
            for round_ in range(2):
                victim = server.workers()[0]
                os.kill(victim, signal.SIGKILL)
                killed = time.monotonic()
                # gunicorn replaces the worker; the run goes on through the others meanwhile.
                run.wait_for(303, 20 * (round_ + 1), since=killed)
        finally:
            run.finish()
        statuses = {status for _k, status, _r, _t in run.answers}
        # A request on the killed worker loses its connection (0) and is never answered 303; nothing else fails.
        assert statuses <= {0, 303, 503}, statuses
        lost = [key for key, status, _r, _t in run.answers if status != 303]
        print(f"\n{kind}: 2 workers killed; {run.count(303)} flowers answered 303, {run.count(0)} connections "
              f"cut, {run.count(503)} answered 503; {len(lost)} retried with their keys")
        retried = retry_until_taken(run, lost[:150])
        check_nothing_lost(run, url, martyr, retried)
        assert len(server.workers()) == 2
    finally:
        server.stop()
