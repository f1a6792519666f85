"""The synthetic demo county: consistency of what the generator makes (no database)."""

import json
import re
import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from types import SimpleNamespace

import pytest

from services.core.crypto import keyring
from services.core.guarantees.models import Status
from services.core.households import enums
from services.core.households.sensitive import health_json, open_id_number
from services.core.idnumber import keyed_hash, mask, normalise
from services.core.income.rules import DETAIL_ITEMS, Figures, detail_problems, net_income, per_capita
from services.core.monitoring import deadlines as dl
from services.core.monitoring import enums as m
from services.core.monitoring.machine import step_for
from services.core.policy.monitoring import MonitoringPolicy
from services.core.settings import Settings
from services.core.workdays import WorkCalendar
from services.demo.generator import DemoGenerator, generate
from services.demo.income import CRITICISED_LINE, demo_income_line, fen_decimal, fen_text, per_capita_fen
from services.demo.layout import (
    CASE_COLUMNS,
    CLUE_COLUMNS,
    COPY_COLUMNS,
    EVENT_COLUMNS,
    GUARANTEE_COLUMNS,
    HOUSEHOLD_COLUMNS,
    INCOME_RECORD_COLUMNS,
    INCOME_YEAR_COLUMNS,
    LOADED_TABLES,
    MEASURE_COLUMNS,
    MEMBERSHIP_COLUMNS,
    PERSON_COLUMNS,
    REPORT_COLUMNS,
    TRANSITION_COLUMNS,
    VISIT_COLUMNS,
)
from services.demo.loader import demo_villages
from services.demo.plan import STREAMS, plan_chunks
from services.demo.render import render

TODAY = date(2026, 11, 23)  # Q1–Q3 of 2026 have ended
PERSONS = 12_000

H = {c: i for i, c in enumerate(HOUSEHOLD_COLUMNS)}
P = {c: i for i, c in enumerate(PERSON_COLUMNS)}
R = {c: i for i, c in enumerate(INCOME_RECORD_COLUMNS)}
Y = {c: i for i, c in enumerate(INCOME_YEAR_COLUMNS)}
G = {c: i for i, c in enumerate(GUARANTEE_COLUMNS)}


class County:
    def __init__(self, batches):
        self.households, self.persons, self.memberships, self.events = [], [], [], []
        self.records, self.years, self.guarantees = [], [], []
        self.cases, self.clues, self.reports, self.transitions, self.measures, self.visits = [], [], [], [], [], []
        for b in batches:
            self.households += b.households
            self.persons += b.persons
            self.memberships += b.memberships
            self.events += b.events
            self.records += b.income_records
            self.years += b.income_years
            self.guarantees += b.guarantees
            self.cases += [dict(zip(CASE_COLUMNS, row, strict=True)) for row in b.monitoring_cases]
            self.clues += [dict(zip(CLUE_COLUMNS, row, strict=True)) for row in b.risk_clues]
            self.reports += [dict(zip(REPORT_COLUMNS, row, strict=True)) for row in b.clue_reports]
            self.transitions += [dict(zip(TRANSITION_COLUMNS, row, strict=True)) for row in b.case_transitions]
            self.measures += [dict(zip(MEASURE_COLUMNS, row, strict=True)) for row in b.assistance_measures]
            self.visits += [dict(zip(VISIT_COLUMNS, row, strict=True)) for row in b.case_visits]
        self.members = defaultdict(list)
        for p in self.persons:
            self.members[p[P["household_id"]]].append(p)


@pytest.fixture(scope="module")
def county():
    return County(generate(demo_villages(), PERSONS, seed=7, today=TODAY, chunk_persons=2_500))


def age(p, on=TODAY):
    born = p[P["birth_date"]]
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_exact_person_count_and_contiguous_ids(county):
    assert len(county.persons) == PERSONS
    assert [p[P["id"]] for p in county.persons] == list(range(1, PERSONS + 1))
    assert [h[H["id"]] for h in county.households] == list(range(1, len(county.households) + 1))
    assert [r[R["id"]] for r in county.records] == list(range(1, len(county.records) + 1))
    assert [m[0] for m in county.memberships] == list(range(1, PERSONS + 1))


def test_plan_covers_every_person_in_whole_households():
    plans = plan_chunks(100_003, seed=1, today=TODAY, chunk_persons=10_000)
    assert sum(p.persons for p in plans) == 100_003
    assert all(p.persons <= 10_000 and all(1 <= s <= 7 for s in p.sizes) for p in plans)
    for before, after in pairwise(plans):
        assert after.first_person_id == before.first_person_id + before.persons
        assert after.first_household_id == before.first_household_id + len(before.sizes)
        assert after.first_income_id == before.first_income_id + 7 * len(before.sizes)
    assert plan_chunks(0, seed=1, today=TODAY) == []


def test_deterministic_and_independent_of_which_process_makes_a_chunk():
    villages = demo_villages()
    one = [b.persons for b in generate(villages, 3_000, seed=11, today=TODAY, chunk_persons=700)]
    again = [b.persons for b in generate(villages, 3_000, seed=11, today=TODAY, chunk_persons=700)]
    assert one == again
    other = [b.persons for b in generate(villages, 3_000, seed=12, today=TODAY, chunk_persons=700)]
    assert one != other
    # A stream that only ever sees its own chunks (a worker process) makes the same rows.
    plans = plan_chunks(3_000, seed=11, today=TODAY, chunk_persons=700)
    for s in range(STREAMS):
        stream = DemoGenerator(villages, seed=11, today=TODAY, stream=s)
        for plan in plans[s::STREAMS]:
            assert stream.chunk(plan).persons == one[plan.index]


def test_id_numbers_are_valid_unique_and_match_the_person(county):
    seen = set()
    for p in county.persons:
        number = normalise(p[P["id_number"]])
        assert number.value == p[P["id_number"]]
        assert number.address_code == "529901"
        assert number.birth_date == p[P["birth_date"]]
        assert number.sex == p[P["sex"]]
        seq = int(number.value[14:17])
        assert seq % 2 == (1 if p[P["sex"]] == "male" else 0)
        assert number.value not in seen
        seen.add(number.value)
        assert 0 <= age(p) <= 100


def test_each_household_has_one_head_and_consistent_summary(county):
    for h in county.households:
        members = county.members[h[H["id"]]]
        heads = [p for p in members if p[P["relation"]] == "head"]
        assert len(heads) == 1
        assert 1 <= len(members) <= 7
        assert h[H["member_count"]] == len(members)
        assert h[H["head_name"]] == heads[0][P["name"]]
        assert h[H["household_no"]] == f"{h[H['region_code']]}{h[H['id']]:07d}"
        assert h[H["status"]] == "active" and h[H["version"]] == 1
        assert all(p[P["region_code"]] == h[H["region_code"]] for p in members)
        assert sum(1 for p in members if p[P["relation"]] == "spouse") <= 1
    assert len({h[H["household_no"]] for h in county.households}) == len(county.households)


def test_relations_sexes_and_ages_are_consistent(county):
    for h in county.households:
        members = county.members[h[H["id"]]]
        by = defaultdict(list)
        for p in members:
            by[p[P["relation"]]].append(p)
        head = by["head"][0]
        for spouse in by["spouse"]:
            assert spouse[P["sex"]] != head[P["sex"]]
            assert age(spouse) >= 18
        couple = by["head"] + by["spouse"]
        for child in by["child"]:
            for parent in couple:
                assert age(parent) - age(child) >= 15, "a child is at least 15 years younger than the parents"
        for in_law in by["child_in_law"]:
            assert any(in_law[P["sex"]] != c[P["sex"]] for c in by["child"])
        for grandchild in by["grandchild"]:
            for elder in couple:
                assert age(elder) - age(grandchild) >= 30
            for parent in by["child_in_law"]:
                assert age(parent) - age(grandchild) >= 15
        for parent in by["parent"]:
            assert age(parent) - age(head) >= 15
        assert age(head) >= 18


def test_every_value_is_in_its_vocabulary(county):
    vocab = {
        "relation": {e.value for e in enums.Relation},
        "health": {e.value for e in enums.Health},
        "labour_capacity": {e.value for e in enums.LabourCapacity},
        "education_level": {e.value for e in enums.EducationLevel},
        "schooling": {e.value for e in enums.Schooling},
        "employment": {e.value for e in enums.Employment},
        "status": {e.value for e in enums.PersonStatus},
        "sex": {"male", "female"},
    }
    for p in county.persons:
        for column, values in vocab.items():
            assert p[P[column]] in values, column
    flags = {e.value for e in enums.Flag}
    for h in county.households:
        assert h[H["category"]] in {e.value for e in enums.Category}
        assert set(h[H["flags"]]) <= flags
    statuses = {e.value for e in Status}
    for g in county.guarantees:
        assert {g[G[c]] for c in ("education", "medical", "housing", "water")} <= statuses


def test_people_by_age(county):
    compulsory = [p for p in county.persons if 7 <= age(p) <= 14]
    assert compulsory
    at_school = Counter(p[P["schooling"]] for p in compulsory)
    assert (at_school["primary"] + at_school["junior_secondary"]) / len(compulsory) > 0.97
    assert at_school["dropped_out"] / len(compulsory) < 0.02
    for p in county.persons:
        a = age(p)
        if a < 16:
            assert p[P["labour_capacity"]] == "none"
            assert p[P["employment"]] == "none"
        if a >= 75:
            assert p[P["labour_capacity"]] in {"none", "lost", "weak"}
        if p[P["health"]] == "disabled":
            assert p[P["disability_grade"]] in {1, 2, 3, 4}
        else:
            assert p[P["disability_grade"]] is None
        if p[P["employment"]] != "none":
            assert p[P["employment_income"]] is not None and p[P["employment_months"]]
    old = [p for p in county.persons if age(p) >= 65]
    assert sum(p[P["labour_capacity"]] in {"weak", "lost", "none"} for p in old) / len(old) > 0.95
    insured = sum(p[P["medical_insurance"]] for p in county.persons) / len(county.persons)
    assert 0.95 < insured < 0.99


def test_phone_numbers(county):
    pattern = re.compile(r"^1[3-9]\d{9}$")
    heads = [p for p in county.persons if p[P["relation"]] == "head"]
    assert sum(1 for p in heads if p[P["phone"]]) / len(heads) > 0.85
    for p in county.persons:
        assert p[P["phone"]] is None or pattern.match(p[P["phone"]])
    for h in county.households:
        assert h[H["phone"]] is None or pattern.match(h[H["phone"]])


def test_categories_and_flags(county):
    n = len(county.households)
    categories = Counter(h[H["category"]] for h in county.households)
    assert 0.21 < categories["lifted_out"] / n < 0.29
    assert 0.03 < categories["monitored"] / n < 0.065  # 监测户: the open identified cases (monitoring fates)
    flag_count = Counter(f for h in county.households for f in h[H["flags"]])
    assert 0.05 < flag_count["dibao"] / n < 0.11
    assert 0.003 < flag_count["tekun"] / n < 0.02
    for h in county.households:
        members = county.members[h[H["id"]]]
        flags = set(h[H["flags"]])
        if h[H["category"]] == "monitored":
            assert h[H["previous_category"]] in {"lifted_out", "ordinary"}
        else:
            assert h[H["previous_category"]] is None
        assert ("relocated" in flags) == (h[H["resettlement_site"]] is not None)
        if "relocated" in flags:
            assert "lifted_out" in (h[H["category"]], h[H["previous_category"]])
        assert not {"dibao", "tekun"} <= flags
        assert ("disabled" in flags) == any(p[P["health"]] == "disabled" for p in members)
        assert ("serious_illness" in flags) == any(p[P["health"]] == "serious_illness" for p in members)
        able = any(
            16 <= age(p) <= 64
            and p[P["labour_capacity"]] in {"skilled", "ordinary", "weak"}
            and p[P["schooling"]] in {"not_in_school", "dropped_out"}
            for p in members
        )
        employed = any(p[P["employment"]] != "none" for p in members)
        assert ("zero_employment" in flags) == (able and not employed)
    tekun = [h for h in county.households if "tekun" in h[H["flags"]]]
    assert sum(1 for h in tekun if h[H["member_count"]] == 1) / len(tekun) > 0.7


def test_income_records_add_up(county):
    quarters = Counter((r[R["household_id"]], r[R["year"]]) for r in county.records)
    for h in county.households:
        assert quarters[(h[H["id"]], 2025)] == 4
        assert quarters[(h[H["id"]], 2026)] == 3
    for r in county.records:
        parts = {name: fen_decimal(r[R[name]]) for name in ("wages", "business", "property", "transfers")}
        figures = Figures(
            **parts,
            production_costs=fen_decimal(r[R["production_costs"]]),
            eligible_spending=fen_decimal(r[R["eligible_spending"]]),
        )
        net = net_income(figures, deduct_eligible_spending=False)
        assert fen_decimal(r[R["net_income"]]) == net
        assert fen_decimal(r[R["per_capita_net"]]) == per_capita(net, r[R["member_count"]])
        assert all(v >= 0 for v in parts.values())
        details = json.loads(r[R["details"]], parse_float=Decimal)
        amounts = {part: {item: Decimal(v) for item, v in items.items()} for part, items in details.items()}
        assert detail_problems(parts, amounts) == []
        for part, items in amounts.items():
            assert set(items) <= set(DETAIL_ITEMS[part])
            assert all(v > 0 and v == v.quantize(Decimal("0.01")) for v in items.values())
            assert sum(items.values()) <= parts[part]
        assert r[R["member_count"]] == len(county.members[r[R["household_id"]]])


def test_income_years_are_the_sums_of_the_quarters(county):
    sums = defaultdict(lambda: [0] * 8)
    for r in county.records:
        s = sums[(r[R["household_id"]], r[R["year"]])]
        for i, name in enumerate(
            ("wages", "business", "property", "transfers", "production_costs", "eligible_spending", "net_income")
        ):
            s[i] += r[R[name]]
        s[7] += 1
    assert len(county.years) == len(sums)
    for y in county.years:
        s = sums[(y[Y["household_id"]], y[Y["year"]])]
        assert [
            y[Y[name]]
            for name in (
                "wages",
                "business",
                "property",
                "transfers",
                "production_costs",
                "eligible_spending",
                "net_income",
                "quarters",
            )
        ] == s
        assert fen_decimal(y[Y["per_capita_net"]]) == per_capita(fen_decimal(y[Y["net_income"]]), y[Y["member_count"]])


def test_income_levels_by_category(county):
    category = {h[H["id"]]: h[H["category"]] for h in county.households}
    last = defaultdict(list)
    for y in county.years:
        if y[Y["year"]] == 2025:
            last[category[y[Y["household_id"]]]].append(y[Y["per_capita_net"]] / 100)

    def median(values):
        return sorted(values)[len(values) // 2]

    assert 11_000 < median(last["ordinary"]) < 17_000
    assert median(last["lifted_out"]) < median(last["ordinary"])
    assert sum(9_000 <= v <= 20_000 for v in last["ordinary"]) / len(last["ordinary"]) > 0.85
    # the criticised case: lifted out, below 7,100 last year, and not monitored
    below = sum(v < CRITICISED_LINE / 100 for v in last["lifted_out"]) / len(last["lifted_out"])
    assert 0.02 < below < 0.07
    assert sum(5_000 <= v < 9_000 for v in last["monitored"]) / len(last["monitored"]) > 0.7


def test_guarantees_and_history_rows(county):
    assert len(county.guarantees) == len(county.events) == len(county.households)
    for g in county.guarantees:
        members = county.members[g[G["household_id"]]]
        school_age = any(6 <= age(p) <= 15 for p in members)
        assert (g[G["education"]] == "not_applicable") == (not school_age)
        if any(p[P["schooling"]] == "dropped_out" and 6 <= age(p) <= 15 for p in members):
            assert g[G["education"]] == "at_risk"
        assert (g[G["housing_grade"]] is not None) == (g[G["housing"]] == "at_risk")
    secure = sum(g[G["housing"]] == "secure" for g in county.guarantees) / len(county.guarantees)
    assert secure > 0.95
    for e in county.events:
        assert e[EVENT_COLUMNS.index("kind")] == "created"
        assert sorted(e[EVENT_COLUMNS.index("person_ids")]) == sorted(
            p[P["id"]] for p in county.members[e[EVENT_COLUMNS.index("household_id")]]
        )
    for membership in county.memberships:
        assert membership[MEMBERSHIP_COLUMNS.index("start_reason")] == "registered"


def test_no_quarter_of_this_year_in_the_first_quarter():
    batches = list(generate(demo_villages(), 500, seed=3, today=date(2026, 2, 10)))
    years = Counter(r[R["year"]] for b in batches for r in b.income_records)
    assert set(years) == {2025}
    assert {y[Y["year"]] for b in batches for y in b.income_years} == {2025}


def test_money_helpers():
    assert fen_text(0) == "0.00" and fen_text(5) == "0.05" and fen_text(123456) == "1234.56"
    assert fen_text(-1505) == "-15.05"
    assert fen_decimal(1999) == Decimal("19.99")
    for net in (-10_001, -5, 0, 1, 5, 99_999, 1_000_001):
        for n in range(1, 8):
            assert fen_decimal(per_capita_fen(net, n)) == per_capita(fen_decimal(net), n)


def test_rendered_copy_text_matches_the_rows(county):
    key = b"test-key"
    ring = keyring(Settings(env="test"))
    batch = next(generate(demo_villages(), 800, seed=5, today=TODAY))
    rendered = render(batch, key, ring)
    assert [t for t, _, _ in rendered] == list(LOADED_TABLES)
    for table, data, rows in rendered:
        lines = data.decode().split("\n")
        assert lines[-1] == "" and len(lines) - 1 == rows
        for line in lines[:-1]:
            assert line.count("\t") == len(COPY_COLUMNS[table]) - 1
    persons = rendered[1][1].decode().splitlines()
    first = dict(zip(COPY_COLUMNS["persons"], persons[0].split("\t"), strict=True))
    row = dict(zip(PERSON_COLUMNS, batch.persons[0], strict=True))
    number = row["id_number"]
    # Encrypted as the API stores them: the same functions read them back.
    blob = bytes.fromhex(first["id_number_enc"].removeprefix("\\\\x"))
    assert open_id_number(ring, blob) == number
    assert first["id_hash"] == "\\\\x" + keyed_hash(number, key).hex()
    assert first["id_masked"] == mask(number)
    health = health_json(ring, bytes.fromhex(first["health_enc"].removeprefix("\\\\x")))
    assert health == {k: row[k] for k in ("health", "disability_grade", "illness")}
    # No clear ID number and no illness text in what is sent to the server.
    text = rendered[1][1].decode()
    for person in batch.persons:
        p = dict(zip(PERSON_COLUMNS, person, strict=True))
        assert p["id_number"] not in text and (p["illness"] is None or p["illness"] not in text)
    # nothing the generator makes needs escaping in COPY text
    for b in (batch,):
        for rows in (b.households, b.persons, b.income_records, b.events, b.guarantees):
            for row in rows:
                for v in row:
                    if isinstance(v, str):
                        assert not set(v) & {"\t", "\n", "\r", "\\"}


# ---- monitoring ------------------------------------------------------------------------------

OPEN_IDENTIFIED = {s.value for s in m.UNDER_ASSISTANCE}
FINAL = {s.value for s in m.FINAL}


def by(rows, key):
    out = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return out


def test_about_one_case_per_twenty_persons_with_contiguous_ids(county):
    n = len(county.cases)
    assert 0.8 * PERSONS / 20 < n < 1.25 * PERSONS / 20
    for rows in (county.cases, county.clues, county.reports, county.transitions):
        assert [r["id"] for r in rows] == list(range(1, len(rows) + 1))
    for rows in (county.measures, county.visits):
        ids = [r["id"] for r in rows]
        assert len(set(ids)) == len(ids)
        assert all(uuid.UUID(i).version == 4 for i in ids)
    statuses = Counter(c["status"] for c in county.cases)
    assert statuses["eliminated"] > statuses["assisting"] > statuses["rejected"] > 0
    assert sum(statuses[s.value] for s in m.IDENTIFICATION_PHASE) > 0
    assert sum(statuses[s.value] for s in m.ELIMINATION_PHASE) > 0
    # every village has cases
    assert {c["region_code"] for c in county.cases} == {v.code for v in demo_villages()}


def test_each_monitored_household_has_one_open_identified_case(county):
    cases = by(county.cases, "household_id")
    for h in county.households:
        hid = h[H["id"]]
        mine = cases.get(hid, [])
        open_cases = [c for c in mine if c["status"] not in FINAL]
        assert len(open_cases) <= 1  # the database's partial unique index
        assert all(c["household_id"] == hid and c["region_code"] == h[H["region_code"]] for c in mine)
        if h[H["category"]] == "monitored":
            assert len(open_cases) == 1 and open_cases[0]["status"] in OPEN_IDENTIFIED
            assert open_cases[0]["category_before"] == h[H["previous_category"]] in {"lifted_out", "ordinary"}
        else:
            assert not [c for c in open_cases if c["status"] in OPEN_IDENTIFIED]
            assert h[H["previous_category"]] is None
            for c in mine:
                if c["status"] == "eliminated":  # the category came back
                    assert c["category_before"] == h[H["category"]]
        for c in mine:
            identified = c["identified_on"] is not None
            assert identified == (c["status"] in OPEN_IDENTIFIED | {"eliminated"})
            assert (c["category_before"] is not None) == identified
            expected_type = {
                "lifted_out": {"unstable_lifted_out", "sudden_hardship"},
                "ordinary": {"marginal", "sudden_hardship"},
            }
            if identified:
                assert c["case_type"] in expected_type[c["category_before"]]
            if c["status"] == "eliminated":
                assert c["elimination_way"] in {"by_assistance", "natural"}
                assert c["eliminated_on"] == c["closed_on"] and c["elimination_proposed_on"] < c["eliminated_on"]
                assert c["eliminated_on"] >= c["identified_on"] + timedelta(days=180)
            elif c["status"] == "rejected":
                assert c["closed_on"] is not None and c["elimination_way"] is None
            else:
                assert c["closed_on"] is None and c["eliminated_on"] is None
        # a new risk after elimination opened a new case, linked to the eliminated one
        for c in mine:
            if c["reopened_from_id"] is not None:
                before = next(x for x in mine if x["id"] == c["reopened_from_id"])
                assert before["status"] == "eliminated" and before["eliminated_on"] < c["first_clue_on"]


def test_dates_are_in_order_and_within_two_years(county):
    earliest = TODAY - timedelta(days=800)
    for c in county.cases:
        # the notice is the latest one: of the identification, or of the risk elimination
        elimination_notice = c["status"] in (
            "elimination_notice",
            "elimination_township_review",
            "elimination_approval",
            "eliminated",
        )
        days = [
            c[k]
            for k in (
                "first_clue_on",
                "opened_on",
                "consent_on",
                "notice_start",
                "identified_on",
                "elimination_proposed_on",
            )
            if c[k] is not None
        ]
        if elimination_notice:
            days.append(days.pop(3))
        assert days == sorted(days) and earliest <= days[0] <= TODAY
        if c["notice_start"] is not None:
            assert c["notice_end"] >= c["notice_start"] + timedelta(days=4)  # 5 days at least, the first counted
        for k in ("cadre_assigned_on", "plan_on", "last_visit_on", "elimination_proposed_on", "closed_on"):
            if c[k] is not None:
                assert c["first_clue_on"] <= c[k] <= TODAY, k
        if c["identified_on"] is not None:
            for k in ("cadre_assigned_on", "plan_on"):
                assert c[k] is None or c[k] >= c["identified_on"]


def test_transitions_replay_the_state_machine(county):
    transitions = by(county.transitions, "case_id")
    for c in county.cases:
        steps = transitions[c["id"]]
        assert steps[0]["action"] == "open" and steps[0]["from_status"] is None
        assert steps[0]["to_status"] == "verification" and steps[0]["effective_on"] == c["opened_on"]
        state = "verification"
        for t in steps:
            assert t["effective_on"] >= steps[0]["effective_on"]
            details = json.loads(t["details"])
            if t["action"] in ("open", "add_risks", "assign_cadre"):
                assert t["to_status"] == state
            else:
                assert t["from_status"] == state
                step = step_for(m.CaseStatus(state), m.Action(t["action"]))
                assert step is not None, (state, t["action"])
                assert step.outcomes[m.Decision(details["decision"])] == t["to_status"]
            state = t["to_status"]
            assert t["actor_user_id"] is None and t["region_code"] == c["region_code"]
        assert state == c["status"]
        days = [t["effective_on"] for t in steps]
        assert days == sorted(days)
        if c["cadre_user_id"] is not None:
            cadre = [t for t in steps if t["action"] == "assign_cadre"]
            assert len(cadre) == 1 and cadre[0]["effective_on"] == c["cadre_assigned_on"]
            assert json.loads(cadre[0]["details"]) == {"cadre_user_id": c["cadre_user_id"]}
        if c["identified_on"] is not None:
            decision = next(t for t in steps if t["action"] == "county_decision")
            assert decision["effective_on"] == c["identified_on"]
            verify = next(t for t in steps if t["action"] == "verify")
            assert verify["effective_on"] == c["consent_on"] and json.loads(verify["details"])["consent_signed"]


def test_clues_and_reports_belong_to_their_cases(county):
    reports = by(county.reports, "clue_id")
    clues_of_case = by([c for c in county.clues if c["case_id"] is not None], "case_id")
    cases = {c["id"]: c for c in county.cases}
    open_case_households = {c["household_id"] for c in county.cases if c["status"] not in FINAL}
    refs = set()
    for clue in county.clues:
        mine = reports[clue["id"]]
        assert clue["report_count"] == len(mine) >= 1
        assert clue["first_reported_on"] == min(r["reported_on"] for r in mine)
        channels = []
        for r in mine:
            if r["channel"] not in channels:
                channels.append(r["channel"])
            assert r["region_code"] == clue["region_code"]
            assert set(r["risk_types"]) <= set(clue["risk_types"])
            if r["channel"] == "department_screening":
                assert r["source"] and r["external_ref"] and (r["source"], r["external_ref"]) not in refs
                refs.add((r["source"], r["external_ref"]))
            else:
                assert r["external_ref"] is None
            if r["channel"] == "self_declaration":
                assert r["declarant_name"] and r["reporter_user_id"] is None
        assert sorted(channels) == sorted(clue["channels"]) and channels[0] == clue["channels"][0]
        assert set(clue["risk_types"]) <= {r.value for r in m.RiskType}
        if clue["status"] == "converted":
            case = cases[clue["case_id"]]
            assert case["household_id"] == clue["household_id"]
            assert set(clue["risk_types"]) <= set(case["risk_types"])
            assert clue["handled_at"] >= clue["first_reported_on"]
        elif clue["status"] == "dismissed":
            assert clue["dismissal_reason"] and clue["case_id"] is None
        else:
            assert clue["case_id"] is None and clue["handled_at"] is None
            assert clue["household_id"] not in open_case_households  # it would have joined the open case
    for c in county.cases:
        mine = clues_of_case[c["id"]]
        assert mine and min(x["first_reported_on"] for x in mine) == c["first_clue_on"]
        assert set(c["risk_types"]) == {r for x in mine for r in x["risk_types"]}
    statuses = Counter(c["status"] for c in county.clues)
    assert statuses["open"] > 0 and statuses["dismissed"] > 0
    channels = Counter(ch for c in county.clues for ch in c["channels"])
    assert all(channels[ch.value] > 0 for ch in m.Channel)


def test_measures_and_visits(county):
    measures = by(county.measures, "case_id")
    visits = by(county.visits, "case_id")
    for c in county.cases:
        mine = measures.get(c["id"], [])
        if c["identified_on"] is None:
            assert not mine and not visits.get(c["id"])
            continue
        assert (c["plan_on"] is None) == (not mine)
        if mine:
            assert c["plan_on"] == min(x["planned_on"] for x in mine)
        for x in mine:
            assert x["household_id"] == c["household_id"] and x["region_code"] == c["region_code"]
            assert x["planned_on"] <= x["start_on"] and (x["end_on"] is None or x["end_on"] >= x["start_on"])
            assert (x["status"] == "completed") == (x["result"] is not None)
            assert x["status"] in {s.value for s in m.MeasureStatus}
            assert x["amount"] is None or x["amount"] > 0
        if c["status"] == "eliminated" or c["status"] in {s.value for s in m.ELIMINATION_PHASE}:
            # the elimination guard: at least one measure carried out before the proposal
            assert any(x["status"] == "completed" and x["end_on"] < c["elimination_proposed_on"] for x in mine)
        seen = visits.get(c["id"], [])
        assert not seen or c["cadre_user_id"] is not None
        in_person = [v["visited_on"] for v in seen if v["mode"] == "in_person"]
        assert c["last_visit_on"] == (max(in_person) if in_person else None)
        for v in seen:
            assert v["cadre_user_id"] == c["cadre_user_id"] and v["household_id"] == c["household_id"]
            assert c["cadre_assigned_on"] <= v["visited_on"] <= (c["closed_on"] or TODAY)
            assert v["visited_on"] > c["identified_on"]
    assistance = [c for c in county.cases if c["status"] in OPEN_IDENTIFIED]
    assert sum(c["cadre_user_id"] is not None for c in assistance) / len(assistance) > 0.9
    assert sum(c["plan_on"] is not None for c in assistance) / len(assistance) > 0.9


def _pending_case(c, visits):
    counted = [v["visited_on"] for v in visits if v["mode"] == "in_person"]
    facts = SimpleNamespace(**{**c, "status": m.CaseStatus(c["status"])})
    return dl.case_deadlines(facts, counted, lambda year: MonitoringPolicy(), WorkCalendar())


def test_stored_deadlines_are_the_api_functions_result(county):
    visits = by(county.visits, "case_id")
    late = 0
    open_cases = [c for c in county.cases if c["status"] not in FINAL]
    for c in county.cases:
        pending = _pending_case(c, visits.get(c["id"], [])) if c["status"] not in FINAL else []
        first = pending[0] if pending else None
        assert (c["next_deadline"], c["next_deadline_kind"], c["deadline_provisional"]) == (
            first.due if first else None,
            first.kind.value if first else None,
            any(d.provisional for d in pending),
        )
        late += c["next_deadline"] is not None and c["next_deadline"] < TODAY
    # a realistic minority is late
    assert 0.02 < late / len(open_cases) < 0.25
    reports = by(county.reports, "clue_id")
    for clue in county.clues:
        self_declared = [r["reported_on"] for r in reports[clue["id"]] if r["channel"] == "self_declaration"]
        pending = dl.clue_deadlines(
            m.ClueStatus(clue["status"]),
            clue["first_reported_on"],
            min(self_declared) if self_declared else None,
            lambda year: MonitoringPolicy(),
            WorkCalendar(),
        )
        first = pending[0] if pending else None
        assert (clue["next_deadline"], clue["next_deadline_kind"], clue["deadline_provisional"]) == (
            first.due if first else None,
            first.kind.value if first else None,
            any(d.provisional for d in pending),
        )
        if clue["status"] != "open":  # deadlines met late: recorded on the clue when it was handled
            while_open = dl.clue_deadlines(
                m.ClueStatus.open,
                clue["first_reported_on"],
                min(self_declared) if self_declared else None,
                lambda year: MonitoringPolicy(),
                WorkCalendar(),
            )
            assert json.loads(clue["deadline_breaches"]) == dl.breaches(while_open, [], clue["handled_at"])


def test_identification_deadline_breaches_are_recorded(county):
    cal = WorkCalendar()
    transitions = by(county.transitions, "case_id")
    kinds = Counter()
    for c in county.cases:
        breaches = json.loads(c["deadline_breaches"])
        kinds.update(b["kind"] for b in breaches)
        due = cal.add(c["first_clue_on"], 15, MonitoringPolicy().identification_unit)[0]
        ended = c["identified_on"] or (c["closed_on"] if c["status"] == "rejected" else None)
        late = [b for b in breaches if b["kind"] == "identification"]
        if ended is not None and ended > due:
            assert late == [{"kind": "identification", "due": due.isoformat(), "met_on": ended.isoformat()}]
            (decision,) = [
                t
                for t in transitions[c["id"]]
                if t["effective_on"] == ended
                and t["to_status"] in ("assisting", "rejected")
                and t["from_status"] != t["to_status"]
            ]
            assert json.loads(decision["details"])["breaches"] == late
        else:
            assert late == []
        for b in breaches:
            assert b["met_on"] > b["due"]
    # most identifications are in time; some are not, and some cadres and plans came late
    identified = sum(c["identified_on"] is not None for c in county.cases)
    assert 0 < kinds["identification"] < 0.3 * identified
    assert kinds["cadre_assignment"] > 0 and kinds["plan"] > 0


def test_demo_income_lines_rise_from_6000():
    lines = [demo_income_line(y) for y in range(2021, 2031)]
    assert lines[0] == 600_000
    assert all(100_00 <= b - a <= 1000_00 for a, b in pairwise(lines))
    assert demo_income_line(2025) == CRITICISED_LINE
    with pytest.raises(ValueError):
        demo_income_line(2020)


def test_monitoring_copy_text_matches_the_rows():
    batch = next(generate(demo_villages(), 3_000, seed=5, today=TODAY))
    rendered = {t: (data, rows) for t, data, rows in render(batch, b"k", keyring(Settings(env="test")))}
    for table, rows_of in (
        ("monitoring_cases", batch.monitoring_cases),
        ("risk_clues", batch.risk_clues),
        ("clue_reports", batch.clue_reports),
        ("case_transitions", batch.case_transitions),
        ("assistance_measures", batch.assistance_measures),
        ("case_visits", batch.case_visits),
    ):
        data, rows = rendered[table]
        assert rows == len(rows_of) > 0
        lines = data.decode().split("\n")
        assert lines[-1] == "" and len(lines) - 1 == rows
        for line, row in zip(lines[:-1], rows_of, strict=True):
            fields = line.split("\t")
            assert len(fields) == len(COPY_COLUMNS[table])
            assert fields[0] == str(row[0])
            for v in row:
                if isinstance(v, str):
                    assert not set(v) & {"\t", "\n", "\r", "\\"}
    # JSON columns are JSON
    for row in batch.case_transitions:
        json.loads(row[TRANSITION_COLUMNS.index("details")])
