"""Labels carried by enums and Literals into the JSON schema."""

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, TypeAdapter

from services.core.labels import LabelledEnum, LiteralLabels


class Colour(LabelledEnum):
    red = "red", "红"
    blue = "blue", "蓝"


def test_labelled_enum_member_carries_its_label_and_is_found_by_value() -> None:
    assert Colour("blue") is Colour.blue
    assert Colour.blue == "blue"
    assert Colour.blue.label == "蓝"
    with pytest.raises(ValueError):
        Colour("green")


def test_labelled_enum_member_without_label_is_refused() -> None:
    with pytest.raises(TypeError, match="no label"):

        class Bare(LabelledEnum):
            plain = "plain"


def test_literal_labels_follow_the_order_of_the_literal() -> None:
    Grade = Annotated[Literal["C", "D"], LiteralLabels({"D": "丁", "C": "丙"})]

    class Model(BaseModel):
        grade: Grade | None = None

    variant = Model.model_json_schema()["properties"]["grade"]["anyOf"][0]
    assert variant["enum"] == ["C", "D"]
    assert variant["x-enum-descriptions"] == ["丙", "丁"]
    assert Model(grade="D").grade == "D"


def test_literal_labels_that_do_not_match_the_literal_are_refused() -> None:
    Grade = Annotated[Literal["C", "D"], LiteralLabels({"C": "丙"})]
    with pytest.raises(ValueError, match="do not match"):
        TypeAdapter(Grade).json_schema()
