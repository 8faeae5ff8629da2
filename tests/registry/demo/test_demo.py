"""The demo generator: deterministic, honest about what is demo, placed in its two cities, consistent between tables."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime

import numpy as np
import pytest
import shapely
from pypinyin import lazy_pinyin
from shapely.geometry.base import BaseGeometry

from geodata.crs import gcj02_to_wgs84, to_metric
from geodata.origins import public_origin
from registry import demo
from registry.demo import figures, places
from registry.models import vocab

# Longyan's counties as the demo data gives them: code -> (name, seat lon, lat in GCJ-02).
LONGYAN = {code: values[:3] for code, values in places.LONGYAN.items()}
# The second demo city's counties (seats in WGS 84).
SANMING = {code: values[:3] for code, values in places.SANMING.items()}

LONGYAN_BOX = (115.8, 24.4, 117.8, 26.1)
SANMING_BOX = (116.3, 25.9, 117.9, 26.6)
BOX_OF = {**dict.fromkeys(LONGYAN, LONGYAN_BOX), **dict.fromkeys(SANMING, SANMING_BOX)}
FUJIAN_BOX = (115.5, 23.4, 121.0, 28.5)
# Real people of the period and place who must never appear as generated records.
REAL_PEOPLE = ("瞿秋白", "毛泽东", "朱德", "陈毅", "邓子恢", "张鼎丞", "郭滴人", "傅柏翠", "罗明", "谭震林",
               "刘少奇", "周恩来", "彭德怀", "何叔衡", "杨成武")
PEOPLE_FIELDS = {"martyrs": ("name",), "facilities": ("caretaker",), "relocations": ("consent_by",),
                 "inspections": ("inspector_name",)}


def materialise(data: demo.DemoData) -> dict[str, list[dict]]:
    rows = defaultdict(list)
    for table, chunk in data.chunks():
        rows[table].extend(chunk)
    return rows


@pytest.fixture(scope="module")
def rows():
    return materialise(demo.generate())


def in_box(lon, lat, box) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def test_same_seed_gives_the_same_records_and_another_seed_does_not():
    first, again, other = demo.generate(seed=2022), demo.generate(seed=2022), demo.generate(seed=7)
    assert first.counts == again.counts
    for table in demo.TABLES:
        a, b = next(first.rows(table)), next(again.rows(table))
        assert a[:50] == b[:50], table
    assert next(first.rows("martyrs"))[:50] != next(other.rows("martyrs"))[:50]
    assert next(first.rows("facilities"))[10]["geom"] != next(other.rows("facilities"))[10]["geom"]


def test_counts_match_the_longyan_figures_and_the_second_city_is_small(rows):
    data = demo.generate()
    assert data.counts == {table: len(rows[table]) for table in demo.TABLES}
    longyan, sanming = data.by_city["350800"], data.by_city["350400"]
    assert {t: longyan[t] + sanming[t] for t in demo.TABLES} == data.counts
    assert longyan["relocations"] == 4377
    assert abs(longyan["tombs"] - 6850) <= 0.02 * 6850
    assert 7000 <= longyan["martyrs"] <= 8000
    # The second city at demo scale: a few dozen of each, tens of times fewer than Longyan.
    assert 0 < sanming["relocations"] < 50 and 0 < sanming["tombs"] < 200 and 0 < sanming["facilities"] < 50
    moved = [r for r in rows["relocations"] if r["origin_county_code"] in SANMING]
    assert len(moved) == sanming["relocations"] and {r["origin_county_code"] for r in moved} == set(SANMING)
    assert len(rows["martyrs"]) > len(rows["tombs"])  # some martyrs have no known grave
    unknown = sum(m["is_unknown"] for m in rows["martyrs"])
    assert 0.02 <= unknown / len(rows["martyrs"]) <= 0.04
    for table in demo.TABLES:
        ids = [r["id"] for r in rows[table]]
        assert ids == list(range(1, len(ids) + 1)), table


def test_every_category_and_level_in_every_county(rows):
    by_county = defaultdict(list)
    for f in rows["facilities"]:
        by_county[f["county_code"]].append(f)
    assert set(by_county) == set(LONGYAN) | set(SANMING)
    for code in SANMING:  # a handful each: a county cemetery, a collective burial ground, scattered graves
        facilities = by_county.pop(code)
        assert 4 <= len(facilities) <= 10, code
        assert {"cemetery", "collective_burial", "scattered_tomb"} <= {f["category"] for f in facilities}, code
        assert re.fullmatch(rf"{code}-F\d{{4}}", facilities[0]["code"])
    for code, facilities in by_county.items():
        generated = [f for f in facilities if not f["position_approximate"]]
        assert 40 <= len(generated) <= 60, code
        assert {f["category"] for f in generated} == set(vocab.CATEGORIES), code
        assert {f["level"] for f in generated} == set(vocab.LEVELS), code
        assert re.fullmatch(rf"{code}-F\d{{4}}", facilities[0]["code"])
    assert len({f["code"] for f in rows["facilities"]}) == len(rows["facilities"])
    assert len({f["name"] for f in rows["facilities"]}) == len(rows["facilities"])


def test_vocabulary_codes_match_the_registry(rows):
    assert demo.CATEGORY_CODES == tuple(vocab.CATEGORIES)
    assert demo.LEVEL_CODES == tuple(vocab.LEVELS)
    assert {t["state"] for t in rows["tombs"]} <= set(vocab.TOMB_STATES)
    assert {r["stage"] for r in rows["relocations"]} <= set(vocab.RELOCATION_STATUSES)
    assert {r["funding_source"] for r in rows["relocations"]} <= set(vocab.FUNDING_SOURCES)
    assert {t["state"] for t in rows["maintenance_tasks"]} == {"open", "in_progress", "done"}
    assert {t["funding_source"] for t in rows["maintenance_tasks"]} <= set(vocab.FUNDING_SOURCES)
    assert {i["condition"] for i in rows["inspections"]} <= set(vocab.CONDITIONS)
    assert {z["kind"] for z in rows["facility_zones"]} <= set(vocab.ZONE_KINDS)
    for table in ("facilities", "inspections"):
        for field in figures.STD_FIELDS:
            assert {r[field] for r in rows[table]} <= set(vocab.CHECK_STATES) | {None}


def test_seats_are_converted_from_gcj02(rows):
    for county in demo.longyan_counties():
        _name, glon, glat = LONGYAN[county.code]
        lon, lat = gcj02_to_wgs84(glon, glat)
        assert (county.lon, county.lat) == pytest.approx((lon, lat), abs=1e-9)
        # The GCJ-02 offset in Longyan is several hundred metres: stored seats are not the GCJ figures.
        assert abs(county.lon - glon) > 0.003


def test_every_point_lies_in_its_city(rows):
    facilities = {f["id"]: f["county_code"] for f in rows["facilities"]}
    tombs = {t["id"]: facilities[t["facility_id"]] for t in rows["tombs"]}
    county_of = {"facilities": lambda r: r["county_code"], "heritage_sites": lambda r: r["county_code"],
                 "relocations": lambda r: r["origin_county_code"], "tombs": lambda r: tombs[r["id"]],
                 "service_stations": lambda r: r["county_code"]}
    for table, records in rows.items():
        for r in records:
            if r.get("geom") is None:
                continue
            county = county_of[table](r) if table in county_of else facilities[r["facility_id"]]
            x0, y0, x1, y1 = r["geom"].bounds
            assert in_box(x0, y0, BOX_OF[county]) and in_box(x1, y1, BOX_OF[county]), (table, r["id"])
    for r in rows["relocations"]:
        assert in_box(r["origin_lon"], r["origin_lat"], BOX_OF[r["origin_county_code"]])


def test_generated_places_stay_near_their_county_seat(rows):
    seats = {c.code: c for c in demo.generate().county_list}
    for f in rows["facilities"]:
        if f["position_approximate"]:
            continue
        seat = seats[f["county_code"]]
        dx = (f["geom"].x - seat.lon) * 111_320 * np.cos(np.radians(seat.lat))
        dy = (f["geom"].y - seat.lat) * 110_574
        assert np.hypot(dx, dy) <= figures.SPREAD_M + 1, f["code"]


def test_real_sites_are_approximate_and_say_so(rows):
    sites = {s["name"]: s for s in rows["heritage_sites"]}
    real = ("古田会议会址", "才溪乡调查纪念馆", "瞿秋白烈士纪念碑", "松毛岭战役遗址群", "闽西革命烈士陵园")
    for name in real:
        site = sites[name]
        assert site["position_approximate"] and site["is_demo"]
        assert demo.APPROXIMATE_NOTE in site["description"]
    gutian = sites["古田会议会址"]
    assert gutian["geom"].x == pytest.approx(116.818, abs=0.01)
    assert gutian["geom"].y == pytest.approx(25.225, abs=0.01)
    assert gutian["county_code"] == "350823" and gutian["township"] == "古田镇"
    assert sites["才溪乡调查纪念馆"]["township"] == "才溪镇"
    assert sites["松毛岭战役遗址群"]["county_code"] == "350821"
    facilities = {f["name"]: f for f in rows["facilities"]}
    kinds = {name: (f["category"], f["level"]) for name, f in facilities.items()}
    assert kinds["闽西革命烈士陵园"] == ("cemetery", "national")
    assert kinds["瞿秋白烈士纪念碑"] == ("monument", "national")
    assert kinds["古田会议会址"] == ("memorial_hall", "national")
    for name in ("闽西革命烈士陵园", "瞿秋白烈士纪念碑", "古田会议会址"):
        f = facilities[name]
        assert f["position_approximate"] and demo.APPROXIMATE_NOTE in f["description"]
        assert sites[name]["facility_id"] == f["id"]


def test_gutian_has_a_protection_range_and_a_metric_control_zone(rows):
    gutian = next(f for f in rows["facilities"] if f["name"] == "古田会议会址")
    zones = {z["kind"]: z for z in rows["facility_zones"] if z["facility_id"] == gutian["id"]}
    protection, control = zones["protection_range"]["geom"], zones["control_zone"]["geom"]
    assert protection.geom_type == control.geom_type == "MultiPolygon"
    assert protection.contains(gutian["geom"])
    range_m, epsg = to_metric(protection, 4498)
    control_m, _ = to_metric(control, 4498)
    assert epsg == 4498
    assert range_m.area == pytest.approx(300 * 250, rel=0.01)
    assert zones["protection_range"]["area_m2"] == pytest.approx(range_m.area, rel=0.001)
    # A ring 200 m wide everywhere around the range, measured in metres (a degree buffer would be an ellipse).
    assert control_m.area == pytest.approx(range_m.buffer(200, quad_segs=8).area - range_m.area, rel=0.002)
    assert zones["control_zone"]["area_m2"] == pytest.approx(control_m.area, rel=0.001)
    assert control_m.intersection(range_m).area < 1.0
    outer = shapely.Polygon(control_m.geoms[0].exterior)
    assert outer.exterior.distance(range_m) == pytest.approx(200, abs=1)
    assert outer.contains(range_m.buffer(-1))


def test_graded_facilities_have_protection_ranges(rows):
    ranges = {z["facility_id"] for z in rows["facility_zones"] if z["kind"] == "protection_range"}
    controls = {z["facility_id"] for z in rows["facility_zones"] if z["kind"] == "control_zone"}
    for f in rows["facilities"]:
        assert (f["id"] in ranges) == (f["level"] != "ungraded"), f["code"]
    assert controls and controls < ranges
    for z in rows["facility_zones"]:
        assert z["geom"].is_valid and z["area_m2"] > 0


def test_six_ones_sign_and_title_are_mixed(rows):
    facilities = rows["facilities"]
    for field in figures.STD_FIELDS:
        seen = Counter(f[field] for f in facilities)
        assert seen["present"] > seen["deficient"] > 0 and seen["missing"] > 0, field
    assert 0 < sum(f["sign_present"] for f in facilities) < len(facilities)
    assert 0 < sum(f["land_title_registered"] for f in facilities) < len(facilities)


def test_relocation_steps_are_dated_in_order(rows):
    steps = vocab.RELOCATION_STEPS
    for r in rows["relocations"]:
        dated = [r[s] for s in steps if r[s] is not None]
        assert dated == sorted(dated), r["code"]
        assert date(2019, 1, 1) <= dated[0] and dated[-1] <= demo.TODAY
        assert r["stage"] == ("accepted" if r["accepted_on"] else "in_progress")
        assert r["family_consent"] == (r["consent_on"] is not None) == (r["consent_by"] is not None)
        assert re.fullmatch(r"\d{4}-\S+[区县市]-第\d+批", r["batch"]), r["batch"]
        assert int(r["batch"][:4]) in (r["surveyed_on"].year, r["surveyed_on"].year - 1)  # the year it opened
        assert re.fullmatch(r"\S+民〔\d{4}〕\d+号", r["approval_number"]), r["approval_number"]
    without_consent = sum(not r["family_consent"] for r in rows["relocations"])
    not_accepted = sum(r["accepted_on"] is None for r in rows["relocations"])
    assert 0 < without_consent < 50 and 0 < not_accepted < 50
    assert any(r["effects"] for r in rows["relocations"])
    assert rows["relocations"][0]["batch"] == rows["relocations"][1]["batch"]


def test_relocations_join_up_with_tombs_facilities_and_martyrs(rows):
    facilities = {f["id"]: f for f in rows["facilities"]}
    tombs = {t["id"]: t for t in rows["tombs"]}
    assert sum(t["state"] == "relocated" for t in rows["tombs"]) == len(rows["relocations"])
    assert len({r["tomb_id"] for r in rows["relocations"]}) == len(rows["relocations"])
    for r in rows["relocations"]:
        tomb, dest = tombs[r["tomb_id"]], facilities[r["dest_facility_id"]]
        assert tomb["state"] == "relocated"
        assert tomb["facility_id"] == dest["id"] and tomb["martyr_id"] == r["martyr_id"]
        assert (r["dest_plot_area"], r["dest_plot_row"], r["dest_plot_number"]) == (
            tomb["plot_area"], tomb["plot_row"], tomb["plot_number"])
        assert dest["category"] in ("cemetery", "collective_burial")
        assert dest["county_code"] == r["origin_county_code"]
        start, end = r["geom"].coords
        # The line starts at the public origin (a 0.01° grid), never at the surveyed point.
        assert start == pytest.approx(public_origin(r["origin_lon"], r["origin_lat"]), abs=1e-9)
        assert abs(start[0] - r["origin_lon"]) <= 0.005 + 1e-9 and abs(start[1] - r["origin_lat"]) <= 0.005 + 1e-9
        assert end == (dest["geom"].x, dest["geom"].y)
    plots = Counter((t["facility_id"], t["plot_area"], t["plot_row"], t["plot_number"]) for t in rows["tombs"]
                    if t["plot_number"])
    assert max(plots.values()) == 1  # one grave per plot
    martyr_ids = [t["martyr_id"] for t in rows["tombs"]]
    assert len(set(martyr_ids)) == len(martyr_ids)


def test_every_record_carries_the_demo_mark(rows):
    for table, records in rows.items():
        if table == "facility_names":
            assert all(r["name"].endswith(demo.DEMO_MARK) or r["name"] in places.REAL_NAMES for r in records)
            continue
        assert all(r["is_demo"] is True for r in records), table
    for f in rows["facilities"]:
        assert f["name"].endswith(demo.DEMO_MARK) or (f["position_approximate"] and f["name"] in places.REAL_NAMES)
    for m in rows["martyrs"]:
        if m["is_unknown"]:
            assert m["name"] == "无名烈士"
        else:
            assert m["name"].endswith(demo.DEMO_MARK)
        assert "示例数据" in m["deeds"] and "虚构" in m["deeds"]
    for table, fields in PEOPLE_FIELDS.items():
        for r in rows[table]:
            for field in fields:
                assert r[field] is None or r[field].endswith(demo.DEMO_MARK) or r[field] == "无名烈士"


def test_no_real_person_is_named(rows):
    for table, fields in PEOPLE_FIELDS.items():
        for r in rows[table]:
            for field in fields:
                name = r[field]
                if name is None or name == "无名烈士":
                    continue
                # 某 is the placeholder of Chinese usage: no real person's name is written with it.
                assert "某" in name, name
    # Only the real sites (placed approximately) bear real names; nothing generated does.
    text = " ".join(str(v) for table in ("martyrs", "facilities", "relocations", "inspections", "maintenance_tasks")
                    for r in rows[table] if not r.get("position_approximate")
                    for v in r.values() if isinstance(v, str))
    for person in REAL_PEOPLE:
        assert person not in text, person


def test_martyr_names_have_pinyin_and_initials(rows):
    for m in rows["martyrs"][:2000]:
        core = m["name"].removesuffix(demo.DEMO_MARK)
        syllables = lazy_pinyin(core)
        assert m["name_pinyin"] == "".join(syllables)
        assert m["name_initials"] == "".join(s[0] for s in syllables)
        assert re.fullmatch(r"[a-z]+", m["name_pinyin"])


def test_martyrs_lived_and_died_plausibly(rows):
    known = [m for m in rows["martyrs"] if not m["is_unknown"]]
    deaths = Counter(m["death_year"] for m in known)
    in_war = sum(n for year, n in deaths.items() if 1927 <= year <= 1949)
    assert in_war / len(known) > 0.9
    assert any(1950 <= year <= 1959 for year in deaths)
    for m in known:
        assert m["sex"] in ("男", "女")
        city = "福建省龙岩市" if m["native_county_code"] in LONGYAN else "福建省三明市"
        assert m["native_county_code"] in LONGYAN or m["native_county_code"] in SANMING
        assert m["native_place"].startswith(city)
        assert 14 <= m["death_year"] - m["birth_year"] <= 50
        if m["enlisted_year"]:
            assert m["birth_year"] < m["enlisted_year"] <= m["death_year"]
        if m["death_date"]:
            assert m["death_date"].year == m["death_year"]


def test_two_years_of_inspections_with_overdue_facilities(rows):
    last = {}
    for i in rows["inspections"]:
        assert datetime(2020, 11, 30).date() < i["inspected_at"].date() <= demo.TODAY
        assert i["inspected_at"].utcoffset().total_seconds() == 0
        previous = last.get(i["facility_id"])
        assert previous is None or previous["inspected_at"] < i["inspected_at"]
        last[i["facility_id"]] = i
    facilities = {f["id"]: f for f in rows["facilities"]}
    overdue = [f for f in facilities.values()
               if f["id"] not in last or (demo.TODAY - last[f["id"]]["inspected_at"].date()).days > 183]
    assert 0.05 * len(facilities) < len(overdue) < 0.25 * len(facilities)
    assert any(f["id"] not in last for f in facilities.values())
    for fid, inspection in last.items():  # the facility's checklist is what its last visit confirmed
        assert all(facilities[fid][k] == inspection[k] for k in figures.STD_FIELDS)
    for fid in set(facilities) - set(last):
        assert all(facilities[fid][k] is None for k in figures.STD_FIELDS)
    assert {i["tier"] for i in rows["inspections"]} == {"station", "county", "city"}


def test_maintenance_tasks_follow_inspections(rows):
    inspections = {i["id"]: i for i in rows["inspections"]}
    for t in rows["maintenance_tasks"]:
        assert inspections[t["inspection_id"]]["facility_id"] == t["facility_id"]
        assert t["title"].endswith(demo.DEMO_MARK)
        assert (t["completed_at"] is not None) == (t["state"] == "done")
        if t["completed_at"]:
            assert t["completed_at"].date() <= demo.TODAY


def test_rows_are_plain_python_values(rows):
    allowed = (str, bool, int, float, date, list, BaseGeometry, type(None))
    for table, records in rows.items():
        keys = set(records[0])
        for r in records:
            assert set(r) == keys, table
            for key, value in r.items():
                assert isinstance(value, allowed) and not isinstance(value, np.generic), (table, key, value)


def test_a_synthetic_scale_set():
    data = demo.generate(scale=2000, seed=5)
    assert data.counts["tombs"] == data.counts["martyrs"] == 2000
    assert data.counts["facilities"] == pytest.approx(2000 / 50 + 3, abs=4)
    rows = materialise(data)
    assert {table: len(r) for table, r in rows.items()} == {t: n for t, n in data.counts.items() if n}
    for table, records in rows.items():
        for r in records:
            if r.get("geom") is not None:
                x0, y0, x1, y1 = r["geom"].bounds
                assert in_box(x0, y0, FUJIAN_BOX) and in_box(x1, y1, FUJIAN_BOX), table
    assert all(r["is_demo"] for table in rows for r in rows[table] if "is_demo" in r)
    assert next(demo.generate(scale=2000, seed=5).rows("tombs"))[:20] == rows["tombs"][:20]


def test_a_large_set_reaches_beyond_longyan_in_bounded_chunks():
    data = demo.generate(scale=200_000)
    assert data.counts["facilities"] >= 200_000 // 50
    counties = {f["county_code"] for f in next(data.rows("facilities"))}
    assert counties - set(LONGYAN)  # other Fujian prefectures join in
    chunk = next(data.rows("tombs"))
    assert len(chunk) == figures.CHUNK


@pytest.mark.parametrize("scale", [0, -5, 2.5, True])
def test_a_bad_scale_is_refused(scale):
    with pytest.raises(ValueError, match="scale"):
        demo.generate(scale=scale)
