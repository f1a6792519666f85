"""The policy rules say, in their docstrings, the policy's Chinese terms next to the English
(issue 17), so that ``grep 识别`` or ``grep 产业`` over ``services/`` lands on the rule itself.

Two checks: every public rule of the rule modules below has a docstring with both English and
Chinese in it; and a plain line search of the services tree, as grep does, finds the named
rules' docstrings for the terms a reader would search for. The department cross-checks are
``Rule`` objects that carry their Chinese term as data (``term_zh``): checked here too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from functools import cache
from pathlib import Path

import pytest

from services.core.sync.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
ENGLISH = re.compile(r"\b[A-Za-z]{4,}\b")

# Modules of plain rule functions: None takes every public function and class defined in the
# module; a tuple names the rules of a module that also holds services (queries, writes).
RULE_MODULES: dict[str, tuple[str, ...] | None] = {
    "services.core.monitoring.deadlines": None,
    "services.core.monitoring.elimination": None,
    "services.core.monitoring.uncovered": None,
    "services.core.monitoring.machine": None,
    "services.core.funds.indicators": None,
    "services.core.income.rules": None,
    "services.core.income.rolling": None,
    "services.core.followup.rules": None,
    "services.core.guarantees.service": ("all_secure",),
    "services.core.funds.assets": ("check_region", "check_shares", "priority_share", "Distribution", "distribution"),
    "services.core.funds.projects": ("next_steps", "last_step_on", "check_step"),
    "services.core.funds.findings": ("scan_assets",),
    "services.core.ledgers.clearing": ("clearing_deadline", "department_of", "is_overdue", "month_bounds"),
    "services.core.ledgers.rectification": ("rectification_deadline", "check_not_own", "is_overdue"),
}


def _rules() -> list[tuple[str, object]]:
    found = []
    for name, names in RULE_MODULES.items():
        module = importlib.import_module(name)
        if names is None:
            names = tuple(
                n
                for n, obj in vars(module).items()
                if not n.startswith("_")
                and (inspect.isfunction(obj) or inspect.isclass(obj))
                and obj.__module__ == name
            )
        found += [(f"{name}.{n}", getattr(module, n)) for n in names]
    return found


RULE_OBJECTS = _rules()


def test_the_rule_modules_are_walked():
    """A walk that found nothing would pass every check below."""
    assert len(RULE_OBJECTS) >= 50
    names = {name for name, _ in RULE_OBJECTS}
    assert {
        "services.core.monitoring.deadlines.clue_deadlines",
        "services.core.funds.indicators.industry_shares",
        "services.core.monitoring.elimination.unmet_conditions",
        "services.core.income.rules.per_capita",
    } <= names


@pytest.mark.parametrize(("name", "rule"), RULE_OBJECTS, ids=[name for name, _ in RULE_OBJECTS])
def test_every_rule_has_english_and_chinese_in_its_docstring(name, rule):
    # The class's own docstring: a dataclass without one gets its signature as __doc__.
    doc = rule.__dict__.get("__doc__") if inspect.isclass(rule) else rule.__doc__
    assert doc, f"{name} has no docstring"
    assert CJK.search(doc), f"{name}: no Chinese term in its docstring"
    assert ENGLISH.search(doc), f"{name}: no English in its docstring"


@cache
def _docstrings(path: Path) -> list[tuple[str, int, int]]:
    """(name, first line, last line) of the docstring of every function and class in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and ast.get_docstring(node):
            doc = node.body[0]
            out.append((node.name, doc.lineno, doc.end_lineno or doc.lineno))
    return out


def grep(term: str) -> set[tuple[str, str]]:
    """(file under services/, rule) for every line of the services tree that holds ``term``
    and lies in a docstring, as ``grep -rn <term> services`` would show it."""
    hits = set()
    for path in sorted(SERVICES.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        numbers = [i for i, line in enumerate(lines, start=1) if term in line]
        for name, first, last in _docstrings(path) if numbers else ():
            if any(first <= n <= last for n in numbers):
                hits.add((path.relative_to(ROOT).as_posix(), name))
    return hits


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        # identification (识别) and its deadline
        (
            "识别",
            {
                ("services/core/monitoring/deadlines.py", "clue_deadlines"),
                ("services/core/monitoring/deadlines.py", "case_deadlines"),
            },
        ),
        ("识别时限", {("services/core/monitoring/deadlines.py", "clue_deadlines")}),
        # the industry share of transition funds
        ("产业", {("services/core/funds/indicators.py", "industry_shares")}),
        (
            "风险消除",
            {
                ("services/core/monitoring/elimination.py", "unmet_conditions"),
                ("services/core/monitoring/elimination.py", "income_conditions"),
            },
        ),
        (
            "饮水安全",
            {
                ("services/core/guarantees/service.py", "all_secure"),
                ("services/core/monitoring/elimination.py", "unmet_conditions"),
            },
        ),
        (
            "人均纯收入",
            {
                ("services/core/income/rules.py", "per_capita"),
                ("services/core/monitoring/uncovered.py", "is_uncovered"),
            },
        ),
        ("应纳未纳", {("services/core/monitoring/uncovered.py", "uncovered_households")}),
        ("项目资产", {("services/core/funds/assets.py", "check_region")}),
        ("公示", {("services/core/monitoring/deadlines.py", "notice_min_end")}),
        ("一户一策", {("services/core/monitoring/deadlines.py", "case_deadlines")}),
        ("项目开工率", {("services/core/funds/indicators.py", "start_rate")}),
    ],
)
def test_grep_for_the_chinese_term_finds_the_rule(term, expected):
    assert expected <= grep(term)


def test_grep_finds_only_docstrings_that_hold_the_term():
    """The search itself: a term no docstring holds finds nothing."""
    assert grep("不存在的政策术语") == set()
    assert ("services/core/funds/indicators.py", "spending_progress") not in grep("产业")


def test_every_department_rule_carries_its_chinese_term():
    assert len(RULES) >= 20
    for rule in RULES:
        assert CJK.search(rule.term_zh), rule.id
        assert CJK.search(rule.explanation_zh) and ENGLISH.search(rule.explanation_en), rule.id
