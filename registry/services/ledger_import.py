"""Ledger import (台账导入): a dry run that names every row's problems, then an all-or-nothing, idempotent import."""

from __future__ import annotations

import json
import re
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import Boolean, Date, select
from sqlalchemy.dialects import sqlite as sqlite_dialect

from geodata import ledger as ledgers
from registry import gpkg
from registry.db import Store
from registry.models import ColumnMapping, Facility, ImportBatch, Martyr, Relocation
from registry.models.types import Geometry, JSONText, UTCDateTime, utcnow
from registry.models.vocab import RELOCATION_STEPS as STEPS
from registry.services.base import (
    Actor,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    record_audit,
    snapshot,
    unit_of_work,
)
from registry.services.relocations import DESTINATION_CATEGORIES, county_seats_wgs84

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
    def rows_read(self) -> int:
        return len(self.ledger.rows) if self.ledger else 0


def _norm_name(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"[\s（）()]|示例", "", text)


def _resolve(session, ledger: ledgers.Ledger, progress: Progress | None) -> tuple[list, int]:
    """Match destinations and martyrs against the registry; name what cannot be matched."""
    facilities = session.execute(select(Facility.id, Facility.code, Facility.name, Facility.geom).where(
        Facility.category.in_(DESTINATION_CATEGORIES), Facility.status == "active")).all()
    by_text: dict[str, tuple] = {}
    for fid, code, name, geom in facilities:
        by_text[code] = (fid, geom)
        by_text[_norm_name(name)] = (fid, geom)
    names = {r.values["martyr_name"] for r in ledger.rows if r.values.get("martyr_name")}
    martyrs: dict[str, list] = {}
    name_list = sorted(names)
    for start in range(0, len(name_list), 900):
        for mid, name, county in session.execute(select(Martyr.id, Martyr.name, Martyr.native_county_code).where(
                Martyr.name.in_(name_list[start:start + 900]), Martyr.status == "active")):
            martyrs.setdefault(name, []).append((mid, county))
    keys = [r.key for r in ledger.rows]
    existing_codes = set()
    # SQLite allows some 32,000 bound values per statement, PostgreSQL 65,535: fewer round trips on PostGIS.
    step = 900 if session.bind.dialect.name == "sqlite" else 30000
    for start in range(0, len(keys), step):
        part = keys[start:start + step]
        existing_codes.update(session.scalars(select(Relocation.code).where(Relocation.code.in_(part))))
    dest_header = _header(ledger, "dest_facility")
    name_header = _header(ledger, "martyr_name")
    new, existing, given, reference = [], 0, [], []
    total = len(ledger.rows)
    for n, row in enumerate(ledger.rows, start=1):
        if progress is not None and n % 2000 == 0:
            progress("check", n, total)
        v = row.values
        dest = by_text.get(v.get("dest_facility") or "") or by_text.get(_norm_name(v.get("dest_facility") or ""))
        if dest is None:
            ledger.error("unknown destination facility: no cemetery or collective burial ground of that name or "
                         "code is in the registry", row=row.number, column=dest_header, value=v.get("dest_facility"),
                         kind="destination")
            continue
        if v.get("dest_raw"):
            given.append(v["dest_raw"])
            reference.append((dest[1].x, dest[1].y))
        martyr_id = None
        if v.get("martyr_name"):
            found = martyrs.get(v["martyr_name"], [])
            same_county = [m for m in found if m[1] == v.get("county_code")]
            if len(found) == 1:
                martyr_id = found[0][0]
            elif len(same_county) == 1:
                martyr_id = same_county[0][0]
            elif found:
                ledger.warn(f"{len(found)} martyrs on the roll share this name; none linked (link it on the "
                            "relocation's page)", row=row.number, column=name_header, value=v["martyr_name"],
                            kind="martyr")
            else:
                ledger.warn("no martyr of this name on the roll; the relocation is imported without a martyr linked",
                            row=row.number, column=name_header, value=v["martyr_name"], kind="martyr")
        if row.key in existing_codes:
            existing += 1
            continue
        # Every row carries every column: executemany needs the same keys in each.
        values = {k: v.get(k) for k in RELOCATION_FIELDS}
        values["code"] = row.key
        values["origin_county_code"] = v.get("county_code")
        values["martyr_id"] = martyr_id
        values["dest_facility_id"] = dest[0]
        values["family_consent"] = bool(v.get("family_consent"))
        if values["origin_point_method"] is None and v.get("origin_lon") is not None:
            values["origin_point_method"] = "ledger"
        if martyr_id is None and v.get("martyr_name"):
            # Keep the ledger's name on the record, so the martyr can be linked later by hand.
            values["note"] = "；".join(p for p in (v.get("note"), f"台账烈士姓名：{v['martyr_name']}") if p)
        if v.get("origin_lon") is not None:
            values["geom"] = ((v["origin_lon"], v["origin_lat"]), (dest[1].x, dest[1].y))
        else:
            values["geom"] = None
        values["stage"] = ("accepted" if values["accepted_on"] else
                           "in_progress" if any(values[k] for k in STEPS) else "planned")
        new.append((row, values))
    better = ledgers.crs_check(ledger.crs, given, reference)
    if better is not None:
        crs, declared_m, better_m = better
        ledger.warn(f"the destination coordinates lie a median {declared_m:,.0f} m from the registry's positions "
                    f"read as {ledger.crs}, but {better_m:,.0f} m read as {crs}: were the points given in {crs}? "
                    "Choose the right coordinate system and run the check again", column="crs", value=ledger.crs,
                    kind="crs")
    return new, existing


def _header(ledger: ledgers.Ledger, field_name: str) -> str:
    for header, target in ledger.mapping.items():
        if target == field_name and any(ledgers.header_key(h) == header for h in ledger.headers):
            return next(h for h in ledger.headers if ledgers.header_key(h) == header)
    return ledgers.FIELDS[field_name][0]


def preview(store: Store, source: str | Path | bytes, filename: str, crs: str = "EPSG:4326",
            mapping: dict | None = None, progress: Progress | None = None) -> Preview:
    """Dry run: read and check the ledger against the registry; nothing is written."""
    def parse_progress(n):
        if progress is not None:
            progress("read", n, 0)

    try:
        ledger = ledgers.read_ledger(source, filename, crs=crs, mapping=mapping, counties=county_seats_wgs84(),
                                     progress=parse_progress)
    except ledgers.LedgerError as exc:
        return Preview(filename, None, file_error=str(exc))
    result = Preview(filename, ledger)
    with store.session() as session:
        result.already_imported = session.scalar(select(ImportBatch).where(
            ImportBatch.content_hash == ledger.content_hash))
        result.new, result.existing = _resolve(session, ledger, progress)
    # Issues in the order a reader goes through the sheet.
    ledger.issues.sort(key=lambda i: (i.row or 0, i.level != "error"))
    return result


@dataclass
class ImportResult:
    batch_id: int | None
    added: int
    existing: int
    warnings: int
    already_imported: bool


def run_import(store: Store, actor: Actor, source: str | Path | bytes, filename: str, crs: str = "EPSG:4326",
               mapping: dict | None = None, progress: Progress | None = None) -> ImportResult:
    """Import a ledger: all its new rows in one transaction, or nothing; a file imported before adds nothing.

    The dry run is repeated here (the file may have changed since the preview); any error refuses the
    whole file. Rows whose code (or natural key) is already in the registry are counted, not added.
    """
    if not (actor.can("manager") or actor.can("reviewer")):
        raise Forbidden(f"{actor.name} may not import relocation ledgers")
    checked = preview(store, source, filename, crs, mapping, progress)
    if checked.file_error:
        raise InvalidInput(checked.file_error, field="file")
    if checked.errors:
        first = checked.errors[0]
        where = f"row {first.row}, " if first.row else ""
        raise InvalidInput(f"the ledger has {len(checked.errors)} error(s), so nothing was imported; first: {where}"
                           f"{first.column or ''} {first.value or ''}: {first.why}", field="file",
                           errors=checked.errors)
    ledger = checked.ledger
    if not (actor.can("reviewer") or actor.can("admin")) and actor.counties:
        # A county's manager imports that county's ledger only.
        outside = [row.number for row, values in checked.new if values["origin_county_code"] not in actor.counties]
        if outside:
            raise Forbidden(f"{actor.name} records relocations for {', '.join(actor.counties)} only, but rows "
                            f"{', '.join(map(str, outside[:10]))}{' …' if len(outside) > 10 else ''} are in other "
                            "counties; nothing was imported", field="file")
    if checked.already_imported is not None:
        return ImportResult(checked.already_imported.id, 0, checked.existing + len(checked.new),
                            len(checked.warnings), True)
    with unit_of_work(store) as session:
        if session.scalar(select(ImportBatch.id).where(ImportBatch.content_hash == ledger.content_hash)):
            raise Conflict("this ledger was imported a moment ago by someone else; nothing was added", field="file")
        rows = [values for _row, values in checked.new]
        _bulk_insert(session, store, rows, progress)
        batch = ImportBatch(content_hash=ledger.content_hash, filename=Path(filename or "ledger").name,
                            crs=ledger.crs, mapping={k: v for k, v in (mapping or {}).items()},
                            rows_read=len(ledger.rows), rows_added=len(rows), rows_existing=checked.existing,
                            warnings=len(checked.warnings), actor_name=actor.name,
                            codes=[r["code"] for r in rows])
        session.add(batch)
        session.flush()
        record_audit(session, actor, "import", entity_type="relocation_import_batches", entity_id=batch.id,
                     note=f"ledger {batch.filename}: {len(rows)} relocations added, {checked.existing} already in the "
                          f"registry, {len(checked.warnings)} warnings, CRS {ledger.crs}, sha256 {ledger.content_hash}")
    return ImportResult(batch.id, len(rows), checked.existing, len(checked.warnings), False)


def _bulk_insert(session, store: Store, rows: list[dict], progress: Progress | None) -> None:
    """Insert relocations in chunks: Core executemany on GeoPackage (the R*Tree triggers run), COPY on PostGIS."""
    if not rows:
        return
    now = utcnow()
    coords = np.array([r["geom"] if r["geom"] is not None else ((np.nan, np.nan), (np.nan, np.nan)) for r in rows])
    lines = shapely.linestrings(coords)
    for r, line in zip(rows, lines.tolist(), strict=True):
        r["geom"] = None if r["geom"] is None else line
        r.update(status="active", is_demo=False, version=1, created_at=now, updated_at=now)
    conn = session.connection()
    table = Relocation.__table__
    if store.kind == "geopackage" and len(rows) > CHUNK:
        # A large page cache keeps the growing indexes and R*Tree in memory during a big import (the demo
        # loader does the same); without it the insert slows down as the table grows.
        conn.exec_driver_sql(f"PRAGMA cache_size=-{256 * 1024}")
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if store.kind == "postgis":
            _copy(conn, table, chunk)
        else:
            _sqlite_insert(conn, table, chunk)
        if progress is not None:
            progress("write", min(start + CHUNK, len(rows)), len(rows))
    if store.kind == "geopackage":
        gpkg.refresh_contents_extent(lambda sql, params=(): conn.exec_driver_sql(sql, tuple(params)), "relocations")


_GPKG_LINE_HEADER = struct.Struct("<2sBBi4d")


def _sqlite_insert(conn, table, rows: list[dict]) -> None:
    """executemany on the session's own sqlite3 connection (same transaction), values already in storage form.

    SQLAlchemy's per-value type processing cost more than the insert itself at 100,000 rows, so the
    values are put in the form the column types would give them: GeoPackage blobs (little-endian
    header, XY envelope, ISO WKB, as geodata.gpkg.encode writes lines), ISO dates, 0/1, JSON text and
    GeoPackage UTC timestamps. The R*Tree triggers still run for every row.
    """
    columns = [c for c in rows[0] if c in table.c]
    geoms = np.array([r["geom"] for r in rows], dtype=object)
    present = ~shapely.is_missing(geoms)
    blobs: list = [None] * len(rows)
    if present.any():
        wkb = shapely.to_wkb(geoms[present], byte_order=1, flavor="iso")
        bounds = shapely.bounds(geoms[present])
        for i, w, (minx, miny, maxx, maxy) in zip(np.flatnonzero(present).tolist(), wkb.tolist(), bounds.tolist(),
                                                   strict=True):
            blobs[i] = _GPKG_LINE_HEADER.pack(b"GP", 0, 0x03, 4326, minx, maxx, miny, maxy) + w
    stamp = UTCDateTime().process_bind_param(rows[0]["created_at"], _SQLITE)

    special = {"geom", "created_at", "updated_at"}
    others = [c for c in columns if c not in special]
    # One converter per column, chosen once from its type, instead of testing every value's type.
    dates = {c for c in others if isinstance(table.c[c].type, Date)}
    flags = {c for c in others if isinstance(table.c[c].type, Boolean)}
    texts = {c for c in others if isinstance(table.c[c].type, JSONText)}
    columns_out = []
    for c in others:
        values = [r[c] for r in rows]
        if c in dates:
            values = [None if v is None else v.isoformat() for v in values]
        elif c in flags:
            values = [None if v is None else int(v) for v in values]
        elif c in texts:
            values = [None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values]
        columns_out.append(values)
    columns_out += [blobs, [stamp] * len(rows), [stamp] * len(rows)]
    order = others + ["geom", "created_at", "updated_at"]
    params = list(zip(*columns_out, strict=True))
    raw = conn.connection.driver_connection
    raw.executemany(f"INSERT INTO {table.name} ({', '.join(order)}) VALUES ({', '.join('?' * len(order))})", params)


def _copy(conn, table, rows: list[dict]) -> None:
    """COPY a chunk into PostGIS within the transaction: geometry as hex EWKB, JSON as text."""
    columns = [c for c in rows[0] if c in table.c]
    raw = conn.connection.driver_connection
    geo = [c for c in columns if isinstance(table.c[c].type, Geometry)]
    js = {c for c in columns if isinstance(table.c[c].type, JSONText)}
    hexes = {}
    for c in geo:
        geoms = shapely.set_srid(np.array([r[c] for r in rows], dtype=object), table.c[c].type.srid)
        hexes[c] = shapely.to_wkb(geoms, hex=True, include_srid=True).tolist()
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for i, r in enumerate(rows):
                copy.write_row([hexes[c][i] if c in hexes else (json.dumps(r[c], ensure_ascii=False)
                                if c in js and r[c] is not None else r[c]) for c in columns])


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


def list_batches(store: Store, limit: int = 20) -> list[ImportBatch]:
    with store.session() as session:
        return session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)).all()


def get_batch(store: Store, batch_id: int) -> ImportBatch:
    with store.session() as session:
        batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(f"no import {batch_id}")
    return batch
