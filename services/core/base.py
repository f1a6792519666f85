"""Declarative base shared by every domain's models."""

from __future__ import annotations

import enum
import warnings
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    FromClause,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    column,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Region codes are digit strings compared by prefix; the "C" collation lets a btree index
# answer ``LIKE '529001%'``.
RegionCode = String(12, collation="C")
Money = Numeric(14, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {Decimal: Money, datetime: DateTime(timezone=True)}  # noqa: RUF012 (SQLAlchemy's)


def table_of(model: type[Base]) -> Table:
    """The ``Table`` a model is mapped to (``__table__`` is typed as any ``FromClause``), for
    Core statements such as ``insert(...).on_conflict_do_update``."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a Table")
    return table


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """Store an enum as its value in VARCHAR with a CHECK constraint (easy to migrate)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


# The placeholder below is deliberately not mapped on the mixin; say so once, quietly.
warnings.filterwarnings(
    "ignore", message=r"Attribute 'region_code' on class <class 'services\.core\.base\.RegionScoped'>"
)


class RegionScoped:
    """Rows that belong to a region. Every ORM query on them is filtered by the caller's
    region prefix (``services.core.scope``); the column is denormalised onto each table so
    the filter never needs a join."""

    # Each class maps its own ``region_code`` (regions: a synonym of ``code``). This
    # placeholder lets the scope filter's lambda be analysed against the mixin itself; the type
    # checker sees the mapped column every subclass declares.
    if TYPE_CHECKING:
        region_code: Mapped[str]
        __table__: ClassVar[FromClause]
    else:
        region_code = column("region_code")


class Versioned:
    """Optimistic concurrency: ``version`` is the ETag and goes up on every change."""

    if TYPE_CHECKING:
        __table__: ClassVar[FromClause]  # set on the mapped class the mixin goes into

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now(), nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # SQLAlchemy adds "AND version = :old" to every UPDATE and raises StaleDataError
        # when another transaction changed the row first.
        return {"version_id_col": cls.__table__.c.version, "eager_defaults": True}


# How the API describes ``version`` wherever an answer carries it.
VERSION_DESCRIPTION = (
    "Version of the record, raised by every change; the ETag is made from it (send the ETag "
    "as If-Match to change the record) 版本号"
)


class PolicyOverrideRow:
    """A policy's figures overridden for a region prefix ("" = everywhere) from a year on
    (the monitoring policy, the funds policy)."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    region_prefix: Mapped[str] = mapped_column(RegionCode, nullable=False)
    year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    values: Mapped[dict] = mapped_column(JSONB, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)


def bigint_pk() -> Mapped[int]:
    return mapped_column(BigInteger, primary_key=True, autoincrement=True)
