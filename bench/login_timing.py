"""Failed sign-ins: an unknown name against a known name with a wrong password (python -m bench.login_timing)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from registry import create_app
from registry.db import Store
from registry.migrate import upgrade
from registry.services import Actor
from registry.services.users import create_user

ROUNDS = 30
# Throttling would answer 429 long before the rounds end; it is measured apart, so it is set out of reach here.
NO_THROTTLE = {"LOGIN_FREE_ATTEMPTS": 10**6, "LOGIN_LOCK_AFTER": 10**6, "LOGIN_ADDRESS_FREE_ATTEMPTS": 10**6,
               "LOGIN_ADDRESS_LOCK_AFTER": 10**6}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'registry.gpkg'}"
        store = Store(url)
        upgrade(store)
        store.dispose()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "b" * 32, "WTF_CSRF_ENABLED": False, **NO_THROTTLE})
        create_user(app.extensions["registry_store"], Actor.system("bench"), "planner1", "planner-password",
                    ["planner"])
        client = app.test_client()
        cases = {"known name, wrong password": "planner1", "unknown name": "nobody-here"}
        times: dict[str, list[float]] = {label: [] for label in cases}
        for i in range(ROUNDS):
            for label, name in cases.items():
                started = time.perf_counter()
                response = client.post("/login", data={"username": name, "password": f"wrong-{i}"})
                times[label].append(time.perf_counter() - started)
                assert response.status_code == 400, response.status_code
        app.extensions["registry_store"].dispose()
    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, median in medians.items():
        print(f"{label:28s} median {median * 1000:7.1f} ms  (n={ROUNDS})")
    print(f"unknown / known: {medians['unknown name'] / medians['known name, wrong password']:.2f} "
          "(1.00 = the same work either way)")


if __name__ == "__main__":
    main()
