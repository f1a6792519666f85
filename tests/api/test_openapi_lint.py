"""The committed contract passes Redocly's lint (``@redocly/cli``, pinned in tasks.py) with the
rules of ``redocly.yaml``: servers, licence, security on every operation, 4xx answers as
problem details, descriptions. Any error or warning fails, listed with its JSON pointer."""

from __future__ import annotations

import json
from collections import Counter

from tests.clients.tools import SPEC, lint


def test_the_contract_passes_the_lint():
    result = lint(SPEC)
    problems = result.problems()
    by_rule = Counter(line.split()[1] for line in problems)
    assert not problems, (
        f"redocly lint, {len(problems)} problems: "
        + ", ".join(f"{rule} {n}" for rule, n in by_rule.most_common())
        + "\n"
        + "\n".join(problems)
    )
    assert result.returncode == 0, result.stderr


def test_the_lint_reports_what_the_rules_are_for(tmp_path):
    """The check itself, on a document with no servers, no licence, an operation without
    security and one without any 4xx answer."""
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {
                "get": {
                    "operationId": "listThings",
                    "summary": "Things",
                    "description": "All the things.",
                    "tags": ["things"],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "tags": [{"name": "things", "description": "Things."}],
    }
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(spec))
    problems = lint(path).problems()
    rules = {line.split()[1] for line in problems}
    assert {"no-empty-servers", "info-license", "security-defined", "operation-4xx-response"} <= rules, problems
