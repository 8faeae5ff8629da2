"""Reading a sheet's rows: a merged range fills no further than the sheet's used width."""

from __future__ import annotations

from openpyxl import Workbook

from registry.files.tables import xlsx_rows


def test_a_merged_range_is_bounded_by_the_header_width(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["编号", "县区", "经度", "纬度"])
    for n in range(1, 6):
        ws.append([f"SH-{n:03d}", "上杭县", 116.4, 25.0])
    ws.merge_cells("B2:XFD6")  # one range as wide as a sheet may be
    path = tmp_path / "ledger.xlsx"
    wb.save(path)
    rows = list(xlsx_rows(path))
    assert len(rows) == 6
    assert max(len(cells) for _number, cells in rows) == 4
    assert [cells[1] for _number, cells in rows[1:]] == ["上杭县"] * 5
