"""One city's demo records: its layout, laid out once from the seed, and its rows table by table."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from registry.demo.burial_rows import martyr_chunk, relocation_chunk, tomb_chunk
from registry.demo.facility_rows import facility_rows, heritage_rows
from registry.demo.figures import CHUNK, FACILITY_BLOCK, TASK_BLOCK
from registry.demo.layout import lay_out
from registry.demo.station_rows import station_rows
from registry.demo.upkeep_rows import inspection_chunk, task_chunk

__all__ = ["CityData"]

_SMALL_TABLES = ("facilities", "facility_names", "facility_zones", "heritage_sites", "service_stations")


class CityData:
    """One city's laid-out demo records (the first demo city or a synthetic set, or the second demo city),
    with ids from 1 per table; ``DemoData`` puts the cities one after the other."""

    def __init__(self, scale: int | None, seed: int, second: bool = False, used_names: set | None = None):
        # The second city draws from streams of its own, so the first city's records do not move.
        rng = np.random.default_rng([seed, 1] if second else seed)
        self.layout = lay_out(rng, scale, seed, second)
        self.county_list = self.layout.ground.counties
        built = facility_rows(self.layout, rng, used_names if used_names is not None else set())
        self._small = {"facilities": built.facilities, "facility_names": built.names,
                       "facility_zones": built.zones, "heritage_sites": heritage_rows(self.layout, rng),
                       # The stations draw from a stream of their own (Layout.rng), after everything else.
                       "service_stations": station_rows(self.layout)}
        n_facilities = self.layout.facilities.n
        # The big tables: how many records, how many per chunk and the builder of a chunk.
        self._big = {
            "martyrs": (self.layout.martyrs.n, CHUNK, martyr_chunk),
            "tombs": (self.layout.tombs.n, CHUNK, tomb_chunk),
            "relocations": (self.layout.relocations.n, CHUNK, relocation_chunk),
            "inspections": (n_facilities, FACILITY_BLOCK, inspection_chunk),
            "maintenance_tasks": (n_facilities, TASK_BLOCK,
                                  lambda layout, *span: task_chunk(layout, built.facility_names, *span)),
        }
        self.counts = {table: len(rows) for table, rows in self._small.items()}
        self.counts.update({
            "martyrs": self.layout.martyrs.n,
            "tombs": self.layout.tombs.n,
            "relocations": self.layout.relocations.n,
            "inspections": int(self.layout.upkeep.count.sum()),
            "maintenance_tasks": int(self.layout.upkeep.task_count.sum()),
        })

    def rows(self, table: str) -> Iterator[list[dict]]:
        """The table's rows in chunks (copies, so a loader may stamp them); empty chunks are left out."""
        if table in _SMALL_TABLES:
            rows = self._small[table]
            for start in range(0, len(rows), CHUNK):
                yield [dict(row) for row in rows[start:start + CHUNK]]
            return
        n, size, build = self._big[table]
        for i, start in enumerate(range(0, n, size)):
            chunk = build(self.layout, i, start, min(start + size, n))
            if chunk:
                yield chunk
