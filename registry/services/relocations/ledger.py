"""Ledger import (台账导入): a dry run that names every row's problems, then an all-or-nothing, idempotent import."""

from __future__ import annotations

import gc
import json
import math
import re
import struct
import unicodedata
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import Boolean, Date, bindparam, select, text, update
from sqlalchemy.dialects import sqlite as sqlite_dialect

from geodata.origins import public_origin
from geodata.plots import format_plot
from registry import gpkg
from registry.db import Store
from registry.files import ledger as ledgers
from registry.models import ColumnMapping, Facility, ImportBatch, Martyr, Relocation, Tomb
from registry.models.name_grams import UNKNOWN_NAME
from registry.models.types import Geometry, JSONText, UTCDateTime, utcnow
from registry.models.vocab import RELOCATION_STEPS as STEPS
from registry.services.access import readable_counties, writable_counties
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    load,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.public.name_grams import refresh_name_grams
from registry.services.relocations import (
    DESTINATION_CATEGORIES,
    county_aliases,
    county_seats_wgs84,
    origin_graves,
    origin_graves_of_martyrs,
    plot_taken,
    retirement_note,
)
from registry.services.relocations import scope_clause as relocation_scope

Progress = Callable[[str, int, int], None]
_SQLITE = sqlite_dialect.dialect()
CHUNK = 5000
RELOCATION_FIELDS = (
    "code", "martyr_id", "origin_place", "origin_county_code", "origin_township", "origin_village",
    "origin_lon", "origin_lat", "origin_point_method", "dest_facility_id", "dest_plot_area", "dest_plot_row",
    "dest_plot_number", "family_consent", "consent_by", "consent_relation", "approval_number", "approval_body",
    "surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on", "accepted_on", "batch", "project",
    "funding_source", "funding_amount", "effects", "note",
)


@dataclass
class Preview:
    """The dry run: every issue, the rows that would be added and those already in the registry."""

    filename: str
    ledger: ledgers.Ledger | None
    file_error: str | None = None
    new: list = field(default_factory=list)  # (LedgerRow, values ready to insert)
    existing: int = 0
    already_imported: ImportBatch | None = None
    # The original graves importing would retire (``origin_graves_to_retire``): OriginGrave, by tomb id.
    origin_graves: list = field(default_factory=list)

    @property
    def errors(self):
        return self.ledger.errors if self.ledger else []

    @property
    def warnings(self):
        return self.ledger.warnings if self.ledger else []

    @property
    def clean(self) -> bool:
        return self.file_error is None and not self.errors

    @property
    def undecided(self) -> list:
        """Columns proposed for a field or not used, which the user has yet to confirm or ignore."""
        return self.ledger.undecided if self.ledger else []

    @property
    def ready(self) -> bool:
        """Clean, and every column accounted for: what a commit needs."""
        return self.clean and not self.undecided

    @property
    def rows_read(self) -> int:
        return len(self.ledger.rows) if self.ledger else 0


def _norm_name(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s（）()]|示例", "", text)


# How ledgers write that a martyr's name is not known: such a row gets an unknown martyr (无名烈士) of its own,
# never one matched by that "name" on the roll.
UNKNOWN_WORDS = frozenset({UNKNOWN_NAME, "无名", "无名氏", "佚名", "不详", "姓名不详", "未知"})


def _in_list(session, query: str, values: list[str]) -> list[tuple]:
    """Rows where ``query``'s last column is one of ``values``: one array parameter per query, not many binds."""
    found: list[tuple] = []
    for start in range(0, len(values), 50000):
        part = values[start:start + 50000]
        if session.bind.dialect.name == "sqlite":
            rows = session.execute(text(f"{query} IN (SELECT value FROM json_each(:values))"),
                                   {"values": json.dumps(part, ensure_ascii=False)})
        else:
            # One JSON text, not an array parameter: psycopg adapts an array element by element in Python.
            rows = session.execute(text(f"{query} IN (SELECT jsonb_array_elements_text(CAST(:values AS jsonb)))"),
                                   {"values": json.dumps(part, ensure_ascii=False)})
        found.extend(tuple(r) for r in rows)
    return found


def _plot_label(area, row, number) -> str:
    return format_plot(area, row, number)


def _resolve(session, ledger: ledgers.Ledger, progress: Progress | None) -> tuple[list, int]:
    """Match destinations, plots and martyrs against the registry; name what cannot be matched.

    Each new row's values say what the import will write besides the relocation: the tomb at the
    destination (an existing one found at the same facility and plot, else a new one at the ledger's
    destination point or the facility's) and the martyr (one on the roll matched by name, else a new
    one named by the ledger, or an unknown martyr, 无名烈士, where the ledger names none).
    """
    facilities = session.execute(select(Facility.id, Facility.code, Facility.name, Facility.geom).where(
        Facility.category.in_(DESTINATION_CATEGORIES), Facility.status == "active")).all()
    by_text: dict[str, tuple] = {}
    names_of: dict[int, str] = {}
    for fid, code, name, geom in facilities:
        by_text[code] = (fid, geom.x, geom.y)
        by_text[_norm_name(name)] = (fid, geom.x, geom.y)
        names_of[fid] = name
    names = {r.values["martyr_name"] for r in ledger.rows if r.values.get("martyr_name")} - UNKNOWN_WORDS
    martyrs: dict[str, list] = {}
    for mid, name, county in _in_list(session, "SELECT id, name, native_county_code FROM martyrs WHERE status = "
                                      "'active' AND name", sorted(names)):
        martyrs.setdefault(name, []).append((mid, county))
    existing_codes = {code for (code,) in _in_list(session, "SELECT code FROM relocations WHERE code",
                                                   [r.key for r in ledger.rows])}
    dest_header = _header(ledger, "dest_facility")
    name_header = _header(ledger, "martyr_name")
    plot_header = _header(ledger, "dest_plot_number")
    new, existing, given, reference = [], 0, [], []
    total = len(ledger.rows)
    dest_cache: dict[str, tuple | None] = {}
    for n, row in enumerate(ledger.rows, start=1):
        if progress is not None and n % 2000 == 0:
            progress("check", n, total)
        v = row.values
        dest_text = v.get("dest_facility") or ""
        dest = dest_cache.get(dest_text, False)
        if dest is False:
            dest = dest_cache[dest_text] = by_text.get(dest_text) or by_text.get(_norm_name(dest_text))
        if dest is None:
            ledger.error("unknown destination facility: no cemetery or collective burial ground of that name or "
                         "code is in the registry", row=row.number, column=dest_header, value=v.get("dest_facility"),
                         kind="destination")
            continue
        if v.get("dest_raw"):
            given.append(v["dest_raw"])
            reference.append((dest[1], dest[2]))
        if row.key in existing_codes:
            existing += 1
            continue
        martyr_id = None
        new_martyr = None  # (name, is_unknown) of a martyr the import adds to the roll
        ambiguous = False
        name = v.get("martyr_name")
        if not name or name in UNKNOWN_WORDS:
            new_martyr = (UNKNOWN_NAME, True)
        else:
            found = martyrs.get(name, ())
            same_county = [m for m in found if m[1] == v.get("county_code")] if len(found) > 1 else ()
            if len(found) == 1:
                martyr_id = found[0][0]
            elif len(same_county) == 1:
                martyr_id = same_county[0][0]
            elif found:
                ambiguous = True
                ledger.warn(f"{len(found)} martyrs on the roll share this name; none linked (link it on the "
                            "relocation's page)", row=row.number, column=name_header, value=name, kind="martyr")
            else:
                new_martyr = (name, False)
                ledger.warn("no martyr of this name on the roll: the import adds them to the roll under this name",
                            row=row.number, column=name_header, value=name, kind="martyr")
        # Every row carries every column: executemany needs the same keys in each.
        values = dict(zip(RELOCATION_FIELDS, map(v.get, RELOCATION_FIELDS), strict=True))
        values["code"] = row.key
        values["origin_county_code"] = v.get("county_code")
        values["martyr_id"] = martyr_id
        values["dest_facility_id"] = dest[0]
        values["family_consent"] = bool(v.get("family_consent"))
        if values["origin_point_method"] is None and v.get("origin_lon") is not None:
            values["origin_point_method"] = "ledger"
        if ambiguous:
            # Keep the ledger's name on the record, so the martyr can be linked later by hand.
            values["note"] = "；".join(p for p in (v.get("note"), f"台账烈士姓名：{name}") if p)
        # The line starts at the origin as the public may see it; origin_lon/origin_lat keep the exact point.
        tomb_point = (v["dest_lon"], v["dest_lat"]) if v.get("dest_lon") is not None else (dest[1], dest[2])
        # The line ends where the martyr lies: the tomb's point (the ledger's plot point, else the facility's).
        values["geom"] = ((public_origin(v["origin_lon"], v["origin_lat"]), tomb_point)
                          if v.get("origin_lon") is not None else None)
        values["stage"] = ("accepted" if values["accepted_on"] else
                           "in_progress" if any(map(values.get, STEPS)) else "planned")
        new.append((row, values, Planned(new_martyr, name if ambiguous else None, tomb_point,
                                         values["reburied_on"] is not None)))
    _match_plots(session, ledger, new, names_of, plot_header)
    better = ledgers.crs_check(ledger.crs, given, reference)
    if better is not None:
        crs, declared_m, better_m = better
        ledger.warn(f"the destination coordinates lie a median {declared_m:,.0f} m from the registry's positions "
                    f"read as {ledger.crs}, but {better_m:,.0f} m read as {crs}: were the points given in {crs}? "
                    "Choose the right coordinate system and run the check again", column="crs", value=ledger.crs,
                    kind="crs")
    if ledger.errors:
        # Rows refused by a plot conflict are not written; the import refuses the whole file anyway.
        bad = {i.row for i in ledger.errors if i.row}
        new = [item for item in new if item[0].number not in bad]
    return new, existing


@dataclass
class Planned:
    """What a new row writes besides its relocation: its martyr and its tomb at the destination."""

    new_martyr: tuple | None  # (name, is_unknown) to add to the roll, or None
    ledger_name: str | None  # a name that matched several martyrs: kept to match the plot's martyr
    tomb_point: tuple  # (lon, lat) of the tomb, WGS 84
    reburied: bool
    tomb_id: int | None = None  # a tomb already at the plot, found instead of made
    tomb_martyr: int | None = None  # that tomb's martyr
    link_tomb: bool = False  # the found tomb has no martyr yet: the import links it


def _plot_key(values: dict) -> tuple:
    # A plot as the store's one-tomb-per-plot index reads it: a blank area or row is no area or row.
    return (values["dest_facility_id"], values["dest_plot_area"] or None, values["dest_plot_row"] or None,
            values["dest_plot_number"])


def _plot_tombs(session, facility_ids: list) -> dict[tuple, tuple]:
    """The active tombs at plots of these facilities: (facility, area, row, number) -> (tomb, martyr, name)."""
    tombs: dict[tuple, tuple] = {}
    for start in range(0, len(facility_ids), 900):
        for tid, fid, area, row_, number, mid, mname in session.execute(
                select(Tomb.id, Tomb.facility_id, Tomb.plot_area, Tomb.plot_row, Tomb.plot_number, Tomb.martyr_id,
                       Martyr.name).outerjoin(Martyr, Martyr.id == Tomb.martyr_id)
                .where(Tomb.facility_id.in_(facility_ids[start:start + 900]), Tomb.status == "active",
                       Tomb.plot_number.is_not(None))):
            tombs.setdefault((fid, area or None, row_ or None, number), (tid, mid, mname))
    return tombs


def _match_plots(session, ledger: ledgers.Ledger, new: list, names_of: dict, plot_header: str) -> None:
    """Find the tombs already at the rows' plots (a re-import finds what it made); refuse a plot taken twice."""
    wanted = [(item, _plot_key(item[1])) for item in new if item[1]["dest_plot_number"]]
    if not wanted:
        return
    tombs = _plot_tombs(session, sorted({key[0] for _item, key in wanted}))
    taken: dict[tuple, int] = {}
    for (row, values, plan), key in wanted:
        label = f"{names_of.get(key[0], '')} {_plot_label(*key[1:])}"
        if key in taken:
            ledger.error(f"plot {label} is given to row {taken[key]} too: one plot holds one tomb", row=row.number,
                         column=plot_header, value=values["dest_plot_number"], kind="plot")
            continue
        taken[key] = row.number
        found = tombs.get(key)
        if found is None:
            continue
        tid, mid, mname = found
        if mid is None:
            plan.link_tomb = True
        elif plan.new_martyr is not None and plan.new_martyr[1]:
            # The ledger names no one: whoever the registry has at that plot is who lies there.
            plan.new_martyr = None
            values["martyr_id"] = mid
        elif plan.ledger_name is not None and plan.ledger_name == mname:
            values["martyr_id"] = mid  # the plot tells which of the namesakes it is
        elif values["martyr_id"] != mid:
            ledger.error(f"plot {label} already holds the tomb of {mname or 'another martyr'} (tomb {tid}): check "
                         "the plot or the name", row=row.number, column=plot_header,
                         value=values["dest_plot_number"], kind="plot")
            continue
        plan.tomb_id, plan.tomb_martyr = tid, mid


def _header(ledger: ledgers.Ledger, field_name: str) -> str:
    for header, target in ledger.mapping.items():
        if target == field_name and any(ledgers.header_key(h) == header for h in ledger.headers):
            return next(h for h in ledger.headers if ledgers.header_key(h) == header)
    return ledgers.FIELDS[field_name][0]


def preview(store: Store, source: str | Path | bytes, filename: str, crs: str = "EPSG:4326",
            mapping: dict | None = None, progress: Progress | None = None,
            accept_proposals: bool = False) -> Preview:
    """Dry run: read and check the ledger against the registry; nothing is written.

    Every sheet column is accounted for in ``ledger.columns`` (mapped, proposed, ignored or unused);
    ``accept_proposals`` reads the proposed ones as the fields proposed.
    """
    def parse_progress(n):
        if progress is not None:
            progress("read", n, 0)

    try:
        ledger = ledgers.read_ledger(source, filename, crs=crs, mapping=mapping, counties=county_seats_wgs84(store),
                                     aliases=county_aliases(store),
                                     progress=parse_progress, accept_proposals=accept_proposals)
    except ledgers.LedgerError as exc:
        return Preview(filename, None, file_error=str(exc))
    result = Preview(filename, ledger)
    with store.session() as session:
        result.already_imported = session.scalar(select(ImportBatch).where(
            ImportBatch.content_hash == ledger.content_hash))
        result.new, result.existing = _resolve(session, ledger, progress)
        result.origin_graves = origin_graves_to_retire(session, result.new)
    # Issues in the order a reader goes through the sheet.
    ledger.issues.sort(key=lambda i: (i.row or 0, i.level != "error"))
    return result


@dataclass(frozen=True)
class OriginGrave:
    """An original grave the import would retire: its martyr was reburied by a ledger row."""

    tomb_id: int
    martyr_name: str
    place: str  # the grave's facility, else the row's origin place
    row: int  # the ledger row that reburies the martyr (the first, where several do)


def origin_graves_to_retire(session, new: list) -> list[OriginGrave]:
    """The active original graves committing these rows would retire; read only, before anything is written.

    The rule of ``relocations.origin_graves`` (which the commit applies to the relocations it has written),
    keyed by martyr: only rows with a reburial date and a martyr on the roll count, as a martyr the import
    adds has no grave yet. The import's own relocations end at tombs in cemeteries and collective burial
    grounds, which are never original graves, so the relocations it would add change nothing here.
    """
    first: dict[int, tuple] = {}  # martyr -> (row, values) of their first reburial (then the first row)
    for row, values, _plan in new:
        mid = values["martyr_id"]
        if values["reburied_on"] is None or mid is None:
            continue
        if mid not in first or values["reburied_on"] < first[mid][1]["reburied_on"]:
            first[mid] = (row, values)
    if not first:
        return []
    out = []
    for tid, mid, name, facility in origin_graves_of_martyrs(session, list(first)):
        row, values = first[mid]
        out.append(OriginGrave(tid, name or "", facility or values.get("origin_place") or "", row.number))
    return out


@dataclass
class ImportResult:
    batch_id: int | None
    added: int
    existing: int
    warnings: int
    already_imported: bool
    tombs_added: int = 0
    martyrs_added: int = 0
    originals_retired: int = 0  # original graves of martyrs the ledger reburied, retired


def run_import(store: Store, actor: Actor, source: str | Path | bytes, filename: str, crs: str = "EPSG:4326",
               mapping: dict | None = None, progress: Progress | None = None,
               accept_proposals: bool = False) -> ImportResult:
    """Import a ledger: all its new rows in one transaction, or nothing; a file imported before adds nothing.

    The dry run is repeated here (the file may have changed since the preview); any error refuses the
    whole file. Rows whose code (or natural key) is already in the registry are counted, not added.
    Each new row writes its relocation, the tomb at the destination plot (or links the tomb found
    there) and, where the roll has no match, its martyr (无名烈士 where the ledger names none). One
    audit event records the file's hash and the ids of every record written, by ledger row.
    """
    if not actor.can("manager"):
        raise Forbidden(f"{actor.name} may not import relocation ledgers: the counties' managers and administrators "
                        "import them")
    with _gc_paused():
        return _run_import(store, actor, source, filename, crs, mapping, progress, accept_proposals)


@contextmanager
def _gc_paused():
    # The import holds some 100,000 row dicts that form no cycles: the cyclic collector would rescan the
    # growing heap again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def undecided_message(columns) -> str:
    """What a commit with columns not yet decided on says: each column, what it looks like, and how to decide."""
    parts = []
    for c in columns:
        if c.status == "proposed":
            parts.append(f"column {c.letter} {c.header!r} looks like {c.field} ({ledgers.FIELDS[c.field][0]}): "
                         f"confirm it ({c.header}={c.field}) or ignore it ({c.header}=)")
        else:
            parts.append(f"column {c.letter} {c.header!r} is not used ({c.why}): map it ({c.header}=field) or ignore "
                         f"it ({c.header}=)")
    return (f"{len(columns)} column(s) need a decision before the ledger is imported, so nothing was imported: "
            + "; ".join(parts))


def decisions(ledger: ledgers.Ledger, mapping: dict | None) -> dict:
    """The mapping as used: the one given, with the proposals confirmed on this run added (header -> field)."""
    out = dict(mapping or {})
    for c in ledger.columns:
        if c.confirmed:
            out[c.header] = c.field
    return out


def _run_import(store, actor, source, filename, crs, mapping, progress, accept_proposals=False) -> ImportResult:
    checked = preview(store, source, filename, crs, mapping, progress, accept_proposals)
    if checked.file_error:
        raise InvalidInput(checked.file_error, field="file")
    if checked.errors:
        first = checked.errors[0]
        where = f"row {first.row}, " if first.row else ""
        raise InvalidInput(f"the ledger has {len(checked.errors)} error(s), so nothing was imported; first: {where}"
                           f"{first.column or ''} {first.value or ''}: {first.why}", field="file",
                           errors=checked.errors)
    ledger = checked.ledger
    if checked.undecided:
        raise InvalidInput(undecided_message(checked.undecided), field="mapping")
    allowed = writable_counties(actor)
    if allowed is not None:
        # A manager imports relocations their counties write: those their facilities receive, or (without a
        # destination) those leaving their counties, as a relocation recorded by hand.
        dest_ids = sorted({item[1]["dest_facility_id"] for item in checked.new if item[1].get("dest_facility_id")})
        with store.session() as session:
            counties_of = dict(session.execute(select(Facility.id, Facility.county_code)
                                               .where(Facility.id.in_(dest_ids))).all()) if dest_ids else {}
        outside = [item[0].number for item in checked.new
                   if (counties_of.get(item[1].get("dest_facility_id")) if item[1].get("dest_facility_id")
                       else item[1]["origin_county_code"]) not in allowed]
        if outside:
            raise Forbidden(f"{actor.name} records relocations for {', '.join(allowed) or 'no county'} only, but rows "
                            f"{', '.join(map(str, outside[:10]))}{' …' if len(outside) > 10 else ''} are received by "
                            "(or, without a destination, leave) other counties; nothing was imported", field="file")
    if checked.already_imported is not None:
        return ImportResult(checked.already_imported.id, 0, checked.existing + len(checked.new),
                            len(checked.warnings), True)
    with _plot_guard(store, checked), unit_of_work(store) as session:
        if session.scalar(select(ImportBatch.id).where(ImportBatch.content_hash == ledger.content_hash)):
            raise Conflict("this ledger was imported a moment ago by someone else; nothing was added", field="file")
        conn = session.connection()
        cache_size = None
        if store.kind == "geopackage" and len(checked.new) > CHUNK:
            # A large page cache keeps the growing indexes and R*Tree in memory during a big import (the demo
            # loader does the same); without it the insert slows down as the table grows. Restored below.
            cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql(f"PRAGMA cache_size=-{256 * 1024}")
        try:
            written = _write(session, store, checked.new, progress, actor)
        finally:
            if cache_size is not None:
                conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_size)}")
        rows = [item[1] for item in checked.new]
        batch = ImportBatch(content_hash=ledger.content_hash, filename=Path(filename or "ledger").name,
                            crs=ledger.crs, mapping=decisions(ledger, mapping),
                            rows_read=len(ledger.rows), rows_added=len(rows), rows_existing=checked.existing,
                            warnings=len(checked.warnings), actor_name=actor.name,
                            codes=[r["code"] for r in rows])
        session.add(batch)
        session.flush()
        event = record_audit(
            session, actor, "import", entity_type="relocation_import_batches", entity_id=batch.id,
            note=f"ledger {batch.filename}: {len(rows)} relocations added, {written['tombs_created']} tombs and "
                 f"{written['martyrs_created']} martyrs added, {written['tombs_linked']} tombs found at their plots, "
                 f"{written['originals_retired']} original graves of reburied martyrs retired, "
                 f"{checked.existing} already in the registry, {len(checked.warnings)} warnings, CRS {ledger.crs}, "
                 f"sha256 {ledger.content_hash}")
        # The event names every record written, so the import can be traced row by row without an event per row.
        event.after = written["trail"] | {"file": batch.filename, "sha256": ledger.content_hash,
                                          "import_batch_id": batch.id}
    return ImportResult(batch.id, len(rows), checked.existing, len(checked.warnings), False,
                        written["tombs_created"], written["martyrs_created"], written["originals_retired"])


@contextmanager
def _plot_guard(store: Store, checked: Preview):
    """Around the import's transaction: the store refusing a tomb at a plot filled since the check is a Conflict.

    The check ran before the write transaction began, so another writer may have given one of the plots a
    tomb meanwhile; the one-tomb-per-plot index then refuses the import's tomb (through SQLAlchemy, sqlite3 or
    a COPY, hence any exception naming the index). The transaction is rolled back; the rows are named.
    """
    fills = [(row, values) for row, values, plan in checked.new if plan.tomb_id is None and values["dest_plot_number"]]
    try:
        yield
    except Exception as exc:
        if not plot_taken(exc):
            raise
        raise _plots_filled_meanwhile(store, checked.ledger, fills) from None


def _plots_filled_meanwhile(store: Store, ledger: ledgers.Ledger, fills: list) -> Conflict:
    header = _header(ledger, "dest_plot_number")
    facility_ids = sorted({values["dest_facility_id"] for _row, values in fills})
    with store.session() as session:
        tombs = _plot_tombs(session, facility_ids)
        names = dict(session.execute(select(Facility.id, Facility.name).where(Facility.id.in_(facility_ids))).all())
    issues = []
    for row, values in fills:
        key = _plot_key(values)
        if key in tombs:
            issues.append(ledgers.Issue(
                "error", f"plot {names.get(key[0], '')} {_plot_label(*key[1:])} was given tomb {tombs[key][0]} by "
                "someone else while this ledger was being imported, and a plot holds one active tomb", row.number,
                header, values["dest_plot_number"], "plot"))
    first = (f"first: row {issues[0].row}, {header} {issues[0].value}: {issues[0].why}" if issues
             else "a plot of the ledger was given a tomb by someone else meanwhile")
    return Conflict(f"nothing was imported: {first}. Check the ledger again; the dry run shows every row",
                    field="file", errors=issues)


def _runs(pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Compress (ledger row, id) pairs into runs [first row, last row, first id] where both step by one.

    Examples
    --------
    >>> _runs([(3, 10), (4, 11), (5, 12), (7, 13)])
    [[3, 5, 10], [7, 7, 13]]
    """
    runs: list[list[int]] = []
    for row, ident in pairs:
        if runs and row == runs[-1][1] + 1 and ident == runs[-1][2] + (row - runs[-1][0]):
            runs[-1][1] = row
        else:
            runs.append([row, row, ident])
    return runs


def _allocate_ids(conn, store: Store, table: str, n: int) -> list[int]:
    """Ids for ``n`` new rows of ``table``, taken before writing so the rows can point at each other.

    On GeoPackage the write lock is held (BEGIN IMMEDIATE), so the next ids are those after the table's
    AUTOINCREMENT high-water mark (never one a retired or rolled-back row had); explicit ids move that mark
    on. On PostGIS they are drawn from the table's sequence.
    """
    if not n:
        return []
    if store.kind == "geopackage":
        top = conn.exec_driver_sql(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), "
            f"coalesce((SELECT max(id) FROM {table}), 0))").scalar()
        return list(range(top + 1, top + 1 + n))
    # Drawn on the server: one range comes back as its ends; only when another writer drew ids meanwhile
    # (so ours are not one range) does the whole list travel.
    low, high, scattered = conn.exec_driver_sql(
        f"WITH drawn AS (SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id "
        f"FROM generate_series(1, {int(n)})) SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = count(*) "
        "THEN NULL ELSE array_agg(id ORDER BY id) END FROM drawn").one()
    return list(range(low, high + 1)) if scattered is None else list(scattered)


_PINYIN_CACHE: dict[str, tuple[str, str]] = {}


def _pinyin(name: str) -> tuple[str, str]:
    """Full pinyin (no tones) and initials of a name, as the roll keeps them for search and order."""
    if name not in _PINYIN_CACHE:
        from pypinyin import lazy_pinyin

        syllables = lazy_pinyin(name)
        _PINYIN_CACHE[name] = ("".join(syllables), "".join(p[0] for p in syllables if p))
    return _PINYIN_CACHE[name]


def _write(session, store: Store, new: list, progress: Progress | None, actor: Actor | None = None) -> dict:
    """Write the new rows' martyrs, tombs and relocations in bulk; return the counts and the audit trail."""
    conn = session.connection()
    now = utcnow()
    stamp = {"status": "active", "is_demo": False, "version": 1, "created_at": now, "updated_at": now}
    martyr_rows = [item for item in new if item[2].new_martyr is not None]
    martyr_ids = _allocate_ids(conn, store, "martyrs", len(martyr_rows))
    for (_row, values, _plan), mid in zip(martyr_rows, martyr_ids, strict=True):
        values["martyr_id"] = mid
    tomb_rows = [item for item in new if item[2].tomb_id is None]
    tomb_ids = _allocate_ids(conn, store, "tombs", len(tomb_rows))
    for (_row, _values, plan), tid in zip(tomb_rows, tomb_ids, strict=True):
        plan.tomb_id = tid
    relocation_ids = _allocate_ids(conn, store, "relocations", len(new))
    total = len(martyr_rows) + len(tomb_rows) + len(new)
    done = 0

    def report(n):
        # Progress is told in ledger rows, though each row writes up to three records.
        nonlocal done
        done += n
        if progress is not None:
            progress("write", round(done / total * len(new)), len(new))

    if martyr_rows:
        names = [plan.new_martyr for _row, _values, plan in martyr_rows]
        pinyin = [_pinyin(name) for name, _unknown in names]
        _insert(conn, store, Martyr.__table__, {
            "id": martyr_ids, "name": [n for n, _u in names], "is_unknown": [u for _n, u in names],
            "name_pinyin": [p[0] for p in pinyin], "name_initials": [p[1] for p in pinyin],
        }, stamp, report)
        # Core inserts pass the ORM's hooks: index the new names for the roll's search here, in this transaction.
        refresh_name_grams(session, martyr_ids)
    if tomb_rows:
        points = np.array([plan.tomb_point for _row, _values, plan in tomb_rows], dtype=float)
        _insert(conn, store, Tomb.__table__, {
            "id": tomb_ids, "martyr_id": [values["martyr_id"] for _row, values, _plan in tomb_rows],
            "facility_id": [values["dest_facility_id"] for _row, values, _plan in tomb_rows],
            "plot_area": [values["dest_plot_area"] for _row, values, _plan in tomb_rows],
            "plot_row": [values["dest_plot_row"] for _row, values, _plan in tomb_rows],
            "plot_number": [values["dest_plot_number"] for _row, values, _plan in tomb_rows],
            "state": ["relocated" if plan.reburied else "awaiting_relocation" for _row, _values, plan in tomb_rows],
            "geom": shapely.points(points),
        }, stamp, report)
    linked = [(plan.tomb_id, values["martyr_id"]) for _row, values, plan in new
              if plan.link_tomb and values["martyr_id"] is not None]
    if linked:
        # A tomb found at its plot without a martyr gets the ledger's martyr: a guarded, versioned update.
        session.execute(
            update(Tomb.__table__).where(Tomb.__table__.c.id == bindparam("tid"), Tomb.__table__.c.martyr_id.is_(None))
            .values(martyr_id=bindparam("mid"), version=Tomb.__table__.c.version + 1, updated_at=now),
            [{"tid": t, "mid": m} for t, m in linked])
    if new:
        rows = [values for _row, values, _plan in new]
        columns = {k: list(map(itemgetter(k), rows)) for k in RELOCATION_FIELDS}
        columns["id"] = relocation_ids
        columns["tomb_id"] = [plan.tomb_id for _row, _values, plan in new]
        columns["stage"] = [values["stage"] for _row, values, _plan in new]
        lines = [values["geom"] for _row, values, _plan in new]
        present = np.array([g is not None for g in lines])
        coords = np.array([g if g is not None else ((np.nan, np.nan), (np.nan, np.nan)) for g in lines], dtype=float)
        geoms = np.full(len(new), None, dtype=object)
        if present.any():
            geoms[present] = shapely.linestrings(coords[present])
        columns["geom"] = geoms
        _insert(conn, store, Relocation.__table__, columns, stamp, report)
    if store.kind == "geopackage":
        for table in ("tombs", "relocations"):
            gpkg.refresh_contents_extent(lambda sql, params=(): conn.exec_driver_sql(sql, tuple(params)), table)
    numbers = [row.number for row, _values, _plan in new]
    trail = {
        "relocations": _runs(list(zip(numbers, relocation_ids, strict=True))),
        "tombs_created": _runs([(row.number, tid) for (row, _v, _p), tid in zip(tomb_rows, tomb_ids, strict=True)]),
        "martyrs_created": _runs([(row.number, mid) for (row, _v, _p), mid in zip(martyr_rows, martyr_ids,
                                                                                   strict=True)]),
        "runs": "[first ledger row, last ledger row, first id]: ids step by one with the rows",
    }
    created = set(tomb_ids)
    trail["tombs_found"] = [[row.number, plan.tomb_id] for row, _values, plan in new if plan.tomb_id not in created]
    trail["tombs_linked_to_martyr"] = [[t, m] for t, m in linked]
    trail["origin_graves_retired"] = _retire_origin_graves(session, new, relocation_ids, now, actor)
    return {"trail": trail, "tombs_created": len(tomb_ids), "martyrs_created": len(martyr_ids),
            "tombs_linked": len(trail["tombs_found"]), "originals_retired": len(trail["origin_graves_retired"])}


def _retire_origin_graves(session, new: list, relocation_ids: list[int], now, actor: Actor | None = None) -> list[list]:
    """Retire the original graves the new reburied rows' martyrs have left (``relocations.origin_graves``).

    In the import's transaction, after its relocations are written: one guarded, versioned UPDATE per chunk
    of ids. The import's one audit event names each as [ledger row, tomb id, the audit note naming the
    relocation's code and destination], as it names every other record the import writes.
    """
    reburied = {rid: (row, values) for (row, values, _plan), rid in zip(new, relocation_ids, strict=True)
                if values["reburied_on"] is not None and values["martyr_id"] is not None}
    if not reburied:
        return []
    ids = sorted(reburied)
    first: dict[int, int] = {}  # a grave two rows' martyr left (in two chunks) is named once
    for start in range(0, len(ids), CHUNK):
        for tid, rid in origin_graves(session, ids[start:start + CHUNK]):
            first.setdefault(tid, rid)
    left = sorted(first.items())
    allowed = writable_counties(actor) if actor is not None else None
    if left and allowed is not None:
        # Only graves the importer may write; one in another county stays for that county's reconciliation.
        counties: dict = {}
        grave_ids = [tid for tid, _rid in left]
        for start in range(0, len(grave_ids), CHUNK):
            counties.update(session.execute(
                select(Tomb.id, Facility.county_code).outerjoin(Facility, Facility.id == Tomb.facility_id)
                .where(Tomb.id.in_(grave_ids[start:start + CHUNK]))).all())
        left = [(tid, rid) for tid, rid in left
                if (counties.get(tid) or reburied[rid][1].get("origin_county_code")) in allowed]
    if not left:
        return []
    facility_ids = sorted({reburied[rid][1]["dest_facility_id"] for _tid, rid in left})
    names = dict(session.execute(select(Facility.id, Facility.name).where(Facility.id.in_(facility_ids))).all())
    table = Tomb.__table__
    tomb_ids = [tid for tid, _rid in left]
    for start in range(0, len(tomb_ids), CHUNK):
        session.execute(update(table).where(table.c.id.in_(tomb_ids[start:start + CHUNK]), table.c.status == "active")
                        .values(status="retired", version=table.c.version + 1, updated_at=now))
    out = []
    for tid, rid in left:
        row, values = reburied[rid]
        out.append([row.number, tid, retirement_note(values["code"], names[values["dest_facility_id"]],
                                                     values["dest_plot_area"], values["dest_plot_row"],
                                                     values["dest_plot_number"])])
    return out


_GPKG_HEADER = struct.Struct("<2sBBi")
_GPKG_ENVELOPE = struct.Struct("<4d")


def _gpkg_blobs(geoms: np.ndarray, srid: int) -> tuple[list, np.ndarray]:
    """GeoPackage blobs (as geodata.gpkg.encode writes them) and bounds of many geometries at once."""
    blobs: list = [None] * len(geoms)
    present = ~shapely.is_missing(geoms)
    if not present.any():
        return blobs, np.empty((0, 4))
    chosen = geoms[present]
    wkb = shapely.to_wkb(chosen, byte_order=1, flavor="iso").tolist()
    bounds = shapely.bounds(chosen)
    points = shapely.get_type_id(chosen) == 0
    point_head = _GPKG_HEADER.pack(b"GP", 0, 0x01, srid)
    line_head = _GPKG_HEADER.pack(b"GP", 0, 0x03, srid)
    for i, w, is_point, (minx, miny, maxx, maxy) in zip(np.flatnonzero(present).tolist(), wkb, points.tolist(),
                                                         bounds.tolist(), strict=True):
        # Points carry no envelope, other shapes their XY envelope (flags 0x01 / 0x03: little-endian).
        blobs[i] = point_head + w if is_point else line_head + _GPKG_ENVELOPE.pack(minx, maxx, miny, maxy) + w
    return blobs, bounds


def _insert(conn, store: Store, table, columns: dict[str, list], stamp: dict, report) -> None:
    """Insert rows given column by column, in chunks, inside the session's transaction.

    GeoPackage: executemany on the session's own sqlite3 connection with values already in storage form
    (SQLAlchemy's per-value type processing cost more than the insert itself at 100,000 rows). PostGIS: COPY.
    """
    n = len(next(iter(columns.values())))
    for name, value in stamp.items():
        if name in table.c and name not in columns:
            columns[name] = [value] * n
    # A column empty in every row is left to its NULL default: ledgers fill only some of the fields, and each
    # value sent costs a conversion on the way.
    columns = {name: values for name, values in columns.items() if name == "id" or _has_value(values)}
    if store.kind == "postgis":
        _copy(conn, table, columns, report)
        return
    raw = conn.connection.driver_connection
    out = {}
    geometry = None
    for name, values in columns.items():
        kind = table.c[name].type
        if isinstance(kind, Geometry):
            out[name], bounds = _gpkg_blobs(np.asarray(values, dtype=object), kind.srid)
            geometry = (name, np.asarray(values, dtype=object), bounds, np.asarray(columns["id"]))
        elif isinstance(kind, UTCDateTime):
            stamps = {v: kind.process_bind_param(v, _SQLITE) for v in set(values)}
            out[name] = [stamps[v] for v in values]
        elif isinstance(kind, Date):
            # Dates repeat down a column: each distinct one is written out once.
            days = {v: v.isoformat() for v in set(values) if v is not None}
            out[name] = [None if v is None else days[v] for v in values]
        elif isinstance(kind, Boolean):
            out[name] = [None if v is None else int(v) for v in values]
        elif isinstance(kind, JSONText):
            out[name] = [None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values]
        else:
            out[name] = list(values)
    order = list(out)
    statement = f"INSERT INTO {table.name} ({', '.join(order)}) VALUES ({', '.join('?' * len(order))})"
    params = list(zip(*(out[c] for c in order), strict=True))
    with _index_filled_here(raw, table.name, geometry):
        for start in range(0, n, CHUNK):
            _sqlite_insert(raw, statement, params[start:start + CHUNK])
            report(min(CHUNK, n - start))


def _has_value(values) -> bool:
    """Whether any value is not None (a list is counted in C; an array of geometries is looked through)."""
    if isinstance(values, list):
        return values.count(None) < len(values)
    return any(v is not None for v in values)


def _sqlite_insert(raw, statement: str, params: list[tuple]) -> None:
    """One chunk through the session's own sqlite3 connection (so in its transaction)."""
    raw.executemany(statement, params)


@contextmanager
def _index_filled_here(raw, table: str, geometry):
    """Fill a GeoPackage table's R*Tree for a bulk insert in one pass instead of through its insert trigger.

    The GeoPackage trigger calls five SQL functions (Python ones here) per row, which made it some 80% of
    a 100,000-row import. Inside the import's own transaction (the write lock is held, so no other writer
    can insert meanwhile, and readers see the schema as before) the insert trigger is dropped, the rows
    written, their bounds put in the R*Tree (which rounds them outward to float32 exactly as the trigger's
    insert would), and the trigger created again from its own stored SQL: the file keeps the triggers the
    specification wants, and a rollback undoes all of it.
    """
    if geometry is None:
        yield
        return
    column, geoms, bounds, ids = geometry
    trigger = f"rtree_{table}_{column}_insert"
    found = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trigger,)).fetchone()
    if found is None:
        yield  # no spatial index on this table: nothing to fill
        return
    raw.execute(f"DROP TRIGGER {trigger}")
    try:
        yield
    except BaseException:
        raw.execute(found[0])
        raise
    present = ~shapely.is_missing(geoms)
    keep = ~shapely.is_empty(geoms[present])
    ids = ids[present][keep]
    box = bounds[keep]
    raw.executemany(f"INSERT INTO rtree_{table}_{column} (id, minx, maxx, miny, maxy) VALUES (?, ?, ?, ?, ?)",
                    zip(ids.tolist(), box[:, 0].tolist(), box[:, 2].tolist(), box[:, 1].tolist(), box[:, 3].tolist(),
                        strict=True))
    raw.execute(found[0])


def _copy(conn, table, columns: dict[str, list], report) -> None:
    """COPY a table's new rows into PostGIS within the transaction: one COPY, sent in chunks.

    The rows are put in COPY's text format here, a column at a time (psycopg's per-row ``write_row``
    formats each value in Python and was a third of the import's CPU): geometry as hex EWKB, JSON as text.
    """
    raw = conn.connection.driver_connection
    n = len(next(iter(columns.values())))
    kinds = [table.c[name].type for name in columns]
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for start in range(0, n, CHUNK):
                # Chunk by chunk, so the server checks and indexes one chunk while the next is formatted here.
                out = [_copy_text(values[start:start + CHUNK], kind)
                       for values, kind in zip(columns.values(), kinds, strict=True)]
                copy.write("".join(line + "\n" for line in map("\t".join, zip(*out, strict=True))))
                report(min(CHUNK, n - start))


# COPY text format: backslash, newline, carriage return and tab are escaped; \N is NULL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_COPY_SPECIAL = re.compile(r"[\\\n\r\t]")


def _copy_text(values: list, kind) -> list[str]:
    """One column's values as COPY text fields."""
    if isinstance(kind, Geometry):
        geoms = shapely.set_srid(np.asarray(values, dtype=object), kind.srid)
        return ["\\N" if h is None else h for h in shapely.to_wkb(geoms, hex=True, include_srid=True).tolist()]
    if not isinstance(kind, JSONText):
        present = [v for v in values if v is not None]
        types = set(map(type, present))
        fast = None
        if types <= {str} and not _COPY_SPECIAL.search("".join(present)):
            fast = values  # plain text, nothing to escape: the common case, checked for the whole column at once
        elif types <= {int}:
            fast = list(map(str, values))
        elif types <= {float} and all(map(math.isfinite, present)):
            fast = list(map(repr, values))
        if fast is not None:
            return ["\\N" if v is None else c for v, c in zip(values, fast, strict=True)]
    cells = {}
    out = []
    for v in values:
        # Values repeat down a column (stamps, dates, facility ids): each distinct one is formatted once.
        try:
            cell = cells.get(v)
        except TypeError:  # a list (JSON)
            cell = None
        if cell is None:
            cell = _copy_field(v, kind)
            try:
                cells[v] = cell
            except TypeError:
                pass
        out.append(cell)
    return out


def _copy_field(v, kind) -> str:
    if v is None:
        return "\\N"
    if isinstance(kind, JSONText):
        v = json.dumps(v, ensure_ascii=False)
    elif type(v) is bool:
        return "t" if v else "f"
    elif isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
    elif isinstance(v, (int, np.integer)):
        return str(int(v))
    elif isinstance(v, (date, datetime)):
        return v.isoformat()
    text_value = str(v)
    return text_value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(text_value) else text_value


# --- saved column mappings --------------------------------------------------------------------------


def parse_mapping_text(text: str) -> dict[str, str]:
    """Read a mapping written one pair a line, ``表头=field`` (``#`` starts a comment, an empty field ignores)."""
    mapping = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise InvalidInput(f"mapping line {number} {line!r} is not 表头=field", field="mapping")
        header, target = (part.strip() for part in line.split("=", 1))
        if target and target not in ledgers.FIELDS:
            raise InvalidInput(f"mapping line {number}: {target!r} is not a ledger field; fields are "
                               f"{', '.join(ledgers.FIELDS)}", field="mapping")
        if not header:
            raise InvalidInput(f"mapping line {number} has no header text", field="mapping")
        mapping[header] = target
    return mapping


def save_mapping(store: Store, actor: Actor, name: str, mapping: dict, version: int | None = None) -> ColumnMapping:
    """Save (or, from the version seen, replace) a named column mapping."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a mapping needs a name", field="mapping_name")
    for header, target in mapping.items():
        if target and target not in ledgers.FIELDS:
            raise InvalidInput(f"{header!r} is mapped to {target!r}, which is not a ledger field", field="mapping")
    with unit_of_work(store) as session:
        saved = session.scalar(select(ColumnMapping).where(ColumnMapping.name == name))
        if saved is None:
            saved = ColumnMapping(name=name, mapping=dict(mapping))
            session.add(saved)
            record_audit(session, actor, "create", saved)
        else:
            if version is not None and int(version) != saved.version:
                raise Conflict(f"mapping {name!r} was changed by someone else; reload it", field="version")
            before = snapshot(saved)
            saved.mapping = dict(mapping)
            record_audit(session, actor, "update", saved, before=before)
    return saved


def list_mappings(store: Store) -> list[ColumnMapping]:
    with store.session() as session:
        return session.scalars(select(ColumnMapping).where(ColumnMapping.status == "active")
                               .order_by(ColumnMapping.name)).all()


def get_mapping(store: Store, name: str) -> dict:
    with store.session() as session:
        saved = session.scalar(select(ColumnMapping).where(ColumnMapping.name == name))
    if saved is None:
        raise NotFound(f"no saved column mapping called {name!r}")
    return dict(saved.mapping)


def _batch_readable(session, actor: Actor, batch: ImportBatch) -> bool:
    """Whether ``actor`` may read a batch: everyone who reads every county, else a manager when one of its
    relocations belongs to their counties (as the rights table's ``batch`` county says)."""
    allowed = readable_counties(actor, planners=True)
    if allowed is None:
        return True
    codes = list(batch.codes or [])
    for start in range(0, len(codes), CHUNK):
        if session.scalar(select(Relocation.id).where(Relocation.code.in_(codes[start:start + CHUNK]),
                                                      relocation_scope(actor)).limit(1)) is not None:
            return True
    return False


def list_batches(store: Store, actor: Actor, limit: int = 20) -> list[ImportBatch]:
    """The latest imports ``actor`` may read."""
    with store.session() as session:
        batches = session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit * 5)).all()
        return [b for b in batches if _batch_readable(session, actor, b)][:limit]


def get_batch(store: Store, actor: Actor, batch_id: int) -> ImportBatch:
    with store.session() as session:
        batch = load(session, ImportBatch, batch_id, "import")
        if not _batch_readable(session, actor, batch):
            raise Forbidden(f"{actor.name} may not read import {batch_id}: its relocations belong to other counties")
        return batch
