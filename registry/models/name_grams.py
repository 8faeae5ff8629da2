"""The character n-gram index of martyrs' names, so part-of-name search reads postings instead of the whole roll.

``martyr_name_grams`` holds, for each martyr, every distinct single character and every distinct pair of
adjacent characters of the name (ASCII letters folded to lower case, as SQLite's LIKE folds them), and for
an unknown martyr those of 无名烈士 too, since the roll's search finds unknown martyrs by that word. Each row
carries a copy of the martyr's ``name_pinyin``: the roll is listed in pinyin order, and with the copy in
the index a posting list is already in that order, so a page of a common character is read in a few
index steps instead of sorting every martyr who has it.

It is a derived application table (never a GeoPackage feature table, never audited): it can always be
rebuilt from ``martyrs``. ORM writes of a martyr keep it current through the mapper hooks below; bulk
loaders call ``registry.services.name_grams`` themselves.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, Table, Text, delete, event, insert, inspect

from registry.models.base import Base
from registry.models.martyr import Martyr

UNKNOWN_NAME = "无名烈士"
# Joins the name and 无名烈士 into one text for an unknown martyr; the pairs across it are never asked for
# by a real query, and a stray one would only add a candidate that the LIKE check then drops.
SEPARATOR = "\x1f"
# Only ASCII: SQLite's LIKE and lower() fold nothing else, and PostgreSQL's LIKE folds nothing at all.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# No primary key and no foreign key: the table is an index, and each constraint would add a second
# b-tree (or a check per row) to every one of the ~5 rows a name writes, which at a national roll is
# millions of rows.
martyr_name_grams = Table(
    "martyr_name_grams",
    Base.metadata,
    Column("gram", Text, nullable=False),
    Column("martyr_id", Integer, nullable=False),
    Column("name_pinyin", Text),
    # gram first for the posting list, then the roll's own order (name_pinyin, id) so a page reads in order.
    Index("ix_martyr_name_grams_gram", "gram", "name_pinyin", "martyr_id"),
    # Refreshing one martyr's grams finds them without reading the whole table.
    Index("ix_martyr_name_grams_martyr_id", "martyr_id"),
)

# What the index depends on: a change to any of these refreshes the martyr's rows.
INDEXED_FIELDS = ("name", "name_pinyin", "is_unknown")


def fold(text: str) -> str:
    """``text`` with ASCII letters in lower case, the way the index stores names."""
    return text.translate(_ASCII_LOWER)


def indexed_text(name: str | None, is_unknown: bool) -> str:
    """The text whose characters and pairs are indexed for a martyr."""
    text = fold(name or "")
    if is_unknown and UNKNOWN_NAME not in text:
        text = f"{text}{SEPARATOR}{UNKNOWN_NAME}" if text else UNKNOWN_NAME
    return text


def grams_of(text: str) -> list[str]:
    """The distinct characters and adjacent pairs of ``text``, in order of first appearance."""
    seen: dict[str, None] = {}
    for size in (1, 2):
        for i in range(len(text) - size + 1):
            seen.setdefault(text[i:i + size], None)
    return list(seen)


def _rows(target: Martyr) -> list[dict]:
    return [{"gram": g, "martyr_id": target.id, "name_pinyin": target.name_pinyin}
            for g in grams_of(indexed_text(target.name, bool(target.is_unknown)))]


@event.listens_for(Martyr, "after_insert")
def _martyr_inserted(mapper, connection, target) -> None:
    rows = _rows(target)
    if rows:
        connection.execute(insert(martyr_name_grams), rows)


@event.listens_for(Martyr, "after_update")
def _martyr_updated(mapper, connection, target) -> None:
    state = inspect(target)
    if not any(state.attrs[name].history.has_changes() for name in INDEXED_FIELDS):
        return
    # The old name's grams go: a search for the old name must no longer find this martyr.
    connection.execute(delete(martyr_name_grams).where(martyr_name_grams.c.martyr_id == target.id))
    rows = _rows(target)
    if rows:
        connection.execute(insert(martyr_name_grams), rows)
