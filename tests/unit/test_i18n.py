import re
from pathlib import Path

import pytest

from services.core.i18n import MESSAGES, message, wants_chinese

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("header", "zh"),
    [
        (None, False),
        ("", False),
        ("en", False),
        ("zh", True),
        ("zh-CN", True),
        ("zh-Hans-CN,zh;q=0.9", True),
        ("en-US,en;q=0.9,zh;q=0.8", False),
        ("en;q=0.5,zh-TW;q=0.9", True),
        ("fr", False),
        ("zh;q=abc,en;q=0.1", False),
    ],
)
def test_language_negotiation(header, zh):
    assert wants_chinese(header) is zh


def test_every_code_raised_in_the_code_has_both_messages():
    used: set[str] = set()
    pattern = re.compile(
        r"(?:NotFound|Conflict|Unprocessable|Forbidden|Unauthorized|PreconditionFailed|"
        r'PreconditionRequired|ServiceUnavailable|BadRequest|ValueError)\(\s*"([a-z_0-9]+)(?:@[a-z_.]+)?"'
    )
    for path in (ROOT / "services").rglob("*.py"):
        used.update(pattern.findall(path.read_text(encoding="utf-8")))
    for kind in ("format", "birth_date", "check_digit"):  # raised as f"id_number_{code}"
        used.add(f"id_number_{kind}")
    missing = sorted(c for c in used if c not in MESSAGES)
    assert not missing, missing
    for code, (en, zh) in MESSAGES.items():
        assert en and zh, code
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{code}: Chinese text expected"


def test_message_fills_parameters_and_survives_missing_ones():
    assert message("household_not_found", False, {"id": 7}) == "There is no household 7 you can see."
    assert "7" in message("household_not_found", True, {"id": 7})
    assert message("household_not_found", False, {}) == "There is no household {id} you can see."
