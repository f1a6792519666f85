"""Enums whose members carry their Chinese label (标签) as data, not as a comment.

A member is written ``lifted_out = "lifted_out", "脱贫户"``: the first item is the API value
(unchanged: ``Category("lifted_out")``, ``Category.lifted_out == "lifted_out"``), the second
its label, read as ``Category.lifted_out.label``. In the JSON schema (and so in the OpenAPI
document) each such enum carries ``x-enum-descriptions`` — the labels in the order of
``enum``, as Redoc and several client generators read them — and a description listing
``value 标签`` under the enum's own docstring.

A field typed by a ``Literal`` rather than an enum carries its labels the same way with
``Annotated[Literal["a", "b"], LiteralLabels({"a": "甲", "b": "乙"})]``: the Literal stays a type
the type checker reads, the labels go into the schema.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class LabelledEnum(StrEnum):
    label: str

    # ``label`` has a default only for the type checker: a lookup such as ``Category("lifted_out")``
    # is checked against this signature, although at run time it goes to ``Enum.__new__``. A member
    # defined without its label is still refused.
    def __new__(cls, value: str, label: str | None = None) -> Self:
        if label is None:
            raise TypeError(f"{cls.__name__} member {value!r} has no label")
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["x-enum-descriptions"] = [member.label for member in cls]
        schema["description"] = enum_description(cls)
        return schema


def enum_description(cls: type[LabelledEnum]) -> str:
    """The enum's docstring (if it has its own) followed by one ``- `value` 标签`` line per member."""
    listing = "\n".join(f"- `{member.value}` {member.label}" for member in cls)
    own = cls.__dict__.get("__doc__")
    return f"{inspect.cleandoc(own)}\n\n{listing}" if own else listing


def labelled(name: str, members: Any, doc: str | None = None) -> Any:
    """A labelled enum made from (value, label) pairs, for enums derived from another one."""
    # The functional API (a name and its members), which mypy reads as a lookup by value and label.
    enum = LabelledEnum(name, [(value, (value, label)) for value, label in members])  # type: ignore[arg-type]
    enum.__doc__ = doc
    return enum


class LiteralLabels:
    """``Annotated`` metadata giving the label of each value of a ``Literal``: its schema gets
    ``x-enum-descriptions`` in the order of ``enum``. The labels must name exactly the
    Literal's values (checked when the schema is made, so a drift fails ``openapi --check``)."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self.labels = dict(labels)

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        values = schema.get("enum", [])
        if sorted(values) != sorted(self.labels):
            raise ValueError(f"labels {sorted(self.labels)} do not match the Literal's values {values}")
        schema["x-enum-descriptions"] = [self.labels[value] for value in values]
        return schema
