"""The demo registry: deterministic demo data (two cities, or large synthetic sets) as plain row dicts per
table, for ``flask demo load`` and the benchmarks. Pure: no Flask, no database; geometry comes from ``geodata``.

- ``places``: the demo's cities, counties, townships, real sites, former names, targets and accounts (the one
  module that names real divisions); ``outlines``: the counties' sketched outlines, cells around their seats;
- ``figures``: its "today", sizes, codes and word lists; ``names``: the fictional names of people and villages;
- ``ground`` and ``layout``: where every record goes, laid out once from the seed as named records of arrays;
- ``facility_rows``, ``burial_rows``, ``upkeep_rows``: the rows built from the layout, the big tables chunk by
  chunk; ``city``: one city's tables; ``data``: the cities together (``generate``, ``DemoData``).
"""

from registry.demo.data import DemoData, generate
from registry.demo.figures import (
    APPROXIMATE_NOTE,
    CATEGORY_CODES,
    DEMO_MARK,
    LEVEL_CODES,
    SECOND_CITY_MARTYRS,
    SECOND_CITY_RELOCATIONS,
    SECOND_CITY_TOMBS,
    TABLES,
    TODAY,
)
from registry.demo.names import fictional_name
from registry.demo.places import (
    DEMO_ACCOUNTS,
    RELOCATION_TARGETS,
    County,
    demo_aliases,
    demo_divisions,
    longyan_counties,
)

__all__ = [
    "APPROXIMATE_NOTE", "CATEGORY_CODES", "DEMO_ACCOUNTS", "DEMO_MARK", "LEVEL_CODES", "RELOCATION_TARGETS",
    "SECOND_CITY_MARTYRS", "SECOND_CITY_RELOCATIONS", "SECOND_CITY_TOMBS", "TABLES", "TODAY", "County",
    "DemoData", "demo_aliases", "demo_divisions", "fictional_name", "generate", "longyan_counties",
]
