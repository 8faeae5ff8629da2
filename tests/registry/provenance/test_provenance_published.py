"""Provenance as clients read it: OGC item properties, queryables, a CQL2 filter, the exports; the demo's sources."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from geodata.exports import read_back
from registry import demo as demo_data
from registry.demo.provenance_rows import demo_ledger_ref
from registry.models import Facility, Tomb
from registry.services.provenance import stamp
from tests.factories import get_json, seed_ogc

COLUMNS = ("position_source", "position_source_ref", "position_checked_on", "facts_source", "facts_source_ref",
           "facts_checked_on")
HASH = "ab" * 32


@pytest.fixture
def seeded(any_app):
    store = any_app.extensions["registry_store"]
    ids = seed_ogc(store)
    with store.write_session() as s:
        stamp(s.get(Facility, ids["f1"]), "position", "survey_gps", checked_on=date(2026, 4, 5))
        stamp(s.get(Facility, ids["f2"]), "position", "map_digitising", checked_on=date(2019, 1, 2))
        for tomb in s.scalars(select(Tomb)):
            stamp(tomb, "position", "ledger_import", ref=HASH, checked_on=date(2022, 6, 15))
        s.commit()
    return any_app.test_client(), ids


def test_items_carry_provenance_and_filter_on_it(seeded):
    client, ids = seeded
    item = get_json(client, f"/ogc/collections/facilities/items/{ids['f1']}")
    assert item["properties"]["position_source"] == "survey_gps"
    assert item["properties"]["position_checked_on"] == "2026-04-05"
    assert item["properties"]["facts_source"] is None  # written straight to the store: not recorded
    page = get_json(client, "/ogc/collections/facilities/items",
                    query_string={"filter": "position_source = 'survey_gps'", "filter-lang": "cql2-text"})
    assert [f["id"] for f in page["features"]] == [ids["f1"]]
    page = get_json(client, "/ogc/collections/facilities/items",
                    query_string={"filter": "position_checked_on < DATE('2020-01-01')", "filter-lang": "cql2-text"})
    assert [f["id"] for f in page["features"]] == [ids["f2"]]
    tombs = get_json(client, "/ogc/collections/tombs/items", query_string={"position_source_ref": HASH})
    assert tombs["numberMatched"] == len(tombs["features"]) > 0
    assert "position_source" in get_json(client, "/ogc/collections/heritage_sites/items")["features"][0]["properties"]


@pytest.mark.parametrize("collection", ["facilities", "heritage_sites", "tombs"])
def test_schema_and_queryables_name_the_columns(seeded, collection):
    client, _ids = seeded
    for suffix in ("schema", "queryables"):
        props = get_json(client, f"/ogc/collections/{collection}/{suffix}")["properties"]
        assert props["position_source"]["type"] == "string"
        assert props["facts_checked_on"] == {"title": "facts_checked_on", "type": "string", "format": "date"}


def test_exports_carry_the_columns(seeded):
    client, ids = seeded
    back = read_back(client.get("/ogc/collections/facilities/items?f=gpkg").data, "gpkg")
    assert set(COLUMNS) <= set(back.columns)
    row = back[back["id"] == ids["f1"]].iloc[0]
    assert row["position_source"] == "survey_gps" and str(row["position_checked_on"])[:10] == "2026-04-05"
    csv = pd.read_csv(io.BytesIO(client.get("/ogc/collections/tombs/items?f=csv").data), dtype=str)
    assert set(csv["position_source_ref"]) == {HASH}
    geojson = read_back(client.get("/ogc/collections/facilities/items?f=geojson").data, "geojson")
    assert set(COLUMNS) <= set(geojson.columns)
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/ogc/collections/facilities/items?f=xlsx").data)).active
    header = [cell.value for cell in sheet[1]]
    assert set(COLUMNS) <= set(header)


def test_the_demo_gives_each_record_a_source():
    data = demo_data.generate()
    counts = {}
    for table in ("facilities", "heritage_sites", "tombs", "martyrs"):
        counts[table] = Counter((row.get("position_source"), row["facts_source"])
                                for chunk in data.rows(table) for row in chunk)
    assert sum(n for (position, _f), n in counts["facilities"].items() if position == "survey_gps") > 0.8 * sum(
        counts["facilities"].values())
    assert {p for p, _f in counts["facilities"]} == {"survey_gps", "map_digitising"}
    assert {f for _p, f in counts["facilities"]} == {"staff_edit"}
    assert {p for p, _f in counts["tombs"]} == {"ledger_import", "survey_gps", "map_digitising"}
    assert counts["martyrs"] == {(None, "ledger_import"): data.counts["martyrs"]}
    # Deterministic, and the same ledger reference (marked demo) throughout.
    again = demo_data.generate()
    first, second = next(data.rows("tombs")), next(again.rows("tombs"))
    assert first == second
    assert first[0]["facts_source_ref"] == demo_ledger_ref(2022) and demo_ledger_ref(2022).startswith("demo-")
