"""Reading a sheet's rows: CSV (UTF-8 or GB18030, any common delimiter) and XLSX (first sheet, merged cells filled).

Shared by the relocation ledger (``registry.files.ledger``, row by row, so a 100,000-row ledger is never held
whole) and the GIS import's spreadsheets (``registry.services.gis.files``, one frame of text cells). Both read
text in the same encodings, in the same order (:data:`ENCODINGS`). The upload itself is checked by
``geodata.sniff`` before anything here opens it.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

# The encodings a sheet's text is tried in, in order: UTF-8 (with or without BOM), then GB18030, which reads
# the GBK that Excel in Chinese saves as "CSV".
ENCODINGS = ("utf-8-sig", "gb18030")


class SheetError(ValueError):
    """The file cannot be read as a sheet (text in no known encoding, a ZIP that is no workbook)."""


def decode_text(data: bytes, name: str) -> str:
    """A CSV's text, in the first of :data:`ENCODINGS` that reads it.

    Examples
    --------
    >>> decode_text("编号".encode("gb18030"), "a.csv")
    '编号'
    """
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetError(f"{name} is neither UTF-8 nor GB18030 text: save the CSV as UTF-8")


def csv_rows(data: bytes, name: str) -> Iterator[tuple[int, list]]:
    """(row number from 1, cells as text) of a CSV, its delimiter sniffed (comma, tab or semicolon).

    Examples
    --------
    >>> list(csv_rows("编号;县区\\nA1;甲县\\n".encode(), "a.csv"))
    [(1, ['编号', '县区']), (2, ['A1', '甲县'])]
    """
    text = decode_text(data, name)
    sample = text[:8192]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        sniffed = csv.excel

    class dialect(sniffed):  # noqa: N801 - a csv dialect is a class
        # Spreadsheets write a quote inside a quoted cell as two; the sniffer guesses otherwise on a sample
        # without one and would keep both quotes of every such cell.
        doublequote = True
        escapechar = None

    yield from enumerate(csv.reader(io.StringIO(text), dialect), start=1)


_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def merged_ranges(zf: zipfile.ZipFile, sheet_path: str) -> list[tuple[int, int, int, int]]:
    """Merged ranges (first row, last row, first col, last col; rows 1-based, cols 0-based) of a sheet.

    openpyxl's read-only mode does not report merged cells, and loading the sheet fully would
    hold a 100,000-row ledger in memory, so the <mergeCell> elements are read from the XML directly.
    """
    ranges = []
    tail = b""
    with zf.open(sheet_path) as fh:
        while chunk := fh.read(1 << 20):
            buf = tail + chunk
            for m in re.finditer(rb'<(?:\w+:)?mergeCell ref="([A-Z]+\d+):([A-Z]+\d+)"', buf):
                a, b = _CELL_REF.fullmatch(m.group(1).decode()), _CELL_REF.fullmatch(m.group(2).decode())
                ranges.append((int(a.group(2)), int(b.group(2)), column_index(a.group(1)), column_index(b.group(1))))
            tail = buf[-200:]
    return sorted(set(ranges))


def xlsx_rows(path: Path, warn: Callable[..., None] | None = None) -> Iterator[tuple[int, list]]:
    """(row number from 1, cell values) of a workbook's first sheet, read-only, with merged ranges filled.

    ``warn(why, row=, column=, value=, kind="merged")`` is told of each merged range spanning rows whose value
    was copied down (``column`` is the range's first column letter).
    """
    from openpyxl import load_workbook

    # A file object, not a path: openpyxl refuses paths without an .xlsx suffix, and uploads are kept by hash.
    handle = path.open("rb")
    try:
        wb = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to open is one message about the file
        handle.close()
        raise SheetError(f"the file is a ZIP archive but not a readable .xlsx workbook ({exc})") from None
    try:
        ws = wb.worksheets[0]
        with zipfile.ZipFile(path) as zf:
            merged = merged_ranges(zf, ws._worksheet_path)
        fills: dict[int, list[tuple[int, int, int]]] = {}
        starts = {(r0, c0): (r1, c1) for r0, r1, c0, c1 in merged}
        pending: dict[tuple[int, int], tuple[int, int]] = dict(starts)
        # A merged range fills no further right than the widest row holding a value so far (the header's
        # used range, once the header is read): one range A1:XFD100000 must not make every row 16,384 cells.
        width = 0
        for number, cells in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = list(cells)
            while cells and cells[-1] is None:
                cells.pop()
            width = max(width, len(cells))
            for (r0, c0), (r1, c1) in list(pending.items()):
                if r0 == number:
                    value = cells[c0] if c0 < len(cells) else None
                    fills.setdefault(number, [])
                    for r in range(r0, r1 + 1):
                        fills.setdefault(r, []).append((c0, c1, value))
                    del pending[(r0, c0)]
                    if warn is not None and r1 > r0 and value not in (None, ""):
                        warn(f"merged cell {column_letters(c0)}{r0}:{column_letters(c1)}{r1}: its value was applied "
                             f"to rows {r0}–{r1}", row=r0, column=column_letters(c0), value=value, kind="merged")
            for c0, c1, value in fills.pop(number, ()):
                c1 = min(c1, max(width, c0 + 1) - 1)
                if len(cells) <= c1:
                    cells.extend([None] * (c1 + 1 - len(cells)))
                for c in range(c0, c1 + 1):
                    cells[c] = value
            yield number, cells
    finally:
        wb.close()
        handle.close()


def column_letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def spill(data: bytes, suffix: str = ".xlsx") -> Path:
    """An upload held in memory written to a temporary file (the caller removes it), for readers that need a path."""
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    with handle:
        handle.write(data)
    return Path(handle.name)


def read_frame(path: Path, fmt: str):
    """A CSV or XLSX sheet as a pandas frame of text cells, its first row as the columns (stripped)."""
    import pandas as pd

    if fmt == "csv":
        for encoding in ENCODINGS[:-1]:
            try:
                return _stripped(pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False))
            except UnicodeDecodeError:
                continue
        return _stripped(pd.read_csv(path, encoding=ENCODINGS[-1], dtype=str, keep_default_na=False))
    with path.open("rb") as handle:
        return _stripped(pd.read_excel(handle, dtype=str, engine="openpyxl"))


def _stripped(frame):
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame
