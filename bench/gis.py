"""GIS data source: OGC items by bbox (limit 1,000) and one z12 vector tile, against same-run raw-query baselines.

The issue asks for pygeoapi as the items baseline; it is not installed here (see the report), so the
baseline is the raw SQL the endpoint cannot avoid (the count and the page of rows for the same box),
which is the floor any server, pygeoapi included, must pay.
"""

from __future__ import annotations

import math
import time

import numpy as np
from sqlalchemy import text

from bench.harness import Row, Table, median
from bench.public import EXTENT, load_tombs
from bench.stores import fresh_store, postgis_available
from registry import create_app
from registry.services import ogc

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
        for _ in range(rounds):
            t0 = time.perf_counter()
            if store.kind == "postgis":
                session.execute(text(ogc.tile_sql(coll, False)), {"z": 12, "x": x, "y": y, "cell": 0}).scalar()
            else:
                # No ST_AsMVT on the embedded store: the baseline is fetching the tile's rows from the R*Tree.
                _raw_page(store, session, _lonlat_box(12, x, y))
            t1 = time.perf_counter()
            response = client.get(f"/tiles/tombs/12/{x}/{y}.mvt")
            t2 = time.perf_counter()
            assert response.status_code in (200, 204)
            base.append((t1 - t0) * 1000)
            ours.append((t2 - t1) * 1000)
    return median(ours), median(base)


def _lonlat_box(z, x, y):
    from geodata.mvt import tile_bounds_lonlat

    return tile_bounds_lonlat(z, x, y)


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
                          target=">=0.5x raw", note="baseline: raw count+page SQL (pygeoapi not installed)"))
            ours_ms, base_ms = _tile_ms(client, store, 5 if quick else 15)
            table.add(Row("tile z12 tombs", kind, f"{size:,}", ours_ms, base_ms, unit="ms",
                          target="<=1.3x" if kind == "postgis" else "",
                          note="baseline: raw ST_AsMVT" if kind == "postgis" else "baseline: R*Tree rows only"))
            app.extensions["registry_store"].dispose()
