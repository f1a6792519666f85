"""The row layouts of the demo county: the columns of every table the demo writes, in the
order of the generator's row tuples (``Batch``) and of the loader's COPY text, and the
tables in load order."""

from __future__ import annotations

from services.core.monitoring.queries import INTAKE_REPORT_COLUMNS

# ---- registry ------------------------------------------------------------------------

HOUSEHOLD_COLUMNS = (
    "id",
    "household_no",
    "region_code",
    "category",
    "previous_category",
    "flags",
    "resettlement_site",
    "address",
    "phone",
    "status",
    "head_name",
    "member_count",
    "version",
)
PERSON_COLUMNS = (
    "id",
    "id_number",
    "name",
    "sex",
    "birth_date",
    "household_id",
    "region_code",
    "relation",
    "health",
    "disability_grade",
    "illness",
    "labour_capacity",
    "education_level",
    "schooling",
    "school",
    "medical_insurance",
    "pension_insurance",
    "family_doctor",
    "employment",
    "employment_place",
    "employment_months",
    "employment_income",
    "phone",
    "status",
    "version",
)
MEMBERSHIP_COLUMNS = ("id", "person_id", "household_id", "region_code", "relation", "start_reason")
EVENT_COLUMNS = ("id", "household_id", "region_code", "kind", "person_ids", "note")
INCOME_RECORD_COLUMNS = (
    "id",
    "household_id",
    "region_code",
    "year",
    "quarter",
    "wages",
    "business",
    "property",
    "transfers",
    "details",
    "production_costs",
    "eligible_spending",
    "member_count",
    "net_income",
    "per_capita_net",
    "version",
)
INCOME_YEAR_COLUMNS = (
    "household_id",
    "year",
    "region_code",
    "quarters",
    "wages",
    "business",
    "property",
    "transfers",
    "production_costs",
    "eligible_spending",
    "member_count",
    "net_income",
    "per_capita_net",
)
GUARANTEE_COLUMNS = (
    "household_id",
    "region_code",
    "education",
    "medical",
    "housing",
    "water",
    "housing_grade",
    "note",
    "version",
)

# Columns holding money (fen ints in the rows).
MONEY_COLUMNS = frozenset(
    {
        "employment_income",
        "wages",
        "business",
        "property",
        "transfers",
        "production_costs",
        "eligible_spending",
        "net_income",
        "per_capita_net",
    }
)


# ---- monitoring (rows of ``cases.CaseMaker``) ------------------------------------------

CASE_COLUMNS = (
    "id",
    "household_id",
    "region_code",
    "case_type",
    "risk_types",
    "status",
    "first_clue_on",
    "opened_on",
    "consent_on",
    "notice_start",
    "notice_end",
    "identified_on",
    "category_before",
    "cadre_user_id",
    "cadre_assigned_on",
    "plan_on",
    "last_visit_on",
    "elimination_proposed_on",
    "eliminated_on",
    "elimination_way",
    "closed_on",
    "closed_reason",
    "next_deadline",
    "next_deadline_kind",
    "deadline_provisional",
    "deadline_breaches",
    "reopened_from_id",
    "version",
)
CLUE_COLUMNS = (
    "id",
    "household_id",
    "region_code",
    "risk_types",
    "channels",
    "status",
    "first_reported_on",
    "report_count",
    "next_deadline",
    "next_deadline_kind",
    "deadline_provisional",
    "deadline_breaches",
    "case_id",
    "dismissal_reason",
    "handled_by",
    "handled_at",
    "version",
)
# A clue report as the bulk intake writes it (one definition, core's), with its creation time.
REPORT_COLUMNS = (*INTAKE_REPORT_COLUMNS, "created_at")
TRANSITION_COLUMNS = (
    "id",
    "case_id",
    "region_code",
    "action",
    "from_status",
    "to_status",
    "comment",
    "attachments",
    "details",
    "effective_on",
    "actor_user_id",
    "actor_client_id",
    "at",
)
MEASURE_COLUMNS = (
    "id",
    "case_id",
    "household_id",
    "region_code",
    "category",
    "content",
    "responsible_unit",
    "planned_on",
    "start_on",
    "end_on",
    "status",
    "result",
    "amount",
    "recorded_by",
    "version",
)
VISIT_COLUMNS = (
    "id",
    "case_id",
    "household_id",
    "region_code",
    "cadre_user_id",
    "visited_on",
    "mode",
    "findings",
    "attachments",
    "recorded_by",
    "created_at",
)


# ---- tables, as the loader writes them --------------------------------------------------

# Tables replaced by the demo, in load order (parents first).
REGISTRY_TABLES = (
    "households",
    "persons",
    "memberships",
    "household_events",
    "income_records",
    "income_years",
    "household_guarantees",
)
# Monitoring tables replaced by the demo, in load order.
MONITORING_TABLES = (
    "monitoring_cases",
    "risk_clues",
    "clue_reports",
    "case_transitions",
    "assistance_measures",
    "case_visits",
)
LOADED_TABLES = REGISTRY_TABLES + MONITORING_TABLES
# Emptied too: they hang off households and would point at households that no longer exist.
# The events (``services.core.events``) go as well: they tell of the objects replaced.
DEPENDENT_TABLES = ("guarantee_changes", "events")
SERIAL_TABLES = (
    "households",
    "persons",
    "memberships",
    "household_events",
    "income_records",
    "monitoring_cases",
    "risk_clues",
    "clue_reports",
    "case_transitions",
)

# The generator's person rows carry the ID number and health in clear; the rendered rows
# carry instead the ID number encrypted, hashed for lookup and masked, and the health
# details (with the disability grade and the illness) encrypted.
_SEALED: dict[str, tuple[str, ...]] = {
    "id_number": ("id_number_enc", "id_hash", "id_masked"),
    "health": ("health_enc",),
    "disability_grade": (),
    "illness": (),
}
# The columns COPY names, per table.
COPY_COLUMNS = {
    "households": HOUSEHOLD_COLUMNS,
    "persons": tuple(c for column in PERSON_COLUMNS for c in _SEALED.get(column, (column,))),
    "memberships": MEMBERSHIP_COLUMNS,
    "household_events": EVENT_COLUMNS,
    "income_records": INCOME_RECORD_COLUMNS,
    "income_years": INCOME_YEAR_COLUMNS,
    "household_guarantees": GUARANTEE_COLUMNS,
    "monitoring_cases": CASE_COLUMNS,
    "risk_clues": CLUE_COLUMNS,
    "clue_reports": REPORT_COLUMNS,
    "case_transitions": TRANSITION_COLUMNS,
    "assistance_measures": MEASURE_COLUMNS,
    "case_visits": VISIT_COLUMNS,
}
