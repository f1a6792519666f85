"""The synthetic demo county: consistency of what the generator makes (no database)."""
import json
import re
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pytest

from services.core.demo.generator import (
    CRITICISED_LINE,
    EVENT_COLUMNS,
    GUARANTEE_COLUMNS,
    HOUSEHOLD_COLUMNS,
    INCOME_RECORD_COLUMNS,
    INCOME_YEAR_COLUMNS,
    MEMBERSHIP_COLUMNS,
    PERSON_COLUMNS,
    STREAMS,
    DemoGenerator,
    fen_decimal,
    fen_text,
    generate,
    per_capita_fen,
    plan_chunks,
)
from services.core.demo.loader import COPY_COLUMNS, LOADED_TABLES, demo_villages, render
from services.core.guarantees.models import Status
from services.core.households import enums
from services.core.crypto import keyring
from services.core.households.sensitive import health_json, open_id_number
from services.core.idnumber import keyed_hash, mask, normalise
from services.core.settings import Settings
from services.core.income.rules import DETAIL_ITEMS, Figures, detail_problems, net_income, per_capita

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
        for b in batches:
            self.households += b.households
            self.persons += b.persons
            self.memberships += b.memberships
            self.events += b.events
            self.records += b.income_records
            self.years += b.income_years
            self.guarantees += b.guarantees
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
    for before, after in zip(plans, plans[1:]):
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
        "relation": {e.value for e in enums.Relation}, "health": {e.value for e in enums.Health},
        "labour_capacity": {e.value for e in enums.LabourCapacity},
        "education_level": {e.value for e in enums.EducationLevel},
        "schooling": {e.value for e in enums.Schooling}, "employment": {e.value for e in enums.Employment},
        "status": {e.value for e in enums.PersonStatus}, "sex": {"male", "female"},
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
        able = any(16 <= age(p) <= 64 and p[P["labour_capacity"]] in {"skilled", "ordinary", "weak"}
                   and p[P["schooling"]] in {"not_in_school", "dropped_out"} for p in members)
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
        figures = Figures(**parts, production_costs=fen_decimal(r[R["production_costs"]]),
                          eligible_spending=fen_decimal(r[R["eligible_spending"]]))
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
        for i, name in enumerate(("wages", "business", "property", "transfers", "production_costs",
                                  "eligible_spending", "net_income")):
            s[i] += r[R[name]]
        s[7] += 1
    assert len(county.years) == len(sums)
    for y in county.years:
        s = sums[(y[Y["household_id"]], y[Y["year"]])]
        assert [y[Y[name]] for name in ("wages", "business", "property", "transfers", "production_costs",
                                        "eligible_spending", "net_income", "quarters")] == s
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
            p[P["id"]] for p in county.members[e[EVENT_COLUMNS.index("household_id")]])
    for m in county.memberships:
        assert m[MEMBERSHIP_COLUMNS.index("start_reason")] == "registered"


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
    first = dict(zip(COPY_COLUMNS["persons"], persons[0].split("\t")))
    row = dict(zip(PERSON_COLUMNS, batch.persons[0]))
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
        p = dict(zip(PERSON_COLUMNS, person))
        assert p["id_number"] not in text and (p["illness"] is None or p["illness"] not in text)
    # nothing the generator makes needs escaping in COPY text
    for b in (batch,):
        for rows in (b.households, b.persons, b.income_records, b.events, b.guarantees):
            for row in rows:
                for v in row:
                    if isinstance(v, str):
                        assert not set(v) & {"\t", "\n", "\r", "\\"}
