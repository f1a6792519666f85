"""The contract explains itself: administrators read the docs, mobile teams read generated
clients, so every operation, every property of every component schema and every enum value
is described — enum values with their Chinese label (``x-enum-descriptions``, aligned with
``enum``). Each test lists everything that is missing, not only the first gap."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from services.cli import openapi_document

CHINESE = re.compile(r"[\u3400-\u9fff]")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(openapi_document())


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path} ({item[method].get('operationId')})", item[method]


def _enums(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """Every schema with an ``enum`` below ``node``: (where, the schema, the property holding it)."""
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield where, node, None
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for name, prop in value.items():
                    for found_where, schema, holder in _enums(prop, f"{where}.{name}"):
                        yield found_where, schema, holder if holder is not None else prop
            elif key != "enum":
                yield from _enums(value, where)
    elif isinstance(node, list):
        for value in node:
            yield from _enums(value, where)


def _labels(schema: dict[str, Any], holder: dict[str, Any] | None) -> Any:
    """The enum's labels: on the enum schema itself, or (a ``Literal | None`` field) on its property."""
    if "x-enum-descriptions" in schema:
        return schema["x-enum-descriptions"]
    return (holder or {}).get("x-enum-descriptions")


def missing_operation_descriptions(spec: dict[str, Any]) -> list[str]:
    return [name for name, op in _operations(spec) if not (op.get("description") or "").strip()]


def missing_property_descriptions(spec: dict[str, Any]) -> list[str]:
    """A property needs its own description; a ``$ref`` property counts when it has a sibling one."""
    return [
        f"{schema_name}.{prop_name}"
        for schema_name, schema in spec["components"]["schemas"].items()
        for prop_name, prop in schema.get("properties", {}).items()
        if not (prop.get("description") or "").strip()
    ]


def enum_label_problems(spec: dict[str, Any]) -> list[str]:
    problems = []
    places = [*spec["components"]["schemas"].items(), *spec.get("paths", {}).items()]  # parameters too
    found = (hit for name, node in places for hit in _enums(node, name))
    for where, schema, holder in found:
        labels = _labels(schema, holder)
        if labels is None:
            problems.append(f"{where}: no x-enum-descriptions for {schema['enum']}")
        elif len(labels) != len(schema["enum"]):
            problems.append(f"{where}: {len(labels)} labels for {len(schema['enum'])} values")
        else:
            problems += [
                f"{where}: {value!r} has no Chinese label ({label!r})"
                for value, label in zip(schema["enum"], labels, strict=True)
                if not isinstance(label, str) or not CHINESE.search(label)
            ]
    return problems


def test_every_operation_has_a_description(spec):
    missing = missing_operation_descriptions(spec)
    assert not missing, f"{len(missing)} operations without a description:\n" + "\n".join(missing)


def test_every_property_has_a_description(spec):
    missing = missing_property_descriptions(spec)
    assert not missing, f"{len(missing)} properties without a description:\n" + "\n".join(missing)


def test_every_enum_value_has_a_chinese_label(spec):
    problems = enum_label_problems(spec)
    assert not problems, f"{len(problems)} enum label problems:\n" + "\n".join(problems)


def test_enum_labels_are_aligned_and_listed(spec):
    """One enum read as a reader would: labels in the order of the values, and the description
    lists each value with its label."""
    category = spec["components"]["schemas"]["Category"]
    assert category["enum"] == ["lifted_out", "monitored", "ordinary"]
    assert category["x-enum-descriptions"] == ["脱贫户", "监测户", "一般农户"]
    assert "- `lifted_out` 脱贫户" in category["description"]


# The checks themselves must be able to fail: each is fed a document with one gap of its kind.


def test_the_checks_find_gaps():
    broken = {
        "paths": {
            "/x": {
                "get": {
                    "operationId": "getX",
                    "summary": "X",
                    "parameters": [{"name": "k", "in": "query", "schema": {"enum": ["a"]}}],
                },
                "post": {"operationId": "postX", "description": "Makes an X"},
            }
        },
        "components": {
            "schemas": {
                "X": {
                    "properties": {
                        "plain": {"type": "string"},
                        "described": {"type": "string", "description": "Described 已说明"},
                        "ref_bare": {"$ref": "#/components/schemas/Kind"},
                        "ref_described": {"$ref": "#/components/schemas/Kind", "description": "Kind 类型"},
                        "literal": {
                            "anyOf": [{"enum": ["C", "D"], "type": "string"}, {"type": "null"}],
                            "description": "Grade 等级",
                            "x-enum-descriptions": ["C级", "D级"],
                        },
                        "literal_bare": {
                            "anyOf": [{"enum": ["a"], "type": "string"}, {"type": "null"}],
                            "description": "Bare",
                        },
                    }
                },
                "Kind": {"enum": ["a", "b"], "type": "string", "x-enum-descriptions": ["甲"]},
                "English": {"enum": ["a"], "type": "string", "x-enum-descriptions": ["alpha"]},
                "Unlabelled": {"enum": ["a"], "type": "string"},
            }
        },
    }
    assert missing_operation_descriptions(broken) == ["GET /x (getX)"]
    assert missing_property_descriptions(broken) == ["X.plain", "X.ref_bare"]
    problems = enum_label_problems(broken)
    assert problems == [
        "X.literal_bare: no x-enum-descriptions for ['a']",
        "Kind: 1 labels for 2 values",
        "English: 'a' has no Chinese label ('alpha')",
        "Unlabelled: no x-enum-descriptions for ['a']",
        "/x: no x-enum-descriptions for ['a']",
    ]


def test_labels_leave_the_values_alone():
    """A labelled member is still its plain string value (requests, the database, JSON);
    the label is data beside it."""
    from services.core.households.enums import Category
    from services.core.monitoring.enums import CaseStatus

    assert Category("lifted_out") is Category.lifted_out
    assert Category.lifted_out == "lifted_out" and str(Category.lifted_out) == "lifted_out"
    assert Category.lifted_out.label == "脱贫户"
    assert [m.value for m in CaseStatus][:2] == ["verification", "village_review"]
    with pytest.raises(ValueError):
        Category("脱贫户")
