"""Housing (住建): rural house safety appraisals (农村住房安全性鉴定). A C- or D-grade house
that is not renovated is unsafe housing (住房安全保障 broken): a risk finding that raises a
risk clue and opens an entry of the monthly clearing ledger (发现一户、保障一户, seed 004 §11;
新增危房动态清零, seed 000)."""

from __future__ import annotations

from services.core.guarantees.models import Item
from services.core.monitoring.enums import RiskType
from services.core.sync.enums import Severity
from services.core.sync.rules.base import HOUSING, Rule, RuleContext


def _unsafe_house_sql(ctx: RuleContext) -> str:
    # The household's latest appraisal (a house appraised again after renovation reads its
    # new grade); a renovation recorded as done clears it.
    return """
    WITH latest AS (
        SELECT DISTINCT ON (household_id) *
        FROM sync_rec
        WHERE record_type = 'house' AND household_id IS NOT NULL AND appraised_on IS NOT NULL
        ORDER BY household_id, appraised_on DESC, external_key DESC)
    SELECT 'household:' || household_id AS subject, person_id, household_id, household_region AS region_code,
           jsonb_build_array(jsonb_build_object('source', CAST(:source AS text), 'external_key', external_key))
               AS records,
           jsonb_build_object('grade', grade, 'appraised_on', appraised_on, 'address', address,
                              'renovation', renovation) AS detail
    FROM latest
    WHERE household_status = 'active' AND grade = ANY(CAST(:unsafe_house_grades AS text[]))
      AND coalesce(renovation, 'none') <> 'done'"""


RULES: tuple[Rule, ...] = (
    Rule(
        id="unsafe_house",
        term_zh="住房安全保障（C级、D级危房）",
        seed="004 §11; 000 二",
        severity=Severity.high,
        kinds=frozenset({HOUSING}),
        explanation_en="The household's house is appraised C or D grade (unsafe) by the housing department and not "
        "renovated: housing safety is not secured.",
        explanation_zh="住建部门鉴定该户住房为C级或D级危房且未完成改造，住房安全未保障（发现一户、保障一户）。",
        build_sql=_unsafe_house_sql,
        risk_type=RiskType.unsafe_housing,
        thresholds=("unsafe_house_grades",),
        guarantee=Item.housing,
    ),
)
