"""Verbatim azure-rest-api-specs examples (tests/fixtures/arm-examples) as the parsers receive them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "arm-examples"


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8-sig"))


def response_body(name: str, status: str = "200") -> Any:
    return example(name)["responses"][status]["body"]


LIVE = Path(__file__).resolve().parent / "fixtures" / "live"


def live_body(name: str) -> Any:
    """A response body shaped as the live service answers (tests/fixtures/live)."""
    return json.loads((LIVE / f"{name}.json").read_text(encoding="utf-8"))
