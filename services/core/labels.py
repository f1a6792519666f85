"""Enums whose members carry their Chinese label (标签) as data, not as a comment.

A member is written ``lifted_out = "lifted_out", "脱贫户"``: the first item is the API value
(unchanged: ``Category("lifted_out")``, ``Category.lifted_out == "lifted_out"``), the second
its label, read as ``Category.lifted_out.label``. In the JSON schema (and so in the OpenAPI
document) each such enum carries ``x-enum-descriptions`` — the labels in the order of
``enum``, as Redoc and several client generators read them — and a description listing
``value 标签`` under the enum's own docstring.
"""
from __future__ import annotations

import inspect
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class LabelledEnum(StrEnum):
    label: str

    def __new__(cls, value: str, label: str) -> LabelledEnum:
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
    enum = LabelledEnum(name, [(value, (value, label)) for value, label in members])  # type: ignore[call-overload]
    enum.__doc__ = doc
    return enum


def labelled_literal(labels: dict[str, str]) -> Any:
    """A ``Literal`` of the keys of ``labels`` whose schema carries the values' labels as
    ``x-enum-descriptions``, for fields typed by a Literal rather than an enum."""
    values = tuple(labels)
    return Annotated[Literal[values], Field(json_schema_extra={"x-enum-descriptions": list(labels.values())})]
