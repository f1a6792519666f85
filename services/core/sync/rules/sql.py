"""SQL pieces the rules share: the columns of ``sync_rec`` and a few expressions.

``sync_rec`` is a temporary table of one source's records of one county joined by ID hash
to persons, households and open cases (``reconcile``): ``REC_COLUMNS`` for every kind, and
the kind's canonical fields typed once (``KIND_COLUMNS``; the normaliser wrote them ISO and
JSON-ready, so the casts cannot fail).

A rule's SELECT returns ``subject`` (what the finding is about, e.g. ``person:123``; the
fingerprint is the rule id, source and county before it), ``person_id``, ``household_id``,
``region_code`` (None: the county's), ``records`` ([{source, external_key}]) and ``detail``
(the finding's ``values``, JSON-ready: dates ISO, amounts decimal strings). Bind
parameters: ``:source``, ``:county``, ``:today``, ``:year``, ``:upto`` (the quarter index of
today) and every ``SyncPolicy`` field by its name; thresholds never appear as literals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.core.sync.enums import Benefit, SourceKind

# Columns of ``sync_rec`` every kind has: the record, and the person, household and open
# case it matched (all NULL when the ID number is not in the registry).
REC_COLUMNS = """
    r.id AS rec_id, r.external_key, r.record_type, r.id_hash, r.id_masked, r.name COLLATE "C" AS dept_name,
    r.birth_date,
    p.id AS person_id, p.name COLLATE "C" AS person_name, p.status AS person_status, p.region_code AS person_region,
    p.labour_capacity, p.schooling, p.medical_insurance,
    h.id AS household_id, h.category, h.status AS household_status, h.region_code AS household_region,
    (oc.household_id IS NOT NULL) AS open_case"""

# Terms: "2026秋" / "2026秋季" / "2026 autumn" (school year 2026–27, first half), "2027春" /
# "2027 spring" (2026–27, second half), "2026-2027-1" / "2026-2027-2", or a bare year: 2 × the
# year the school year starts + 0 (autumn) or 1 (spring), so terms sort in time; NULL for a
# term not understood (such records are not judged).
TERM_RANK_SQL = """CASE
        WHEN btrim(r.data->>'term') ~ '^[0-9]{4}-[0-9]{4}-[12]$'
            THEN left(btrim(r.data->>'term'), 4)::int * 2 + right(btrim(r.data->>'term'), 1)::int - 1
        WHEN btrim(r.data->>'term') ~* '^[0-9]{4} *(春|spring)' THEN (left(btrim(r.data->>'term'), 4)::int - 1) * 2 + 1
        WHEN btrim(r.data->>'term') ~ '^[0-9]{4}' THEN left(btrim(r.data->>'term'), 4)::int * 2
    END"""

KIND_COLUMNS: dict[SourceKind, str] = {
    SourceKind.civil_affairs: """,
    r.data->>'benefit' AS benefit, r.data->>'dibao_class' AS dibao_class,
    (r.data->>'start_date')::date AS start_date, (r.data->>'end_date')::date AS end_date,
    (r.data->>'amount')::numeric AS amount, r.data->>'status' AS status, r.data->>'stop_reason' AS stop_reason,
    (r.data->>'death_date')::date AS death_date, (r.data->>'household_size')::int AS household_size""",
    SourceKind.medical_insurance: """,
    (r.data->>'year')::int AS year, (r.data->>'insured')::boolean AS insured, r.data->>'status' AS status,
    (r.data->>'death_date')::date AS death_date, (r.data->>'settled_on')::date AS settled_on,
    r.data->>'hospital' AS hospital, (r.data->>'total_cost')::numeric AS total_cost,
    (r.data->>'out_of_pocket')::numeric AS out_of_pocket, (r.data->>'family_doctor')::boolean AS family_doctor""",
    SourceKind.education: f""",
    r.data->>'term' AS term, r.data->>'school' AS school, r.data->>'stage' AS stage, r.data->>'status' AS status,
    r.data->>'aid_kind' AS aid_kind, (r.data->>'aid_amount')::numeric AS aid_amount,
    {TERM_RANK_SQL} AS term_rank""",
    SourceKind.housing: """,
    r.data->>'grade' AS grade, (r.data->>'appraised_on')::date AS appraised_on, r.data->>'address' AS address,
    r.data->>'renovation' AS renovation, (r.data->>'renovated_on')::date AS renovated_on""",
    SourceKind.generic: "",
}

RECORDS = (
    "jsonb_agg(jsonb_build_object('source', CAST(:source AS text), 'external_key', external_key) ORDER BY external_key)"
)
ONE_RECORD = "jsonb_build_array(jsonb_build_object('source', CAST(:source AS text), 'external_key', external_key))"

# Separators that are not part of a name: spaces (after NFKC also the full-width one), the
# middle dots of transliterated minority names (·, •, ・, ‧ …) and a period used for them.
# No [[:space:]]: ":space" would read as a bind parameter.
NAME_NOISE_SQL = r"[\s.·•・‧∙⋅]"


def norm(column: str) -> str:
    """A name as compared: NFKC, without separators, lower case."""
    return f"lower(regexp_replace(normalize({column}, NFKC), '{NAME_NOISE_SQL}', '', 'g'))"


def sql_in(values: Iterable[str]) -> str:
    """A SQL list of enum values (fixed vocabularies, never user input)."""
    items = [str(v) for v in values]
    assert all(re.fullmatch(r"[a-z_]+", v) for v in items)
    return "(" + ", ".join(f"'{v}'" for v in items) + ")"


def quarter_label(index: str) -> str:
    """A quarter index (``services.core.income.rolling.quarter_index``) as "2026Q3"."""
    return f"(({index}) / 4)::text || 'Q' || (({index}) % 4 + 1)::text"


ACTIVE_BENEFITS = (Benefit.dibao, Benefit.tekun)
# An active 低保 or 特困: not stopped (no status reads as active), started, not ended.
ACTIVE_ASSISTANCE_SQL = (
    f"benefit IN {sql_in(ACTIVE_BENEFITS)} AND coalesce(status, 'active') = 'active' "
    "AND (start_date IS NULL OR start_date <= CAST(:today AS date)) "
    "AND (end_date IS NULL OR end_date >= CAST(:today AS date))"
)
SCHOOL_START = "make_date(term_rank / 2, 9, 1)"
# Each student's latest term (an enrolled record wins within a term, then the larger key),
# as ``latest``, with the age on 1 September of its school year.
LATEST_TERM = f"""latest AS (
    SELECT DISTINCT ON (person_id) *, date_part('year', age({SCHOOL_START}, birth_date))::int AS age
    FROM sync_rec
    WHERE record_type = 'student' AND person_id IS NOT NULL AND term_rank IS NOT NULL
    ORDER BY person_id, term_rank DESC, (status = 'enrolled') DESC, external_key DESC)"""
