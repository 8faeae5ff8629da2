"""The conflict check of a 50 km road against facilities with their zones, against a plain geopandas overlay."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString
from sqlalchemy import select

from bench.harness import Row, Table, median, paired_times
from bench.stores import fresh_store, postgis_available
from geodata import gpkg as blobs
from geodata.crs import from_metric, to_metric
from registry.models import FacilityZone
from registry.services.plan.conflicts import run_check

ROAD_KM = 50
CORRIDOR_M = 20.0
NEAR_M = 200.0
NOW = "2026-01-01T00:00:00.000Z"


def _road() -> LineString:
    """A 50 km road heading north-east across Longyan with gentle bends, one vertex every 500 m."""
    start, epsg = to_metric(shapely.Point(116.55, 24.95))
    steps = ROAD_KM * 2
    angles = np.radians(45 + 25 * np.sin(np.arange(steps) / 6.0))
    xs = start.x + np.concatenate([[0], np.cumsum(500 * np.cos(angles))])
    ys = start.y + np.concatenate([[0], np.cumsum(500 * np.sin(angles))])
    return from_metric(LineString(np.column_stack([xs, ys])), epsg)


def _data(count: int, seed: int = 11):
    """Facility points and, for each, a protection range square and a control zone 100 m around it."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(116.0, 117.5, count)
    lat = rng.uniform(24.5, 26.0, count)
    half = rng.uniform(20, 60, count)
    dlat = 1.0 / 111_320.0
    dlon = dlat / np.cos(np.radians(lat))
    ranges = shapely.multipolygons(shapely.box(lon - half * dlon, lat - half * dlat, lon + half * dlon,
                                               lat + half * dlat), indices=np.arange(count))
    outer = half + 100
    zones = shapely.multipolygons(shapely.box(lon - outer * dlon, lat - outer * dlat, lon + outer * dlon,
                                              lat + outer * dlat), indices=np.arange(count))
    return shapely.points(lon, lat), ranges, zones


def _load(store, count: int) -> None:
    points, ranges, zones = _data(count)
    facility_rows = [(i + 1, f"B{i:06d}", f"设施{i}", "monument", "ungraded", "350823", False, False, False,
                      "active", False, NOW, NOW, 1) for i in range(count)]
    zone_rows = ([(i + 1, "protection_range", 0.0, "active", False, NOW, NOW, 1) for i in range(count)]
                 + [(i + 1, "control_zone", 0.0, "active", False, NOW, NOW, 1) for i in range(count)])
    zone_geoms = np.concatenate([ranges, zones])
    fcols = ("id, code, name, category, level, county_code, sign_present, land_title_registered, "
             "position_approximate, status, is_demo, created_at, updated_at, version, geom")
    zcols = "facility_id, kind, area_m2, status, is_demo, created_at, updated_at, version, geom"
    con = store.engine.raw_connection()
    try:
        if store.kind == "geopackage":
            cur = con.driver_connection
            cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO facilities ({fcols}) VALUES ({', '.join('?' * 15)})",
                            (row + (blobs.encode(g),) for row, g in zip(facility_rows, points, strict=True)))
            cur.executemany(f"INSERT INTO facility_zones ({zcols}) VALUES ({', '.join('?' * 9)})",
                            (row + (blobs.encode(g),) for row, g in zip(zone_rows, zone_geoms, strict=True)))
            cur.execute("COMMIT")
        else:
            with con.driver_connection.cursor() as cur:
                with cur.copy(f"COPY facilities ({fcols}) FROM STDIN") as copy:
                    for row, wkb in zip(facility_rows, shapely.to_wkb(points, hex=True, include_srid=True),
                                        strict=True):
                        copy.write_row(row + (wkb,))
                with cur.copy(f"COPY facility_zones ({zcols}) FROM STDIN") as copy:
                    for row, wkb in zip(zone_rows, shapely.to_wkb(shapely.set_srid(zone_geoms, 4326), hex=True,
                                                                  include_srid=True), strict=True):
                        copy.write_row(row + (wkb,))
                cur.execute("ANALYZE facilities; ANALYZE facility_zones")
            con.driver_connection.commit()
    finally:
        con.close()


def _overlay(store, road: LineString) -> int:
    """Baseline: read every zone into geopandas, overlay the road's corridor with all of them, measure areas."""
    with store.session() as session:
        rows = session.execute(select(FacilityZone.id, FacilityZone.kind, FacilityZone.geom)).all()
    zones = gpd.GeoDataFrame({"id": [r[0] for r in rows], "kind": [r[1] for r in rows]},
                             geometry=[r[2] for r in rows], crs="EPSG:4326")
    return _overlay_in_memory(zones, road)


def _overlay_in_memory(zones: gpd.GeoDataFrame, road: LineString) -> int:
    road_m, epsg = to_metric(road)
    corridor = gpd.GeoDataFrame(geometry=[road_m.buffer(CORRIDOR_M / 2, cap_style="flat")], crs=f"EPSG:{epsg}")
    hits = gpd.overlay(corridor.to_crs("EPSG:4326"), zones, how="intersection")
    return int((hits.to_crs(f"EPSG:{epsg}").area > 0).sum())


def run(table: Table, quick: bool) -> None:
    """Append the conflict check's figures on each available store to ``table``."""
    count = 15_000 if quick else 150_000
    road = _road()
    kinds = ["geopackage"] + (["postgis"] if postgis_available() else [])
    for kind in kinds:
        with fresh_store(kind) as store:
            started = time.perf_counter()
            _load(store, count)
            load_s = time.perf_counter() - started
            ours_result = run_check(store, road, NEAR_M, CORRIDOR_M)
            entered = len(ours_result["forbidden"]) + len(ours_result["review"])
            assert entered == _overlay(store, road), "the check and the overlay disagree on the zones entered"
            ours, base = paired_times(lambda _: run_check(store, road, NEAR_M, CORRIDOR_M),
                                      lambda _: _overlay(store, road), [None], rounds=3)
            table.add(Row("conflict check 50 km road (read+overlay)", kind, f"{count:,}", median(ours),
                          median(base), target="" if quick else "<= 0.02",
                          note=f"{entered} zones entered, {len(ours_result['nearby'])} near; load {load_s:.0f}s"))
            with store.session() as session:
                rows = session.execute(select(FacilityZone.id, FacilityZone.kind, FacilityZone.geom)).all()
            zones = gpd.GeoDataFrame({"id": [r[0] for r in rows], "kind": [r[1] for r in rows]},
                                     geometry=[r[2] for r in rows], crs="EPSG:4326")
            ours, base = paired_times(lambda _: run_check(store, road, NEAR_M, CORRIDOR_M),
                                      lambda loaded: _overlay_in_memory(loaded, road), [zones], rounds=3)
            table.add(Row("conflict check vs in-memory overlay", kind, f"{count:,}", median(ours), median(base),
                          note="baseline has every zone already loaded (not counted)"))


if __name__ == "__main__":
    import sys

    results = Table()
    print(Table.header())
    run(results, quick="--full" not in sys.argv)
