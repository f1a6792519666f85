"""Options of a simulated department: who it is, how its data is derived, what goes wrong.

``Problems`` are defects in the data itself (the same on every request); ``Faults`` are
misbehaviour of the server (drawn per request from the fault seed). Both are plain
dataclasses so that tests can build an app without going through the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date

KINDS = ("civil-affairs", "medical-insurance", "education", "housing")
DEFAULT_PORTS = {"civil-affairs": 8101, "medical-insurance": 8102, "education": 8103, "housing": 8104}
DEFAULT_SEED = 2026
DEFAULT_CLIENT_ID = "guardline"


def default_secret(kind: str) -> str:
    return f"demo-{kind}-secret"


@dataclass
class Problems:
    """Shares of persons whose records carry each defect (module docstring of
    ``services.simulators`` describes them). Every share is drawn per person from the
    data seed, so the same person always has the same defects."""

    bad_check_rate: float = 0.003  # last character of the ID number wrong
    old_id_rate: float = 0.005  # 15-digit number (only persons born 1900–1999)
    messy_id_rate: float = 0.01  # full-width digits, lower-case x, stray spaces
    unknown_rate: float = 0.005  # an extra record of someone not in the registry
    name_mismatch_rate: float = 0.003  # another name than the registry's
    malformed_record_rate: float = 0.002  # a record a worker must quarantine
    # What the department knows and the registry may not (not defects, but findings):
    death_rate: float = 0.005  # persons alive in the registry reported dead (civil affairs: of record holders)
    unmonitored_dibao_rate: float = 0.01  # households neither flagged nor monitored granted 低保
    household_size_rate: float = 0.01  # households whose civil-affairs 家庭人口数 is one more or one less
    not_insured_rate: float = 0.015
    claims_rate: float = 0.05
    large_cost_rate: float = 0.01
    dropout_rate: float = 0.01  # compulsory-age pupils reported 辍学
    # Absent from a complete roster (docs/rosters.md): persons with no enrolment record at all
    # (应保尽保), compulsory-age pupils with no record in the term's roster (控辍保学).
    unenrolled_rate: float = 0.004
    unlisted_pupil_rate: float = 0.004
    # Key groups (低保, 特困, monitored, lifted out) without a family doctor contract (签约一人、做实一人).
    no_family_doctor_rate: float = 0.03
    # Enrolled students of lifted-out, monitored, 低保 or 特困 households given no aid this term.
    no_aid_rate: float = 0.05
    # Households whose house the housing office appraised C or D (危房); about a third of
    # them already renovated (已改造), the rest findings (住房安全保障).
    unsafe_house_rate: float = 0.02


@dataclass
class Faults:
    """Server misbehaviour on the data endpoints. Rates are probabilities per request."""

    fail_rate: float = 0.0  # 500 / 502 / 503
    rate_limit: int = 0  # data requests per second allowed; 0 = unlimited
    retry_after: int = 1  # seconds, in the 429's Retry-After
    slow_rate: float = 0.0
    slow_ms: int = 2000
    truncate_rate: float = 0.0  # 200 whose JSON is cut off
    malformed_rate: float = 0.0  # 200 that is not JSON, or JSON without the records
    repeat_cursor_rate: float = 0.0  # a cursor given before (medical: the previous page again)

    RATES = ("fail_rate", "slow_rate", "truncate_rate", "malformed_rate", "repeat_cursor_rate")

    def update(self, changes: dict) -> None:
        """Apply ``changes`` (names of the fields); ValueError names what is wrong, and
        nothing changes then."""
        known = {f.name: f.type for f in fields(self)}
        staged = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(known))}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number")
            if name in self.RATES:
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must lie between 0 and 1")
                staged[name] = float(value)
            else:
                if value < 0 or value != int(value):
                    raise ValueError(f"{name} must be a whole number, 0 or more")
                staged[name] = int(value)
        for name, value in staged.items():
            setattr(self, name, value)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class SimConfig:
    kind: str
    seed: int = DEFAULT_SEED
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str | None = None  # default: demo-<kind>-secret
    token_ttl: int = 600
    fault_seed: int = 0
    control: bool = False
    # Shown on every answer (``INSTANCE_HEADER``, and in /health) so that whoever started the
    # simulator can tell it from another program on the same port.
    instance: str | None = None
    # "Today" in China, fixed when the server starts so that ages, terms and dates of a
    # page do not change if a run crosses midnight.
    today: date | None = None
    problems: Problems = field(default_factory=Problems)
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown department {self.kind!r}; one of {', '.join(KINDS)}")
        if self.client_secret is None:
            self.client_secret = default_secret(self.kind)
        if self.today is None:
            from services.core.timeutil import today

            self.today = today()
