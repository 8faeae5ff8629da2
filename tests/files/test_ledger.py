"""Reading relocation ledgers: every messy input a bureau's spreadsheet brings, named by row, column, value and why."""

from __future__ import annotations

import zipfile
from datetime import date

import pytest
from openpyxl import Workbook

from geodata.crs import gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from registry.files.ledger import MAX_BYTES, Alias, LedgerError, crs_check, read_ledger, sniff
from tests.factories import FIXED_MAPPING, write_clean_csv, write_messy_ledger

# County seats in WGS 84, as the registry passes them (here rounded; only distances of tens of km matter).
COUNTIES = {"350823": ("上杭县", 116.420, 25.053), "350821": ("长汀县", 116.356, 25.845),
            "350803": ("永定区", 116.728, 24.723), "350825": ("连城县", 116.752, 25.712)}


def read(path, **kw):
    kw.setdefault("counties", COUNTIES)
    return read_ledger(path, path.name if hasattr(path, "name") else "x", **kw)


def issue(ledger, kind, row=None):
    found = [i for i in ledger.issues if i.kind == kind and (row is None or i.row == row)]
    assert found, f"no {kind} issue at row {row}: {[(i.kind, i.row, i.why) for i in ledger.issues]}"
    return found[0]


@pytest.fixture
def messy(tmp_path):
    return read(write_messy_ledger(tmp_path / "messy.xlsx"), mapping=FIXED_MAPPING)


@pytest.mark.parametrize("kind, row, level, column, value, why", [
    ("fullwidth", 5, "warning", "东经", "１１６.３９", "full-width digits read as 116.39"),
    ("dms", 6, "warning", "东经", "116°23′24″", "degrees-minutes-seconds read as 116.390000"),
    ("swapped", 7, "warning", "东经", "25.01", "longitude and latitude were swapped"),
    ("merged", 8, "warning", "县区", "上杭县", "merged cell B8:B10"),
    ("empty", 11, "warning", None, None, "empty row skipped"),
    ("header", 12, "warning", None, None, "header row in the middle"),
    ("duplicate", 15, "warning", None, None, "duplicate of row 14"),
    ("outside", 16, "error", "东经", "116.75000, 24.70000", "lies outside 长汀县"),
    ("order", 18, "error", "起灵日期", "2021-04-01", "is before 批准日期"),
    ("acceptance", 19, "error", "验收日期", "2021-06-20", "without the family's consent"),
    ("value", 20, "error", "东经", "东经一百一十六", "not degrees-minutes-seconds"),
])
def test_every_mess_is_named_with_row_column_value_and_why(messy, kind, row, level, column, value, why):
    found = issue(messy, kind, row)
    assert found.level == level
    assert found.column == column
    if value is not None:
        assert found.value == value
    assert why in found.why


def test_cleaned_values_of_the_messy_rows(messy):
    rows = {r.values["code"]: r.values for r in messy.rows}
    # Rows with errors are not offered for import; the duplicate is skipped. SH-008's unknown destination
    # is found by the registry, which knows the facilities (tests/registry/relocations/test_relocations_import.py).
    assert sorted(rows) == ["CT-001", "CT-002", "SH-001", "SH-002", "SH-003", "SH-004", "SH-005", "SH-006", "SH-007",
                            "SH-008"]
    assert rows["SH-002"]["origin_lon"] == pytest.approx(116.39, abs=1e-9)
    assert rows["SH-003"]["origin_lat"] == pytest.approx(25.06, abs=1e-9)
    assert (rows["SH-004"]["origin_lon"], rows["SH-004"]["origin_lat"]) == (116.47, 25.01)
    assert rows["SH-006"]["county_code"] == rows["SH-007"]["county_code"] == "350823"  # from the merged cell
    assert rows["CT-002"]["county_code"] == "350821"  # "长汀" without its suffix
    assert rows["CT-002"]["funding_amount"] == 3000.0  # "0.3万"
    assert rows["SH-001"]["effects"] == ["搪瓷碗", "铜纽扣"]
    assert rows["SH-001"]["family_consent"] is True and rows["SH-001"]["accepted_on"] == date(2021, 6, 20)
    assert messy.header_row == 3


def test_without_the_fixed_mapping_the_destination_is_the_wrong_column(tmp_path):
    ledger = read(write_messy_ledger(tmp_path / "messy.xlsx", with_errors=False))
    assert "安置陵园" in ledger.unmapped
    assert {r.values["dest_facility"] for r in ledger.rows} == {"上杭县"}


def test_a_clean_messy_ledger_has_only_warnings(tmp_path):
    ledger = read(write_messy_ledger(tmp_path / "m.xlsx", with_errors=False), mapping=FIXED_MAPPING)
    assert ledger.errors == []
    assert len(ledger.rows) == 9


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_each_encoding_bureaus_use(tmp_path, encoding):
    ledger = read(write_clean_csv(tmp_path / "l.csv", n=3, encoding=encoding))
    assert [r.values["origin_place"] for r in ledger.rows] == ["某村1", "某村2", "某村3"]
    assert ledger.errors == [] and ledger.kind == "csv"


@pytest.mark.parametrize("lon_header, lat_header", [
    ("经度", "纬度"), ("东经", "北纬"), ("经度（东经）", "纬度（北纬）"), ("原址经度", "原址纬度"),
    ("Longitude", "Latitude"),
])
def test_header_variants(tmp_path, lon_header, lat_header):
    path = tmp_path / "v.csv"
    path.write_text(f"编号,县区,原葬地,{lon_header},{lat_header},安葬地点,批文号\nA,上杭县,某处,116.4,25.1,某陵园,X号\n",
                    encoding="utf-8")
    row = read(path).rows[0].values
    assert (row["origin_lon"], row["origin_lat"], row["origin_place"], row["dest_facility"], row["approval_number"]) \
        == (116.4, 25.1, "某处", "某陵园", "X号")


@pytest.mark.parametrize("head, message", [
    (b"%PDF-1.7 ...", "is a PDF document, not a spreadsheet"),
    (b"\x89PNG\r\n\x1a\n", "is a PNG image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel 97-2003 (.xls)"),
    (b"\x00\x01\x02binary", "is a binary file"),
    (b"   ", "is empty"),
])
def test_files_that_are_not_spreadsheets_are_refused(tmp_path, head, message):
    path = tmp_path / "not-a-ledger.xlsx"
    path.write_bytes(head)
    with pytest.raises(LedgerError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        read(path)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "hello")
    with pytest.raises(LedgerError, match="not a readable .xlsx workbook"):
        read(path)


def test_a_200_mb_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as fh:  # sparse: no 200 MB written to disk
        fh.truncate(MAX_BYTES + 1)
    with pytest.raises(LedgerError, match="more than the 200 MB"):
        read(path)


def test_no_header_row(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(LedgerError, match="no header row found"):
        read(path)


def test_mapping_to_an_unknown_field_is_refused(tmp_path):
    with pytest.raises(LedgerError, match="not a ledger field"):
        read(write_clean_csv(tmp_path / "c.csv"), mapping={"经度": "longitude_please"})


def test_missing_destination_column_is_a_file_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("编号,县区,原址,经度,纬度\nA,上杭县,某处,116.4,25.1\n", encoding="utf-8")
    ledger = read(path)
    assert ledger.errors[0].kind == "mapping" and ledger.errors[0].row is None
    assert "dest_facility" in ledger.errors[0].why


@pytest.mark.parametrize("crs, forward", [("GCJ-02", wgs84_to_gcj02), ("BD-09", wgs84_to_bd09),
                                          ("EPSG:4490", lambda x, y: (x, y))])
def test_points_are_converted_from_the_chosen_crs(tmp_path, crs, forward):
    lon, lat = forward(116.42, 25.05)
    path = tmp_path / "c.csv"
    path.write_text(f"编号,县区,原址,经度,纬度,迁入地\nA,上杭县,某处,{lon:.9f},{lat:.9f},某陵园\n", encoding="utf-8")
    row = read(path, crs=crs).rows[0].values
    assert row["origin_lon"] == pytest.approx(116.42, abs=1e-6)
    assert row["origin_lat"] == pytest.approx(25.05, abs=1e-6)


def test_an_unknown_crs_is_refused(tmp_path):
    with pytest.raises(LedgerError):
        read(write_clean_csv(tmp_path / "c.csv"), crs="EPSG:3857")


def test_crs_check_names_the_likely_crs():
    truth = [(116.42, 25.05), (116.65, 25.17), (116.355, 25.835)]
    as_gcj = [wgs84_to_gcj02(x, y) for x, y in truth]
    better, declared_m, better_m = crs_check("EPSG:4326", as_gcj, truth)
    assert better == "GCJ-02" and declared_m > 300 and better_m < 1
    assert crs_check("GCJ-02", as_gcj, truth) is None
    assert crs_check("EPSG:4326", truth, truth) is None
    assert crs_check("EPSG:4490", truth, truth) is None
    # Points off the other way are wrong, but no CRS explains them: nothing to suggest.
    back = [gcj02_to_wgs84(x, y) for x, y in truth]
    assert crs_check("EPSG:4326", back, truth) is None


def test_natural_key_makes_a_resaved_ledger_match(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("县区,原址,经度,纬度,迁入地,烈士姓名\n上杭县,某处,116.4,25.1,某陵园,无名烈士\n", encoding="utf-8")
    b = tmp_path / "b.csv"
    b.write_text("县区,原址,经度,纬度,迁入地,烈士姓名,备注\n上杭,某处,116.40000,25.10000,某陵园,无名烈士,重存\n",
                 encoding="utf-8")
    assert read(a).rows[0].key == read(b).rows[0].key
    assert read(a).content_hash != read(b).content_hash


def test_dates_in_the_spellings_ledgers_use(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["编号", "县区", "原址", "迁入地", "调查日期", "同意日期", "批准日期", "起灵日期", "安葬日期"])
    ws.append(["A", "上杭县", "某处", "某陵园", "2021-03-01", "2021/3/5", "2021年3月9日", "20210310",
               date(2021, 3, 11)])
    ws.append(["B", "上杭县", "某处2", "某陵园", "昨天", None, None, None, None])
    path = tmp_path / "d.xlsx"
    wb.save(path)
    ledger = read(path)
    v = ledger.rows[0].values
    assert [v[k] for k in ("surveyed_on", "consent_on", "approved_on", "exhumed_on", "reburied_on")] == [
        date(2021, 3, 1), date(2021, 3, 5), date(2021, 3, 9), date(2021, 3, 10), date(2021, 3, 11)]
    bad = issue(ledger, "value", 3)
    assert bad.column == "调查日期" and bad.value == "昨天" and "not a date" in bad.why


def test_sniff_tells_xlsx_from_csv():
    assert sniff(b"PK\x03\x04....") == "xlsx"
    assert sniff("编号".encode("gb18030")) == "csv"


def test_a_second_header_with_another_column_order_is_followed(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("编号,县区,原址,经度,纬度,迁入地\nA,上杭县,甲处,116.40,25.10,某陵园\n"
                    "迁入地,纬度,经度,原址,县区,编号\n某陵园,25.11,116.41,乙处,上杭县,B\n", encoding="utf-8")
    ledger = read(path)
    rows = {r.values["code"]: r.values for r in ledger.rows}
    assert (rows["B"]["origin_lon"], rows["B"]["origin_lat"], rows["B"]["origin_place"]) == (116.41, 25.11, "乙处")
    header = issue(ledger, "header", 3)
    assert "read by its headings" in header.why


@pytest.mark.parametrize("lon, lat, county, message", [
    (116.40, 39.90, "上杭县", "outside the region"),  # Beijing
    (116.40, 25.10, "海淀区", "unknown county"),
    ("", "", "", "neither a county nor a point"),
    (116.40, "", "上杭县", "纬度 is empty while 经度 is given"),
])
def test_points_and_counties_that_cannot_be_placed(tmp_path, lon, lat, county, message):
    path = tmp_path / "p.csv"
    path.write_text(f"编号,县区,原址,经度,纬度,迁入地\nA,{county},某处,{lon},{lat},某陵园\n", encoding="utf-8")
    ledger = read(path)
    assert ledger.rows == []
    assert message in ledger.errors[0].why and ledger.errors[0].row == 2


def test_a_repeated_cell_is_named_on_every_row_it_is_on(tmp_path):
    # Each distinct cell of a column is converted once; its warning or error still belongs to every row.
    path = tmp_path / "r.csv"
    path.write_text("编号,县区,原址,经度,纬度,迁入地,安葬日期,遗物\n"
                    "R1,上杭县,甲,１１６.４,25.05,某陵园,2021-13-01,碗、扣\n"
                    "R2,上杭县,乙,１１６.４,25.06,某陵园,2021-13-01,碗、扣\n"
                    "R3,上杭县,丙,116.41,25.07,某陵园,2021-05-01,碗、扣\n", encoding="utf-8")
    ledger = read(path)
    assert [i.row for i in ledger.issues if i.kind == "fullwidth"] == [2, 3]
    assert [(i.row, i.column, i.value) for i in ledger.errors] == [(2, "安葬日期", "2021-13-01"),
                                                                   (3, "安葬日期", "2021-13-01")]
    (row,) = ledger.rows
    assert row.values["effects"] == ["碗", "扣"] and row.values["reburied_on"] == date(2021, 5, 1)


def test_a_quote_inside_a_quoted_csv_cell_is_read_once(tmp_path):
    # Spreadsheets write a quote in a quoted cell as two; the cell reads back as the bureau typed it.
    path = tmp_path / "q.csv"
    path.write_text('编号,县区,原址,经度,纬度,迁入地,备注\n'
                    'Q1,上杭县,某处,116.5,25.1,上杭县烈士陵园,"据""家谱""记载, 原葬山腰"\n', encoding="utf-8")
    ledger = read(path)
    assert ledger.rows[0].values["note"] == '据"家谱"记载, 原葬山腰'
    assert not ledger.errors


@pytest.mark.parametrize("cell, expected", [(" 116.5 ", 116.5), ("１１６.５", 116.5), ("116°30′0″", 116.5)])
def test_longitude_cells_read_alike_however_written(tmp_path, cell, expected):
    path = tmp_path / "lon.csv"
    path.write_text(f"编号,县区,原址,经度,纬度,迁入地\nL1,上杭县,某处,{cell},25.1,上杭县烈士陵园\n", encoding="utf-8")
    ledger = read(path)
    assert ledger.rows[0].values["origin_lon"] == pytest.approx(expected)
    assert not ledger.errors


def test_a_former_name_is_matched_and_a_row_dated_outside_its_years_is_warned():
    counties = {"990101": ("新县", 116.42, 25.05)}
    aliases = {"旧县": Alias("990101", "旧县 (990199)", "2001-01-01", "2010-07-01")}
    text = ("编号,县区,原址,经度,纬度,迁入地,起灵日期\n"
            "A1,旧县,某村,116.42,25.05,某陵园,2005-04-01\n"
            "A2,旧县,某村,116.42,25.05,某陵园,1999-04-01\n"
            "A3,旧县,某村,116.42,25.05,某陵园,2010-07-01\n")
    read = read_ledger(text.encode(), "t.csv", counties=counties, aliases=aliases)
    assert [r.values["county_code"] for r in read.rows] == ["990101"] * 3 and not read.errors
    warned = {i.row: i.why for i in read.warnings if i.kind == "alias"}
    assert set(warned) == {3, 4}
    assert "in use 2001-01-01 to 2010-07-01" in warned[3] and "dated 1999-04-01 (起灵日期)" in warned[3]
    # A plain mapping of former names (no dates) still matches, without warnings.
    plain = read_ledger(text.encode(), "t.csv", counties=counties, aliases={"旧县": "990101"})
    assert len(plain.rows) == 3 and not [i for i in plain.warnings if i.kind == "alias"]
