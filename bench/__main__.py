"""`make bench`: spatial box queries and demo loading on both stores, as ratios to same-run baselines."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from functools import partial

import numpy as np
import shapely
from sqlalchemy import text

from bench.harness import Row, Table, median, p95, paired_times
from bench.stores import fresh_store, postgis_available
from geodata import gpkg as blobs
from registry import spatial
from registry.services.demo import load_demo

# Benchmarks of each area of the site, each a module with run(table, quick).
AREAS = ("public", "manage", "relocations", "plan", "gis", "qingming", "tour")
BOX_DEGREES = 0.25  # about a county-sized viewport (25 km) at Longyan's latitude


def _boxes(store, session, count: int, seed: int = 7):
    """County-sized boxes centred on tombs picked at random, so every box is where the data is."""
    total = session.execute(text("SELECT max(id) FROM tombs")).scalar()
    rng = np.random.default_rng(seed)
    boxes = []
    for tomb_id in rng.integers(1, total + 1, count * 3):
        row = session.execute(text("SELECT geom FROM tombs WHERE id = :id"), {"id": int(tomb_id)}).first()
        if row is None:
            continue
        point = blobs.decode(row[0]) if store.kind == "geopackage" else shapely.from_wkb(row[0])
        half = BOX_DEGREES / 2
        boxes.append((point.x - half, point.y - half, point.x + half, point.y + half))
        if len(boxes) == count:
            break
    return boxes


def _box(query, session, box):
    return query(session, "tombs", *box)


def _bare_insert_seconds(store, rows: int) -> float:
    """Baseline: the plainest bulk write of ``rows`` points on this store (no model, no triggers)."""
    rng = np.random.default_rng(3)
    points = shapely.points(rng.uniform(116, 117.5, rows), rng.uniform(24.5, 26, rows))
    started = time.perf_counter()
    if store.kind == "geopackage":
        con = store.engine.raw_connection()
        try:
            cur = con.driver_connection
            cur.execute("CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, geom BLOB)")
            cur.execute("BEGIN")
            cur.executemany("INSERT INTO bench_bare (geom) VALUES (?)", ((blobs.encode(p),) for p in points))
            cur.execute("COMMIT")
        finally:
            con.close()
    else:
        con = store.engine.raw_connection()
        try:
            with con.driver_connection.cursor() as cur:
                cur.execute("CREATE TABLE bench_bare (id serial PRIMARY KEY, geom geometry(POINT,4326))")
                with cur.copy("COPY bench_bare (geom) FROM STDIN") as copy:
                    for wkb in shapely.to_wkb(points, hex=True, include_srid=True):
                        copy.write_row((wkb,))
            con.driver_connection.commit()
        finally:
            con.close()
    return time.perf_counter() - started


def bench_store(kind: str, sizes: list[int], table: Table, boxes_per_size: int) -> None:
    for size in sizes:
        with fresh_store(kind) as store:
            started = time.perf_counter()
            counts = load_demo(store, scale=size)
            load_s = time.perf_counter() - started
            total_rows = sum(counts.values())
            with fresh_store(kind) as scratch:
                bare_s = _bare_insert_seconds(scratch, total_rows)
            table.add(Row("demo load --scale (all tables)", kind, f"{size:,}", load_s, bare_s, unit="s",
                          note=f"{total_rows / load_s:,.0f} rows/s vs plain bulk insert of {total_rows:,} points"))
            backend = spatial.for_store(store)
            with store.session() as session:
                boxes = _boxes(store, session, boxes_per_size)
                hits = [len(backend.by_box(session, "tombs", *b)) for b in boxes]
                ours, base = paired_times(partial(_box, backend.by_box, session),
                                          partial(_box, backend.box_ids_raw, session), boxes)
            note = f"{len(boxes)} boxes of {BOX_DEGREES}°, median {int(np.median(hits)):,} tombs each"
            table.add(Row("box query, median", kind, f"{size:,}", median(ours), median(base),
                          target="<= 2x", note=note))
            table.add(Row("box query, p95", kind, f"{size:,}", p95(ours), p95(base), target="<= 2x"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="tomb counts, comma separated")
    parser.add_argument("--stores", default="geopackage,postgis")
    parser.add_argument("--boxes", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="small sizes only (a minute or two)")
    parser.add_argument("--only", default="", help="comma separated: core," + ",".join(AREAS))
    parser.add_argument("--soak", type=float, default=None,
                        help="qingming: seconds of mixed load for the memory soak (600; 30 with --quick)")
    args = parser.parse_args(argv)
    only = {name for name in args.only.split(",") if name}
    if args.quick:
        args.sizes = "10000"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kinds = [k for k in args.stores.split(",") if k]
    if "postgis" in kinds and not postgis_available():
        print("PostGIS is not reachable: set REGISTRY_BENCH_POSTGRES_URL; benchmarking the GeoPackage only",
              file=sys.stderr)
        kinds.remove("postgis")
    table = Table()
    print(Table.header(), flush=True)
    if not only or "core" in only:
        for kind in kinds:
            bench_store(kind, sizes, table, args.boxes)
    for area in AREAS:
        if only and area not in only:
            continue
        module = importlib.import_module(f"bench.{area}")
        extra = {"soak": args.soak} if area == "qingming" else {}
        module.run(table, quick=args.quick, **extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
