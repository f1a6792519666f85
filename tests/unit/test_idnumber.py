from datetime import date

import pytest

from services.core import idnumber
from services.core.idnumber import InvalidIdNumber, normalise
from services.core.timeutil import today as china_today


def test_domain_example_is_valid():
    parsed = normalise("11010519491231002X")
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"  # sequence 002 is even
    assert parsed.address_code == "110105"


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",  # lower-case x
        " 110105 19491231 002X ",  # spaces
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits and X
        "110105194912310０2ｘ",  # mixed
        "110105\u300019491231002X",  # ideographic space
    ],
)
def test_department_spellings_normalise(raw):
    assert normalise(raw).value == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("11010519491231002Y", "format"),
        ("1101051949123100", "format"),
        ("110105194912310021X", "format"),
        ("11010519491331002X", "birth_date"),  # month 13
        ("11010519490230002X", "birth_date"),  # 30 February
        ("11010518001231002X", "birth_date"),  # before 1880
        ("110105194912310021", "check_digit"),
        ("", "format"),
    ],
)
def test_invalid_numbers_name_the_defect(raw, code):
    with pytest.raises(InvalidIdNumber) as err:
        normalise(raw)
    assert err.value.code == code


def test_future_birth_date_is_refused():
    first17 = "110105" + f"{china_today().year + 1}0101" + "001"
    with pytest.raises(InvalidIdNumber) as err:
        normalise(first17 + idnumber.check_character(first17))
    assert err.value.code == "birth_date"


def test_fifteen_digit_numbers_upgrade_only_when_allowed():
    old = "110105491231002"
    with pytest.raises(InvalidIdNumber):
        normalise(old)
    assert normalise(old, allow_15=True).value == "11010519491231002X"


def test_sex_from_sequence():
    first17 = "52990119800517013"
    assert normalise(first17 + idnumber.check_character(first17)).sex == "male"


def test_mask_keeps_only_the_address_code():
    assert idnumber.mask("11010519491231002X") == "110105************"
    assert idnumber.mask("123") == "***"


def test_keyed_hash_depends_on_key():
    a = idnumber.keyed_hash("11010519491231002X", b"k1")
    assert a == idnumber.keyed_hash("11010519491231002X", b"k1")
    assert a != idnumber.keyed_hash("11010519491231002X", b"k2")
    assert len(a) == 32


def test_digits_of_other_scripts_are_not_id_numbers():
    # str.isdigit() accepts Arabic-Indic and superscript digits; an ID number has ASCII ones.
    for text in ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "11010519491231002²"):
        with pytest.raises(InvalidIdNumber) as err:
            normalise(text)
        assert err.value.code == "format"


def test_the_keyed_hasher_answers_as_keyed_hash():
    from services.core.idnumber import keyed_hash, keyed_hasher

    for key in (b"k" * 32, b"", b"short", b"x" * 64, b"y" * 65, bytes(range(200))):
        hasher = keyed_hasher(key)
        for value in ("11010519491231002X", "110105194912310021", ""):
            assert hasher(value) == keyed_hash(value, key)
    assert keyed_hasher(b"a")("11010519491231002X") != keyed_hasher(b"b")("11010519491231002X")


def test_checked_answers_as_the_rule_whatever_it_has_seen_before():
    """``checked`` adds up the check sum from parts it keeps (address codes, birth dates, a
    table of sequences): for thousands of numbers — right and wrong check characters,
    impossible and future days, the same address and day met again — it answers what
    the rule itself (``check_character``, the calendar) answers."""
    import random

    rng = random.Random(19)
    today = china_today()
    addresses = [f"{rng.randint(110000, 659999)}" for _ in range(12)]
    wrong = 0
    for _ in range(20_000):
        first17 = (
            rng.choice(addresses)
            + f"{rng.randint(1870, today.year + 1):04d}{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}"
            + f"{rng.randint(0, 999):03d}"
        )
        right = idnumber.check_character(first17)
        last = rng.choice("0123456789X") if rng.random() < 0.3 else right
        try:
            day = date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
        except ValueError:
            day = None
        if day is None or day.year < 1880 or day > today:
            expected: object = "birth_date"
        elif last != right:
            expected = "check_digit"
            wrong += 1
        else:
            expected = (first17 + last, day)
        try:
            got: object = idnumber.checked(first17 + last)
        except InvalidIdNumber as exc:
            got = exc.code
        assert got == expected, first17 + last
    assert wrong > 1000  # the wrong check characters were met, not only the right ones
