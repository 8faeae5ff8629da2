"""A ledger's cells: text as the registry keeps it, dates, angles, amounts, yes/no, and each field's reader.

Every reader takes a raw cell and gives the cleaned value or raises ValueError saying why the cell cannot be
read; :func:`convert_cell` turns that into one remembered outcome (value, notes, error), so a cell repeated
down a column is read once.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from geodata.checks import parse_dms
from geodata.plots import bare
from registry.files.ledger_model import DATE_FIELDS, FUNDING_WORDS, METHOD_WORDS, NO, YES

_FULLWIDTH_DIGIT = re.compile("[０-９．－]")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def cell_text(value) -> str:
    if type(value) is str:
        return (value if value.isascii() else unicodedata.normalize("NFKC", value)).strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def _parse_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value).replace(" ", "")
    text = re.sub(r"\s*00:00(:00)?$", "", text)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    raise ValueError("not a date (write it as 2021-03-05 or 2021年3月5日)")


def _parse_angle(value, axis: str) -> tuple[float, bool]:
    """A coordinate as decimal degrees, and whether it was written in degrees-minutes-seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), False
    text = cell_text(value)
    try:
        return float(text), False
    except ValueError:
        pass
    return parse_dms(text), True


def _amount(value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = cell_text(value).replace(",", "").replace("元", "")
    factor = 1.0
    if text.endswith("万"):
        text, factor = text[:-1], 10000.0
    return float(text) * factor


# --- reading ----------------------------------------------------------------------------------------

def _consent(raw) -> bool:
    text = cell_text(raw).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError("not yes or no (write 是 or 否)")


def _effects(raw) -> list[str]:
    return [p.strip() for p in _EFFECT_SPLIT.split(cell_text(raw)) if p.strip()]


def _funding(raw) -> str:
    text = cell_text(raw)
    return FUNDING_WORDS.get(text.replace("资金", "") or text, FUNDING_WORDS.get(text, "other"))


def _method(raw) -> str:
    return METHOD_WORDS.get(cell_text(raw), "ledger")


_EFFECT_SPLIT = re.compile(r"[、,，;；]")
# Each field's reader: a cell in, the cleaned value out (ValueError says why it cannot be read).
CONVERTERS = {
    **dict.fromkeys(DATE_FIELDS, _parse_date),
    "funding_amount": _amount,
    "family_consent": _consent,
    "effects": _effects,
    "funding_source": _funding,
    "origin_point_method": _method,
    # Plots are kept bare ("A", "4", "20") whether the sheet writes A区 4排 20号 or not (geodata.plots).
    "dest_plot_area": lambda raw: bare(raw, "area"),
    "dest_plot_row": lambda raw: bare(raw, "row"),
    "dest_plot_number": lambda raw: bare(raw, "number"),
}
ANGLES = {"origin_lon": "lon", "origin_lat": "lat", "dest_lon": "lon", "dest_lat": "lat"}


_MISSING = object()
# Fields whose cells are mostly unique: remembering them would only grow the memo.
UNREMEMBERED = frozenset({"code", "origin_lon", "origin_lat", "dest_lon", "dest_lat"})


def convert_cell(raw, convert, axis) -> tuple:
    """One cell's outcome: (value, notes as (why, kind) pairs, error or None); the same cell gives the same."""
    notes = ()
    if type(raw) is str and raw.isascii():
        # The common cell: plain ASCII has no full-width digits to name, and its text is itself stripped.
        if axis is not None:
            try:
                return float(raw), (), None
            except ValueError:
                pass  # blank, or degrees-minutes-seconds: read below
        elif convert is cell_text:
            return raw.strip() or None, (), None
    if isinstance(raw, str):
        if not raw.strip():
            return None, (), None
        if _FULLWIDTH_DIGIT.search(raw):
            notes = ((f"full-width digits read as {cell_text(raw)}", "fullwidth"),)
    try:
        if axis is not None:
            angle, was_dms = _parse_angle(raw, axis)
            if was_dms:
                notes += ((f"degrees-minutes-seconds read as {angle:.6f}", "dms"),)
            return angle, notes, None
        return convert(raw), notes, None
    except ValueError as exc:
        return None, notes, str(exc)
