"""A relocation ledger's fields, the spellings of their headings, and what reading one gives: rows and issues.

The fields and their heading spellings are data (:data:`FIELDS`): a bureau's own spelling is a saved column
mapping laid over :data:`DEFAULT_MAPPING`, not a code change.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from registry.files.tables import SheetError, column_letters

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


class LedgerError(SheetError):
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
        return column_letters(self.index)


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



def header_for(columns, field_name: str) -> str:
    for column in columns:
        if column[2] == field_name:
            return column[1]
    return FIELDS[field_name][0]
