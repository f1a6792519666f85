"""The funds policy's figures: industry shares, spending and start-rate milestones, the
work-for-relief labour-pay shares, the management-fee cap, the negative list and the asset
checks. Each is a setting per year and region: the defaults are the seeds' figures and table
``fund_policies`` holds overrides per region prefix from a year on, resolved like every
policy's (``services.core.policy.overrides``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.core.funds.enums import FundKind, FundLevel, ProjectCategory, SpendingItem
from services.core.funds.models import FundPolicyRow
from services.core.policy.overrides import PolicyTable, effective

Share = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]


class Milestone(BaseModel):
    """A target share reached by the end of a day of the year (month and day)."""

    model_config = ConfigDict(extra="forbid")

    month: int = Field(ge=1, le=12, description="Month of the milestone day 月")
    day: int = Field(ge=1, le=31, description="Day of the month 日")
    share: Share = Field(description="Share to reach by the end of that day (0–1) 目标比例")

    def on(self, year: int) -> date:
        return date(year, self.month, self.day)


def _milestones(*items: tuple[int, int, str]) -> list[Milestone]:
    return [Milestone(month=m, day=d, share=Decimal(s)) for m, d, s in items]


class FundsPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Minimum share of each level's transition funds going to industry [000 §五; 002 §五].
    industry_min_share: dict[FundLevel, Share] = Field(
        default_factory=lambda: {
            FundLevel.central: Decimal("0.60"),
            FundLevel.provincial: Decimal("0.52"),
            FundLevel.city: Decimal("0.50"),
            FundLevel.county: Decimal("0.50"),
        },
        description="Minimum share of each level's transition funds going to industry (seeds: central 0.60, "
        "provincial 0.52, others 0.50) 产业发展资金最低占比",
    )
    # Which project categories count as industry, and which fund kinds the share is taken of.
    industry_categories: list[ProjectCategory] = Field(
        default_factory=lambda: [ProjectCategory.industry],
        min_length=1,
        description="Project categories that count as industry 计为产业的项目类型",
    )
    industry_fund_kinds: list[FundKind] = Field(
        default_factory=lambda: [FundKind.transition],
        min_length=1,
        description="Fund kinds the industry share is taken of 计算产业占比的资金类型",
    )
    # Spending progress of the year's funds: 25 / 50 / 75 % by the end of Q1–Q3, 100 % by
    # the end of November [000 §七].
    spending_milestones: list[Milestone] = Field(
        default_factory=lambda: _milestones((3, 31, "0.25"), (6, 30, "0.50"), (9, 30, "0.75"), (11, 30, "1")),
        min_length=1,
        description="Spending progress targets of the year's funds (seeds: 25/50/75 % by the end of Q1–Q3, 100 "
        "% by the end of November) 支出进度目标",
    )
    spending_fund_kinds: list[FundKind] = Field(
        default_factory=lambda: [FundKind.transition],
        min_length=1,
        description="Fund kinds the spending progress is measured on 计算支出进度的资金类型",
    )
    # Project start rate: 60 % by 30 April, 90 % by 30 June [000 §七] …
    start_milestones: list[Milestone] = Field(
        default_factory=lambda: _milestones((4, 30, "0.60"), (6, 30, "0.90")),
        min_length=1,
        description="Project start-rate targets (seeds: 60 % by 30 April, 90 % by 30 June) 项目开工率目标",
    )
    # … and below this a county is criticised [002 §五].
    start_rate_alarm: Share = Field(
        Decimal("0.15"), description="Start rate below which a county is criticised (seed: 0.15) 开工率警戒值"
    )
    # Labour pay of work-for-relief projects: ≥ 10 % of the project's city-and-above funds,
    # ≥ 15 % of dedicated 以工代赈 funds [004 §19].
    labour_pay_categories: list[ProjectCategory] = Field(
        default_factory=lambda: [ProjectCategory.work_relief],
        min_length=1,
        description="Project categories of work for relief 以工代赈项目类型",
    )
    labour_pay_min_share: Share = Field(
        Decimal("0.10"),
        description="Labour pay at least this share of a "
        "work-relief project's city-and-above funds "
        "(seed: 0.10) 劳务报酬最低占比",
    )
    labour_pay_min_share_dedicated: Share = Field(
        Decimal("0.15"),
        description="Labour pay at least this share of dedicated 以工代赈 funds (seed: 0.15) 以工代赈专项资金劳务报酬最低占比",
    )
    # Project management fees at most this share of the funds allocated (one county's rule).
    management_fee_max_share: Share = Field(
        Decimal("0.01"),
        description="Project management fees at most this share of the funds allocated (seed: 0.01) 项目管理费最高占比",
    )
    # The negative list: items the listed fund kinds may not pay for.
    negative_list: list[SpendingItem] = Field(
        default_factory=lambda: [
            SpendingItem.unit_running_costs,
            SpendingItem.vehicles_and_communication,
            SpendingItem.office_buildings,
            SpendingItem.bonuses_allowances,
            SpendingItem.debt_repayment,
            SpendingItem.other_prohibited,
        ],
        description="Spending items the listed fund kinds may not pay for 负面清单",
    )
    negative_list_fund_kinds: list[FundKind] = Field(
        default_factory=lambda: [FundKind.transition],
        description="Fund kinds the negative list applies to 适用负面清单的资金类型",
    )
    # An operating asset in use with no income for this many months is a finding.
    asset_idle_months: int = Field(
        6,
        ge=1,
        le=60,
        description="An operating asset in use with no income for this "
        "many months is a finding (seed: 6) 经营性资产无收益月数",
    )
    # Projects named under an indicator that falls short (the worst first).
    indicator_projects: int = Field(
        20,
        ge=1,
        le=200,
        description="How many projects to name under an indicator that falls short, the worst first 指标下列出的项目数",
    )

    @model_validator(mode="after")
    def _ordered(self) -> FundsPolicy:
        for name in ("spending_milestones", "start_milestones"):
            items = getattr(self, name)
            days = [(m.month, m.day) for m in items]
            for m in items:
                m.on(2024)  # a real day (29 February included)
            if days != sorted(set(days)) or [m.share for m in items] != sorted(m.share for m in items):
                raise ValueError(f"{name}: milestones in order of day, each share at least the one before")
        return self


FIELDS = frozenset(FundsPolicy.model_fields)


TABLE = PolicyTable(FundPolicyRow, FundsPolicy)


async def policy_for(session, region_code: str, year: int) -> FundsPolicy:
    """The funds policy in force in ``region_code`` (a code or a prefix) in ``year``."""
    policy, _rows = await effective(session, region_code, year, TABLE)
    return policy
