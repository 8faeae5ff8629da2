"""A deliberately messy relocation ledger (openpyxl), as bureaus keep them, and the registry records it needs."""

from __future__ import annotations

from openpyxl import load_workbook

from tests.factories import write_messy_ledger


def test_the_messy_ledger_is_what_it_claims(tmp_path):
    path = write_messy_ledger(tmp_path / "messy.xlsx")
    ws = load_workbook(path).active
    assert sorted(str(r) for r in ws.merged_cells.ranges) == ["A1:Y1", "B8:B10"]
    assert ws["A3"].value == "编号"
    assert ws["E5"].value == "１１６.３９"
