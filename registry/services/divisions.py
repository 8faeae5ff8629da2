"""Administrative divisions read from the store: names, seats, boundaries, aliases, city scopes and loading."""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass, field

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from registry import gpkg
from registry.db import Store
from registry.models import Division, DivisionAlias
from registry.services.base import Actor, InvalidInput, record_audit, unit_of_work
from registry.services.division_rows import FORMER, check_rows


@dataclass(frozen=True)
class Div:
    """One division. ``boundary`` is the boundary that judges points (locating, the ledger's and the corrections'
    checks, the extent): None when the stored one is approximate. ``outline`` is the stored boundary whatever
    its quality, for drawing; ``boundary_approximate`` says it is a sketch (drawn marked 示意, never judged by)."""

    code: str
    name: str
    level: str
    parent: str | None
    lon: float | None
    lat: float | None
    valid_from: str | None
    valid_to: str | None
    is_demo: bool
    boundary: BaseGeometry | None = None
    relocation_target: int | None = None
    outline: BaseGeometry | None = None
    boundary_approximate: bool = False


@dataclass
class Divisions:
    """A snapshot of the divisions table and its aliases, with the look-ups every part of the registry needs."""

    by_code: dict[str, Div]
    aliases: dict[str, str] = field(default_factory=dict)  # former code or name -> current code
    # former code or name -> (current code, 'former name (former code)', valid from, valid to)
    former: dict[str, tuple[str, str, str | None, str | None]] = field(default_factory=dict)

    def __post_init__(self):
        self.children: dict[str, list[str]] = {}
        for d in self.by_code.values():
            if d.parent:
                self.children.setdefault(d.parent, []).append(d.code)

    def current(self, level: str = "county") -> list[Div]:
        return sorted((d for d in self.by_code.values() if d.level == level and not d.valid_to),
                      key=lambda d: d.code)

    def counties(self) -> dict[str, tuple[str, float | None, float | None]]:
        """County code -> (name, seat lon, seat lat in WGS 84), in code order (the shape every page uses)."""
        return {d.code: (d.name, d.lon, d.lat) for d in self.current("county")}

    def name(self, code: str | None, default: str | None = None) -> str | None:
        d = self.by_code.get(code or "")
        return d.name if d else (default if default is not None else code)

    def label(self, code: str | None) -> str:
        return f"{self.name(code)} ({code})" if code else "no county"

    def expand(self, codes) -> tuple[str, ...]:
        """The county codes ``codes`` cover: a county itself, a city or province all the counties under it."""
        out: list[str] = []
        for code in codes or ():
            d = self.by_code.get(code)
            if d is None or d.level == "county" or code not in self.children:
                out.append(code)
                continue
            stack = [code]
            while stack:
                for child in self.children.get(stack.pop(), ()):
                    if self.by_code[child].level == "county":
                        out.append(child)
                    else:
                        stack.append(child)
        return tuple(dict.fromkeys(out))

    def descendants(self, code: str) -> list[str]:
        """Every division under ``code``, at any depth."""
        out, stack = [], [code]
        while stack:
            for child in self.children.get(stack.pop(), ()):
                out.append(child)
                stack.append(child)
        return out

    def city_of(self, code: str | None) -> str | None:
        d = self.by_code.get(code or "")
        while d is not None and d.level != "city":
            d = self.by_code.get(d.parent or "")
        return d.code if d else None

    def home_city(self, counties) -> str | None:
        """The one city all of ``counties`` lie in (None: no counties, or counties of several cities)."""
        cities = {self.city_of(code) for code in counties or ()}
        return cities.pop() if len(cities) == 1 else None

    def check_city(self, city: str) -> tuple[str, ...]:
        """The counties of a city's code, or InvalidInput naming it when it is not a known city."""
        if city not in self.by_code or self.by_code[city].level != "city":
            raise InvalidInput(f"city {city!r} is not a known city", field="city")
        return self.expand([city])

    def resolve(self, text: str | None, level: str = "county") -> str | None:
        """The current code of a code, a name, a short name (the name without its 县/区/市) or a former name/code."""
        text = (text or "").strip()
        if not text:
            return None
        d = self.by_code.get(text)
        if d is not None and d.level == level:
            return text
        for d in self.current(level):
            if text == d.name or (len(text) >= 2 and d.name.startswith(text) and len(d.name) - len(text) == 1):
                return d.code
        return self.aliases.get(text)

    def nearest(self, text: str, level: str = "county") -> str | None:
        """The division a mistyped code or name most likely meant, as 'name (code)', or None."""
        names = {d.name: d.code for d in self.current(level)}
        names.update({d.code: d.code for d in self.current(level)})
        names.update({old: code for old, code in self.aliases.items() if code in names.values()})
        found = difflib.get_close_matches(text, list(names), n=1, cutoff=0.3)
        return self.label(names[found[0]]) if found else None

    def unknown(self, text: str, what: str = "county") -> str:
        """The message for an unknown division: it names the text and the nearest match."""
        near = self.nearest(text)
        if not self.current("county"):
            return (f"{what} {text!r} is not a known county: no divisions are loaded "
                    "(flask --app registry divisions load FILE)")
        return f"{what} {text!r} is not a known county" + (f"; did you mean {near}?" if near else "")

    def locate(self, lon: float, lat: float) -> str | None:
        """The current county whose boundary holds the point (None: no boundary holds it); approximate
        boundaries judge nothing."""
        point = Point(lon, lat)
        for d in self.current("county"):
            if d.boundary is not None and d.boundary.covers(point):
                return d.code
        return None

    def extent(self) -> tuple[float, float, float, float] | None:
        """(min lon, min lat, max lon, max lat) of the counties' boundaries and seats, or None when empty;
        a county whose boundary is approximate counts by its seat."""
        xs, ys = [], []
        for d in self.current("county"):
            if d.boundary is not None:
                x0, y0, x1, y1 = d.boundary.bounds
                xs += [x0, x1]
                ys += [y0, y1]
            elif d.lon is not None and d.lat is not None:
                xs.append(d.lon)
                ys.append(d.lat)
        if not xs:
            return None
        return min(xs), min(ys), max(xs), max(ys)

    def townships(self, county: str | None) -> dict[str, str]:
        """The current townships loaded under a county: code -> name (empty when none are loaded)."""
        return {code: self.by_code[code].name for code in self.children.get(county or "", ())
                if self.by_code[code].level == "township" and not self.by_code[code].valid_to}

    def ledger_counties(self) -> dict[str, tuple]:
        """County code -> (name, seat lon, seat lat, boundary or None) for the ledger reader."""
        return {d.code: (d.name, d.lon, d.lat, d.boundary) for d in self.current("county")}


_cache: dict[str, tuple[tuple, Divisions]] = {}
_lock = threading.Lock()


def _connection_of(source) -> tuple[object, str, bool]:
    if isinstance(source, Store):
        return source, source.engine.url.render_as_string(hide_password=True), True
    if isinstance(source, Session):
        return source, str(source.get_bind().url), False
    if isinstance(source, Connection):
        return source, str(source.engine.url), False
    raise TypeError(f"divisions are read from a Store, Session or Connection, not {type(source).__name__}")


def _token(runner) -> tuple:
    # One cheap query tells whether the tables changed: a load replaces rows, so ids and counts move.
    row = runner.execute(select(func.count(Division.id), func.max(Division.id),
                                select(func.count(DivisionAlias.id)).scalar_subquery(),
                                select(func.max(DivisionAlias.id)).scalar_subquery())).one()
    return tuple(row)


def _read(runner) -> Divisions:
    rows = runner.execute(select(Division.__table__)).mappings().all()
    by_code = {r["code"]: _div(r) for r in rows}
    aliases, former = {}, {}
    for r in runner.execute(select(DivisionAlias.__table__)).mappings():
        label = " ".join(v for v in (r["former_name"], f"({r['former_code']})" if r["former_code"] else None) if v)
        for key in (r["former_code"], r["former_name"]):
            if key:
                aliases[key] = r["code"]
                former[key] = (r["code"], label, r["valid_from"], r["valid_to"])
    return Divisions(by_code, aliases, former)


def _div(r) -> Div:
    # An approximate boundary is kept only as the outline: nothing that judges a point ever sees it.
    approximate = bool(r["boundary_approximate"]) and r["boundary"] is not None
    return Div(r["code"], r["name"], r["level"], r["parent_code"], r["seat_lon"], r["seat_lat"], r["valid_from"],
               r["valid_to"], bool(r["is_demo"]), None if approximate else r["boundary"], r["relocation_target"],
               r["boundary"], approximate)


def current(source) -> Divisions:
    """The divisions of the store behind ``source`` (a Store, Session or Connection), cached per process
    until the tables change."""
    source, key, own = _connection_of(source)
    if own:
        with source.session() as session:
            return _current(session, key)
    return _current(source, key)


def _current(runner, key: str) -> Divisions:
    token = _token(runner)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == token:
        return hit[1]
    value = _read(runner)
    with _lock:
        _cache[key] = (token, value)
    return value


def cached_name(code: str | None) -> str | None:
    """The name of a division from the divisions this process read last (the code itself when unknown)."""
    with _lock:
        snapshots = [value for _token, value in _cache.values()]
    for value in reversed(snapshots):
        if code in value.by_code:
            return value.by_code[code].name
    return code


def label(code: str | None) -> str:
    """'name (code)' of a county from the divisions this process read last (only the code when unknown):
    for messages raised where no store is at hand."""
    if not code:
        return "no county"
    with _lock:
        snapshots = [value for _token, value in _cache.values()]
    for value in reversed(snapshots):
        if code in value.by_code:
            return value.label(code)
    return code


def first_view(source) -> tuple[tuple[float, float], int]:
    """The maps' first view: (lat, lon) of the centre of the registry's extent and a zoom that shows it."""
    extent = current(source).extent()
    if extent is None:
        return (35.0, 105.0), 4  # no divisions loaded yet: the whole country
    x0, y0, x1, y1 = extent
    span = max(x1 - x0, y1 - y0)
    zoom = next((z for limit, z in ((0.6, 10), (2.0, 9), (4.0, 8), (8.0, 7), (16.0, 6)) if span <= limit), 5)
    return (round((y0 + y1) / 2, 4), round((x0 + x1) / 2, 4)), zoom


ALL_CITIES = "all"  # ?city=all: a report of the whole registry, also for a user whose counties lie in one city


def report_city(source, actor: Actor | None, requested: str | None) -> str | None:
    """The city a report covers: the one asked for (``all``: the whole registry), else the city all the
    actor's counties lie in, so a city's (or a county's) staff see their own city's report by default."""
    if requested == ALL_CITIES:
        return None
    if requested:
        return requested
    if actor is None or not actor.counties:
        return None
    return current(source).home_city(actor.counties)


def counties(source) -> dict[str, tuple[str, float | None, float | None]]:
    """County code -> (name, seat lon, seat lat) of the store's current counties."""
    return current(source).counties()


def check_township(source, county: str | None, township: str | None) -> str | None:
    """The township name to store for a facility: where the county's townships are loaded, a township's code
    or name must be one of them (refused naming the nearest); elsewhere the text as given."""
    text = (township or "").strip()
    towns = current(source).townships(county)
    if not text or not towns:
        return township
    if text in towns:
        return towns[text]
    if text in towns.values():
        return text
    near = difflib.get_close_matches(text, list(towns.values()), n=1, cutoff=0.3)
    raise InvalidInput(f"township {text!r} is not a township of {label(county)}"
                       + (f"; did you mean {near[0]}?" if near else ""), field="township")


def check_county(source, code: str | None, field_name: str = "county_code") -> None:
    """Refuse a county code that is not a current county, naming it and the nearest match."""
    if code is None:
        return
    divisions = current(source)
    if code not in divisions.counties():
        raise InvalidInput(divisions.unknown(code, field_name), field=field_name)


# --- loading --------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """What a divisions file holds and what loading it did (or would do, on a dry run)."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    aliases: int = 0
    committed: bool = False


def load_rows(store: Store, actor: Actor, rows: list[dict], *, commit: bool, source: str = "file",
              audit: bool = True) -> LoadReport:
    """Check and (with ``commit``) load divisions in one transaction with its audit event; a division
    already in the registry is replaced by the file's row; any bad row refuses the whole file."""
    if not actor.can("admin"):
        raise InvalidInput("only administrators load divisions", field="actor")
    report = LoadReport()
    with unit_of_work(store) as session:
        known = current(session).by_code
        divisions, aliases = check_rows(rows, known)
        for d in divisions:
            (report.replaced if d["code"] in known else report.added).append(d["code"])
        report.aliases = len(aliases)
        if not commit:
            session.rollback()
            return report
        write_rows(session, store, divisions, aliases)
        if audit:  # only the test templates, seeded before any history exists, leave it out
            record_audit(session, actor, "divisions_load", entity_type="divisions",
                         note=f"Loaded divisions from {source}: {len(report.added)} added, "
                              f"{len(report.replaced)} replaced, {report.aliases} former names")
        report.committed = True
    return report


def write_rows(session: Session, store: Store, divisions: list[dict], aliases: list[dict]) -> None:
    """Write checked rows in ``session``: a division already there is replaced by the new row."""
    codes = [d["code"] for d in divisions]
    if codes:
        session.execute(delete(Division).where(Division.code.in_(codes)))
        session.execute(insert(Division), [{k: v for k, v in d.items() if k != "row"} for d in divisions])
    for a in aliases:
        session.execute(delete(DivisionAlias).where(
            DivisionAlias.code == a["code"],
            or_(DivisionAlias.former_code == a["former_code"], DivisionAlias.former_name == a["former_name"])))
    if aliases:
        session.execute(insert(DivisionAlias), [{k: v for k, v in a.items() if k != "row"} for a in aliases])
    if store.kind == "geopackage" and any(d["boundary"] is not None for d in divisions):
        conn = session.connection()
        gpkg.refresh_contents_extent(lambda sql, params=(): conn.exec_driver_sql(sql, tuple(params)),
                                     "divisions", "boundary")


def demo_rows(counties=None) -> list[dict]:
    """The demo's divisions and former names as the rows of a divisions file."""
    from registry import demo as demo_data

    rows = [dict(r, row=i) for i, r in enumerate(demo_data.demo_divisions(counties), start=1)]
    start = len(rows)
    rows += [{"code": a["former_code"], "name": a["former_name"], "level": FORMER, "parent": a["code"],
              "valid_from": a["valid_from"], "valid_to": a["valid_to"], "is_demo": True, "row": start + i}
             for i, a in enumerate(demo_data.demo_aliases(), start=1)]
    return rows


def load_demo_divisions(store: Store, counties=None, *, audit: bool = True) -> LoadReport:
    """Load the demo's divisions (the two demo cities and their counties, marked demo)."""
    return load_rows(store, Actor.system("demo loader"), demo_rows(counties), commit=True, source="the demo data",
                     audit=audit)
