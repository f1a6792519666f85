"""Department spreadsheets as they come: title rows above the header, Chinese headers,
BOM or GB18030 CSV, XLSX with numbers and dates in cells, blank rows."""

from datetime import datetime

import pytest
from openpyxl import Workbook

from services.core.settings import Settings
from services.core.sync.config import load_sources
from services.core.sync.normalise import Normal, Normaliser
from services.worker.sheets import SheetError, csv_text, records

CIVIL = Normaliser(load_sources(Settings()).get("civil-affairs"))
VALID = "11010519491231002X"
TITLE = ["清溪县民政局低保对象名单（2026年11月）"]
HEADER = ["记录编号", "姓名", "身份证号码", "救助类型", "低保类别", "开始日期", "月救助金额", "备注"]


def test_csv_with_bom_title_rows_and_full_width_digits(tmp_path):
    path = tmp_path / "低保名单.csv"
    path.write_bytes(
        csv_text(
            [
                TITLE,
                [],
                HEADER,
                ["MZ1", "张三", "１１０１０５１９４９１２３１００２Ｘ", "低保", "一类", "2023/5/1", "580", ""],
                ["", "", "", "", "", "", "", ""],
                ["MZ2", "李四", "110105194912310021", "低保", "", "2023-05-01", "abc", "核查"],
            ]
        )
    )
    rows = list(records(path, CIVIL))
    assert [loc for loc, _ in rows] == ["row 4", "row 6"]
    first = CIVIL.normalise(rows[0][1])
    assert isinstance(first, Normal) and first.id_number == VALID and first.data["start_date"] == "2023-05-01"
    assert CIVIL.normalise(rows[1][1]).reason == "id_number.check_digit"
    assert "备注" in rows[1][1]  # unmapped columns stay in the payload kept with the record


def test_gb18030_csv(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes("\n".join([",".join(HEADER[:4]), f"MZ1,张三,{VALID},特困"]).encode("gb18030"))
    [(_loc, rec)] = list(records(path, CIVIL))
    assert rec["姓名"] == "张三" and rec["救助类型"] == "特困"


def test_tab_separated_export_the_sniffer_cannot_decide(tmp_path):
    """A title row, a blank row and rows of unequal width (csv.Sniffer gives up on them):
    the tabs still separate the columns, commas inside amounts notwithstanding."""
    lines = [
        "清溪县教育局学生学籍及资助名单（2026年12月）",
        "",
        "\t".join(HEADER[:7]),
        "\t".join(["MZ1", "张三\u3000", f" {VALID}\u3000", "低保", "一类", "2023年5月1号", "1,580.00"]),
        "\t".join(["MZ2", "李四", VALID, "特困", "", "", ""]),
    ]
    path = tmp_path / "学籍.csv"
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    rows = list(records(path, CIVIL))
    assert [loc for loc, _ in rows] == ["row 4", "row 5"]
    first = CIVIL.normalise(rows[0][1])
    assert isinstance(first, Normal) and first.data["amount"] == "1580.00", first


def test_xlsx_with_title_rows_numbers_and_dates(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(TITLE)
    sheet.append([])
    sheet.append(["序号", *HEADER])
    sheet.append([1, "MZ1", "张三", VALID, "低保", "二类", datetime(2023, 5, 1), 580.5, None])
    path = tmp_path / "list.xlsx"
    book.save(path)
    [(loc, rec)] = list(records(path, CIVIL))
    assert loc == "row 4"
    out = CIVIL.normalise(rec)
    assert isinstance(out, Normal)
    assert out.data["start_date"] == "2023-05-01" and out.data["amount"] == "580.50" and out.data["dibao_class"] == "2"


def test_a_file_without_a_known_header_is_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(csv_text([["a", "b"], ["1", "2"]]))
    with pytest.raises(SheetError) as err:
        list(records(path, CIVIL))
    assert err.value.code == "no_header" and "身份证号" in str(err.value)


def test_other_formats_are_refused(tmp_path):
    path = tmp_path / "x.ods"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(SheetError) as err:
        list(records(path, CIVIL))
    assert err.value.code == "unsupported"
    # an .xls is read (python-calamine), but one cut short after its signature is unreadable
    old = tmp_path / "x.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(SheetError) as err:
        list(records(old, CIVIL))
    assert err.value.code == "unreadable"
    broken = tmp_path / "x.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(SheetError) as err:
        list(records(broken, CIVIL))
    assert err.value.code == "unreadable"
