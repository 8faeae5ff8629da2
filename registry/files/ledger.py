"""Relocation ledgers (迁移台账) in XLSX or CSV: sniffing, the heading row, cleaned rows and per-row issues.

The ledger's rules are split by what they decide: ``ledger_model`` (fields, headings, the read ledger),
``ledger_cells`` (one cell's value), ``ledger_header`` (which row is the heading, what a heading means),
``ledger_checks`` (one row's county, points and steps). This module reads a file through them; the sheet's
raw rows come from ``registry.files.tables``. Pure: no store, no Flask.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from geodata.crs import normalise_crs, to_wgs84
from geodata.sniff import Limits, UploadRefused, check_zip, pointer_reason
from registry.files.ledger_cells import ANGLES, CONVERTERS, UNREMEMBERED, cell_text
from registry.files.ledger_checks import Counties, clean_row
from registry.files.ledger_header import header_score, is_blank, propose
from registry.files.ledger_model import (
    DATE_FIELDS,
    DEFAULT_MAPPING,
    FIELDS,
    MAX_BYTES,
    Alias,
    Column,
    Issue,
    Ledger,
    LedgerError,
    LedgerRow,
    header_for,
    header_key,
)
from registry.files.tables import SheetError, column_index, csv_rows, spill, xlsx_rows
from registry.gc_pause import gc_paused

__all__ = [
    "Alias",
    "Column",
    "DATE_FIELDS",
    "DEFAULT_MAPPING",
    "FIELDS",
    "MAX_BYTES",
    "Issue",
    "Ledger",
    "LedgerError",
    "LedgerRow",
    "crs_check",
    "header_key",
    "ledger_limits",
    "propose",
    "read_ledger",
    "sniff",
]


def sniff(head: bytes, filename: str = "") -> str:
    """Tell what a file is from its first bytes: ``"xlsx"`` or ``"csv"``, else a LedgerError saying what it is.

    Examples
    --------
    >>> sniff(b"PK\\x03\\x04rest", "a.xlsx")
    'xlsx'
    >>> sniff("编号,经度\\n".encode(), "a.csv")
    'csv'
    >>> sniff(b"%PDF-1.7", "scan.pdf")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    registry.files.ledger_model.LedgerError: scan.pdf is a PDF document, not a spreadsheet: save the ledger as ...
    """
    name = filename or "the file"
    pointer = pointer_reason(head)
    if pointer:
        raise LedgerError(f"{name} is not a ledger: {pointer}; nothing of what it names was read")
    known = {b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
             b"GIF8": "a GIF image", b"Rar!": "a RAR archive", b"\x1f\x8b": "a gzip archive",
             b"7z\xbc\xaf": "a 7-Zip archive", b"SQLite format 3": "a SQLite database"}
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise LedgerError(f"{name} is an old Excel 97-2003 (.xls) or other OLE file: open it in Excel or WPS "
                          "and save it as .xlsx, then import that")
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    for magic, what in known.items():
        if head.startswith(magic):
            raise LedgerError(f"{name} is {what}, not a spreadsheet: save the ledger as .xlsx or .csv")
    if not head.strip():
        raise LedgerError(f"{name} is empty")
    if b"\x00" in head:
        raise LedgerError(f"{name} is a binary file, not a spreadsheet: save the ledger as .xlsx or .csv")
    return "csv"


def read_ledger(
    source: str | os.PathLike | bytes,
    filename: str = "",
    *,
    crs: str = "EPSG:4326",
    mapping: Mapping[str, str] | None = None,
    counties: Mapping[str, tuple] | None = None,
    aliases: Mapping[str, str] | None = None,
    max_bytes: int = MAX_BYTES,
    progress: Callable[[int], None] | None = None,
    limits: Limits | None = None,
    accept_proposals: bool = False,
) -> Ledger:
    """Read a relocation ledger into cleaned rows and a list of issues, without touching any store.

    The header row is found by its spellings (it may sit below title rows, and a repeated header
    further down is skipped); merged cells are filled; full-width digits and degrees-minutes-seconds
    are read and named; swapped longitude/latitude are put back and named; points are converted to
    WGS 84 from ``crs``; empty and exactly repeated rows are skipped and named. Anything that stops a
    row from being imported is an error with its row number, column, value and why.

    Parameters
    ----------
    source : path or bytes
        The ledger file (XLSX or CSV in UTF-8, UTF-8 with BOM or GB18030).
    filename : str
        The name the user gave it, for messages.
    crs : str
        The CRS of the ledger's coordinates: EPSG:4326 / WGS84, EPSG:4490 / CGCS2000, GCJ-02 or BD-09.
    mapping : Mapping of str to str, optional
        Header text -> field name (or "" to ignore a column), laid over :data:`DEFAULT_MAPPING`.
    counties : Mapping, optional
        County code -> (name, seat lon, seat lat in WGS 84[, boundary]); a point outside its county's
        boundary (or, without one, far from its seat) is an error naming the county it falls in.
    aliases : Mapping, optional
        Former county code or name -> current code (or an :class:`Alias` with the dates it was in use),
        so old ledgers still match. A row naming a former name is matched whatever its date; when the
        row's first dated step lies outside the dates the name was in use, a warning (kind ``alias``)
        names the former name, its dates and the county it is now.
    max_bytes : int
        Larger files are refused before parsing.
    progress : callable, optional
        Called with the number of rows read so far, every 1,000 rows.
    accept_proposals : bool
        Read the columns whose headings only look like a field's (see :func:`propose`) as that field;
        by default they are listed in ``Ledger.columns`` as proposed and not read.

    Returns
    -------
    Ledger

    Raises
    ------
    LedgerError
        When the file as a whole cannot be a ledger: too big, not a spreadsheet, no header row.

    Examples
    --------
    >>> text = "编号,县区,原址,经度,纬度,迁入地\\nA1,甲县,某村,１１６.４,25.05,甲县烈士陵园\\n"
    >>> ledger = read_ledger(text.encode(), "t.csv", counties={"990101": ("甲县", 116.42, 25.05)})
    >>> ledger.rows[0].values["origin_lon"], [i.kind for i in ledger.warnings]
    (116.4, ['fullwidth'])
    """
    name = filename or "the file"
    try:
        crs = normalise_crs(crs)
    except ValueError as exc:
        raise LedgerError(str(exc)) from None
    size = len(source) if isinstance(source, (bytes, bytearray)) else os.path.getsize(source)
    if size > max_bytes:
        raise LedgerError(f"{name} is {size / 1024 / 1024:,.0f} MB, more than the {max_bytes / 1024 / 1024:,.0f} MB "
                          "a ledger may be; split it by county or batch and import each part")
    data = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    kind = sniff(data[:4096], name)
    ledger = Ledger(kind=kind, content_hash=hashlib.sha256(data).hexdigest(), crs=crs)
    merged_map = dict(DEFAULT_MAPPING)
    for header, target in (mapping or {}).items():
        if target and target not in FIELDS:
            raise LedgerError(f"the column mapping sends {header!r} to {target!r}, which is not a ledger field")
        merged_map[header_key(header)] = target
    ledger.mapping = merged_map
    raw_rows, spilled = _raw_rows(source, data, ledger, name, limits or ledger_limits(max_bytes))
    # The cyclic GC would rescan the growing list of row dicts (which hold no cycles) over and over on a
    # 100,000-row ledger; pausing it for the read keeps the cost linear.
    try:
        known = Counties(counties or {})
        known.aliases = dict(aliases or {})
        with gc_paused():
            _Reader(ledger, merged_map, known, progress, accept_proposals).read(raw_rows)
    except SheetError as exc:
        raise (exc if isinstance(exc, LedgerError) else LedgerError(str(exc))) from None
    finally:
        if spilled is not None:
            spilled.unlink(missing_ok=True)
    return ledger


def _raw_rows(source, data: bytes, ledger: Ledger, name: str, limits: Limits) -> tuple[Iterator, Path | None]:
    """The sheet's raw rows, and the temporary copy of an XLSX held in memory (for the caller to remove)."""
    if ledger.kind != "xlsx":
        return csv_rows(data, name), None
    spilled = spill(data) if isinstance(source, (bytes, bytearray)) else None
    path = spilled or Path(source)
    try:
        # The zip's directory is checked before openpyxl inflates anything (members, sizes, ratio, paths).
        members = {m.filename for m in check_zip(path, limits, name)}
        if "[Content_Types].xml" not in members:
            raise LedgerError(f"{name} is a ZIP archive but not a readable .xlsx workbook "
                              "(no [Content_Types].xml)")
    except (UploadRefused, LedgerError) as exc:
        if spilled is not None:
            spilled.unlink(missing_ok=True)
        raise (exc if isinstance(exc, LedgerError) else LedgerError(exc.reason)) from None
    return xlsx_rows(path, ledger.warn), spilled


def ledger_limits(max_bytes: int = MAX_BYTES) -> Limits:
    """Zip limits for a ledger workbook: its sheet XML may expand ten times the file (a bomb expands far more)."""
    return Limits(max_bytes=max_bytes, zip_bytes=10 * max_bytes)




class _Reader:
    """Reads a sheet's raw rows into a ledger: the heading row (and repeats of it), then each data row."""

    def __init__(self, ledger: Ledger, mapping: Mapping[str, str], counties: Mapping, progress,
                 accept_proposals: bool = False):
        self.ledger, self.mapping, self.counties = ledger, mapping, counties
        self.progress, self.accept_proposals = progress, accept_proposals
        self.columns: list[tuple] | None = None  # (index, header, field, converter, axis, memo of the column)
        self.header_cells: list[str] = []
        self.seen: dict[tuple, int] = {}
        self.codes: dict[str, tuple[int, str]] = {}
        self.pending: list[LedgerRow] = []
        self.headings = frozenset(mapping)
        # Cells repeat down a column (dates, counties, destinations, batches): each distinct cell of a column is
        # converted once and its outcome reused, which keeps a 100,000-row ledger's read to a few seconds.
        self.memo: dict[str, dict] = {name: {} for name in FIELDS}
        self.county_of: dict[str, str | None] = {}

    def read(self, raw_rows: Iterable[tuple[int, list]]) -> None:
        count = 0
        for number, cells in raw_rows:
            count += 1
            if self.progress is not None and count % 1000 == 0:
                self.progress(count)
            if is_blank(cells):
                if self.columns is not None:
                    self.ledger.warn("empty row skipped", row=number, kind="empty")
                continue
            score = header_score(cells, self.mapping, self.headings)
            if score >= 3 and (self.columns is None or score >= max(3, len(self.columns) // 2)):
                self.heading(number, [cell_text(c) for c in cells])
            elif self.columns is not None:  # rows above the header are its title
                self.data_row(number, cells)
        self.finish()

    def heading(self, number: int, new_cells: list[str]) -> None:
        """A heading row: the first sets the columns; a repeat further down is skipped, its headings read."""
        ledger = self.ledger
        if self.columns is not None:
            same = new_cells[: len(self.header_cells)] == self.header_cells
            ledger.warn("header row in the middle of the ledger skipped" + (
                "" if same else "; the columns below it are read by its headings"),
                row=number, value=" | ".join(c for c in new_cells if c)[:120], kind="header")
        else:
            ledger.header_row = number
            ledger.headers = [c for c in new_cells if c]
        self.header_cells = new_cells
        self.columns = []
        used: set = set()
        first = ledger.header_row == number
        # Fields some heading of this row maps to: a proposal never takes a field another column holds.
        named = {self.mapping.get(header_key(t)) for t in new_cells if t} - {None, ""}
        for index, text in enumerate(new_cells):
            if not text:
                continue
            target, status, why, confirmed = self.column_status(text, used, named)
            if status == "mapped":
                self.columns.append((index, text, target, CONVERTERS.get(target, cell_text), ANGLES.get(target),
                                     None if target in UNREMEMBERED else self.memo[target]))
                used.add(target)
            elif first and text not in ledger.unmapped:
                ledger.unmapped.append(text)
            if first:
                ledger.columns.append(Column(index, text, status, target, why, confirmed))

    def column_status(self, text: str, used: set, named: set) -> tuple:
        """(field, status, why, confirmed) of one heading, given the fields read from the columns before it
        (``used``) and those some heading of the row names (``named``)."""
        key = header_key(text)
        target = self.mapping.get(key)
        if target and target in used:
            return target, "unused", f"{target} is already read from column {header_for(self.columns, target)}", False
        if not target and key in self.mapping:
            return target, "ignored", "ignored by the column mapping", False
        if target:
            return target, "mapped", "", False
        target = propose(text, taken=named | used)
        if target is None:
            return target, "unused", "no ledger field has this heading", False
        if self.accept_proposals:
            return target, "mapped", f"proposed as {target} ({FIELDS[target][0]}) and confirmed", True
        return target, "proposed", f"looks like {target} ({FIELDS[target][0]}): confirm or ignore it", False

    def data_row(self, number: int, cells: list) -> None:
        """One data row: cleaned and checked, then kept unless it repeats a row or another row's code."""
        ledger = self.ledger
        row = clean_row(ledger, number, cells, self.columns, self.counties, self.county_of)
        if row is None:
            return
        # Every row has the same fields in the same order, so their values alone tell duplicates apart.
        fingerprint = tuple(row.values.values())
        try:
            hash(fingerprint)
        except TypeError:  # a list of personal effects
            fingerprint = tuple(tuple(v) if type(v) is list else v for v in row.values.values())
        if fingerprint in self.seen:
            ledger.warn(f"duplicate of row {self.seen[fingerprint]}, skipped", row=number, kind="duplicate")
            return
        self.seen[fingerprint] = number
        code = row.values.get("code")
        if code:
            if code in self.codes:
                ledger.error(f"code {code} is already used by row {self.codes[code][0]} with different values",
                             row=number, column=self.codes[code][1], value=code, kind="duplicate_code")
                return
            self.codes[code] = (number, header_for(self.columns, "code"))
        self.pending.append(row)

    def finish(self) -> None:
        """The file-level errors (no heading row, no destination or origin column), then the points converted."""
        ledger, columns = self.ledger, self.columns
        if columns is None:
            raise LedgerError(
                "no header row found: the ledger needs a row of column headings such as 编号, 原址, 经度, 纬度, "
                "迁入地, 批准文号 (or a column mapping that names its own headings)"
            )
        present = {c[2] for c in columns}
        for required, why in (("dest_facility", "the destination (迁入地)"),):
            if required not in present:
                ledger.error(f"no column is mapped to {required} ({FIELDS[required][0]}): map the column that holds "
                             f"{why}", column=required, kind="mapping")
        if not ({"origin_lon", "origin_lat"} <= present or "origin_place" in present):
            ledger.error("no column is mapped to the origin: map 经度 and 纬度, or 原址", column="origin_lon",
                         kind="mapping")
        # Merged-cell notes were written while reading, before the header was known: name their column.
        for issue in ledger.issues:
            if issue.kind == "merged" and issue.column:
                index = column_index(issue.column)
                if index < len(self.header_cells) and self.header_cells[index]:
                    issue.column = self.header_cells[index]
        _convert(ledger, self.pending, columns)
        ledger.rows = self.pending


def _convert(ledger: Ledger, rows: list[LedgerRow], columns) -> None:
    """Convert every point to WGS 84 at once (vectorised), and give each row its natural key."""
    for lon_f, lat_f in (("origin_lon", "origin_lat"), ("dest_lon", "dest_lat")):
        have = [r for r in rows if r.values.get(lon_f) is not None and r.values.get(lat_f) is not None]
        if not have:
            continue
        lon = np.array([r.values[lon_f] for r in have])
        lat = np.array([r.values[lat_f] for r in have])
        if lon_f == "dest_lon":
            for r, x, y in zip(have, lon.tolist(), lat.tolist(), strict=True):
                r.values["dest_raw"] = (x, y)
        x, y = to_wgs84(lon, lat, ledger.crs)
        for r, xi, yi in zip(have, np.round(x, 7).tolist(), np.round(y, 7).tolist(), strict=True):
            r.values[lon_f], r.values[lat_f] = xi, yi
    for r in rows:
        v = r.values
        if v.get("code"):
            r.key = v["code"]
        else:
            # No code column: the natural key is who lay where, so a re-saved copy of the ledger matches too.
            basis = "|".join(str(v.get(k) or "") for k in ("county_code", "origin_place", "martyr_name"))
            if v.get("origin_lon") is not None:
                basis += f"|{v['origin_lon']:.5f}|{v['origin_lat']:.5f}"
            r.key = "LG-" + hashlib.sha1(basis.encode()).hexdigest()[:12].upper()
            v["code"] = r.key


def crs_check(declared: str, given: list[tuple[float, float]], reference: list[tuple[float, float]],
              threshold_m: float = 150.0) -> tuple[str, float, float] | None:
    """Whether points given in ``declared`` fit known WGS 84 positions better read as another CRS.

    Parameters
    ----------
    declared : str
        The CRS the user chose for the ledger.
    given : list of (lon, lat)
        Points as written in the ledger (for instance its destination coordinates).
    reference : list of (lon, lat)
        The same places' known WGS 84 positions (the registry's destination facilities).
    threshold_m : float
        Only a CRS that brings the median offset down by more than this is suggested.

    Returns
    -------
    tuple or None
        ``(better CRS, median offset as declared in m, median offset as the better CRS in m)``, or None.

    Examples
    --------
    >>> from geodata.crs import wgs84_to_gcj02
    >>> truth = [(116.42, 25.05), (117.03, 25.09)]
    >>> written = [wgs84_to_gcj02(x, y) for x, y in truth]
    >>> crs_check("EPSG:4326", written, truth)[0]
    'GCJ-02'
    """
    if not given:
        return None
    declared = normalise_crs(declared)
    gx = np.array([p[0] for p in given])
    gy = np.array([p[1] for p in given])
    rx = np.array([p[0] for p in reference])
    ry = np.array([p[1] for p in reference])

    def offset(crs):
        x, y = to_wgs84(gx, gy, crs)
        dx = np.radians(x - rx) * np.cos(np.radians(ry)) * 6371000.0
        dy = np.radians(y - ry) * 6371000.0
        return float(np.median(np.hypot(dx, dy)))

    as_declared = offset(declared)
    best = min(("EPSG:4326", "GCJ-02", "BD-09"), key=offset)
    best_offset = offset(best)
    equivalent = {declared, best} <= {"EPSG:4326", "EPSG:4490"}
    if not equivalent and best != declared and as_declared - best_offset > threshold_m:
        return best, as_declared, best_offset
    return None
