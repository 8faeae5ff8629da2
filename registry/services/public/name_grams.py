"""Keeping the n-gram index of martyrs' names current from bulk writers, in SQL over the martyrs table.

ORM writes of a martyr keep ``martyr_name_grams`` current by themselves (mapper hooks in
``registry.models.name_grams``). A writer that inserts or updates martyrs with Core or COPY calls
``refresh_name_grams`` with the ids it wrote, or ``rebuild_name_grams`` after a load into an empty
roll. Both compute the grams of the names as stored inside the database (one INSERT ... SELECT), so no
name travels to Python and back for them; the simplified forms of names stored in traditional characters
come from the converter in Python (most names never reach it: a name holding no character the converter
changes is skipped unconverted), their extra grams and ``martyr_simplified_names`` rows written after.
Together they index exactly what ``registry.models.name_grams.indexed_grams`` gives (a test holds them
equal).
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from registry.models.martyr import Martyr
from registry.models.name_grams import (
    SEPARATOR,
    UNKNOWN_NAME,
    martyr_name_grams,
    martyr_simplified_names,
    simplified_form,
    simplified_grams,
)
from registry.services.public import stores

_CHUNK = 5000
_SCAN_CHUNK = 50000

# Every distinct character (n = 1) and adjacent pair (n = 2) of the text: a position is kept only where
# its gram first occurs, so a name that repeats a character writes it once. The texts are materialized
# first, so each is computed once rather than at every reference for every position (7x faster in SQLite).
_SOURCE = """
src AS MATERIALIZED (
    SELECT id, name_pinyin, t, length(t) AS len FROM (
        SELECT id, name_pinyin, CASE
            WHEN NOT is_unknown OR {find}({text}, :unknown) > 0 THEN {text}
            WHEN {text} = '' THEN :unknown
            ELSE {text} || :separator || :unknown END AS t
        FROM martyrs WHERE {where}
    ) AS texts
)"""


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def _insert_grams(conn: Connection, where: str, params: dict, ids: bool = False) -> None:
    queries = stores.for_dialect(conn.dialect.name)
    name_text = queries.name_text_sql
    longest = conn.execute(text(f"SELECT max(length({name_text})) FROM martyrs WHERE {where}")
                           .bindparams(*([bindparam("ids", expanding=True)] if ids else [])), params).scalar()
    if not longest:
        return
    source = _SOURCE.format(find=queries.find_function, text=name_text, where=where)
    sql = queries.name_grams_sql.format(source=source)
    statement = text(sql)
    if ids:
        statement = statement.bindparams(bindparam("ids", expanding=True))
    # The longest indexed text may have 无名烈士 joined on: one separator and four characters more.
    conn.execute(statement, {**params, "longest": longest + 1 + len(UNKNOWN_NAME), "unknown": UNKNOWN_NAME,
                             "separator": SEPARATOR})


def _insert_simplified(conn: Connection, martyrs) -> None:
    """The simplified forms of these martyrs (id, name, name_pinyin, is_unknown) that differ from their names:
    each one's row in ``martyr_simplified_names`` and the grams its stored name lacks."""
    grams, names = [], []
    for martyr_id, name, pinyin, unknown in martyrs:
        simple = simplified_form(name)
        if simple is None:
            continue
        names.append({"martyr_id": martyr_id, "name": simple})
        grams.extend({"gram": g, "martyr_id": martyr_id, "name_pinyin": pinyin}
                     for g in simplified_grams(name, simple, bool(unknown)))
    if names:
        conn.execute(insert(martyr_simplified_names), names)
    if grams:
        conn.execute(insert(martyr_name_grams), grams)


_MARTYR_TEXT = (Martyr.id, Martyr.name, Martyr.name_pinyin, Martyr.is_unknown)


def refresh_name_grams(session: Session | Connection, martyr_ids: list[int]) -> None:
    """Make the name index of these martyrs match their rows: old grams dropped, current ones written.

    Call it in the writing transaction after inserting or renaming martyrs without the ORM (Core
    inserts, COPY, bulk UPDATE); ORM writes of a ``Martyr`` need no call. Ids that name no martyr
    just lose any grams they had.
    """
    conn = _connection(session)
    ids = sorted(set(martyr_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        conn.execute(delete(martyr_name_grams).where(martyr_name_grams.c.martyr_id.in_(chunk)))
        _insert_grams(conn, "id IN :ids", {"ids": chunk}, ids=True)
        conn.execute(delete(martyr_simplified_names).where(martyr_simplified_names.c.martyr_id.in_(chunk)))
        _insert_simplified(conn, conn.execute(select(*_MARTYR_TEXT).where(Martyr.id.in_(chunk))).all())


def rebuild_name_grams(session: Session | Connection) -> None:
    """Index every martyr's name afresh, in one statement: for a bulk load (the demo, a benchmark's roll).

    Martyrs whose grams were already written are not duplicated: the whole index is replaced.
    """
    conn = _connection(session)
    # Without its indexes while it fills, then each index built by one sort: inserting millions of grams
    # into b-trees keyed by gram writes pages all over them (measured at 1M grams: ~25 s against ~5 s).
    for index in martyr_name_grams.indexes:
        index.drop(conn)
    conn.execute(delete(martyr_name_grams))
    _insert_grams(conn, "1 = 1", {})
    conn.execute(delete(martyr_simplified_names))
    # In id order a chunk at a time, so a national roll's names are never all held at once.
    after = None
    while True:
        chunk = select(*_MARTYR_TEXT).order_by(Martyr.id).limit(_SCAN_CHUNK)
        rows = conn.execute(chunk if after is None else chunk.where(Martyr.id > after)).all()
        if not rows:
            break
        _insert_simplified(conn, rows)
        after = rows[-1][0]
    for index in sorted(martyr_name_grams.indexes, key=lambda i: i.name):
        index.create(conn)
