"""The public side: page weight of the map against folium maps that embed every marker, the bbox API against the
raw index query, and martyr search against a plain LIKE scan; all on each available store.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import folium
import numpy as np
import shapely
from pypinyin import lazy_pinyin
from sqlalchemy import text

from bench.harness import Row, Table, median, p95, paired_times
from bench.stores import fresh_store, postgis_available
from geodata import gpkg as blobs
from registry import create_app, spatial
from registry.services.public.features import features_in_bbox
from registry.services.public.name_grams import rebuild_name_grams
from registry.services.public.roll import RollQuery, search_martyrs
from registry.services.stations.viewport import stations_in_bbox

NOW = datetime(2026, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
EXTENT = (116.0, 24.5, 117.5, 26.0)  # Longyan, roughly
COUNTY_DEGREES = 0.25  # a county-sized view, about 25 km
# The first view of / at zoom 9 in a 1280 x 900 window around Longyan (what the page's script asks for).
FIRST_VIEW = "115.04,23.98,118.56,26.22"
SURNAMES = "张王李陈林黄刘吴邱罗赖钟谢温傅蓝廖郭江卢范杨邓何"
GIVEN = "明华国建德志文平荣光秀英金林春永福寿山海清生发成玉兰忠新才贵桂水长连金根元"


def _insert_rows(store, table: str, columns: tuple[str, ...], rows, geom_index: int | None = None) -> None:
    """Bulk insert through the driver: executemany on SQLite (R*Tree triggers fire), COPY on PostGIS."""
    con = store.engine.raw_connection()
    try:
        if store.kind == "geopackage":
            driver = con.driver_connection
            marks = ", ".join("?" for _ in columns)
            driver.execute("BEGIN")
            driver.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            driver.execute("COMMIT")
        else:
            with con.driver_connection.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            con.driver_connection.commit()
    finally:
        con.close()


def _geom_value(store, point):
    if store.kind == "geopackage":
        return blobs.encode(point)
    return shapely.to_wkb(point, hex=True, include_srid=True)


def load_tombs(store, count: int, seed: int = 5) -> None:
    """``count`` live tombs spread over Longyan, clustered around a few hundred places as real ones are."""
    rng = np.random.default_rng(seed)
    centres_x = rng.uniform(EXTENT[0], EXTENT[2], 400)
    centres_y = rng.uniform(EXTENT[1], EXTENT[3], 400)
    pick = rng.integers(0, 400, count)
    xs = np.clip(centres_x[pick] + rng.normal(0, 0.02, count), EXTENT[0], EXTENT[2])
    ys = np.clip(centres_y[pick] + rng.normal(0, 0.02, count), EXTENT[1], EXTENT[3])
    points = shapely.points(xs, ys)
    if store.kind == "postgis":
        points = shapely.set_srid(points, 4326)
    columns = ("state", "status", "is_demo", "created_at", "updated_at", "version", "geom")
    rows = (("in_place", "active", False, NOW, NOW, 1, _geom_value(store, p)) for p in points)
    _insert_rows(store, "tombs", columns, rows)


def load_facilities(store, count: int = 300, seed: int = 9) -> None:
    rng = np.random.default_rng(seed)
    categories = ("cemetery", "memorial_hall", "monument", "pavilion", "collective_burial", "scattered_tomb")
    levels = ("national", "provincial", "city", "county", "ungraded")
    points = shapely.points(rng.uniform(EXTENT[0], EXTENT[2], count), rng.uniform(EXTENT[1], EXTENT[3], count))
    if store.kind == "postgis":
        points = shapely.set_srid(points, 4326)
    columns = ("code", "name", "category", "level", "county_code", "sign_present", "land_title_registered",
               "position_approximate", "status", "is_demo", "created_at", "updated_at", "version", "geom")
    rows = ((f"B{i:05d}", f"示例纪念设施{i}（示例）", categories[i % len(categories)], levels[i % len(levels)],
             "350802", False, False, True, "active", True, NOW, NOW, 1, _geom_value(store, p))
            for i, p in enumerate(points))
    _insert_rows(store, "facilities", columns, rows)


def load_stations(store, count: int, seed: int = 17) -> None:
    """``count`` service stations over the extent: one in a hundred a township's or a county's, the rest villages'."""
    rng = np.random.default_rng(seed)
    points = shapely.points(rng.uniform(EXTENT[0], EXTENT[2], count), rng.uniform(EXTENT[1], EXTENT[3], count))
    if store.kind == "postgis":
        points = shapely.set_srid(points, 4326)
    columns = ("code", "name", "level", "county_code", "demonstration", "has_body", "has_posts", "has_staff",
               "has_funds", "has_provisions", "position_approximate", "status", "is_demo", "created_at",
               "updated_at", "version", "geom")
    rows = ((f"S{i:07d}", f"示例服务站{i}（示例）", ("county", "township")[i % 2] if i % 100 == 0 else "village",
             "350802", "national_model" if i % 200 == 7 else "none", True, True, True, False, False, True, "active",
             True, NOW, NOW, 1, _geom_value(store, p)) for i, p in enumerate(points))
    _insert_rows(store, "service_stations", columns, rows)


def load_martyrs(store, count: int, seed: int = 13) -> float:
    """``count`` martyrs with three-character names, their full pinyin and initials, and the names' n-grams.

    Returns the seconds the n-gram index took to build (one INSERT ... SELECT, as the demo loader does).
    """
    rng = np.random.default_rng(seed)
    sound = {ch: lazy_pinyin(ch)[0] for ch in SURNAMES + GIVEN}
    s = rng.integers(0, len(SURNAMES), count)
    g1 = rng.integers(0, len(GIVEN), count)
    g2 = rng.integers(0, len(GIVEN), count)
    years = rng.integers(1927, 1950, count)

    def rows():
        for i in range(count):
            chars = SURNAMES[s[i]] + GIVEN[g1[i]] + GIVEN[g2[i]]
            syllables = [sound[c] for c in chars]
            yield (chars, "".join(syllables), "".join(x[0] for x in syllables), False, int(years[i]), "active",
                   False, NOW, NOW, 1)

    columns = ("name", "name_pinyin", "name_initials", "is_unknown", "death_year", "status", "is_demo",
               "created_at", "updated_at", "version")
    _insert_rows(store, "martyrs", columns, rows())
    started = time.perf_counter()
    with store.write_session() as session:
        conn = session.connection()
        if store.kind == "geopackage":
            # As the demo loader does: room for the index sorts in memory, restored before the searches.
            cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
        rebuild_name_grams(session)
        session.commit()
        if store.kind == "geopackage":
            session.connection().exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
    grams_s = time.perf_counter() - started
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return grams_s


def folium_page_bytes(markers: int, seed: int = 1) -> int:
    """Bytes of a folium map that embeds every marker with a popup: what a page without an API weighs."""
    rng = np.random.default_rng(seed)
    m = folium.Map(location=[25.1, 116.8], zoom_start=9)
    for i in range(markers):
        folium.Marker([float(rng.uniform(EXTENT[1], EXTENT[3])), float(rng.uniform(EXTENT[0], EXTENT[2]))],
                      popup=f"烈士墓 {i}").add_to(m)
    return len(m.get_root().render().encode())


def first_view_bytes(store) -> tuple[int, int]:
    """(HTML bytes of /, bytes of the API answers its first view asks for, tombs layer switched on too)."""
    app = create_app({"DATABASE_URL": store.url, "SECRET_KEY": "bench", "TESTING": True, "BASEMAP": "none"})
    client = app.test_client()
    html = len(client.get("/").data)
    data = 0
    for path in ("/api/facilities?category=memorial_hall,monument,pavilion,name_wall,square,scattered_tomb",
                 "/api/cemeteries?", "/api/heritage-sites?", "/api/tombs?"):
        response = client.get(f"{path}&bbox={FIRST_VIEW}&zoom=9")
        assert response.status_code == 200, response.data[:200]
        data += len(response.data)
    return html, data


def _boxes(count: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    xs = rng.uniform(EXTENT[0], EXTENT[2] - COUNTY_DEGREES, count)
    ys = rng.uniform(EXTENT[1], EXTENT[3] - COUNTY_DEGREES, count)
    return [(float(x), float(y), float(x) + COUNTY_DEGREES, float(y) + COUNTY_DEGREES)
            for x, y in zip(xs, ys, strict=True)]


def _like_scan(store, name: str):
    with store.session() as session:
        return session.execute(text("SELECT id, name FROM martyrs WHERE name LIKE :p"), {"p": f"%{name}%"}).all()


def run(table: Table, quick: bool) -> None:
    """Append the public side's figures: page weight, bbox API and martyr search, on each available store."""
    tombs = 30_000 if quick else 1_000_000
    martyrs = 100_000 if quick else 2_000_000
    stations = 20_000 if quick else 200_000  # a province's; a city has about 2,000
    started = time.perf_counter()
    small = folium_page_bytes(4377)
    folium_s = time.perf_counter() - started
    if quick:
        large, large_note = small * 50_000 / 4377, "50,000 extrapolated from 4,377 (linear; full run measures)"
    else:
        large, large_note = folium_page_bytes(50_000), "50,000 markers measured"
    kinds = ["geopackage"] + (["postgis"] if postgis_available() else [])
    for kind in kinds:
        with fresh_store(kind) as store:
            load_facilities(store)
            load_tombs(store, tombs)
            html, data = first_view_bytes(store)
            ours_kb = (html + data) / 1024
            table.add(Row("first view of / (HTML+data) vs folium", kind, f"{tombs:,}", ours_kb, small / 1024,
                          unit="KB", target="< 300 KB",
                          note=f"HTML {html / 1024:.0f} KB + data {data / 1024:.0f} KB; folium 4,377 markers "
                               f"({folium_s:.0f}s to render)"))
            table.add(Row("first view of / vs folium 50k markers", kind, f"{tombs:,}", ours_kb, large / 1024,
                          unit="KB", target="< 300 KB", note=large_note))
            backend = spatial.for_store(store)
            boxes = _boxes(10 if quick else 30)
            with store.session() as session:
                ours, base = paired_times(
                    lambda b, st=store, se=session: features_in_bbox(st, "tombs", b, zoom=10, session=se),
                    lambda b, be=backend, se=session: be.box_ids_raw(se, "tombs", *b), boxes)
                hits = [len(backend.box_ids_raw(session, "tombs", *b)) for b in boxes]
            table.add(Row("bbox API tombs (county view), p95", kind, f"{tombs:,}", p95(ours), p95(base),
                          target="<= 3x", note=f"{len(boxes)} boxes of {COUNTY_DEGREES}°, median "
                                              f"{int(np.median(hits)):,} tombs each; clustered at zoom 10"))
            load_stations(store, stations)
            city = [EXTENT] * 5
            with store.session() as session:
                ours, base = paired_times(lambda b, st=store: stations_in_bbox(st, ",".join(map(str, b)), 500),
                                          lambda b, be=backend, se=session: be.box_ids_raw(se, "service_stations",
                                                                                          *b), city)
            table.add(Row("bbox API stations (whole city), median", kind, f"{stations:,}", median(ours),
                          median(base), target="<= 3x", note="the first 500 by level and demonstration; "
                                                             "every station of the box matches"))
        with fresh_store(kind) as store:
            grams_s = load_martyrs(store, martyrs)
            queries = ["zmh", "chenhua", "wangguo"]
            ours, base = paired_times(lambda q: search_martyrs(store, RollQuery(q=q)),
                                      lambda q: _like_scan(store, "明华"), queries)
            table.add(Row("martyr search by pinyin vs LIKE scan", kind, f"{martyrs:,}", median(ours), median(base),
                          target="<= 0.05", note="initials / full pinyin use the name_pinyin/initials indexes"))
            # A surname (every match in one stretch of the pinyin order), a common given-name character in
            # traditional script, pairs, and a full name whose rarest pair is checked by LIKE.
            names = ["张", "華", "张明", "明华", "陈明华"]
            ours, base = paired_times(lambda q: search_martyrs(store, RollQuery(q=q)),
                                      lambda q: _like_scan(store, q), names)
            table.add(Row("martyr search by characters vs LIKE scan", kind, f"{martyrs:,}", median(ours),
                          median(base), target="<= 0.05",
                          note=f"n-gram index (first page); max {max(ours):.1f} ms; index built in {grams_s:.0f}s"))


if __name__ == "__main__":
    import sys

    quick_run = "--quick" in sys.argv
    out = Table()
    print(Table.header(), flush=True)
    run(out, quick_run)
