"""Measure what the demo manager's phone keeps for offline use: pages.json time, how many pages, how many bytes."""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry import create_app  # noqa: E402 - after the path is set
from registry.db import Store  # noqa: E402
from registry.migrate import upgrade  # noqa: E402
from registry.services.base import Actor  # noqa: E402
from registry.services.demo import load_demo  # noqa: E402
from registry.services.divisions import load_demo_divisions  # noqa: E402
from registry.services.users import create_demo_users  # noqa: E402


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="offline-measure-"))
    url = f"sqlite:///{folder / 'registry.gpkg'}"
    try:
        store = Store(url)
        upgrade(store)
        load_demo_divisions(store, audit=False)
        load_demo(store)
        create_demo_users(store, Actor.system("measure"))
        store.dispose()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "measure", "TESTING": True, "WTF_CSRF_ENABLED": False})
        client = app.test_client()
        client.post("/login", data={"username": "manager", "password": "demo-manager-pass"})
        times = []
        for _ in range(5):
            start = time.perf_counter()
            listing = client.get("/manage/offline/pages.json").get_json()
            times.append(time.perf_counter() - start)
        total = 0
        for page in listing["urls"]:
            response = client.get(page)
            total += len(response.get_data())
            response.close()
        forms = sum(1 for page in listing["urls"] if page.endswith("/inspect"))
        print(f"pages.json median {statistics.median(times) * 1000:.0f} ms; {len(listing['urls'])} URLs "
              f"({forms} inspection forms); {total / 1024:.0f} KiB uncompressed in all")
        app.extensions["registry_store"].dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
