"""Relocation ledgers (迁移台账) in XLSX or CSV: sniffing, header mapping, cell cleaning and per-row issues."""

from __future__ import annotations

import csv
import difflib
import functools
import gc
import hashlib
import io
import math
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
from shapely.geometry import Point

from geodata.checks import parse_dms
from geodata.crs import normalise_crs, to_wgs84
from geodata.plots import bare
from geodata.sniff import Limits, UploadRefused, check_zip, pointer_reason

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
    "propose",
    "read_ledger",
    "sniff",
]

# Files above this are refused before a byte of them is parsed: a real county ledger is a few MB.
MAX_BYTES = 200 * 1024 * 1024

# Canonical fields: label (Chinese) and the header spellings bureaus use for them. A saved mapping
# (header text -> field) is laid over these, so a bureau's own spelling needs no code change.
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "code": ("编号", ("编号", "迁移编号", "台账编号", "登记编号", "墓葬编号")),
    "martyr_name": ("烈士姓名", ("烈士姓名", "姓名", "墓主", "墓主姓名", "烈士")),
    "county": ("县（市、区）", ("县(市、区)", "县(市区)", "县区", "县市区", "所属县区", "县", "原址县区", "县别")),
    "origin_township": ("乡镇", ("乡镇", "乡(镇)", "原址乡镇", "乡镇(街道)")),
    "origin_village": ("村", ("村", "村(居)", "原址村", "行政村")),
    "origin_place": ("原址", ("原址", "原葬地", "原葬地点", "原墓地址", "迁出地", "原址地点", "原墓址")),
    "origin_lon": ("经度", ("经度", "东经", "原址经度", "lon", "longitude", "经度(东经)")),
    "origin_lat": ("纬度", ("纬度", "北纬", "原址纬度", "lat", "latitude", "纬度(北纬)")),
    "origin_point_method": ("定位方式", ("定位方式", "坐标来源", "定位方法")),
    "dest_facility": ("迁入地", ("迁入地", "迁入陵园", "迁入地点", "安葬地", "安葬地点", "迁入设施")),
    "dest_lon": ("迁入地经度", ("迁入地经度", "安葬地经度")),
    "dest_lat": ("迁入地纬度", ("迁入地纬度", "安葬地纬度")),
    "dest_plot_area": ("墓区", ("墓区", "安葬区")),
    "dest_plot_row": ("排", ("排", "墓排")),
    "dest_plot_number": ("墓号", ("墓号", "号", "墓穴号")),
    "family_consent": ("家属同意", ("家属同意", "遗属同意", "遗属意见", "是否同意")),
    "consent_by": ("同意人", ("同意人", "遗属姓名", "签字人")),
    "consent_relation": ("与烈士关系", ("与烈士关系", "关系")),
    "approval_number": ("批准文号", ("批准文号", "批文号", "审批文号", "批复文号")),
    "approval_body": ("批准机关", ("批准机关", "审批机关", "审批单位", "批准单位")),
    "surveyed_on": ("调查日期", ("调查日期", "摸底日期", "勘察日期")),
    "consent_on": ("同意日期", ("同意日期", "签字日期", "遗属同意日期")),
    "approved_on": ("批准日期", ("批准日期", "审批日期", "批复日期")),
    "exhumed_on": ("起灵日期", ("起灵日期", "迁出日期", "起棺日期", "起迁日期")),
    "reburied_on": ("安葬日期", ("安葬日期", "迁入日期", "迁葬日期")),
    "accepted_on": ("验收日期", ("验收日期",)),
    "batch": ("批次", ("批次", "迁移批次")),
    "project": ("项目", ("项目", "项目名称")),
    "funding_source": ("资金来源", ("资金来源",)),
    "funding_amount": ("金额（元）", ("金额", "金额(元)", "补助金额", "资金(元)", "补助资金(元)")),
    "effects": ("遗物", ("遗物", "随葬遗物", "遗物清单")),
    "note": ("备注", ("备注", "说明")),
}
DATE_FIELDS = ("surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on", "accepted_on")
FLOAT_FIELDS = ("origin_lon", "origin_lat", "dest_lon", "dest_lat", "funding_amount")
FUNDING_WORDS = {"中央": "central", "中央资金": "central", "省级": "provincial", "省级资金": "provincial",
                 "省": "provincial", "市级": "city", "市": "city", "县级": "county", "县": "county",
                 "其他": "other", "central": "central", "provincial": "provincial", "city": "city",
                 "county": "county", "other": "other"}
METHOD_WORDS = {"gps": "gps", "GPS": "gps", "卫星定位": "gps", "手机定位": "gps", "地图": "map", "图上": "map",
                "map": "map", "台账": "ledger", "ledger": "ledger", "估计": "estimate", "估算": "estimate",
                "estimate": "estimate"}
YES = {"是", "同意", "已同意", "y", "yes", "true", "1", "√", "✓", "有"}
NO = {"否", "不同意", "未同意", "n", "no", "false", "0", "×", "✗", "无"}


@functools.lru_cache(maxsize=16384)
def _key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def header_key(text) -> str:
    """The form a header is matched in: NFKC (full-width to ASCII), no spaces, lower case.

    Examples
    --------
    >>> header_key(" 经度（东经） ")
    '经度(东经)'
    """
    # Cached: the same few county and township names recur on every row the header search looks at.
    return _key(str(text or ""))


DEFAULT_MAPPING: dict[str, str] = {
    header_key(variant): name for name, (_label, variants) in FIELDS.items() for variant in variants
}


class LedgerError(ValueError):
    """The file as a whole cannot be read as a ledger (too big, not a spreadsheet, no header row)."""


@dataclass
class Issue:
    """One problem found: spreadsheet row number, column header, the value, and why."""

    level: str  # "error" blocks the import; "warning" was handled and is shown for the user to confirm
    why: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    kind: str = ""


@dataclass
class Column:
    """One column of the sheet and what the import does with it.

    ``status`` is "mapped" (read into ``field``), "proposed" (its heading looks like ``field``'s but the
    user has not confirmed it: not read), "ignored" (the user chose to leave it out) or "unused" (no field
    was found for it: not read, and the user is asked to map or ignore it).
    """

    index: int
    header: str
    status: str
    field: str | None = None
    why: str = ""
    confirmed: bool = False  # a proposal read because the caller accepted the proposals

    @property
    def letter(self) -> str:
        return _letters(self.index)


@dataclass
class LedgerRow:
    """One data row: its spreadsheet row number and its cleaned values by canonical field."""

    number: int
    values: dict
    key: str = ""


@dataclass
class Ledger:
    """A read ledger: the rows worth importing and every issue, file-level and per row."""

    kind: str
    content_hash: str
    crs: str
    headers: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    header_row: int | None = None
    rows: list[LedgerRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    @property
    def undecided(self) -> list[Column]:
        """Columns the import would not read and the user has not decided on: a commit waits for them."""
        return [c for c in self.columns if c.status in ("proposed", "unused")]

    def error(self, why, row=None, column=None, value=None, kind="") -> None:
        self.issues.append(Issue("error", why, row, column, None if value is None else str(value), kind))

    def warn(self, why, row=None, column=None, value=None, kind="") -> None:
        self.issues.append(Issue("warning", why, row, column, None if value is None else str(value), kind))


# --- the file ---------------------------------------------------------------------------------------


def sniff(head: bytes, filename: str = "") -> str:
    """Tell what a file is from its first bytes: ``"xlsx"`` or ``"csv"``, else a LedgerError saying what it is.

    Examples
    --------
    >>> sniff(b"PK\\x03\\x04rest", "a.xlsx")
    'xlsx'
    >>> sniff("编号,经度\\n".encode(), "a.csv")
    'csv'
    >>> sniff(b"%PDF-1.7", "scan.pdf")
    Traceback (most recent call last):
    ...
    geodata.ledger.LedgerError: scan.pdf is a PDF document, not a spreadsheet: save the ledger as .xlsx or .csv
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


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LedgerError(f"{name} is neither UTF-8 nor GB18030 text: save the CSV as UTF-8")


def _csv_rows(data: bytes, name: str) -> Iterator[tuple[int, list]]:
    text = _decode(data, name)
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


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _merged_ranges(zf: zipfile.ZipFile, sheet_path: str) -> list[tuple[int, int, int, int]]:
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
                ranges.append((int(a.group(2)), int(b.group(2)), _col_index(a.group(1)), _col_index(b.group(1))))
            tail = buf[-200:]
    return sorted(set(ranges))


def _xlsx_rows(path: Path, ledger: Ledger) -> Iterator[tuple[int, list]]:
    from openpyxl import load_workbook

    # A file object, not a path: openpyxl refuses paths without an .xlsx suffix, and uploads are kept by hash.
    handle = path.open("rb")
    try:
        wb = load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to open is one message about the file
        handle.close()
        raise LedgerError(f"the file is a ZIP archive but not a readable .xlsx workbook ({exc})") from None
    try:
        ws = wb.worksheets[0]
        with zipfile.ZipFile(path) as zf:
            merged = _merged_ranges(zf, ws._worksheet_path)
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
                    if r1 > r0 and value not in (None, ""):
                        ledger.warn(f"merged cell {_letters(c0)}{r0}:{_letters(c1)}{r1}: its value was applied "
                                    f"to rows {r0}–{r1}", row=r0, column=_letters(c0), value=value, kind="merged")
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


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


# --- cells ------------------------------------------------------------------------------------------

_FULLWIDTH_DIGIT = re.compile("[０-９．－]")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def _text(value) -> str:
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
    text = _text(value).replace(" ", "")
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
    text = _text(value)
    try:
        return float(text), False
    except ValueError:
        pass
    return parse_dms(text), True


def _amount(value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = _text(value).replace(",", "").replace("元", "")
    factor = 1.0
    if text.endswith("万"):
        text, factor = text[:-1], 10000.0
    return float(text) * factor


# --- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alias:
    """A county's former name or code, the county it is now, and when it was in use (ISO dates, either open).

    Example
    -------
    >>> Alias("990102", "旧县 (990199)", None, "2014-12-13").in_use(date(2013, 5, 1))
    True
    """

    code: str
    label: str  # the former name and code, as messages name it
    valid_from: str | None = None
    valid_to: str | None = None  # the day it stopped being the name (the new name's first day)

    def in_use(self, day: date) -> bool:
        text = day.isoformat()
        return (self.valid_from is None or self.valid_from <= text) and (self.valid_to is None or text < self.valid_to)

    def span(self) -> str:
        return f"{self.valid_from or '…'} to {self.valid_to or '…'}"


def _alias_code(value) -> str | None:
    return value.code if isinstance(value, Alias) else value


class _Counties(dict):
    """County code -> (name, seat lon, lat[, boundary]), with the former names and codes beside them."""

    aliases: dict = {}


def _resolve_county(text: str, counties: Mapping) -> str | None:
    if text in counties:
        return text
    for code, (name, *_rest) in counties.items():
        if text == name or (len(text) >= 2 and name.startswith(text) and len(name) - len(text) == 1):
            return code
    former = _alias_code(getattr(counties, "aliases", {}).get(text))
    return former if former in counties else None


def _nearest_county(text: str, counties: Mapping) -> str:
    names = {name: code for code, (name, *_rest) in counties.items()}
    names.update({code: code for code in counties})
    names.update({old: _alias_code(code) for old, code in getattr(counties, "aliases", {}).items()
                  if _alias_code(code) in counties})
    found = difflib.get_close_matches(text, list(names), n=1, cutoff=0.3)
    if not found:
        return ""
    code = names[found[0]]
    return f"; nearest is {counties[code][0]} ({code})"


def _boundary(counties: Mapping, code: str):
    value = counties[code]
    return value[3] if len(value) > 3 else None


_DIGITS = re.compile(r"\d")


def _blank(cells: list) -> bool:
    """Whether every cell of a row is empty or blank text (a CSV row's cells are all text: one join tells)."""
    try:
        return not "".join(cells).strip()
    except TypeError:
        return all(c is None or _text(c) == "" for c in cells)


def _header_score(cells: list, mapping: Mapping[str, str], headings: frozenset | None = None) -> int:
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
    spilled = None
    if kind == "xlsx":
        if isinstance(source, (bytes, bytearray)):
            spilled = path = _spill(data)
        else:
            path = Path(source)
        try:
            # The zip's directory is checked before openpyxl inflates anything (members, sizes, ratio, paths).
            members = {m.filename for m in check_zip(path, limits or ledger_limits(max_bytes), name)}
        except UploadRefused as exc:
            if spilled is not None:
                spilled.unlink(missing_ok=True)
            raise LedgerError(exc.reason) from None
        if "[Content_Types].xml" not in members:
            if spilled is not None:
                spilled.unlink(missing_ok=True)
            raise LedgerError(f"{name} is a ZIP archive but not a readable .xlsx workbook "
                              "(no [Content_Types].xml)")
        raw_rows = _xlsx_rows(path, ledger)
    else:
        raw_rows = _csv_rows(data, name)
    # The cyclic GC would rescan the growing list of row dicts (which hold no cycles) over and over on a
    # 100,000-row ledger; pausing it for the read keeps the cost linear.
    collecting = gc.isenabled()
    gc.disable()
    try:
        known = _Counties(counties or {})
        known.aliases = dict(aliases or {})
        _read_rows(ledger, raw_rows, merged_map, known, progress, accept_proposals)
    finally:
        if collecting:
            gc.enable()
        if spilled is not None:
            spilled.unlink(missing_ok=True)
    return ledger


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


def ledger_limits(max_bytes: int = MAX_BYTES) -> Limits:
    """Zip limits for a ledger workbook: its sheet XML may expand ten times the file (a bomb expands far more)."""
    return Limits(max_bytes=max_bytes, zip_bytes=10 * max_bytes)


def _spill(data: bytes) -> Path:
    import tempfile

    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)
    with handle:
        handle.write(data)
    return Path(handle.name)


def _read_rows(ledger: Ledger, raw_rows: Iterable[tuple[int, list]], mapping: Mapping[str, str],
               counties: Mapping, progress, accept_proposals: bool = False) -> None:
    columns: list[tuple] | None = None  # (index, header, field, converter, axis, memo of the column)
    header_cells: list[str] = []
    seen: dict[str, int] = {}
    codes: dict[str, tuple[int, str]] = {}
    pending: list[LedgerRow] = []
    count = 0
    headings = frozenset(mapping)
    # Cells repeat down a column (dates, counties, destinations, batches): each distinct cell of a column is
    # converted once and its outcome reused, which keeps a 100,000-row ledger's read to a few seconds.
    memo: dict[str, dict] = {name: {} for name in FIELDS}
    county_of: dict[str, str | None] = {}
    for number, cells in raw_rows:
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
        if _blank(cells):
            if columns is not None:
                ledger.warn("empty row skipped", row=number, kind="empty")
            continue
        score = _header_score(cells, mapping, headings)
        if score >= 3 and (columns is None or score >= max(3, len(columns) // 2)):
            new_cells = [_text(c) for c in cells]
            if columns is not None:
                same = new_cells[: len(header_cells)] == header_cells
                ledger.warn("header row in the middle of the ledger skipped" + (
                    "" if same else "; the columns below it are read by its headings"),
                    row=number, value=" | ".join(c for c in new_cells if c)[:120], kind="header")
            else:
                ledger.header_row = number
                ledger.headers = [c for c in new_cells if c]
            header_cells = new_cells
            columns = []
            used = set()
            first = ledger.header_row == number
            # Fields some heading of this row maps to: a proposal never takes a field another column holds.
            named = {mapping.get(header_key(t)) for t in new_cells if t} - {None, ""}
            for index, text in enumerate(new_cells):
                if not text:
                    continue
                key = header_key(text)
                target = mapping.get(key)
                status, why, confirmed = "mapped", "", False
                if target and target in used:
                    status, why = "unused", f"{target} is already read from column {_header_for(columns, target)}"
                elif not target and key in mapping:
                    status, why = "ignored", "ignored by the column mapping"
                elif not target:
                    target = propose(text, taken=named | used)
                    if target is None:
                        status, why = "unused", "no ledger field has this heading"
                    elif accept_proposals:
                        why, confirmed = f"proposed as {target} ({FIELDS[target][0]}) and confirmed", True
                    else:
                        status, why = "proposed", f"looks like {target} ({FIELDS[target][0]}): confirm or ignore it"
                if status == "mapped":
                    columns.append((index, text, target, _CONVERTERS.get(target, _text), _ANGLES.get(target),
                                    None if target in _UNREMEMBERED else memo[target]))
                    used.add(target)
                elif first and text not in ledger.unmapped:
                    ledger.unmapped.append(text)
                if first:
                    ledger.columns.append(Column(index, text, status, target, why, confirmed))
            continue
        if columns is None:
            continue  # a title row above the header
        row = _clean_row(ledger, number, cells, columns, counties, county_of)
        if row is None:
            continue
        # Every row has the same fields in the same order, so their values alone tell duplicates apart.
        fingerprint = tuple(row.values.values())
        try:
            hash(fingerprint)
        except TypeError:  # a list of personal effects
            fingerprint = tuple(tuple(v) if type(v) is list else v for v in row.values.values())
        if fingerprint in seen:
            ledger.warn(f"duplicate of row {seen[fingerprint]}, skipped", row=number, kind="duplicate")
            continue
        seen[fingerprint] = number
        code = row.values.get("code")
        if code:
            if code in codes:
                ledger.error(f"code {code} is already used by row {codes[code][0]} with different values",
                             row=number, column=codes[code][1], value=code, kind="duplicate_code")
                continue
            codes[code] = (number, _header_for(columns, "code"))
        pending.append(row)
    if columns is None:
        raise LedgerError(
            "no header row found: the ledger needs a row of column headings such as 编号, 原址, 经度, 纬度, 迁入地, "
            "批准文号 (or a column mapping that names its own headings)"
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
            index = _col_index(issue.column)
            if index < len(header_cells) and header_cells[index]:
                issue.column = header_cells[index]
    _convert(ledger, pending, columns)
    ledger.rows = pending


def _header_for(columns, field_name: str) -> str:
    for column in columns:
        if column[2] == field_name:
            return column[1]
    return FIELDS[field_name][0]


def _consent(raw) -> bool:
    text = _text(raw).lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError("not yes or no (write 是 or 否)")


def _effects(raw) -> list[str]:
    return [p.strip() for p in _EFFECT_SPLIT.split(_text(raw)) if p.strip()]


def _funding(raw) -> str:
    text = _text(raw)
    return FUNDING_WORDS.get(text.replace("资金", "") or text, FUNDING_WORDS.get(text, "other"))


def _method(raw) -> str:
    return METHOD_WORDS.get(_text(raw), "ledger")


_EFFECT_SPLIT = re.compile(r"[、,，;；]")
# Each field's reader: a cell in, the cleaned value out (ValueError says why it cannot be read).
_CONVERTERS = {
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
_ANGLES = {"origin_lon": "lon", "origin_lat": "lat", "dest_lon": "lon", "dest_lat": "lat"}


_MISSING = object()
# Fields whose cells are mostly unique: remembering them would only grow the memo.
_UNREMEMBERED = frozenset({"code", "origin_lon", "origin_lat", "dest_lon", "dest_lat"})


def _convert_cell(raw, convert, axis) -> tuple:
    """One cell's outcome: (value, notes as (why, kind) pairs, error or None); the same cell gives the same."""
    notes = ()
    if type(raw) is str and raw.isascii():
        # The common cell: plain ASCII has no full-width digits to name, and its text is itself stripped.
        if axis is not None:
            try:
                return float(raw), (), None
            except ValueError:
                pass  # blank, or degrees-minutes-seconds: read below
        elif convert is _text:
            return raw.strip() or None, (), None
    if isinstance(raw, str):
        if not raw.strip():
            return None, (), None
        if _FULLWIDTH_DIGIT.search(raw):
            notes = ((f"full-width digits read as {_text(raw)}", "fullwidth"),)
    try:
        if axis is not None:
            angle, was_dms = _parse_angle(raw, axis)
            if was_dms:
                notes += ((f"degrees-minutes-seconds read as {angle:.6f}", "dms"),)
            return angle, notes, None
        return convert(raw), notes, None
    except ValueError as exc:
        return None, notes, str(exc)


def _clean_row(ledger: Ledger, number: int, cells: list, columns, counties: Mapping,
               county_of: dict | None = None) -> LedgerRow | None:
    values: dict = {}
    failed = False
    width = len(cells)
    for index, header, target, convert, axis, seen in columns:
        raw = cells[index] if index < width else None
        if raw is None or raw == "":
            values[target] = None
            continue
        if seen is None:
            outcome = _convert_cell(raw, convert, axis)
        else:
            try:
                outcome = seen.get(raw, _MISSING)
                if outcome is _MISSING:
                    outcome = seen[raw] = _convert_cell(raw, convert, axis)
            except TypeError:  # an unhashable cell is converted, not remembered
                outcome = _convert_cell(raw, convert, axis)
        value, notes, error = outcome
        for why, kind in notes:
            ledger.warn(why, row=number, column=header, value=raw, kind=kind)
        if error is not None:
            ledger.error(error, row=number, column=header, value=raw, kind="value")
            failed = True
            continue
        # A remembered list (personal effects) is copied, so no two rows share one list.
        values[target] = list(value) if type(value) is list else value
    if all(v in (None, "", []) for v in values.values()):
        ledger.warn("empty row skipped", row=number, kind="empty")
        return None
    if failed:
        return None
    ok = _check_point(ledger, number, values, columns)
    ok = _check_county(ledger, number, values, columns, counties, county_of) and ok
    ok = _check_steps(ledger, number, values, columns) and ok
    if not values.get("dest_facility") and any(c[2] == "dest_facility" for c in columns):
        ledger.error("the destination (迁入地) is empty", row=number, column=_header_for(columns, "dest_facility"),
                     kind="missing")
        ok = False
    if values.get("family_consent") is None:
        values["family_consent"] = bool(values.get("consent_on") or values.get("consent_by"))
    if ok and values.get("reburied_on") is not None and not values["family_consent"]:
        ledger.warn(f"reburied on {values['reburied_on'].isoformat()} without the family's consent on file "
                    "(家属同意): the reconciliation lists it under missing consent or approval", row=number,
                    column=_header_for(columns, "family_consent"), kind="consent")
    return LedgerRow(number, values) if ok else None


def _looks_swapped(lon: float, lat: float) -> bool:
    return not (-90 <= lat <= 90) or (0 < lon < 60 and 70 < lat < 140)


def _check_point(ledger: Ledger, number: int, values: dict, columns) -> bool:
    ok = True
    for lon_f, lat_f in (("origin_lon", "origin_lat"), ("dest_lon", "dest_lat")):
        lon, lat = values.get(lon_f), values.get(lat_f)
        if lon is None and lat is None:
            continue
        if lon is None or lat is None:
            missing = lat_f if lat is None else lon_f
            ledger.error(f"{FIELDS[missing][0]} is empty while {FIELDS[lon_f if missing == lat_f else lat_f][0]} "
                         "is given", row=number, column=_header_for(columns, missing), kind="missing")
            ok = False
            continue
        if not (math.isfinite(lon) and math.isfinite(lat)):
            ledger.error("coordinate is not a finite number", row=number, column=_header_for(columns, lon_f),
                         value=lon, kind="value")
            ok = False
            continue
        if _looks_swapped(lon, lat):
            values[lon_f], values[lat_f] = lat, lon
            ledger.warn(f"longitude and latitude were swapped ({lon:g}, {lat:g}); read as longitude {lat:g}, "
                        f"latitude {lon:g}", row=number, column=_header_for(columns, lon_f), value=f"{lon:g}",
                        kind="swapped")
    return ok


def _check_county(ledger: Ledger, number: int, values: dict, columns, counties: Mapping,
                  county_of: dict | None = None) -> bool:
    text = values.get("county")
    if not counties:
        return True
    header = _header_for(columns, "county")
    code = None
    if text:
        if county_of is None:
            code = _resolve_county(text, counties)
        else:
            code = county_of[text] if text in county_of else county_of.setdefault(text, _resolve_county(text,
                                                                                                       counties))
        if code is None:
            ledger.error(f"unknown county {text}{_nearest_county(text, counties)}; known are "
                         f"{', '.join(n for n, *_ in counties.values())}", row=number,
                         column=header, value=text, kind="county")
            return False
    values["county_code"] = code
    if text and code is not None:
        _check_alias_dates(ledger, number, values, header, text, code, counties)
    lon, lat = values.get("origin_lon"), values.get("origin_lat")
    if lon is None or lat is None:
        if code is None:
            ledger.error("neither a county nor a point is given for the origin", row=number, column=header,
                         kind="missing")
            return False
        return True
    if any(_boundary(counties, c) is not None for c in counties):
        return _check_boundary(ledger, number, values, columns, counties, code, lon, lat)
    if code is not None:
        own = _km(lon, lat, counties[code][1], counties[code][2])
        if own <= 55:
            return True  # well inside its county: the common case needs no other distance
    km = {c: _km(lon, lat, v[1], v[2]) for c, v in counties.items()}
    nearest = min(km, key=km.get)
    if km[nearest] > 70:
        ledger.error(f"the point ({lon:.5f}, {lat:.5f}) is {km[nearest]:.0f} km from the nearest county seat: it "
                     "lies outside the region", row=number, column=_header_for(columns, "origin_lon"),
                     value=f"{lon:.5f}, {lat:.5f}", kind="outside")
        return False
    if code is None:
        values["county_code"] = nearest
        ledger.warn(f"no county given; {counties[nearest][0]} taken from the point", row=number, column=header,
                    kind="county")
        return True
    if km[code] > 55 and km[code] - km[nearest] > 15:
        ledger.error(f"the point ({lon:.5f}, {lat:.5f}) lies outside {counties[code][0]}: it is {km[code]:.0f} km "
                     f"from its seat and nearer {counties[nearest][0]}", row=number,
                     column=_header_for(columns, "origin_lon"), value=f"{lon:.5f}, {lat:.5f}", kind="outside")
        return False
    return True


def _check_alias_dates(ledger: Ledger, number: int, values: dict, header, text: str, code: str,
                       counties: Mapping) -> None:
    # A former name is matched whatever the row's date; a row dated when the name was no longer (or not yet)
    # in use is still imported, with a warning: the ledger may be old, or the county mistyped.
    alias = getattr(counties, "aliases", {}).get(text)
    if not isinstance(alias, Alias) or alias.code != code or text in counties:
        return
    dated = [(values[f], f) for f in DATE_FIELDS if isinstance(values.get(f), date)]
    if not dated:
        return
    day, step = min(dated)
    if alias.in_use(day):
        return
    ledger.warn(f"{alias.label} is a former name, in use {alias.span()}, read as {counties[code][0]} ({code}); "
                f"this row is dated {day.isoformat()} ({FIELDS[step][0]}), outside those dates", row=number,
                column=header, value=text, kind="alias")


def _check_boundary(ledger: Ledger, number: int, values: dict, columns, counties: Mapping, code: str | None,
                    lon: float, lat: float) -> bool:
    # Boundaries are known: the point's county is the one whose outline holds it, not the nearest seat.
    point = Point(lon, lat)
    own = _boundary(counties, code) if code is not None else None
    if own is not None and own.covers(point):
        return True
    inside = next((c for c in counties if (b := _boundary(counties, c)) is not None and b.covers(point)), None)
    where = _header_for(columns, "origin_lon")
    if inside is None:
        ledger.error(f"the point ({lon:.5f}, {lat:.5f}) falls in no county of the registry: it lies outside the "
                     "region", row=number, column=where, value=f"{lon:.5f}, {lat:.5f}", kind="outside")
        return False
    if code is None:
        values["county_code"] = inside
        ledger.warn(f"no county given; {counties[inside][0]} taken from the point", row=number,
                    column=_header_for(columns, "county"), kind="county")
        return True
    if own is None:
        return True  # the given county has no boundary to check against
    ledger.error(f"the point ({lon:.5f}, {lat:.5f}) lies outside {counties[code][0]}: it falls in "
                 f"{counties[inside][0]}", row=number, column=where, value=f"{lon:.5f}, {lat:.5f}", kind="outside")
    return False


def _km(lon1, lat1, lon2, lat2) -> float:
    # An equirectangular distance: at county scale it is within a fraction of a percent.
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6371.0 * math.hypot(x, y)


def _check_steps(ledger: Ledger, number: int, values: dict, columns) -> bool:
    ok = True
    previous = None
    today = date.today()
    for step in DATE_FIELDS:
        day = values.get(step)
        if day is None:
            continue
        if day > today:
            ledger.error(f"{FIELDS[step][0]} {day.isoformat()} is after today ({today.isoformat()}): a step is "
                         "recorded once it has happened", row=number, column=_header_for(columns, step),
                         value=day.isoformat(), kind="future")
            ok = False
        if previous is not None and day < values[previous]:
            ledger.error(f"{FIELDS[step][0]} {day.isoformat()} is before {FIELDS[previous][0]} "
                         f"{values[previous].isoformat()}: steps must follow each other in order",
                         row=number, column=_header_for(columns, step), value=day.isoformat(), kind="order")
            ok = False
        previous = step
    if values.get("accepted_on") is not None:
        consent = values.get("family_consent")
        if consent is False or not (consent or values.get("consent_on") or values.get("consent_by")):
            ledger.error("accepted without the family's consent on file (家属同意)", row=number,
                         column=_header_for(columns, "accepted_on"), value=values["accepted_on"].isoformat(),
                         kind="acceptance")
            ok = False
        if not values.get("approval_number"):
            ledger.error("accepted without an approval number on file (批准文号)", row=number,
                         column=_header_for(columns, "accepted_on"), value=values["accepted_on"].isoformat(),
                         kind="acceptance")
            ok = False
    return ok


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

