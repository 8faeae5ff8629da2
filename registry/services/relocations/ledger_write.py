"""Writing a checked ledger's new rows: martyrs, tombs and relocations in bulk, with ids taken beforehand.

Runs inside the import's one transaction (``ledger.run_import``); the rows go to the store through
``ledger_store`` and every record written is named, by ledger row, in the audit trail returned.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

import numpy as np
import shapely
from sqlalchemy import bindparam, select, update

from registry.db import Store
from registry.models import Facility, Martyr, Relocation, Tomb
from registry.models.types import utcnow
from registry.services.access import writable_counties
from registry.services.base import Actor
from registry.services.provenance import beijing_today
from registry.services.public.name_grams import refresh_name_grams
from registry.services.relocations import ledger_stores, origin_graves, retirement_note
from registry.services.relocations.ledger_match import RELOCATION_FIELDS, Progress
from registry.services.relocations.ledger_store import CHUNK, insert_columns


def runs(pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Compress (ledger row, id) pairs into runs [first row, last row, first id] where both step by one.

    Examples
    --------
    >>> runs([(3, 10), (4, 11), (5, 12), (7, 13)])
    [[3, 5, 10], [7, 7, 13]]
    """
    runs: list[list[int]] = []
    for row, ident in pairs:
        if runs and row == runs[-1][1] + 1 and ident == runs[-1][2] + (row - runs[-1][0]):
            runs[-1][1] = row
        else:
            runs.append([row, row, ident])
    return runs


def allocate_ids(conn, store: Store, table: str, n: int) -> list[int]:
    """Ids for ``n`` new rows of ``table``, taken before writing so the rows can point at each other.

    On GeoPackage the write lock is held (BEGIN IMMEDIATE), so the next ids are those after the table's
    AUTOINCREMENT high-water mark; on PostGIS they are drawn from the table's sequence (``ledger_stores``).
    """
    return ledger_stores.for_store(store).allocate_ids(conn, table, n)


_PINYIN_CACHE: dict[str, tuple[str, str]] = {}


def _pinyin(name: str) -> tuple[str, str]:
    """Full pinyin (no tones) and initials of a name, as the roll keeps them for search and order."""
    if name not in _PINYIN_CACHE:
        from pypinyin import lazy_pinyin

        syllables = lazy_pinyin(name)
        _PINYIN_CACHE[name] = ("".join(syllables), "".join(p[0] for p in syllables if p))
    return _PINYIN_CACHE[name]


def write_rows(session, store: Store, new: list, progress: Progress | None, actor: Actor | None = None,
               content_hash: str | None = None) -> dict:
    """Write the new rows' martyrs, tombs and relocations in bulk; return the counts and the audit trail.

    Every martyr and tomb written comes from the ledger file: its position and facts are stamped
    ``ledger_import`` with the file's SHA-256 (``content_hash``, the name its batch is kept under).
    """
    conn = session.connection()
    now = utcnow()
    stamp = {"status": "active", "is_demo": False, "version": 1, "created_at": now, "updated_at": now}
    stamp |= ledger_provenance(content_hash)
    martyr_rows = [item for item in new if item[2].new_martyr is not None]
    martyr_ids = allocate_ids(conn, store, "martyrs", len(martyr_rows))
    for (_row, values, _plan), mid in zip(martyr_rows, martyr_ids, strict=True):
        values["martyr_id"] = mid
    tomb_rows = [item for item in new if item[2].tomb_id is None]
    tomb_ids = allocate_ids(conn, store, "tombs", len(tomb_rows))
    for (_row, _values, plan), tid in zip(tomb_rows, tomb_ids, strict=True):
        plan.tomb_id = tid
    relocation_ids = allocate_ids(conn, store, "relocations", len(new))
    report = _reporter(progress, len(martyr_rows) + len(tomb_rows) + len(new), len(new))
    if martyr_rows:
        _insert_martyrs(session, store, martyr_rows, martyr_ids, stamp, report)
    if tomb_rows:
        _insert_tombs(conn, store, tomb_rows, tomb_ids, stamp, report)
    linked = _link_found_tombs(session, new, now, content_hash)
    if new:
        _insert_relocations(conn, store, new, relocation_ids, stamp, report)
    ledger_stores.for_store(store).after_write(conn, ("tombs", "relocations"))
    numbers = [row.number for row, _values, _plan in new]
    trail = {
        "relocations": runs(list(zip(numbers, relocation_ids, strict=True))),
        "tombs_created": runs([(row.number, tid) for (row, _v, _p), tid in zip(tomb_rows, tomb_ids, strict=True)]),
        "martyrs_created": runs([(row.number, mid) for (row, _v, _p), mid in zip(martyr_rows, martyr_ids,
                                                                                 strict=True)]),
        "runs": "[first ledger row, last ledger row, first id]: ids step by one with the rows",
    }
    created = set(tomb_ids)
    trail["tombs_found"] = [[row.number, plan.tomb_id] for row, _values, plan in new if plan.tomb_id not in created]
    trail["tombs_linked_to_martyr"] = [[t, m] for t, m in linked]
    trail["origin_graves_retired"] = retire_origin_graves(session, new, relocation_ids, now, actor)
    return {"trail": trail, "tombs_created": len(tomb_ids), "martyrs_created": len(martyr_ids),
            "tombs_linked": len(trail["tombs_found"]), "originals_retired": len(trail["origin_graves_retired"])}


def ledger_provenance(content_hash: str | None) -> dict:
    """The provenance columns of a record the ledger file ``content_hash`` wrote (a table takes those it has)."""
    today = beijing_today()
    out = {}
    for part in ("position", "facts"):
        out |= {f"{part}_source": "ledger_import", f"{part}_source_ref": content_hash, f"{part}_checked_on": today}
    return out


def _reporter(progress: Progress | None, total: int, rows: int) -> Callable[[int], None]:
    """Tell ``progress`` how far the write is, in ledger rows, though each row writes up to three records."""
    done = 0

    def report(n):
        nonlocal done
        done += n
        if progress is not None:
            progress("write", round(done / total * rows), rows)

    return report


def _insert_martyrs(session, store: Store, martyr_rows: list, martyr_ids: list, stamp: dict, report) -> None:
    names = [plan.new_martyr for _row, _values, plan in martyr_rows]
    pinyin = [_pinyin(name) for name, _unknown in names]
    insert_columns(session.connection(), store, Martyr.__table__, {
        "id": martyr_ids, "name": [n for n, _u in names], "is_unknown": [u for _n, u in names],
        "name_pinyin": [p[0] for p in pinyin], "name_initials": [p[1] for p in pinyin],
    }, stamp, report)
    # Core inserts pass the ORM's hooks: index the new names for the roll's search here, in this transaction.
    refresh_name_grams(session, martyr_ids)


def _insert_tombs(conn, store: Store, tomb_rows: list, tomb_ids: list, stamp: dict, report) -> None:
    points = np.array([plan.tomb_point for _row, _values, plan in tomb_rows], dtype=float)
    insert_columns(conn, store, Tomb.__table__, {
        "id": tomb_ids, "martyr_id": [values["martyr_id"] for _row, values, _plan in tomb_rows],
        "facility_id": [values["dest_facility_id"] for _row, values, _plan in tomb_rows],
        "plot_area": [values["dest_plot_area"] for _row, values, _plan in tomb_rows],
        "plot_row": [values["dest_plot_row"] for _row, values, _plan in tomb_rows],
        "plot_number": [values["dest_plot_number"] for _row, values, _plan in tomb_rows],
        "state": ["relocated" if plan.reburied else "awaiting_relocation" for _row, _values, plan in tomb_rows],
        "geom": shapely.points(points),
    }, stamp, report)


def _link_found_tombs(session, new: list, now, content_hash: str | None) -> list[tuple]:
    """A tomb found at its plot without a martyr gets the ledger's martyr: a guarded, versioned update.

    Who lies there is then a fact from the ledger, and the tomb's facts are stamped so.
    """
    facts = {k: v for k, v in ledger_provenance(content_hash).items() if k.startswith("facts_")}
    linked = [(plan.tomb_id, values["martyr_id"]) for _row, values, plan in new
              if plan.link_tomb and values["martyr_id"] is not None]
    if linked:
        session.execute(
            update(Tomb.__table__).where(Tomb.__table__.c.id == bindparam("tid"), Tomb.__table__.c.martyr_id.is_(None))
            .values(martyr_id=bindparam("mid"), version=Tomb.__table__.c.version + 1, updated_at=now, **facts),
            [{"tid": t, "mid": m} for t, m in linked])
    return linked


def _insert_relocations(conn, store: Store, new: list, relocation_ids: list, stamp: dict, report) -> None:
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
    insert_columns(conn, store, Relocation.__table__, columns, stamp, report)


def retire_origin_graves(session, new: list, relocation_ids: list[int], now, actor: Actor | None = None) -> list[list]:
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
