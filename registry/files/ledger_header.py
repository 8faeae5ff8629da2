"""Finding a ledger's heading row and proposing a field for a heading that is no known spelling."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from registry.files.ledger_cells import cell_text
from registry.files.ledger_model import FIELDS, header_key

_DIGITS = re.compile(r"\d")


def is_blank(cells: list) -> bool:
    """Whether every cell of a row is empty or blank text (a CSV row's cells are all text: one join tells)."""
    try:
        return not "".join(cells).strip()
    except TypeError:
        return all(c is None or cell_text(c) == "" for c in cells)


def header_score(cells: list, mapping: Mapping[str, str], headings: frozenset | None = None) -> int:
    # A heading row has at least one cell spelt exactly as a known heading; data rows fail this cheap test,
    # which keeps the search cheap on 100,000 rows. Headings are short texts without digits.
    try:
        if (headings if headings is not None else frozenset(mapping)).isdisjoint(cells):
            return 0
    except TypeError:  # an unhashable cell: test cell by cell
        if not any(type(c) is str and c in mapping for c in cells):
            return 0
    score = 0
    for c in cells:
        if isinstance(c, str) and c and len(c) <= 24 and not _DIGITS.search(c) and mapping.get(header_key(c)):
            score += 1
    return score

# Headings a field is known by, as header_key gives them: the proposals are looked for among these.
_SPELLINGS: tuple[tuple[str, str], ...] = tuple(sorted(
    {(header_key(v), name) for name, (label, variants) in FIELDS.items() for v in (label, *variants)},
    key=lambda pair: (-len(pair[0]), pair)))


def propose(header: str, taken: Iterable[str] = ()) -> str | None:
    """The field a heading that is no known spelling most likely holds, or None: the heading contains a known
    spelling (the longest wins; one-character spellings such as 村 or 排 are too loose to tell).

    Examples
    --------
    >>> propose("家属同意书"), propose("是否同意（是/否）"), propose("安葬日期（公历）"), propose("身份证号")
    ('family_consent', 'family_consent', 'reburied_on', None)
    """
    key = header_key(header)
    taken = set(taken)
    if not key:
        return None
    tokens = set(re.split(r"[^a-z0-9]+", key)) if key.isascii() else set()
    for spelling, name in _SPELLINGS:
        if name in taken or len(spelling) < 2 or spelling == key:
            continue
        if spelling.isascii():
            if len(spelling) >= 3 and spelling in tokens:
                return name
        elif spelling in key:
            return name
    return None
