"""Tomb plots as the cemetery signs them: area, row and number stored bare and shown as ``A区 4排 20号``."""

from __future__ import annotations

import unicodedata

__all__ = ["PARTS", "bare", "format_plot", "parse_plot"]

# Each part of a plot and the unit the signs write after it (区 area, 排 row, 号 number).
PARTS = (("area", "区"), ("row", "排"), ("number", "号"))
_UNITS = dict(PARTS)
# How each part reads in English: "Area A, row 4, no. 20".
_ENGLISH = {"area": "Area {}", "row": "row {}", "number": "no. {}"}


def bare(value, part: str) -> str | None:
    """One part of a plot without its unit, as stored: ``"4排"``, ``"第4排"`` and ``4`` all give ``"4"``.

    Examples
    --------
    >>> bare("A区", "area"), bare(" 第４排 ", "row"), bare(20, "number"), bare("号", "number")
    ('A', '4', '20', None)
    """
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    unit = _UNITS[part]
    if text.endswith(unit):
        text = text[: -len(unit)].strip()
        # "第4排", "第20号": the ordinal prefix goes with the unit.
        if text.startswith("第") and len(text) > 1:
            text = text[1:].strip()
    return text or None


def parse_plot(area, row, number) -> tuple[str | None, str | None, str | None]:
    """A plot's three parts without their units (None for a part not given).

    Examples
    --------
    >>> parse_plot("A区", "4", "20号")
    ('A', '4', '20')
    """
    return bare(area, "area"), bare(row, "row"), bare(number, "number")


def format_plot(area, row, number, english: bool = False) -> str:
    """A plot as the cemetery signs it, whether the parts carry their units or not; missing parts are left out.

    Examples
    --------
    >>> format_plot("A", "4排", "20")
    'A区 4排 20号'
    >>> format_plot("A区", "4", "20号", english=True)
    'Area A, row 4, no. 20'
    >>> format_plot(None, None, "7")
    '7号'
    """
    parts = parse_plot(area, row, number)
    if english:
        return ", ".join(_ENGLISH[name].format(value) for (name, _unit), value in zip(PARTS, parts, strict=True)
                         if value is not None)
    return " ".join(f"{value}{unit}" for (_name, unit), value in zip(PARTS, parts, strict=True) if value is not None)
