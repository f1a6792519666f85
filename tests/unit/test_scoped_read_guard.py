"""A ``ScopedRead`` whose statement the region filter cannot reach is refused when it is
first compiled, before it could read every region (a statement built from a table's plain
columns rather than the model's escapes the ORM's region filter silently)."""

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect

from services.core.households.models import Household
from services.core.scope import UNRESTRICTED, ScopedRead, ScopeMissing


def test_a_read_of_plain_table_columns_is_refused():
    table = Household.__table__
    read = ScopedRead(select(table.c.id).where(table.c.id == bindparam("wanted")), "wanted")
    with pytest.raises(ScopeMissing):
        read.compile("529901", dialect())


def test_the_same_read_through_the_model_carries_the_filter():
    read = ScopedRead(select(Household.id).where(Household.id == bindparam("wanted")), "wanted")
    sql, args, _ = read.compile("529901", dialect())
    assert "region_code >=" in sql and "529901" in args
    # The unrestricted scope (system work) has no filter to add, and needs none.
    assert "region_code" not in read.compile(UNRESTRICTED, dialect())[0]
