"""The Qingming peak: `make serve` on PostGIS with the demo and 2,000,000 martyrs, driven from many addresses.

Every rate is a ratio to the same server's rate for a static vendor file in the same run (measured at the
start and at the end, averaged), so a busy machine slows both alike. Prints rate, p50/p95/p99, 5xx and
lost writes for flowers, grave pages, roll searches and the home page, then a soak that reports how much
the workers' resident memory grew.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from bench.harness import Row, Table
from bench.loadgen import FlowerLedger, Result, flower_visit, get_visit, run_phase
from bench.public import load_martyrs
from bench.stores import fresh_store, postgis_available
from registry.services.demo import load_demo

ROOT = Path(__file__).resolve().parent.parent
STATIC = "/static/vendor/leaflet/leaflet.css"
THREADS = 24
SEARCHES = ["张", "陈明", "明华", "lin", "zmh", "chenhua", "王国华", "华", "liu", "黄德"]
# (phase, ratio target to the static file)
TARGETS = {"flowers": 0.6, "grave page": 0.5, "home page": 0.5, "roll search": 0.3}
P99_TARGET_MS = 500.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stored_flowers(store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        counted = conn.execute(text("SELECT coalesce(sum(flowers), 0) FROM tribute_counts")).scalar()
        rows = conn.execute(text("SELECT count(*) FROM tributes WHERE kind = 'flower'")).scalar()
    return int(counted), int(rows)


def _grave_ids(store, limit: int = 400) -> list[int]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT DISTINCT martyr_id FROM tombs WHERE martyr_id IS NOT NULL AND status = 'active' "
            "ORDER BY martyr_id LIMIT :n"), {"n": limit})]


class Server:
    """gunicorn as `make serve` starts it, on a free loopback port, its log in a file."""

    def __init__(self, url: str, folder: Path):
        self.port = _free_port()
        self.log = open(folder / "gunicorn.log", "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, REGISTRY_DATABASE_URL=url, REGISTRY_BIND=f"127.0.0.1:{self.port}",
                   REGISTRY_SECRET_KEY=f"bench-{uuid.uuid4().hex}", PYTHONUNBUFFERED="1")
        # Worker recycling would hide a leak from the soak: it is switched off for this run only.
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py", "--max-requests", "0",
             "registry:create_app()"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, seconds: float = 90) -> None:
        import http.client

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                con.request("GET", STATIC)
                if con.getresponse().status == 200:
                    con.close()
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"gunicorn did not answer within {seconds:.0f} s; see {self.log.name}")

    def workers(self) -> list[int]:
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
        return sorted(found)

    def worker_rss_kib(self) -> dict[int, int]:
        sizes = {}
        for pid in self.workers():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[pid] = int(line.split()[1])
            except FileNotFoundError:
                continue
        return sizes

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


def _line(result: Result, static_rate: float, target: float | None, lost: int | None = None) -> str:
    ratio = result.rate / static_rate if static_rate else float("nan")
    verdict = ""
    if target is not None:
        ok = (ratio >= target and result.percentile(0.99) <= P99_TARGET_MS and result.errors == 0
              and not lost)
        verdict = "ok" if ok else "MISSED"
    others = {str(k): v for k, v in result.statuses.items() if k not in (200, 303)}
    return (f"  {result.name:<14} {result.count:>7} {result.rate:>8.1f} {ratio:>6.2f} "
            f"{f'>= {target:.1f}' if target else '':>7} {result.percentile(0.5):>7.1f} "
            f"{result.percentile(0.95):>7.1f} {result.percentile(0.99):>7.1f} {result.errors:>4} "
            f"{'' if lost is None else lost:>5}  {verdict:<6} {others or ''}")


def run(table: Table, quick: bool, soak: float | None = None, martyrs: int | None = None,
        seconds: float | None = None) -> None:
    """Load the store, start gunicorn, drive each kind of request, then soak; print the figures."""
    if not postgis_available():
        print("qingming: PostGIS is not reachable (REGISTRY_BENCH_POSTGRES_URL); skipped", file=sys.stderr)
        return
    martyrs = martyrs if martyrs is not None else (200_000 if quick else 2_000_000)
    seconds = seconds if seconds is not None else (10.0 if quick else 30.0)
    soak = soak if soak is not None else (30.0 if quick else 600.0)
    with fresh_store("postgis") as store, tempfile.TemporaryDirectory(prefix="registry-qingming-") as folder:
        started = time.perf_counter()
        load_demo(store)
        grams_s = load_martyrs(store, martyrs, seed=17)
        load_s = time.perf_counter() - started
        graves = _grave_ids(store)
        print(f"qingming: demo + {martyrs:,} martyrs loaded in {load_s:.0f} s (name index {grams_s:.0f} s); "
              f"{len(graves)} graves to visit", flush=True)
        url = store.url if isinstance(store.url, str) else store.url.render_as_string(hide_password=False)
        server = Server(url, Path(folder))
        try:
            server.wait()
            _drive(server, store, graves, table, seconds, soak, martyrs)
        finally:
            server.stop()


def _drive(server: Server, store, graves: list[int], table: Table, seconds: float, soak: float,
           martyrs: int) -> None:
    host, port = "127.0.0.1", server.port
    grave = lambda n: f"/martyrs/{graves[n % len(graves)]}"  # noqa: E731
    visitors = 0

    def phase(name, visit, per_visitor, threads=THREADS, length=seconds):
        nonlocal visitors
        bound = int(length * 2000 / per_visitor) + 1  # far above what 2 cores serve: time ends the phase
        result = run_phase(name, host, port, visit, threads=threads, seconds=length, max_visitors=bound,
                           first_visitor=visitors)
        visitors += result.visitors + 1
        return result

    # Warm every worker's caches (templates, map shells, connection pool) as a running server has them.
    phase("warm-up", get_visit(lambda n: ["/", grave(n), "/martyrs?q=张", STATIC]), 4, length=3)
    static_1 = phase("static file", get_visit(lambda n: [STATIC] * 5), 5)
    ledger = FlowerLedger()
    before = _stored_flowers(store)
    flowers = phase("flowers", flower_visit(ledger, grave, lambda n: f"/tribute/martyr/{graves[n % len(graves)]}"),
                    4)
    after = _stored_flowers(store)
    rise, rows_rise = after[0] - before[0], after[1] - before[1]
    lost = ledger.lost(rise)
    graves_r = phase("grave page", get_visit(lambda n: [grave(n + i) for i in range(3)]), 3)
    search = phase("roll search", get_visit(lambda n: [f"/martyrs?q={SEARCHES[(n + i) % len(SEARCHES)]}"
                                                       for i in range(3)]), 3)
    home = phase("home page", get_visit(lambda n: ["/"] * 3), 3)
    static_2 = phase("static file", get_visit(lambda n: [STATIC] * 5), 5)
    static_rate = (static_1.rate + static_2.rate) / 2

    print(f"\nqingming: gunicorn (deploy/gunicorn.conf.py, {len(server.workers())} workers), PostGIS, "
          f"demo + {martyrs:,} martyrs; {THREADS} client threads, each visitor from its own 127.x.y.z address; "
          f"{seconds:.0f} s a phase")
    print(f"  {'request':<14} {'count':>7} {'rate/s':>8} {'ratio':>6} {'target':>7} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'5xx':>4} {'lost':>5}  verdict")
    print(_line(static_1, static_rate, None) + " (start)")
    print(_line(static_2, static_rate, None) + " (end)")
    print(_line(flowers, static_rate, TARGETS["flowers"], lost))
    for result in (graves_r, search, home):
        print(_line(result, static_rate, TARGETS[result.name]))
    print(f"  flowers: {len(ledger.accepted):,} accepted (303), {ledger.retried:,} double taps resent, stored count "
          f"rose {rise:,}, flower rows rose {rows_rise:,}; lost = accepted - rise = {lost}")
    for result in (flowers, graves_r, search, home):
        table.add(Row(f"qingming {result.name} rate vs static", "postgis", f"{martyrs:,}", result.rate,
                      static_rate, unit="/s", target=f">= {TARGETS[result.name]}",
                      note=f"p99 {result.percentile(0.99):.0f} ms, {result.errors} errors"))

    # The soak: every kind of visitor in turn, for ``soak`` seconds, and the workers' memory before and after.
    first = server.worker_rss_kib()
    mixed = get_visit(lambda n: [grave(n), "/", f"/martyrs?q={SEARCHES[n % len(SEARCHES)]}", STATIC])
    soaked = phase("soak (mixed)", mixed, 4, length=soak)
    last = server.worker_rss_kib()
    same = sorted(set(first) & set(last))
    grown = sum(last[p] for p in same) / max(sum(first[p] for p in same), 1) - 1 if same else float("nan")
    print(f"\n  soak {soak:.0f} s: {soaked.count:,} requests at {soaked.rate:.1f}/s, p99 "
          f"{soaked.percentile(0.99):.0f} ms, {soaked.errors} errors; worker RSS "
          f"{sum(first.values()) / 1024:.0f} MiB -> {sum(last.values()) / 1024:.0f} MiB "
          f"({grown * 100:+.1f}%, target < +20%); workers {sorted(first)} -> {sorted(last)}", flush=True)
    table.add(Row("qingming soak worker RSS", "postgis", f"{soak:.0f}s", sum(last.values()) / 1024,
                  max(sum(first.values()), 1) / 1024, unit="MB", target="< 1.2"))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.qingming")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--soak", type=float)
    parser.add_argument("--martyrs", type=int)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    out = Table()
    run(out, args.quick, args.soak, args.martyrs, args.seconds)
