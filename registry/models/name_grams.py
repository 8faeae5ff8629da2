"""The character n-gram index of martyrs' names, so part-of-name search reads postings instead of the whole roll.

``martyr_name_grams`` holds, for each martyr, every distinct single character and every distinct pair of
adjacent characters of the name (ASCII letters folded to lower case, as SQLite's LIKE folds them), and for
an unknown martyr those of 无名烈士 too, since the roll's search finds unknown martyrs by that word. A name
stored in traditional characters (陳華明) is indexed under its simplified form as well (陈华明, converted by
``to_simplified``, the converter the roll's queries use), and that form is kept in
``martyr_simplified_names`` so the search can check a candidate against it; a name that converts to
itself, nearly every name, has no row there. Each gram row carries a copy of the martyr's
``name_pinyin``: the roll is listed in pinyin order, and with the copy in the index a posting list is
already in that order, so a page of a common character is read in a few index steps instead of sorting
every martyr who has it.

Both are derived application tables (never GeoPackage feature tables, never audited): they can always be
rebuilt from ``martyrs``. ORM writes of a martyr keep them current through the mapper hooks below; bulk
loaders call ``registry.services.public.name_grams`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

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

# The simplified form of each name that has one other than itself (a sparse table: only names stored in
# traditional characters have a row). The roll's search checks its candidates against the name and this.
martyr_simplified_names = Table(
    "martyr_simplified_names",
    Base.metadata,
    Column("martyr_id", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
)

# What the index depends on: a change to any of these refreshes the martyr's rows.
INDEXED_FIELDS = ("name", "name_pinyin", "is_unknown")


_converter = None
# One character of every entry of the converter's tables that changes its text (a character it changes
# where there is one): an entry only applies to a name holding all its characters, so a name holding none
# of these converts to itself and is never converted, which is nearly every name (None: convert each).
_changing: frozenset[str] | None = None


def _load_converter():
    global _converter, _changing
    if _converter is None:
        import opencc  # opencc-python-reimplemented: pure Python, loaded on first use

        converter = opencc.OpenCC("t2s")
        converter.convert("")  # reads its tables
        try:
            changing = set()
            for group in converter._dict_chain_data:
                for _longest, _shortest, table in group:
                    for key, value in table.items():
                        value = value.split(" ")[0]  # the first of several candidates is the one used
                        if value != key:
                            changed = [k for k, v in zip(key, value, strict=False) if k != v]
                            changing.add(changed[0] if changed and len(key) == len(value) else key[0])
            _changing = frozenset(changing)
        except (AttributeError, TypeError, ValueError):  # another release lays its tables out otherwise
            _changing = None
        _converter = converter
    return _converter


def to_simplified(text: str) -> str:
    """Traditional characters turned simplified (OpenCC's t2s table); simplified text is unchanged."""
    return _load_converter().convert(text)


def simplified_form(name: str | None) -> str | None:
    """The simplified form of ``name`` where it differs from the name itself, else None."""
    if not name:
        return None
    if _converter is None:
        _load_converter()
    if _changing is not None and _changing.isdisjoint(name):
        return None
    simple = _converter.convert(name)
    return simple if simple != name else None


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


def simplified_grams(name: str | None, simple: str, is_unknown: bool) -> list[str]:
    """The grams of ``simple``, the simplified form of ``name``, that the name's own grams lack."""
    own = set(grams_of(indexed_text(name, is_unknown)))
    return [g for g in grams_of(indexed_text(simple, is_unknown)) if g not in own]


def _grams_with_simplified(name: str | None, simple: str | None, is_unknown: bool) -> list[str]:
    grams = grams_of(indexed_text(name, is_unknown))
    return grams if simple is None else grams + simplified_grams(name, simple, is_unknown)


def indexed_grams(name: str | None, is_unknown: bool) -> list[str]:
    """Every gram the index holds for a martyr: those of the name, then those only its simplified form has."""
    return _grams_with_simplified(name, simplified_form(name), is_unknown)


def index_rows(martyrs: Iterable) -> tuple[list[dict], list[dict]]:
    """The gram rows and simplified-name rows of martyrs given as (id, name, name_pinyin, is_unknown)."""
    grams, names = [], []
    for martyr_id, name, pinyin, unknown in martyrs:
        simple = simplified_form(name)
        grams.extend({"gram": g, "martyr_id": martyr_id, "name_pinyin": pinyin}
                     for g in _grams_with_simplified(name, simple, bool(unknown)))
        if simple is not None:
            names.append({"martyr_id": martyr_id, "name": simple})
    return grams, names


def _write_index(connection, target: Martyr) -> None:
    grams, names = index_rows([(target.id, target.name, target.name_pinyin, target.is_unknown)])
    if grams:
        connection.execute(insert(martyr_name_grams), grams)
    if names:
        connection.execute(insert(martyr_simplified_names), names)


@event.listens_for(Martyr, "after_insert")
def _martyr_inserted(mapper, connection, target) -> None:
    _write_index(connection, target)


@event.listens_for(Martyr, "after_update")
def _martyr_updated(mapper, connection, target) -> None:
    state = inspect(target)
    if not any(state.attrs[name].history.has_changes() for name in INDEXED_FIELDS):
        return
    # The old name's grams go: a search for the old name must no longer find this martyr.
    connection.execute(delete(martyr_name_grams).where(martyr_name_grams.c.martyr_id == target.id))
    connection.execute(delete(martyr_simplified_names).where(martyr_simplified_names.c.martyr_id == target.id))
    _write_index(connection, target)
