"""The ``events`` table: one row per event, numbered in commit order (``triggers``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Sequence, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB

from services.core.base import Base, RegionCode

# Drawn by the trigger functions only, under their lock (never a column default: a number
# drawn at insert time would not follow the commit order).
events_id_seq = Sequence("events_id_seq", metadata=Base.metadata)

events = Table(
    "events",
    Base.metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(40), nullable=False),
    Column("object_type", String(20), nullable=False),
    Column("object_id", String(40), nullable=False),  # measures and visits have uuids
    Column("region_code", RegionCode, nullable=False),  # the object's region after the change
    Column("old_region_code", RegionCode),  # before it, when the change moved the object
    Column("household_id", BigInteger),  # the household it concerns, if any
    Column("sensitive", Boolean, nullable=False),  # tells a person's health (a finding's rule)
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
    Column("body", JSONB, nullable=False),
    Index("ix_events_region_code_id", "region_code", "id"),
    Index(
        "ix_events_old_region_code_id", "old_region_code", "id", postgresql_where=text("old_region_code IS NOT NULL")
    ),
    Index("ix_events_object", "object_type", "object_id", "id"),
)
