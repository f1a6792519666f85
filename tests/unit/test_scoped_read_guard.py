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
    sql, args, slots = read.compile("529901", dialect())
    # The region's bounds are written into the text (a plan made once for every call must
    # see them); only the per-call value is a parameter, now $1.
    assert "region_code >= '529901'" in sql and "$2" not in sql and "households.id = $1" in sql
    assert args == [None] and [(position, name) for position, name, _ in slots] == [(0, "wanted")]
    # The unrestricted scope (system work) has no filter to add, and needs none.
    assert "region_code" not in read.compile(UNRESTRICTED, dialect())[0]


def test_fixed_values_are_written_as_literals_and_the_rest_renumbered():
    """Constants become literals (a quote doubled, a day in ISO form under the parameter's own
    cast), per-call parameters keep their order under new numbers; a constant of another
    kind (a moment here, whose text would depend on a time zone) keeps every parameter as it
    was."""
    from datetime import UTC, date, datetime

    from sqlalchemy import literal

    read = ScopedRead(
        select(Household.id, literal("O'Brien").label("who"))
        .where(Household.id > bindparam("after"), Household.household_no != literal("x"))
        .limit(bindparam("size")),
        "after",
        "size",
    )
    sql, args, slots = read.compile("529901", dialect())
    assert "'O''Brien'" in sql and "'x'" in sql and "'529901'" in sql
    assert "households.id > $1" in sql and "LIMIT $2" in sql and "$3" not in sql
    assert args == [None, None] and [(position, name) for position, name, _ in slots] == [(0, "after"), (1, "size")]

    dated = ScopedRead(
        select(Household.id).where(
            Household.id == bindparam("wanted"), Household.created_at > literal(date(2026, 1, 1))
        ),
        "wanted",
    )
    sql, args, slots = dated.compile("529901", dialect())
    assert "> '2026-01-01'::DATE" in sql and "households.id = $1" in sql and "$2" not in sql and args == [None]

    timed = ScopedRead(
        select(Household.id).where(
            Household.id == bindparam("wanted"), Household.created_at > literal(datetime(2026, 1, 1, tzinfo=UTC))
        ),
        "wanted",
    )
    sql, args, slots = timed.compile("529901", dialect())
    assert "'529901'" not in sql and "529901" in args and len(args) == 4


def test_literals_already_in_the_text_stay_as_they_are():
    """Values the statement writes into its own text (``literal_execute``, a list of ``IN``)
    are rendered when it is compiled; the other constants are written around them, never
    inside a quoted literal (a '$1' there is text, not a parameter)."""
    from datetime import date

    from sqlalchemy import Date, literal

    read = ScopedRead(
        select(Household.id, literal("costs $1 or $2").label("note")).where(
            Household.id > bindparam("after"),
            Household.created_at >= bindparam(None, date(2026, 3, 1), Date, literal_execute=True),
            Household.category.in_(["lifted_out", "monitored"]),
            Household.head_name.is_not(None) == literal(True),
        ),
        "after",
    )
    sql, args, slots = read.compile("529901", dialect())
    assert "'costs $1 or $2'" in sql and "'2026-03-01'" in sql and "POSTCOMPILE" not in sql
    assert "IN ('lifted_out', 'monitored')" in sql and "= true::BOOLEAN" in sql
    assert "households.id > $1" in sql and "$2" not in sql.replace("'costs $1 or $2'", "")
    assert args == [None] and [name for _, name, _ in slots] == ["after"]


def test_a_null_constant_is_written_as_null():
    """A constant None (a column the source does not have, as the clue side of the overdue
    list's ``cadre_user_id``) becomes ``NULL`` and no longer keeps the region's bounds out
    of the text: with them as parameters, that list's generic plan read the county's clues
    by region (55 ms) instead of seeking its deadline index (0.1 ms)."""
    from sqlalchemy import literal

    read = ScopedRead(
        select(Household.id, literal(None).label("nothing")).where(Household.id > bindparam("after")),
        "after",
    )
    sql, args, slots = read.compile("529901", dialect())
    assert "NULL AS nothing" in sql and "'529901'" in sql and "households.id > $1" in sql and "$2" not in sql
    assert args == [None] and [name for _, name, _ in slots] == ["after"]
