"""``services.core.repository.by_id``: the shared "row by id or 404" read of the domains."""

from __future__ import annotations

import uuid

import pytest

from services.core.accounts.models import User
from services.core.errors import NotFound
from services.core.households.models import Household
from services.core.monitoring.models import Measure
from services.core.repository import by_id


async def test_by_id_returns_the_row(session, user_ids):
    some = next(iter(user_ids.values()))
    row = await by_id(session, User, some, "user_not_found", "user_id", for_update=True)
    assert isinstance(row, User) and row.id == some


async def test_by_id_missing_row_is_not_found_naming_field_and_id(session):
    with pytest.raises(NotFound) as caught:
        await by_id(session, Household, -1, "household_not_found", "member_id")
    assert caught.value.code == "household_not_found"
    assert caught.value.field == "member_id"
    assert caught.value.params == {"id": -1}


async def test_by_id_shows_a_uuid_as_text(session):
    missing = uuid.uuid4()
    with pytest.raises(NotFound) as caught:
        await by_id(session, Measure, missing, "measure_not_found", "measure_id")
    assert caught.value.params == {"id": str(missing)}
