"""The demo registry as a whole: its cities one after the other, with ids and foreign keys shifted so they
run on across cities, table by table in write order."""

from __future__ import annotations

from collections.abc import Iterator

from registry.demo.city import CityData
from registry.demo.figures import TABLES
from registry.demo.places import LONGYAN_CITY, SANMING_CITY
from registry.demo.provenance_rows import add_provenance

__all__ = ["DemoData", "generate"]

# Foreign keys of the demo's rows: the column and the table it points into (shifted with that table's ids).
_REFERENCES = {"facility_id": "facilities", "dest_facility_id": "facilities", "martyr_id": "martyrs",
               "tomb_id": "tombs", "inspection_id": "inspections"}


class DemoData:
    """A deterministic demo registry: counts per table and chunks of plain row dicts.

    The demo registry holds two cities: the first with the figures of DOMAIN.md (6,850 tombs, 4,377
    relocations) and, at demo scale, four counties of a second city (``SECOND_CITY_*``), so one registry
    serves two cities. A synthetic set (``scale``) spreads over the first city and the rest of Fujian.

    Everything is laid out once from ``seed`` (which facility, tomb, martyr and relocation goes
    where, as numpy arrays); the rows of the big tables are then built chunk by chunk, each chunk
    from its own random stream, so a million-tomb set never sits in memory as dicts and any chunk
    is the same whichever order they are read in.

    Rows carry explicit ``id`` values (1..n per table, the second city's after the first's) and
    foreign keys between them, ``is_demo=True`` and ``status='active'``; geometries are shapely
    objects in WGS 84 longitude/latitude. Columns a loader stamps itself (``version``,
    ``created_at``, ``updated_at``) are left out so the data stays the same from run to run.

    Parameters
    ----------
    scale : int, optional
        ``None`` for the demo registry; N for a synthetic set of N tombs and N martyrs
        with N/50 facilities over the first city and the rest of Fujian.
    seed : int, default 2022
        Seed of every random stream.

    Example
    -------
    >>> data = DemoData(seed=2022)
    >>> [city["relocations"] for city in data.by_city.values()]
    [4377, 24]
    >>> data.counts["relocations"]
    4401
    >>> table, rows = next(data.chunks())
    >>> table, rows[0]["is_demo"]
    ('facilities', True)
    """

    def __init__(self, scale: int | None = None, seed: int = 2022):
        if scale is not None and (isinstance(scale, bool) or int(scale) != scale or scale < 1):
            raise ValueError(f"scale must be a positive whole number of tombs or None, not {scale!r}")
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
        self.scale = None if scale is None else int(scale)
        self.seed = int(seed)
        used: set[str] = set()  # facility names are unique across the cities
        self._parts = [CityData(self.scale, self.seed, used_names=used)]
        if self.scale is None:
            self._parts.append(CityData(None, self.seed, second=True, used_names=used))
        self.county_list = [c for part in self._parts for c in part.county_list]
        self.counts = {t: sum(part.counts[t] for part in self._parts) for t in TABLES}
        # The records of each demo city (the synthetic sets count as their first city's).
        cities = (LONGYAN_CITY[0], SANMING_CITY[0])
        self.by_city = {city: dict(part.counts) for city, part in zip(cities, self._parts, strict=False)}

    def rows(self, table: str) -> Iterator[list[dict]]:
        """Yield the rows of one table in chunks of plain dicts (every dict of a table has the same keys).

        Parameters
        ----------
        table : str
            One of ``TABLES``.

        Yields
        ------
        list of dict
            Column name to value; geometries are shapely objects in WGS 84 lon/lat.

        Example
        -------
        >>> data = DemoData(seed=2022)
        >>> first = next(data.rows("relocations"))[0]
        >>> first["stage"] in ("accepted", "in_progress"), first["geom"].geom_type
        (True, 'LineString')
        """
        if table not in TABLES:
            raise ValueError(f"unknown demo table {table!r}; the demo writes {', '.join(TABLES)}")
        offsets = dict.fromkeys(TABLES, 0)
        for part in self._parts:
            for chunk in part.rows(table):
                if any(offsets.values()):
                    for row in chunk:
                        row["id"] += offsets[table]
                        for column, target in _REFERENCES.items():
                            if row.get(column) is not None:
                                row[column] += offsets[target]
                add_provenance(table, chunk, self.seed)
                yield chunk
            for t in TABLES:
                offsets[t] += part.counts[t]

    def chunks(self) -> Iterator[tuple[str, list[dict]]]:
        """Yield ``(table, rows)`` for every table in write order (referenced tables first).

        Yields
        ------
        tuple of (str, list of dict)
            The table name and a chunk of at most a few thousand rows.

        Example
        -------
        >>> data = DemoData(scale=200, seed=1)
        >>> sum(len(rows) for table, rows in data.chunks() if table == "tombs")
        200
        """
        for table in TABLES:
            for rows in self.rows(table):
                yield table, rows


def generate(scale: int | None = None, seed: int = 2022) -> DemoData:
    """Lay out a deterministic demo registry (pure: no Flask, no database).

    Parameters
    ----------
    scale : int, optional
        ``None`` for the demo registry: the first city (about 330 facilities, 6,850 tombs, 7,500 martyrs, 4,377
        relocations, two years of inspections) and a second city at demo scale (``SECOND_CITY_*``);
        N for a synthetic benchmark set of N tombs and N
        martyrs, N/50 facilities, relocations in the first city's proportion.
    seed : int, default 2022
        The same seed gives the same registry, row for row.

    Returns
    -------
    DemoData
        ``.counts`` per table and ``.chunks()`` yielding ``(table, list of dict)`` in write order.

    Example
    -------
    >>> data = generate()
    >>> first_city = next(iter(data.by_city.values()))
    >>> first_city["tombs"], first_city["relocations"]
    (6850, 4377)
    """
    return DemoData(scale=scale, seed=seed)
