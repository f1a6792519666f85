"""The raw SQL of funds: the compliance indicators' sums (``indicators``) and the asset scan
(``findings.scan_assets``). Each statement is a single round trip over a region's rows,
bounded by the region prefix it is about (``scope.region_sql``; values from
``scope.region_params(prefix)``), so ``scoped_text`` checks the bounds are there.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import bindparam

from services.core.funds import totals
from services.core.funds.enums import AssetClass, AssetStatus, FundFindingRule, FundKind, FundLevel
from services.core.households.enums import HouseholdStatus
from services.core.scope import region_sql, scoped_text

_LEVELS = [level.value for level in FundLevel]

# ---------------------------------------------------------------- the indicators

# The region's funds received by the day, per level and kind.
FUNDS = scoped_text(f"""
SELECT level, kind, sum(amount) AS amount FROM funds
WHERE year = :year AND {region_sql()} AND received_on <= :as_of
GROUP BY level, kind
""")

# Below a county (a township, a village) there are no funds of its own: the money allocated
# to its projects by the day takes their place.
ALLOCATED = scoped_text(f"""
SELECT f.level, f.kind, sum(al.amount) AS amount FROM fund_allocations al JOIN funds f ON f.id = al.fund_id
WHERE f.year = :year AND {region_sql("al")} AND al.allocated_on <= :as_of
GROUP BY f.level, f.kind
""")


def _top(where: str, order: str, figures: str, uses: str) -> str:
    """The first ``:top`` projects of ``pr`` that satisfy ``where``, the worst first, as JSON.
    Their ``figures`` (text, ratios) are computed for those alone, not for every project
    that satisfies ``where`` before the sort. ``uses``: the columns of ``pr`` that
    ``figures`` and ``order`` read — the sort keeps only those, and the winners' names and
    statuses are looked up by id (a province's lists sort thousands of projects each, and
    narrow rows make them cheaper: ``benchmarks/README.md``)."""
    return f"""(SELECT coalesce(jsonb_agg(x), '[]') FROM (
        SELECT id, (SELECT n.name FROM projects n WHERE n.id = pr.id) AS name, region_code, category,
               (SELECT n.status FROM projects n WHERE n.id = pr.id) AS status, {figures} FROM (
            SELECT id, region_code, category, {uses} FROM pr WHERE {where} ORDER BY {order}, id LIMIT :top) pr) x)"""


_BY_LEVEL = ",\n".join(
    f"coalesce(sum(al.amount) FILTER (WHERE f.kind IN :industry_kinds AND f.level = '{lv}'), 0) AS ind_{lv}"
    for lv in _LEVELS
)
_LEVEL_COLUMNS = ", ".join(f"coalesce(a.ind_{lv}, 0) AS ind_{lv}" for lv in _LEVELS)

# The money of each project as of the day, from the rows themselves: ``a`` its allocations
# by level and kind, ``d`` its payments.
_MONEY_OF_ROWS = f"""a AS (
    SELECT al.project_id, sum(al.amount) AS allocated,
           {_BY_LEVEL},
           coalesce(sum(al.amount) FILTER (WHERE f.kind IN :spending_kinds), 0) AS spendable,
           coalesce(sum(al.amount) FILTER (WHERE f.level IN :higher AND f.kind <> :dedicated), 0) AS higher_general,
           coalesce(sum(al.amount) FILTER (WHERE f.level IN :higher AND f.kind = :dedicated), 0) AS higher_dedicated
    FROM fund_allocations al JOIN funds f ON f.id = al.fund_id
    WHERE {region_sql("al")} AND al.allocated_on <= :as_of AND f.year = :year
    GROUP BY al.project_id
), d AS (
    SELECT di.project_id,
           coalesce(sum(di.amount) FILTER (WHERE f.kind IN :spending_kinds), 0) AS spent,
           coalesce(sum(di.amount) FILTER (WHERE di.item = 'labour_pay'), 0) AS labour,
           coalesce(sum(di.amount) FILTER (WHERE di.item = 'management_fee'), 0) AS fee
    FROM fund_disbursements di JOIN funds f ON f.id = di.fund_id
    WHERE {region_sql("di")} AND di.paid_on <= :as_of AND f.year = :year
    GROUP BY di.project_id
)"""


def _indicators(money: str, paid: str, joins: str, last_on: str, fen: bool = False) -> str:
    """The indicators' statement over ``money`` (the CTEs of each project's money): ``paid``
    is the alias of the payments' figures, ``joins`` joins them to ``p``; ``last_on`` adds
    the latest day counted and how many projects' money rows lie under another region code
    than the project's own (``strays``; or nothing).

    ``pr``: the projects of the year in the library by the day, with their money as of the
    day (computed once); then every indicator's sums and, for each, the projects that pull
    it down. Amounts in the lists are text: JSON numbers would pass through floats.

    ``fen``: ``money`` is in whole fen (the running totals), summed and compared as
    integers, and turned into yuan only where it is given out, written as the rows' yuan
    would be. A sum of amounts (``numeric(14,2)``, positive) is ``0`` when no row counts and
    has two places when any does, so a figure in fen is written ``0`` when zero and to the
    fen otherwise (``yuan``); a figure rounded to the fen (``round(…, 2)``) always has two
    places (``cents``). Rounding to the fen in yuan is rounding to the unit in fen (exact
    decimals, half away from zero either way), and a ratio of two figures in one unit is the
    same in the other (``::numeric``: not an integer division)."""
    if fen:

        def yuan(x: str) -> str:
            return f"(CASE WHEN {x} = 0 THEN 0 ELSE {x} * 0.01 END)"

        def cents(x: str) -> str:
            return f"({x} * 0.01)"

    else:

        def yuan(x: str) -> str:
            return x

        cents = yuan
    to_cent, num = ("", "::numeric") if fen else (", 2", "")
    # The shares are cast: beside a bigint the server would take a parameter for a bigint.
    owed = (
        "coalesce(a.higher_general, 0) * CAST(:labour_share AS numeric)"
        " + coalesce(a.higher_dedicated, 0) * CAST(:labour_dedicated AS numeric)"
    )
    # The labour pay a project needs: used for labour projects alone (``labour_project``).
    required = f"round({owed}{to_cent})" + ("::bigint" if fen else "")
    required = f"CASE WHEN p.category IN :labour_categories THEN {required} END"
    # How far its spending is behind the day's expected progress (the gap, to the fen).
    behind = f"round(coalesce(a.spendable, 0) * CAST(:expected AS numeric) - coalesce({paid}.spent, 0){to_cent})"
    if fen:  # a whole number of fen: filtered and ranked as an integer, cheaper than numeric
        behind += "::bigint"
    fee_share = f"round(fee{num} / allocated, 4)"
    level_totals = ",\n".join(
        f"{yuan(f'sum(ind_{lv}) FILTER (WHERE industry)')} AS num_{lv}, {yuan(f'sum(ind_{lv})')} AS all_{lv}"
        for lv in _LEVELS
    )
    level_tops = ",\n".join(
        _top(f"NOT industry AND ind_{lv} > 0", f"ind_{lv} DESC", f"{yuan(f'ind_{lv}')}::text AS allocated", f"ind_{lv}")
        + f" AS top_{lv}"
        for lv in _LEVELS
    )
    return f"""
WITH {money}, pr AS MATERIALIZED (
    SELECT p.id, p.region_code, p.category, p.planned_start,
           p.category IN :industry_categories AS industry,
           coalesce(p.cancelled_on > :as_of, true) AS live,
           coalesce(p.started_on <= :as_of, false) AS started,
           coalesce(p.completed_on <= :as_of, false) AS completed,
           coalesce(a.allocated, 0) AS allocated, {_LEVEL_COLUMNS},
           coalesce(a.spendable, 0) AS spendable,
           coalesce(a.higher_general, 0) + coalesce(a.higher_dedicated, 0) AS higher,
           coalesce(a.higher_dedicated, 0) AS dedicated,
           {required} AS required,
           p.category IN :labour_categories AND coalesce(p.cancelled_on > :as_of, true)
               AND coalesce(a.higher_general, 0) + coalesce(a.higher_dedicated, 0) > 0 AS labour_project,
           coalesce({paid}.spent, 0) AS spent, coalesce({paid}.labour, 0) AS labour,
           coalesce({paid}.fee, 0) AS fee, {behind} AS behind{
        ", a.last_on, a.region_code <> p.region_code AS stray" if last_on else ""
    }
    FROM projects p {joins}
    WHERE p.year = :year AND {region_sql("p")} AND p.reviewed_on <= :as_of
)
SELECT t.*,
       {level_tops},
       {
        _top(
            "spendable > 0 AND behind > 0",
            "behind DESC",
            f"{yuan('spendable')}::text AS allocated, {yuan('spent')}::text AS disbursed, "
            f"round(spent{num} / spendable, 4)::text AS progress, {cents('behind')}::text AS gap",
            "spendable, spent, behind",
        )
    } AS top_spending,
       {
        _top("live AND NOT started", "planned_start", "planned_start, planned_start <= :as_of AS late", "planned_start")
    } AS top_start,
       {
        _top(
            "labour_project AND labour < required",
            "required - labour DESC",
            f"{yuan('higher')}::text AS higher_level_funds, {yuan('dedicated')}::text AS dedicated_funds, "
            f"{cents('required')}::text AS required, {yuan('labour')}::text AS labour_pay, completed",
            "higher, dedicated, required, labour, completed",
        )
    } AS top_labour,
       {
        _top(
            f"allocated > 0 AND fee > 0 AND {fee_share} > :fee_cap",
            f"{fee_share} DESC",
            f"{yuan('allocated')}::text AS allocated, {yuan('fee')}::text AS management_fee, "
            f"{fee_share}::text AS share",
            "allocated, fee",
        )
    } AS top_fee
FROM (
    SELECT {level_totals},
           coalesce({yuan("sum(spent)")}, 0) AS spent,
           count(*) FILTER (WHERE live) AS live, count(*) FILTER (WHERE live AND started) AS started,
           coalesce({yuan("sum(higher) FILTER (WHERE labour_project)")}, 0) AS labour_base,
           coalesce({cents("sum(required) FILTER (WHERE labour_project)")}, 0) AS labour_required,
           coalesce({yuan("sum(labour) FILTER (WHERE labour_project)")}, 0) AS labour_paid,
           count(*) FILTER (WHERE labour_project) AS labour_projects,
           count(*) FILTER (WHERE labour_project AND labour < required) AS labour_short,
           count(*) FILTER (WHERE labour_project AND labour < required AND completed) AS labour_short_completed,
           coalesce({yuan("sum(fee)")}, 0) AS fee, coalesce({yuan("sum(allocated)")}, 0) AS allocated{
        ", max(last_on) AS last_on, count(*) FILTER (WHERE stray) AS strays" if last_on else ""
    }
    FROM pr
) t
"""


_EXPANDING = ("industry_kinds", "spending_kinds", "higher", "industry_categories", "labour_categories")

# The indicators as of any day, from the allocations and payments themselves.
INDICATORS = scoped_text(
    _indicators(_MONEY_OF_ROWS, "d", "LEFT JOIN a ON a.project_id = p.id LEFT JOIN d ON d.project_id = p.id", "")
).bindparams(*(bindparam(n, expanding=True) for n in _EXPANDING))


def _cells(levels, kinds) -> str:
    """The sum of the totals' cells of ``levels`` × ``kinds`` (``0`` when none)."""
    cells = [totals.cell(lv, k) for lv in levels for k in kinds]
    if not set(cells) <= set(totals.CELLS):
        raise ValueError(f"no totals for {cells}")
    return " + ".join(f"t.{c}" for c in cells) or "0"


@lru_cache(maxsize=64)
def indicators_of_totals(
    industry_kinds: tuple[str, ...], spending_kinds: tuple[str, ...], higher: tuple[str, ...], dedicated: str
):
    """The indicators from the running totals (``totals.py``): each project's money is one
    row, whatever its day, the policy's kinds picking the cells (so the statement is made
    per policy's kinds, and kept). Exact when no allocation or payment counted is dated
    after the day, which ``last_on`` (the latest day counted of the projects in the set)
    tells, and when each project's row lies under the project's own region code (``strays``
    = 0: the service writes a project's allocations and payments in its own village or
    township; raw SQL could write others, and a project could then have two rows in the
    region, which the full computation sums as one — checked this way, without a sort of
    the projects' ids). The cells are in whole fen (``fen``: summed as integers, given out in
    yuan as the rows' sums are written)."""
    levels = [lv.value for lv in FundLevel]
    kinds = [k.value for k in FundKind]
    by_level = ",\n".join(f"{_cells([lv], industry_kinds)} AS ind_{lv}" for lv in levels)
    paid = [f"paid_{k}" for k in spending_kinds]
    if not set(paid) <= set(totals.PAID):
        raise ValueError(f"no totals for {paid}")
    money = f"""a AS (
    SELECT t.project_id, t.region_code, t.allocated,
           {by_level},
           {_cells(levels, spending_kinds)} AS spendable,
           {_cells(higher, [k for k in kinds if k != dedicated])} AS higher_general,
           {_cells(higher, [dedicated])} AS higher_dedicated,
           {" + ".join(f"t.{c}" for c in paid) or "0"} AS spent,
           t.labour_pay AS labour, t.management_fee AS fee, t.last_on
    FROM fund_project_totals t
    WHERE {region_sql("t")} AND t.year = :year
)"""
    return scoped_text(_indicators(money, "a", "LEFT JOIN a ON a.project_id = p.id", "last_on", fen=True)).bindparams(
        *(bindparam(n, expanding=True) for n in ("industry_categories", "labour_categories"))
    )


# ---------------------------------------------------------------- the asset scan

ASSET_RULES = (
    FundFindingRule.idle_operating_asset,
    FundFindingRule.public_asset_no_custodian,
    FundFindingRule.household_asset_orphaned,
)

# The candidates of the three rules under the prefix, as of :as_of. ``cut`` gives the idle
# cutoff (as_of minus the policy's months) of each county and of each finer region with a
# policy override of its own; an asset takes the longest prefix it lies under. An operating
# asset in use whose last income on or before as_of (or, without one, its handover) is not
# after its cutoff is idle.
_CANDIDATES = f"""
cut AS (
    SELECT * FROM unnest(CAST(:prefixes AS text[]), CAST(:cutoffs AS date[]), CAST(:months AS int[]))
        AS t(prefix, cutoff, months)
),
idle AS (
    SELECT a.id, a.project_id, a.region_code, a.name, a.handover_on, c.cutoff, c.months,
           (SELECT max(i.received_on) FROM asset_incomes i
             WHERE i.asset_id = a.id AND i.received_on <= :as_of) AS last_income_on
      FROM project_assets a
      JOIN LATERAL (SELECT cut.cutoff, cut.months FROM cut WHERE starts_with(a.region_code, cut.prefix)
                     ORDER BY length(cut.prefix) DESC LIMIT 1) c ON true
     WHERE {region_sql("a")}
       AND a.asset_class = '{AssetClass.operating.value}' AND a.status = '{AssetStatus.in_use.value}'
       AND a.handover_on <= :as_of
),
cand AS MATERIALIZED (
    SELECT '{FundFindingRule.idle_operating_asset.value}' AS rule_id,
           '{FundFindingRule.idle_operating_asset.value}:asset:' || id AS fingerprint,
           id AS asset_id, project_id, region_code,
           jsonb_build_object('asset_name', name, 'handover_on', handover_on, 'last_income_on', last_income_on,
                              'idle_months', months, 'cutoff', cutoff, 'as_of', CAST(:as_of AS date)) AS vals
      FROM idle
     WHERE coalesce(last_income_on, handover_on) <= cutoff
    UNION ALL
    SELECT '{FundFindingRule.public_asset_no_custodian.value}',
           '{FundFindingRule.public_asset_no_custodian.value}:asset:' || a.id,
           a.id, a.project_id, a.region_code,
           jsonb_build_object('asset_name', a.name, 'owner', a.owner, 'handover_on', a.handover_on,
                              'as_of', CAST(:as_of AS date))
      FROM project_assets a
     WHERE {region_sql("a")}
       AND a.asset_class = '{AssetClass.public_welfare.value}' AND a.status <> '{AssetStatus.disposed.value}'
       AND btrim(coalesce(a.custodian, '')) = ''
    UNION ALL
    SELECT '{FundFindingRule.household_asset_orphaned.value}',
           '{FundFindingRule.household_asset_orphaned.value}:asset:' || a.id,
           a.id, a.project_id, a.region_code,
           jsonb_build_object('asset_name', a.name, 'household_id', a.household_id,
                              'household_status', h.status, 'as_of', CAST(:as_of AS date))
      FROM project_assets a
      LEFT JOIN households h ON h.id = a.household_id
     WHERE {region_sql("a")}
       AND a.asset_class = '{AssetClass.household.value}' AND a.status <> '{AssetStatus.disposed.value}'
       AND (h.id IS NULL OR h.status <> '{HouseholdStatus.active.value}')
)"""

ASSET_SCAN = scoped_text(f"""
WITH {_CANDIDATES},
up AS (
    INSERT INTO fund_findings AS f (fingerprint, rule_id, region_code, project_id, asset_id, "values", status,
                                    version, first_seen_at, last_seen_at, created_at, updated_at)
    SELECT fingerprint, rule_id, region_code, project_id, asset_id, vals, 'open', 1,
           clock_timestamp(), clock_timestamp(), clock_timestamp(), clock_timestamp()
      FROM cand
    ON CONFLICT (fingerprint) DO UPDATE
       SET "values" = EXCLUDED."values", last_seen_at = EXCLUDED.last_seen_at, status = 'open', resolved_at = NULL,
           version = f.version + 1, updated_at = EXCLUDED.updated_at
    RETURNING f.fingerprint, f.rule_id
),
res AS (
    UPDATE fund_findings f
       SET status = 'resolved', resolved_at = clock_timestamp(), version = f.version + 1,
           updated_at = clock_timestamp()
     WHERE f.rule_id IN ({", ".join(f"'{r.value}'" for r in ASSET_RULES)}) AND f.status = 'open'
       AND {region_sql("f")}
       AND NOT EXISTS (SELECT 1 FROM cand c WHERE c.fingerprint = f.fingerprint)
    RETURNING f.rule_id
)
SELECT up.rule_id, count(*) AS found,
       count(*) FILTER (WHERE old.id IS NULL OR old.status = 'resolved') AS new, 0 AS resolved
  FROM up LEFT JOIN fund_findings old ON old.fingerprint = up.fingerprint
 GROUP BY up.rule_id
UNION ALL
SELECT rule_id, 0, 0, count(*) FROM res GROUP BY rule_id
""")
