"""A deliberately messy relocation ledger (openpyxl), as bureaus keep them, and the registry records it needs."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook, load_workbook

from geodata.crs import wgs84_to_gcj02
from registry.services import Actor
from registry.services.facilities import create_facility

SYSTEM = Actor.system("test")

# Two destinations in 上杭县 and one in 长汀县 (WGS 84, approximate, fictional names).
DESTINATIONS = (
    ("SH-CEM", "上杭县烈士陵园（测试）", "cemetery", "350823", 116.420, 25.045),
    ("SH-COL", "蛟洋集中安葬点（测试）", "collective_burial", "350823", 116.650, 25.170),
    ("CT-CEM", "长汀县烈士陵园（测试）", "cemetery", "350821", 116.355, 25.835),
)

HEADERS = ["编号", "县区", "乡镇", "原址", "东经", "北纬", "烈士姓名", "迁入地", "安置陵园", "墓区", "排", "墓号",
           "家属同意", "同意人", "批准文号", "批准机关", "调查日期", "同意日期", "批准日期", "起灵日期", "安葬日期",
           "验收日期", "批次", "遗物", "金额"]
# The fix a user makes for this ledger: its 迁入地 column holds the county moved to, and the cemetery is in 安置陵园.
FIXED_MAPPING = {"迁入地": "", "安置陵园": "dest_facility"}
FIXED_MAPPING_TEXT = "迁入地=\n安置陵园=dest_facility"


def make_destinations(store) -> dict[str, int]:
    """Register the destination facilities the messy ledger names; return code -> id."""
    ids = {}
    for code, name, category, county, lon, lat in DESTINATIONS:
        facility = create_facility(store, SYSTEM, {"code": code, "name": name, "category": category,
                                                   "county_code": county, "lon": lon, "lat": lat})
        ids[code] = facility.id
    return ids


GOOD_DAYS = ("2021-03-01", "2021-03-20", "2021-04-10", "2021-05-02", "2021-05-03", "2021-06-20")


def _row(code, county, township, place, lon, lat, dest, *, name="", consent="是", by="张某", approval="杭民〔2021〕5号",
         days=GOOD_DAYS, batch="2021-上杭-第1批", effects="", amount="3000"):
    return [code, county, township, place, lon, lat, name, "上杭县", dest, "A区", "1排", code[-2:], consent, by,
            approval, "上杭县人民政府", *days, batch, effects, amount]


def messy_rows(with_errors: bool) -> list[list]:
    """The ledger's rows after the header: every kind of mess, and (optionally) rows that must be refused."""
    cem, col, ct = DESTINATIONS[0][1], DESTINATIONS[1][1], DESTINATIONS[2][1]
    rows = [
        _row("SH-001", "上杭县", "蛟洋镇", "蛟洋村后山", 116.61, 25.15, col, effects="搪瓷碗、铜纽扣"),
        # Full-width digits, as typed with a Chinese input method.
        _row("SH-002", "上杭县", "临城镇", "城西村", "１１６.３９", "２５.０６", cem),
        # Degrees-minutes-seconds.
        _row("SH-003", "上杭县", "临城镇", "东山", "116°23′24″", "25°03′36″", cem),
        # Longitude and latitude swapped.
        _row("SH-004", "上杭县", "庐丰乡", "丰济村", 25.01, 116.47, cem),
        # County cell merged over three rows (filled in below by the merge).
        _row("SH-005", "上杭县", "才溪镇", "下才村", 116.55, 25.25, col),
        _row("SH-006", None, "才溪镇", "上才村", 116.56, 25.26, col),
        _row("SH-007", None, "才溪镇", "发坑村", 116.57, 25.24, col),
        [None] * len(HEADERS),  # an empty row
        HEADERS,  # the header row again in the middle (a second sheet pasted below the first)
        _row("CT-001", "长汀县", "南山镇", "中复村", 116.30, 25.70, ct, batch="2021-长汀-第1批"),
        _row("CT-002", "长汀", "南山镇", "钟屋村", 116.31, 25.71, ct, batch="2021-长汀-第1批", amount="0.3万"),
        _row("CT-002", "长汀", "南山镇", "钟屋村", 116.31, 25.71, ct, batch="2021-长汀-第1批", amount="0.3万"),  # dup
    ]
    if with_errors:
        rows += [
            # A point outside its county (in 永定区, far from 长汀).
            _row("CT-003", "长汀县", "南山镇", "远处", 116.75, 24.70, ct),
            # An unknown destination facility.
            _row("SH-008", "上杭县", "蛟洋镇", "文地村", 116.62, 25.16, "不存在的陵园"),
            # Exhumed before the approval.
            _row("SH-009", "上杭县", "蛟洋镇", "坪铺村", 116.63, 25.17, col,
                 days=("2021-03-01", "2021-03-20", "2021-04-10", "2021-04-01", "2021-05-03", "2021-06-20")),
            # Accepted without the family's consent.
            _row("SH-010", "上杭县", "蛟洋镇", "大洋村", 116.64, 25.18, col, consent="否", by=""),
            # A coordinate that is no number.
            _row("SH-011", "上杭县", "蛟洋镇", "华家村", "东经一百一十六", 25.18, col),
        ]
    return rows


def write_messy_ledger(path: Path, with_errors: bool = True) -> Path:
    """Write the messy ledger as XLSX: a merged title, a blank row, the header, then the messy rows."""
    wb = Workbook()
    ws = wb.active
    ws.title = "迁移台账"
    ws.append(["龙岩市零散烈士墓迁移台账（测试）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.append([])
    ws.append(HEADERS)
    for row in messy_rows(with_errors):
        ws.append(row)
    # The 县区 cell of SH-005 merged down over SH-006 and SH-007 (rows 8-10).
    ws.merge_cells("B8:B10")
    wb.save(path)
    return path


def write_clean_csv(path: Path, n: int = 5, encoding: str = "utf-8", gcj: bool = False, start: int = 1) -> Path:
    """A clean CSV ledger in the default headings, optionally with GCJ-02 points (and destination points)."""
    lines = ["编号,县区,原址,经度,纬度,迁入地,迁入地经度,迁入地纬度,家属同意,批准文号,安葬日期"]
    dest = DESTINATIONS[0]
    for i in range(start, start + n):
        lon, lat = 116.40 + i * 0.001, 25.10 + i * 0.001
        dlon, dlat = dest[4], dest[5]
        if gcj:
            lon, lat = wgs84_to_gcj02(lon, lat)
            dlon, dlat = wgs84_to_gcj02(dlon, dlat)
        lines.append(f"CSV-{i:04d},上杭县,某村{i},{lon:.6f},{lat:.6f},{dest[1]},{dlon:.6f},{dlat:.6f},是,"
                     f"杭民〔2022〕1号,2022-05-0{1 + i % 9}")
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_the_messy_ledger_is_what_it_claims(tmp_path):
    path = write_messy_ledger(tmp_path / "messy.xlsx")
    ws = load_workbook(path).active
    assert sorted(str(r) for r in ws.merged_cells.ranges) == ["A1:Y1", "B8:B10"]
    assert ws["A3"].value == "编号"
    assert ws["E5"].value == "１１６.３９"
