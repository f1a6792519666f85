"""The asset rules that need no database: dates, shares, the priority share, the idle cutoff."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.core.errors import Unprocessable
from services.core.funds import assets
from services.core.funds.asset_schemas import AssetIn, IncomeIn, ShareIn
from services.core.funds.findings import fingerprint, months_before
from services.core.timeutil import today as china_today


def _shares(*pairs) -> list[ShareIn]:
    return [ShareIn(household_id=h, amount=Decimal(a)) for h, a in pairs]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 12, 2), 6, date(2026, 6, 2)),
        (date(2026, 3, 15), 6, date(2025, 9, 15)),
        (date(2026, 8, 31), 6, date(2026, 2, 28)),  # shorter month: its last day
        (date(2028, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 1, 31), 1, date(2025, 12, 31)),
        (date(2026, 5, 20), 24, date(2024, 5, 20)),
    ],
)
def test_months_before(day, months, expected):
    assert months_before(day, months) == expected


def test_fingerprint():
    assert fingerprint("idle_operating_asset", "asset:7") == "idle_operating_asset:asset:7"
    with pytest.raises(ValueError):
        fingerprint("no_such_rule", "x")


def test_shares_within_the_income():
    assert assets.check_shares(Decimal("100.00"), _shares((1, "60.00"), (2, "40.00"))) == Decimal("100.00")
    assert assets.check_shares(Decimal("100.00"), []) == Decimal("0")
    with pytest.raises(Unprocessable) as exc:
        assets.check_shares(Decimal("100.00"), _shares((1, "60.00"), (2, "40.01")))
    assert exc.value.code == "shares_exceed_income" and exc.value.field == "shares"
    assert exc.value.params == {"distributed": "100.01", "amount": "100.00"}
    with pytest.raises(Unprocessable) as exc:
        assets.check_shares(Decimal("100.00"), _shares((1, "1.00"), (2, "1.00"), (1, "1.00")))
    assert exc.value.code == "share_household_twice" and exc.value.field == "shares[2].household_id"


def test_distribution_and_priority_share():
    d = assets.distribution(
        [("lifted_out", Decimal("300.00")), ("monitored", Decimal("200.00")), ("ordinary", Decimal("100.00"))]
    )
    assert d == assets.Distribution(Decimal("600.00"), Decimal("500.00"))
    assert assets.priority_share(d.distributed, d.priority_distributed) == Decimal("0.8333")
    assert assets.priority_share(Decimal("0"), Decimal("0")) is None
    assert assets.priority_share(Decimal("300"), Decimal("100")) == Decimal("0.3333")
    assert assets.priority_share(Decimal("3"), Decimal("2")) == Decimal("0.6667")
    assert assets.distribution([]) == assets.Distribution(Decimal("0"), Decimal("0"))


def test_asset_region_within_the_project():
    assets.check_region("529901001001", "529901001001")
    assets.check_region("529901001000", "529901001002")  # a township's project
    assets.check_region("529901000000", "529901002001")  # a county's project
    with pytest.raises(Unprocessable) as exc:
        assets.check_region("529901001001", "529901001002")
    assert exc.value.code == "asset_region_outside_project" and exc.value.field == "region_code"


def test_not_before():
    assets.check_not_before(date(2026, 5, 1), date(2026, 5, 1), "handover_on", "handover_before_acceptance")
    assets.check_not_before(date(2026, 5, 1), None, "handover_on", "handover_before_acceptance")
    with pytest.raises(Unprocessable) as exc:
        assets.check_not_before(date(2026, 4, 30), date(2026, 5, 1), "handover_on", "handover_before_acceptance")
    assert exc.value.field == "handover_on" and exc.value.params["earliest"] == "2026-05-01"


def _asset(**kw) -> dict:
    return {
        "name": "大棚",
        "asset_class": "operating",
        "value": "10",
        "owner": "村集体",
        "handover_on": str(china_today()),
        **kw,
    }


def test_asset_input():
    a = AssetIn(**_asset())
    assert a.value == Decimal("10.00") and str(a.value) == "10.00"
    with pytest.raises(ValidationError, match="asset_household_required"):
        AssetIn(**_asset(asset_class="household"))
    with pytest.raises(ValidationError, match="asset_household_forbidden"):
        AssetIn(**_asset(household_id=3))
    with pytest.raises(ValidationError, match="date_in_future"):
        AssetIn(**_asset(handover_on=str(china_today() + timedelta(days=1))))
    for value in ("-0.01", "1.234"):
        with pytest.raises(ValidationError):
            AssetIn(**_asset(value=value))


def test_income_input():
    i = IncomeIn(received_on=china_today(), amount="7", shares=[{"household_id": 1, "amount": "3.5"}])
    assert str(i.amount) == "7.00" and str(i.shares[0].amount) == "3.50"
    for amount in ("0", "-1", "0.001"):
        with pytest.raises(ValidationError):
            IncomeIn(received_on=china_today(), amount=amount)
