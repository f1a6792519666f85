"""Region CSV import: parsing and row checks (no database)."""

import pytest

from services.core.regions.importer import (
    DEMO_REGIONS_CSV,
    RegionCsvError,
    _read_text,
    check_code,
    check_rows,
    parse_regions_csv,
)
from services.core.regions.rules import Level, level_of, parent_of


def _reasons(rejected):
    return {code: reason for _line, code, reason in rejected}


def test_demo_csv_is_a_whole_fictional_county():
    rows, rejected = parse_regions_csv(_read_text(DEMO_REGIONS_CSV))
    assert rejected == []
    levels = [r.level for r in rows]
    assert levels.count(Level.province) == 1
    assert levels.count(Level.city) == 1
    assert levels.count(Level.county) == 1
    assert levels.count(Level.township) == 4
    assert levels.count(Level.village) == 20
    codes = {r.code for r in rows}
    assert all(r.parent_code is None or r.parent_code in codes for r in rows)
    assert all(r.code.startswith("529901") for r in rows if r.level >= Level.county)
    accepted, orphans = check_rows(rows, set())
    assert orphans == [] and len(accepted) == len(rows)
    # every township has 5 villages
    for township in (r for r in rows if r.level == Level.township):
        assert sum(1 for r in rows if r.parent_code == township.code) == 5


@pytest.mark.parametrize(
    "code",
    [
        "52990100100",
        "5299010010011",
        "52990100100A",
        "",
        "000000000000",
        "529901000001",
        "520001000000",
        "５２９９０１００１００１",
        "5.29901E+11",
    ],
)
def test_malformed_codes_have_a_reason(code):
    assert check_code(code)


def test_bad_rows_are_reported_with_line_and_reason_and_do_not_stop_good_ones():
    text = (
        "code,name\n"
        "529901001001,白岩村\n"  # line 2: good (parent in the database)
        "52990100100,短码村\n"  # line 3: 11 digits
        "529901001002,\n"  # line 4: no name
        "529901000001,跳级村\n"  # line 5: township segment of zeros
        "529901001001,重复村\n"  # line 6: duplicate
        "529901001003,青杠村,多余\n"  # line 7: three columns
        "\n"  # blank line: not a row
        "529901001004,大坪村\n"  # line 9: good
    )
    rows, rejected = parse_regions_csv(text)
    assert [r.code for r in rows] == ["529901001001", "529901001004"]
    lines = {line: (code, reason) for line, code, reason in rejected}
    assert set(lines) == {3, 4, 5, 6, 7}
    assert "12 digits" in lines[3][1]
    assert "name" in lines[4][1]
    assert "zeros" in lines[5][1]
    assert "duplicate" in lines[6][1] and "line 2" in lines[6][1]
    assert "columns" in lines[7][1]
    accepted, orphans = check_rows(rows, {"529901001000"})
    assert [r.code for r in accepted] == ["529901001001", "529901001004"] and orphans == []


def test_parent_must_be_in_the_database_or_the_file():
    text = "code,name\n529901009001,无乡村\n529901001001,白岩村\n"
    rows, rejected = parse_regions_csv(text)
    assert rejected == []
    accepted, orphans = check_rows(rows, {"529901001000"})
    assert [r.code for r in accepted] == ["529901001001"]
    assert _reasons(orphans) == {"529901009001": "parent region 529901009000 is not in the database or the file"}


def test_rows_in_any_order_are_inserted_parents_first():
    text = "code,name\n529901001001,白岩村\n529901001000,石门镇\n529901000000,清溪县\n"
    rows, _ = parse_regions_csv(text)
    accepted, orphans = check_rows(rows, {"529900000000"})
    assert orphans == []
    assert [r.code for r in accepted] == ["529901000000", "529901001000", "529901001001"]
    assert [r.line_no for r in accepted] == [4, 3, 2]
    for r in accepted:
        assert r.level == level_of(r.code) and r.parent_code == parent_of(r.code)


def test_children_of_a_rejected_row_name_it():
    text = "code,name\n529901005000,\n529901005001,新村\n"
    rows, rejected = parse_regions_csv(text)
    accepted, orphans = check_rows(rows, {"529901000000"}, {code: line for line, code, _ in rejected})
    assert accepted == []
    assert orphans == [(3, "529901005001", "parent region 529901005000 was rejected (line 2)")]


def test_name_too_long_and_whitespace():
    text = "code,name\n 529901001001 , 白岩村 \n529901001002," + "长" * 101 + "\n"
    rows, rejected = parse_regions_csv(text)
    assert [(r.code, r.name) for r in rows] == [("529901001001", "白岩村")]
    assert "longer" in _reasons(rejected)["529901001002"]


def test_chinese_header_bom_and_trailing_empty_columns():
    text = "\ufeff区划代码,名称,\n529901001001,白岩村,,\n"
    rows, rejected = parse_regions_csv(text)
    assert rejected == [] and rows[0].code == "529901001001"


def test_unknown_header_or_empty_file_is_refused():
    with pytest.raises(RegionCsvError):
        parse_regions_csv("id,label\n529901001001,白岩村\n")
    with pytest.raises(RegionCsvError):
        parse_regions_csv("")


def test_read_text_accepts_path_text_and_bytes(tmp_path):
    f = tmp_path / "r.csv"
    f.write_bytes("\ufeffcode,name\n529901001001,白岩村\n".encode("utf-8"))
    assert _read_text(f).startswith("code,name")
    assert _read_text(str(f)).startswith("code,name")
    assert _read_text(f.read_bytes()).startswith("code,name")
    assert _read_text("code,name\n529901001001,白岩村\n").startswith("code,name")
