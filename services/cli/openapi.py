"""``guardline openapi``: write the contract (``openapi/openapi.json``), or check that the
committed one is what the code serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from services.cli.common import ROOT

OPENAPI_FILE = ROOT / "openapi" / "openapi.json"


def openapi_document() -> str:
    from services.api.app import create_app
    from services.core.settings import Settings

    spec = create_app(Settings(env="development")).openapi()
    return json.dumps(spec, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def cmd_openapi(args) -> int:
    document = openapi_document()
    target = Path(args.output)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != document:
            print(f"{target} is stale: run `guardline openapi` and commit the result", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(document, encoding="utf-8")
    print(f"wrote {target}")
    return 0
