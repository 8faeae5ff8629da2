"""Ledger import (台账导入): a dry run that names every row's problems, then an all-or-nothing, idempotent import."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from registry.db import Store
from registry.files import ledger as ledgers
from registry.gc_pause import gc_paused
from registry.models import ColumnMapping, Facility, ImportBatch, Relocation
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
from registry.services.relocations import county_aliases, county_seats_wgs84, ledger_stores, plot_taken
from registry.services.relocations import scope_clause as relocation_scope
from registry.services.relocations.ledger_match import (
    UNKNOWN_WORDS,
    OriginGrave,
    Planned,
    Progress,
    origin_graves_to_retire,
    plot_key,
    plot_label,
    plot_tombs,
    resolve,
    sheet_header,
)
from registry.services.relocations.ledger_store import CHUNK
from registry.services.relocations.ledger_write import write_rows

__all__ = ["UNKNOWN_WORDS", "OriginGrave", "Planned", "Progress", "ImportResult", "Preview", "decisions",
           "get_batch", "get_mapping", "list_batches", "list_mappings", "origin_graves_to_retire",
           "parse_mapping_text", "preview", "run_import", "save_mapping", "undecided_message"]


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
        result.new, result.existing = resolve(session, ledger, progress)
        result.origin_graves = origin_graves_to_retire(session, result.new)
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
    # The import holds some 100,000 row dicts that form no cycles (registry/gc_pause.py).
    with gc_paused():
        return _run_import(store, actor, source, filename, crs, mapping, progress, accept_proposals)


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
    _refuse_unready(checked)
    _refuse_other_counties(store, actor, checked)
    if checked.already_imported is not None:
        return ImportResult(checked.already_imported.id, 0, checked.existing + len(checked.new),
                            len(checked.warnings), True)
    ledger = checked.ledger
    with _plot_guard(store, checked), unit_of_work(store) as session:
        if session.scalar(select(ImportBatch.id).where(ImportBatch.content_hash == ledger.content_hash)):
            raise Conflict("this ledger was imported a moment ago by someone else; nothing was added", field="file")
        with ledger_stores.for_store(store).large_cache(session.connection(), len(checked.new)):
            written = write_rows(session, store, checked.new, progress, actor, ledger.content_hash)
        batch = _record_batch(session, actor, checked, written, filename, mapping)
    return ImportResult(batch.id, batch.rows_added, checked.existing, len(checked.warnings), False,
                        written["tombs_created"], written["martyrs_created"], written["originals_retired"])


def _refuse_unready(checked: Preview) -> None:
    """A file that cannot be read, has errors or columns not decided on is refused whole, naming why."""
    if checked.file_error:
        raise InvalidInput(checked.file_error, field="file")
    if checked.errors:
        first = checked.errors[0]
        where = f"row {first.row}, " if first.row else ""
        raise InvalidInput(f"the ledger has {len(checked.errors)} error(s), so nothing was imported; first: {where}"
                           f"{first.column or ''} {first.value or ''}: {first.why}", field="file",
                           errors=checked.errors)
    if checked.undecided:
        raise InvalidInput(undecided_message(checked.undecided), field="mapping")


def _refuse_other_counties(store: Store, actor: Actor, checked: Preview) -> None:
    """A manager imports relocations their counties write: those their facilities receive, or (without a
    destination) those leaving their counties, as a relocation recorded by hand."""
    allowed = writable_counties(actor)
    if allowed is None:
        return
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


def _record_batch(session, actor: Actor, checked: Preview, written: dict, filename: str, mapping) -> ImportBatch:
    """The import's batch and its one audit event, which names every record written."""
    ledger = checked.ledger
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
    return batch


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
    header = sheet_header(ledger, "dest_plot_number")
    facility_ids = sorted({values["dest_facility_id"] for _row, values in fills})
    with store.session() as session:
        tombs = plot_tombs(session, facility_ids)
        names = dict(session.execute(select(Facility.id, Facility.name).where(Facility.id.in_(facility_ids))).all())
    issues = []
    for row, values in fills:
        key = plot_key(values)
        if key in tombs:
            issues.append(ledgers.Issue(
                "error", f"plot {names.get(key[0], '')} {plot_label(*key[1:])} was given tomb {tombs[key][0]} by "
                "someone else while this ledger was being imported, and a plot holds one active tomb", row.number,
                header, values["dest_plot_number"], "plot"))
    first = (f"first: row {issues[0].row}, {header} {issues[0].value}: {issues[0].why}" if issues
             else "a plot of the ledger was given a tomb by someone else meanwhile")
    return Conflict(f"nothing was imported: {first}. Check the ledger again; the dry run shows every row",
                    field="file", errors=issues)



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
