"""The department sources, from configuration (a TOML file), so a county adds a housing,
disability or employment source without code: its kind, where and how to pull it, the
credentials, the schedule and how its fields (API names and spreadsheet headers) map onto
the canonical fields of ``kinds``.

    [[sources]]
    name = "civil-affairs"          # used in URLs, the CLI and findings
    kind = "civil-affairs"          # civil-affairs | medical-insurance | education | generic
    title = "县民政局 低保、特困、临时救助"
    base_url = "http://127.0.0.1:8101"   # omit for a spreadsheet-only source
    instance = "…"                  # optional: the X-Guardline-Instance every answer must carry
    counties = ["529901"]
    every_hours = 720               # the schedule; omit for runs on request only
    key = ["record_id"]             # canonical fields that make the external key
    [sources.auth]
    client_id = "guardline"
    client_secret_env = "CIVIL_AFFAIRS_SECRET"   # or client_secret = "…"
    [sources.paging]
    style = "cursor"                # or "updated_since"
    path = "/api/assistance"
    items = "data.records"
    next_cursor = "data.next_cursor"
    [sources.fields]                # canonical = [names the source uses]
    id_number = ["sfzh", "身份证号", "身份证号码"]
    [sources.values.benefit]        # extra spellings of enumerated values
    "农村特困" = "tekun"
    [sources.roster]                # a full pull is a complete roster (docs/rosters.md)
    of = "enrolment"                # enrolment (medical insurance) | term (education)
    period_path = "roster.period"   # where a page names its period (required for a term)
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from services.core.settings import Environment, Settings
from services.core.sync.enums import SourceKind
from services.core.sync.kinds import fields_of

BUILTIN_SOURCES = Path(__file__).with_name("sources.toml")
# The pseudo-source of the registry checks (rules on the registry alone, no department
# record): their findings and runs carry it as their source. No configured source may.
REGISTRY_SOURCE = "registry"
# The header by which a server shows which instance it is (the demo's simulators carry the
# token ``guardline serve --demo`` started them with); a source with ``instance`` set is
# read only from a server that shows it.
INSTANCE_HEADER = "X-Guardline-Instance"
NAME = r"^[a-z][a-z0-9-]{1,62}$"


def builtin_sources_on(ports: dict[str, int]) -> str:
    """The built-in sources file with the named sources' simulators on other local ports
    (tests and benchmarks run them on free ports)."""
    return sources_on(BUILTIN_SOURCES.read_text(encoding="utf-8"), ports)


def sources_on(text: str, ports: dict[str, int], instance: str | None = None) -> str:
    """A sources file (its text) with the named sources on local ports instead of their
    ``base_url``, and, with ``instance``, each of them required to show that identity
    (``guardline serve --demo`` runs its simulators so; the file itself is not changed)."""
    for source in parse_sources(text):
        if source.name not in ports or not source.base_url:
            continue
        line = f'base_url = "http://127.0.0.1:{ports[source.name]}"'
        if instance:
            line += f'\ninstance = "{instance}"'
        # The first match is this source's: the sources are read, and rewritten, in file order.
        text, found = re.subn(
            r"^\s*base_url\s*=\s*[\"']" + re.escape(source.base_url) + r"[\"']\s*$",
            lambda _: line,  # noqa: B023 (called at once)
            text,
            count=1,
            flags=re.MULTILINE,
        )
        if not found:
            raise ValueError(f"source {source.name}: its base_url is not written on a line of its own")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Strict):
    style: Literal["client_credentials", "none"] = "client_credentials"
    token_path: str = "/oauth/token"
    client_id: str = ""
    client_secret: SecretStr | None = None
    client_secret_env: str | None = None  # an environment variable holding the secret

    def secret(self) -> str:
        if self.client_secret_env:
            value = os.environ.get(self.client_secret_env)
            if value:
                return value
        return self.client_secret.get_secret_value() if self.client_secret else ""


class PagingConfig(_Strict):
    style: Literal["cursor", "updated_since"]
    path: str
    items: str  # dotted path of the record list in a page
    county_param: str = "county"
    limit_param: str = "limit"
    # cursor style: the next cursor's dotted path (null or "" ends), the query parameter
    next_cursor: str | None = None
    cursor_param: str = "cursor"
    # updated-since style: the flag that more follows, the parameters and the record fields
    has_more: str | None = None
    since_param: str = "updated_since"
    after_param: str = "after"
    updated_field: str = "updated_at"  # the record's field (as the source names it)
    key_field: str = "key"

    @model_validator(mode="after")
    def _complete(self) -> PagingConfig:
        if self.style == "cursor" and not self.next_cursor:
            raise ValueError("cursor paging needs next_cursor")
        if self.style == "updated_since" and not self.has_more:
            raise ValueError("updated_since paging needs has_more")
        return self


# The record type a roster lists, by what it is a roster of.
ROSTER_RECORD_TYPES = {"enrolment": "enrolment", "term": "student"}
ROSTER_KINDS = {"enrolment": SourceKind.medical_insurance, "term": SourceKind.education}


class RosterConfig(_Strict):
    """Each full pull of the source (every run of cursor paging; a run of updated-since
    paging that starts with no mark) is the complete roster of one period of the run's
    county: the enrolment of a year (参保名册) or the school roster of a term (学籍名册)."""

    of: Literal["enrolment", "term"]
    # The dotted path in a page that names the period ("2026", "2026秋"); without it an
    # enrolment roster is of the year the run starts in (China time). A term roster needs
    # it: which term a pull lists is the school system's to say, not a calendar's guess.
    period_path: str | None = None

    @model_validator(mode="after")
    def _period(self) -> RosterConfig:
        if self.of == "term" and not self.period_path:
            raise ValueError("a term roster needs period_path: the page names its term")
        return self


class SourceConfig(_Strict):
    name: str = Field(pattern=NAME)
    kind: SourceKind
    title: str = ""
    base_url: str | None = None
    # The identity the server must show (``INSTANCE_HEADER``) on every answer, or the run
    # fails without reading anything: what answers at base_url may be another program.
    instance: str | None = None
    counties: list[str] = Field(min_length=1)
    every_hours: float | None = Field(None, gt=0)
    key: list[str] = ["record_id"]
    auth: AuthConfig = AuthConfig()
    paging: PagingConfig | None = None
    fields: dict[str, list[str]]
    values: dict[str, dict[str, str]] = {}
    # Whether a record whose ID number is not in the registry is itself a finding (a 低保
    # recipient unknown to the registry is; most insured people of a county are not).
    unmatched_findings: bool = False
    roster: RosterConfig | None = None

    @field_validator("counties")
    @classmethod
    def _counties(cls, counties: list[str]) -> list[str]:
        for c in counties:
            if not re.fullmatch(r"\d{6}", c):
                raise ValueError(f"county {c!r} is not a 6-digit county code")
        return counties

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        known = fields_of(self.kind)
        if self.kind != SourceKind.generic:
            unknown = set(self.fields) - set(known)
            if unknown:
                raise ValueError(f"source {self.name}: unknown fields {sorted(unknown)} for kind {self.kind}")
        if "id_number" not in self.fields:
            raise ValueError(f"source {self.name}: fields must map id_number")
        missing = [k for k in self.key if k not in self.fields]
        if missing:
            raise ValueError(f"source {self.name}: key fields {missing} are not mapped")
        if self.base_url and not self.paging:
            raise ValueError(f"source {self.name}: base_url needs a paging section")
        if self.roster is not None:
            if ROSTER_KINDS[self.roster.of] != self.kind:
                raise ValueError(
                    f"source {self.name}: a roster of {self.roster.of} needs kind {ROSTER_KINDS[self.roster.of]}"
                )
            if not self.base_url:
                raise ValueError(
                    f"source {self.name}: roster is for pulled sources; a spreadsheet is declared "
                    "a roster when it is imported (--roster)"
                )
        return self

    @property
    def pulls(self) -> bool:
        return bool(self.base_url)


class SourcesFile(_Strict):
    # A file may list none yet (deploy/sources.toml as shipped): the worker then runs only
    # the daily checks, and says so.
    sources: list[SourceConfig] = []

    @model_validator(mode="after")
    def _unique(self) -> SourcesFile:
        names = [s.name for s in self.sources]
        if len(names) != len(set(names)):
            raise ValueError("source names must be unique")
        if REGISTRY_SOURCE in names:
            raise ValueError(f"{REGISTRY_SOURCE!r} is reserved for the registry checks' findings and runs")
        return self


class UnknownSource(LookupError):
    pass


class Sources:
    def __init__(self, sources: list[SourceConfig]):
        self._by_name = {s.name: s for s in sources}

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> SourceConfig:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownSource(name) from None

    def names(self) -> list[str]:
        return list(self._by_name)


def parse_sources(text: str) -> Sources:
    return Sources(SourcesFile.model_validate(tomllib.loads(text)).sources)


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> Sources:
    return parse_sources(path.read_text(encoding="utf-8"))


def sources_path(settings: Settings) -> Path | None:
    """The sources file: the configured one; else the built-in file of the demo's simulators,
    except in production, where an unset file means no sources (never the demo's)."""
    if settings.sync.sources_file is not None:
        return Path(settings.sync.sources_file)
    return None if settings.env == Environment.production else BUILTIN_SOURCES


class SourcesFileError(ValueError):
    """The sources file cannot be read or is not valid: the message names the file and what
    is wrong, never a value from it (a literal client_secret stays unprinted)."""


def load_sources(settings: Settings) -> Sources:
    """The configured sources (cached until the file changes); none in production without
    a sources file (``sync worker`` refuses to start so: services.cli)."""
    path = sources_path(settings)
    if path is None:
        return Sources([])
    try:
        return _load(path, path.stat().st_mtime)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'the file'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise SourcesFileError(f"sources file {path}: {problems}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SourcesFileError(f"sources file {path}: {exc}") from None
