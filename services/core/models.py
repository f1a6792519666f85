"""Every table, imported in one place for Alembic and for tests."""

from services.core.accounts.models import User
from services.core.audit.models import AuditEvent
from services.core.base import Base
from services.core.events.models import events
from services.core.events.subscriptions import Delivery, Subscription
from services.core.fieldwork.models import (
    Campaign,
    CampaignTeam,
    CampaignVisit,
    ResidentAttendance,
    RosterMember,
)
from services.core.followup.models import CadreAssignment, FollowUpVisit
from services.core.funds.models import (
    Allocation,
    Asset,
    AssetIncome,
    Beneficiary,
    Disbursement,
    Fund,
    FundFinding,
    FundPolicyRow,
    IncomeShare,
    Project,
    fund_project_totals,
)
from services.core.guarantees.models import GuaranteeChange, HouseholdGuarantees
from services.core.households.models import Household, HouseholdEvent, Membership, Person
from services.core.idempotency import IdempotencyRecord
from services.core.income.models import IncomeRecord, IncomeYear
from services.core.ledgers.models import ClearingEntry, Rectification, RectificationStep
from services.core.monitoring.models import (
    CalendarDay,
    CalendarYear,
    CaseTransition,
    ClueReport,
    IncomeLine,
    Measure,
    MonitoringCase,
    MonitoringCaseCount,
    MonitoringPolicyRow,
    RiskClue,
    Visit,
)
from services.core.ratelimit import RateLimitCount
from services.core.regions.models import Region
from services.core.reports.models import GeneratedReport
from services.core.sync.models import (
    DeptRecord,
    Finding,
    QuarantinedRecord,
    SourceState,
    SyncCursor,
    SyncRun,
)

metadata = Base.metadata

__all__ = [
    "Allocation",
    "Asset",
    "AssetIncome",
    "AuditEvent",
    "Base",
    "Beneficiary",
    "CadreAssignment",
    "CalendarDay",
    "CalendarYear",
    "Campaign",
    "CampaignTeam",
    "CampaignVisit",
    "CaseTransition",
    "ClearingEntry",
    "ClueReport",
    "Delivery",
    "DeptRecord",
    "Disbursement",
    "Finding",
    "FollowUpVisit",
    "Fund",
    "FundFinding",
    "FundPolicyRow",
    "GeneratedReport",
    "GuaranteeChange",
    "Household",
    "HouseholdEvent",
    "HouseholdGuarantees",
    "IdempotencyRecord",
    "IncomeLine",
    "IncomeRecord",
    "IncomeShare",
    "IncomeYear",
    "Measure",
    "Membership",
    "MonitoringCase",
    "MonitoringCaseCount",
    "MonitoringPolicyRow",
    "Person",
    "Project",
    "QuarantinedRecord",
    "RateLimitCount",
    "Rectification",
    "RectificationStep",
    "Region",
    "ResidentAttendance",
    "RiskClue",
    "RosterMember",
    "SourceState",
    "Subscription",
    "SyncCursor",
    "SyncRun",
    "User",
    "Visit",
    "events",
    "fund_project_totals",
    "metadata",
]
