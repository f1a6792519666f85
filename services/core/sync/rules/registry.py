"""Rules about the registry's own data that a department's records reveal (a household
size, head and spouse …): filled in by later work; the package collects ``RULES``."""
from __future__ import annotations

from services.core.sync.rules.base import Rule

RULES: tuple[Rule, ...] = ()
