"""GIS data source: OGC items by bbox (limit 1,000) and one z12 vector tile, against same-run baselines.

Items by bbox are measured twice: in process against the raw SQL the endpoint cannot avoid (the count
and the page of rows for the same box), and over real HTTP against pygeoapi serving the same PostGIS
table (see bench/pygeoapi_compare.py; when pygeoapi cannot be installed or started the bench says why
and prints no figure). Tiles are timed against the raw ``ST_AsMVT`` query on PostGIS and against the
R*Tree read of the tile's rows on the GeoPackage.

PostgreSQL's JIT is off for the baselines as it is in the application (PostGIS function costs trigger
it, and compiling takes longer than these queries), so the baselines are the fastest form of the query.
"""

from __future__ import annotations

import math
import time

import numpy as np
from sqlalchemy import text

from bench.harness import Row, Table, median
from bench.public import EXTENT, load_tombs
from bench.pygeoapi_compare import PygeoapiUnavailable, compare
from bench.stores import fresh_store, postgis_available
from registry import create_app
from registry.services.gis import ogc

COUNTY_DEGREES = 0.1  # a box holding a little over a thousand tombs at a million


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return (int((lon + 180.0) / 360.0 * n),
            int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n))


def _boxes(count: int, seed: int = 11) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    xs = rng.uniform(EXTENT[0], EXTENT[2] - COUNTY_DEGREES, count)
    ys = rng.uniform(EXTENT[1], EXTENT[3] - COUNTY_DEGREES, count)
    return [(float(x), float(y), float(x) + COUNTY_DEGREES, float(y) + COUNTY_DEGREES)
            for x, y in zip(xs, ys, strict=True)]


def _raw_page(store, session, box) -> int:
    """The baseline: count and the first 1,000 ids and geometries in the box, straight SQL on the index."""
    params = dict(zip(("minx", "miny", "maxx", "maxy"), box, strict=True))
    if store.kind == "postgis":
        where = "geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) AND status <> 'retired'"
        session.execute(text(f"SELECT count(*) FROM tombs WHERE {where}"), params).scalar()
        rows = session.execute(text(f"SELECT id, ST_AsBinary(geom) FROM tombs WHERE {where} ORDER BY id LIMIT 1000"),
                               params).all()
    else:
        where = ("id IN (SELECT id FROM rtree_tombs_geom WHERE maxx >= :minx AND minx <= :maxx AND maxy >= :miny "
                 "AND miny <= :maxy) AND status <> 'retired'")
        session.execute(text(f"SELECT count(*) FROM tombs WHERE {where}"), params).scalar()
        rows = session.execute(text(f"SELECT id, geom FROM tombs WHERE {where} ORDER BY id LIMIT 1000"), params).all()
    return len(rows)


def _items_rps(client, store, boxes) -> tuple[float, float]:
    """(endpoint requests/s, raw-query requests/s) over the same boxes, interleaved."""
    ours, base = [], []
    with store.session() as session:
        _no_jit(store, session)
        for box in boxes:
            t0 = time.perf_counter()
            _raw_page(store, session, box)
            t1 = time.perf_counter()
            response = client.get(f"/ogc/collections/tombs/items?limit=1000&bbox={','.join(map(str, box))}")
            t2 = time.perf_counter()
            assert response.status_code == 200, response.data[:200]
            base.append(t1 - t0)
            ours.append(t2 - t1)
    return 1.0 / median(ours), 1.0 / median(base)


def _tile_ms(client, store, rounds: int) -> tuple[float, float]:
    """(endpoint ms, baseline ms) for one z12 tile in the middle of Longyan."""
    x, y = _tile_of((EXTENT[0] + EXTENT[2]) / 2, (EXTENT[1] + EXTENT[3]) / 2, 12)
    coll = ogc.COLLECTIONS["tombs"]
    ours, base = [], []
    with store.session() as session:
        _no_jit(store, session)
        for _ in range(rounds):
            t0 = time.perf_counter()
            if store.kind == "postgis":
                # The query alone, through the driver, the tile in binary (the endpoint's own path).
                with session.connection().connection.driver_connection.cursor(binary=True) as cursor:
                    cursor.execute(ogc.tile_sql(coll, False), {"z": 12, "x": x, "y": y, "cell": 0})
                    cursor.fetchone()
            else:
                # No ST_AsMVT on the embedded store: the baseline is fetching the tile's rows from the R*Tree.
                _raw_tile_rows(session, _lonlat_box(12, x, y))
            t1 = time.perf_counter()
            response = client.get(f"/tiles/tombs/12/{x}/{y}.mvt")
            t2 = time.perf_counter()
            assert response.status_code in (200, 204)
            base.append((t1 - t0) * 1000)
            ours.append((t2 - t1) * 1000)
    return median(ours), median(base)


def _no_jit(store, session) -> None:
    if store.kind == "postgis":
        session.execute(text("SET jit = off"))


def _pygeoapi_row(table: Table, store, size: int, boxes) -> None:
    """Items by bbox over HTTP, ours against pygeoapi on the same table; a note instead when it cannot run."""
    try:
        ours, theirs, ours_n, theirs_n = compare(store.url, boxes, EXTENT)
    except PygeoapiUnavailable as exc:
        print(f"{'ogc items bbox vs pygeoapi (HTTP)':<38} {store.kind:<10} {size:>9,} skipped: {exc}", flush=True)
        return
    table.add(Row("ogc items bbox vs pygeoapi (HTTP)", store.kind, f"{size:,}", ours, theirs, unit="/s",
                  target=">=2x", note=f"pygeoapi 0.24.0, both under werkzeug 1 thread; {len(boxes)} boxes, "
                                      f"features {ours_n:,} ours / {theirs_n:,} pygeoapi"))


def _raw_tile_rows(session, box) -> int:
    """The GeoPackage tile baseline: every row of the tile (with its buffer) and what the tile shows of it."""
    params = dict(zip(("minx", "miny", "maxx", "maxy"), box, strict=True))
    rows = session.execute(text(
        "SELECT id, facility_id, state, geom FROM tombs WHERE id IN (SELECT id FROM rtree_tombs_geom WHERE "
        "maxx >= :minx AND minx <= :maxx AND maxy >= :miny AND miny <= :maxy) AND status <> 'retired'"),
        params).all()
    return len(rows)


def _lonlat_box(z, x, y):
    from geodata.mvt import BUFFER, tile_bounds_lonlat
    from geodata.mvt import EXTENT as TILE_EXTENT

    return tile_bounds_lonlat(z, x, y, buffer=BUFFER / TILE_EXTENT)


def run(table: Table, quick: bool) -> None:
    """Append the GIS rows: items by bbox (requests/s) and one z12 tile (ms) per available store."""
    size = 20_000 if quick else 1_000_000
    requests = 15 if quick else 60
    kinds = ["geopackage"] + (["postgis"] if postgis_available() else [])
    for kind in kinds:
        with fresh_store(kind) as store:
            load_tombs(store, size)
            if kind == "postgis":
                with store.engine.begin() as conn:
                    conn.execute(text("ANALYZE tombs"))
            app = create_app({"DATABASE_URL": store.url, "SECRET_KEY": "bench", "TESTING": True})
            client = app.test_client()
            client.get("/ogc/collections/tombs/items?limit=1")  # warm the pool and caches
            ours, base = _items_rps(client, store, _boxes(requests))
            # Ratios in the table are value / baseline; for a rate, higher is better.
            table.add(Row("ogc items bbox limit=1000", kind, f"{size:,}", ours, base, unit="/s",
                          target=">=0.5x raw", note="in process; baseline: raw count+page SQL"))
            if kind == "postgis":
                _pygeoapi_row(table, store, size, _boxes(requests, seed=12))
            ours_ms, base_ms = _tile_ms(client, store, 5 if quick else 31)
            table.add(Row("tile z12 tombs", kind, f"{size:,}", ours_ms, base_ms, unit="ms",
                          target="<=1.3x" if kind == "postgis" else "",
                          note="baseline: raw ST_AsMVT" if kind == "postgis"
                          else "baseline: R*Tree read of the tile's rows"))
            app.extensions["registry_store"].dispose()
