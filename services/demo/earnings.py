"""The income of one demo household (``IncomeMaker``, a part of ``DemoGenerator``): what
each member earns from work, the household's business, property and transfers, item by
item over the quarters of last year and this year, with the production costs, net and
per-capita figures that core's income rules would compute from them."""

from __future__ import annotations

import random

from services.demo.income import (
    AWARDS,
    BREEDING,
    CENTS,
    DIBAO,
    DIVIDENDS,
    ECO,
    ITEM_KEYS,
    ITEMS,
    LAND_RENT,
    LOCAL_WAGES,
    MIGRANT_WAGES,
    OTHER_BUSINESS,
    OTHER_PROPERTY,
    OTHER_TRANSFERS,
    PART_KEYS,
    PART_OF_ITEM,
    PENSIONS,
    PLANTING,
    PWP_PAY,
    QUARTER_SHARES,
    TEKUN,
    per_capita_fen,
)
from services.demo.people import (
    CAN_WORK,
    CHRONIC,
    DISABLED,
    F_DIBAO,
    F_TEKUN,
    LIFTED,
    LOCAL,
    MIGRANT,
    MONITORED,
    ORDINARY,
    PWP,
    SELF,
    SERIOUS,
    Member,
)
from services.demo.plan import Batch


class IncomeMaker:
    """Income records of a household, drawn from the generator stream's random numbers."""

    rng: random.Random
    deduct_eligible_spending: bool
    last_year: int
    this_year: int
    quarters_this_year: int
    next_income_id: int

    def _income(
        self,
        batch: Batch,
        hid: int,
        region: str,
        category: str,
        people: list[Member],
        flags: list[str],
        steady: bool = False,
    ) -> int:
        """The household's income records; returns last year's per-capita net income (fen).
        ``steady``: not among the lifted-out households left below the line."""
        rng = self.rng
        r = rng.random
        n = len(people)
        last_pc = 0

        def amount(lo: int, hi: int) -> int:
            """Whole yuan in [lo, hi], in fen."""
            return (lo + int(r() * (hi - lo + 1))) * 100

        # Last year's per-capita net income the household is drawn towards (yuan).
        if category == LIFTED:
            if r() < 0.045 and not steady:
                target = 5300 + r() * 1750  # below 7,100 and not monitored: the criticised case
            else:
                target = min(26000.0, max(7200.0, rng.lognormvariate(9.29, 0.22)))  # median ≈ 10,800
        elif category == MONITORED:
            target = 5000 + r() * 4000 if r() < 0.85 else 9000 + r() * 3500
        else:
            target = min(36000.0, max(8200.0, rng.lognormvariate(9.53, 0.24)))  # median ≈ 13,800
        target_net = int(target * 100) * n
        poor = category != ORDINARY

        y = [0] * len(ITEMS)
        # transfers that do not depend on the household's effort
        for p in people:
            if p.age >= 60 and (p.pension_insurance or p.age >= 65):
                y[PENSIONS] += amount(1560, 2400)  # 城乡居民基础养老金, ~130–200 yuan a month
            if p.health == DISABLED:
                y[OTHER_TRANSFERS] += amount(600, 1320)  # 残疾人两项补贴
        if F_DIBAO in flags:
            y[DIBAO] = amount(2400, 4300) * n
        if F_TEKUN in flags:
            y[TEKUN] = amount(7200, 9800) * n
        fixed = y[PENSIONS] + y[OTHER_TRANSFERS] + y[DIBAO] + y[TEKUN]
        # discretionary parts: scaled down when the target is low
        disc = [0] * len(ITEMS)
        if r() < 0.45:
            disc[ECO] = amount(80, 900)  # 退耕还林, 公益林补偿
        if poor and r() < 0.15:
            disc[AWARDS] = amount(300, 2000)  # 产业 / 就业奖补
        if r() < 0.06:
            disc[OTHER_TRANSFERS] = amount(100, 600)
        if r() < (0.7 if poor else 0.08):
            disc[DIVIDENDS] = amount(150, 900)  # 扶贫项目资产收益分红
        if r() < 0.22:
            disc[LAND_RENT] = amount(300, 2500)
        if r() < 0.03:
            disc[OTHER_PROPERTY] = amount(200, 1500)
        can_farm = any(p.labour in CAN_WORK and p.age >= 16 for p in people)
        if can_farm:
            if r() < 0.78:
                disc[PLANTING] = amount(800, 6000) + int(r() * 100)
            if r() < 0.38:
                disc[BREEDING] = amount(1000, 9000)
        for p in people:
            if p.employment == SELF:
                share = amount(6000, 30000)
                disc[OTHER_BUSINESS] += share
                p.employment_income = share
        cost_ratio = 280 + int(r() * 170)  # production costs, per mille of business income

        def net_of(items: list[int]) -> int:
            business = items[PLANTING] + items[BREEDING] + items[OTHER_BUSINESS]
            return sum(items) - business * cost_ratio // 1000

        # wages: public-welfare posts are paid a fixed amount; the rest fills the gap
        wage_earners: list[tuple[Member, int]] = []  # and their months of work
        for p in people:
            if p.employment == PWP:
                pay = amount(500, 800) * 12
                y[PWP_PAY] += pay
                p.employment_income = pay
            elif p.employment in (MIGRANT, LOCAL):
                months = p.employment_months
                assert months is not None  # drawn with the employment (_employment)
                wage_earners.append((p, months))
        minimum = sum(200_000 * months // 12 for _, months in wage_earners)
        gap = target_net - fixed - y[PWP_PAY] - net_of(disc)
        if gap < minimum:
            room = target_net - fixed - y[PWP_PAY] - minimum
            current = net_of(disc)
            if current > 0:
                scale = max(0, room) / current
                if scale < 1:
                    disc = [int(v * scale) for v in disc]
                    for p in people:
                        if p.employment == SELF:
                            income = p.employment_income
                            assert income is not None  # the business share drawn above
                            p.employment_income = int(income * scale)
            gap = max(minimum, target_net - fixed - y[PWP_PAY] - net_of(disc))
        if wage_earners:
            weights = [(3.0 if p.employment == MIGRANT else 1.8) * months for p, months in wage_earners]
            total_w = sum(weights)
            left = gap
            for i, ((p, _), w) in enumerate(zip(wage_earners, weights, strict=True)):
                share = left if i == len(wage_earners) - 1 else int(gap * w / total_w)
                left -= share
                p.employment_income = share
                y[MIGRANT_WAGES if p.employment == MIGRANT else LOCAL_WAGES] += share
        elif gap > 0:
            # Nobody has wages: farming (when someone can work) and support from children
            # living elsewhere (赡养费, a transfer) make up the rest.
            farm = int(gap * 0.6) if can_farm else 0
            disc[PLANTING] += farm * 1000 // (1000 - cost_ratio)
            disc[OTHER_TRANSFERS] += gap - farm
        for i, v in enumerate(disc):
            y[i] += v

        # out-of-pocket medical spending (合规自付支出)
        spending = amount(0, 600) if r() < 0.7 else 0
        for p in people:
            if p.health == SERIOUS:
                spending += amount(3000, 26000)
            elif p.health == CHRONIC:
                spending += amount(200, 1800)
            elif p.health == DISABLED:
                spending += amount(0, 1500)

        growth = 960 + int(r() * 140) if not poor else 980 + int(r() * 160)  # this year vs last, per mille
        nz = [i for i, v in enumerate(y) if v]
        deduct = self.deduct_eligible_spending
        records = batch.income_records
        cents = CENTS
        next_id = self.next_income_id
        half = 2 * n
        for year, quarters in ((self.last_year, 4), (self.this_year, self.quarters_this_year)):
            if quarters == 0:
                continue
            factor = growth if year == self.this_year else 1000
            # (part, [(key, amount of each quarter)]) of the items this household has
            groups: list[tuple[int, list]] = []
            last_part = -1
            for i in nz:
                total = y[i] * factor // 1000
                shares = QUARTER_SHARES[i]
                if quarters == 4:  # the quarters add up to the year's amount exactly
                    a = total * shares[0] // 1000
                    b = total * shares[1] // 1000
                    c = total * shares[2] // 1000
                    vals = [a, b, c, total - a - b - c]
                else:
                    vals = [total * shares[q] // 1000 for q in range(quarters)]
                part = PART_OF_ITEM[i]
                if part != last_part:
                    groups.append((part, []))
                    last_part = part
                groups[-1][1].append((ITEM_KEYS[i], vals))
            spend_total = spending * factor // 1000
            spends = [spend_total // 4] * quarters
            if quarters == 4:
                spends[3] = spend_total - 3 * spends[0]
            sums = [0, 0, 0, 0]
            cost_sum = net_sum = 0
            for q in range(quarters):
                parts = [0, 0, 0, 0]
                chunks = []
                for part, items in groups:
                    inner = []
                    subtotal = 0
                    for key, vals in items:
                        v = vals[q]
                        if v:
                            subtotal += v
                            inner.append(f'{key}{v // 100}.{cents[v % 100]}"')
                    if inner:
                        parts[part] = subtotal
                        sums[part] += subtotal
                        chunks.append(PART_KEYS[part] + ", ".join(inner) + "}")
                costs = parts[1] * cost_ratio // 1000
                net = parts[0] + parts[1] + parts[2] + parts[3] - costs
                if deduct:
                    net -= spends[q]
                # per-capita, rounded half-up (away from zero) like income.rules.per_capita
                pc = (2 * net + n) // half if net >= 0 else -((n - 2 * net) // half)
                records.append(
                    (
                        next_id,
                        hid,
                        region,
                        year,
                        q + 1,
                        parts[0],
                        parts[1],
                        parts[2],
                        parts[3],
                        "{" + ", ".join(chunks) + "}",
                        costs,
                        spends[q],
                        n,
                        net,
                        pc,
                        1,
                    )
                )
                next_id += 1
                cost_sum += costs
                net_sum += net
            pc_year = per_capita_fen(net_sum, n)
            if year == self.last_year:
                last_pc = pc_year
            batch.income_years.append(
                (
                    hid,
                    year,
                    region,
                    quarters,
                    sums[0],
                    sums[1],
                    sums[2],
                    sums[3],
                    cost_sum,
                    sum(spends),
                    n,
                    net_sum,
                    pc_year,
                )
            )
        self.next_income_id = next_id
        return last_pc
