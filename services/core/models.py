"""Every table, imported in one place for Alembic and for tests."""
from services.core.base import Base
from services.core.regions.models import Region
from services.core.households.models import Household, HouseholdEvent, Membership, Person
from services.core.income.models import IncomeRecord, IncomeYear
from services.core.guarantees.models import GuaranteeChange, HouseholdGuarantees
from services.core.accounts.models import User
from services.core.idempotency import IdempotencyRecord
from services.core.ratelimit import RateLimitCount
from services.core.audit.models import AuditEvent
from services.core.monitoring.models import (
    CalendarDay, CalendarYear, CaseTransition, ClueReport, IncomeLine, Measure, MonitoringCase, MonitoringCaseCount,
    MonitoringPolicyRow,
    RiskClue, Visit,
)
from services.core.sync.models import (
    DeptRecord, Finding, QuarantinedRecord, SourceState, SyncCursor, SyncRun,
)

from services.core.funds.models import (
    Allocation, Asset, AssetIncome, Beneficiary, Disbursement, Fund, FundFinding, FundPolicyRow, IncomeShare, Project,
)

metadata = Base.metadata

__all__ = [
    "Base", "metadata", "Region", "Household", "HouseholdEvent", "Membership", "Person", "IncomeRecord",
    "IncomeYear", "GuaranteeChange", "HouseholdGuarantees", "User", "IdempotencyRecord", "RateLimitCount",
    "AuditEvent", "CalendarDay", "CalendarYear", "CaseTransition", "ClueReport", "IncomeLine", "Measure",
    "MonitoringCase", "MonitoringCaseCount", "MonitoringPolicyRow", "RiskClue", "Visit",
    "DeptRecord", "Finding", "QuarantinedRecord", "SourceState", "SyncCursor", "SyncRun",
    "Allocation", "Asset", "AssetIncome", "Beneficiary", "Disbursement", "Fund", "FundFinding", "FundPolicyRow",
    "IncomeShare", "Project",
]
