"""Spreadsheet cells that stay text: a value that starts like a formula is never written as one (CSV and XLSX)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["FORMULA_STARTS", "append_row", "csv_cell", "looks_like_formula"]

# Excel, LibreOffice and Google Sheets start a formula (or a DDE call such as ``+cmd|...``) with one of
# these; a tab or carriage return in front is skipped by some of them, so those count too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would read as a formula.

    Parameters
    ----------
    value : Any
        A cell's value; only strings can be formulas (numbers, dates and ``None`` never are).

    Returns
    -------
    bool

    Examples
    --------
    >>> looks_like_formula("=HYPERLINK(\\"http://x\\")"), looks_like_formula("+cmd|' /C calc'!A0")
    (True, True)
    >>> looks_like_formula("某纪念馆"), looks_like_formula(-3.5)
    (False, False)
    """
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: Any) -> Any:
    """A CSV cell: formula-like text gets a leading apostrophe, which spreadsheets read as "this is text".

    Examples
    --------
    >>> csv_cell("=1+1"), csv_cell("-"), csv_cell("才溪"), csv_cell(-1)
    ("'=1+1", "'-", '才溪', -1)
    """
    return "'" + value if looks_like_formula(value) else value


def append_row(sheet, values: Iterable[Any]) -> None:
    """Append ``values`` to an openpyxl worksheet with every string cell stored as text, never as a formula.

    openpyxl stores a string starting with ``=`` as a formula; here such a cell keeps its exact text
    and the string type, so the workbook shows the characters and computes nothing.

    Parameters
    ----------
    sheet : openpyxl.worksheet.worksheet.Worksheet
        A worksheet of an ordinary (not write-only) workbook.
    values : iterable
        The row's cells.

    Examples
    --------
    >>> from openpyxl import Workbook
    >>> sheet = Workbook().active
    >>> append_row(sheet, ["=HYPERLINK(\\"http://x\\",\\"y\\")", 3])
    >>> sheet["A1"].value, sheet["A1"].data_type, sheet["B1"].data_type
    ('=HYPERLINK("http://x","y")', 's', 'n')
    """
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if cell.data_type == "f" or looks_like_formula(cell.value):
            cell.data_type = "s"
