"""Adaptive Cards checked and rendered by the real adaptivecards library (Node, and headless Chromium)."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import ARTIFACTS, render_page

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
BUNDLE = NODE_MODULES / "adaptivecards" / "dist" / "adaptivecards.min.js"
VALIDATOR = Path(__file__).with_name("validate_cards.js")


def require_tools(*tools: str) -> None:
    """Fail (not skip) with how to get a missing tool: these tests are the only check cards are valid."""
    if not BUNDLE.exists():
        pytest.fail("node_modules/adaptivecards is missing; run `make tools` (npm ci)")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; run `make tools`")


def card_problems(cards: list[dict[str, Any]]) -> list[list[str]]:
    """Every parse/validation event (and dropped property) per card, from the adaptivecards library."""
    require_tools("node")
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        ["node", str(VALIDATOR)],  # noqa: S607 - node from PATH, as `make tools` installs it
        input=json.dumps(cards),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode not in (0, 1) or not completed.stdout:
        pytest.fail(f"card validator crashed: {completed.stderr[-2000:]}")
    return [entry["problems"] for entry in json.loads(completed.stdout)]


# Stands in for a host's Markdown support (Teams renders TextBlock Markdown): links and bold become
# HTML, so a test can see whether any hostile text reached a Markdown-processing element.
_PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="{css}">
<style>body {{ font-family: 'DejaVu Sans', sans-serif; background: #f5f5f5; margin: 16px; }}
#card {{ background: white; max-width: 880px; border: 1px solid #ddd; border-radius: 4px; }}</style>
<script src="{bundle}"></script></head>
<body><div id="card"></div><pre id="errors"></pre>
<script>
AdaptiveCards.AdaptiveCard.onProcessMarkdown = function (text, result) {{
  var escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  result.outputHtml = escaped
    .replace(/\\[([^\\]]*)\\]\\(([^)]*)\\)/g, '<a class="md-link" href="$2">$1</a>')
    .replace(/\\*\\*([^*]+)\\*\\*/g, "<b>$1</b>");
  result.didProcess = true;
}};
try {{
  var card = new AdaptiveCards.AdaptiveCard();
  card.parse({card});
  document.getElementById("card").appendChild(card.render());
}} catch (e) {{ document.getElementById("errors").textContent = "RENDER ERROR " + e; }}
</script></body></html>
"""


def render_card(card: dict[str, Any], name: str, width: int = 900, height: int = 1400) -> tuple[str, Path]:
    """Render `card` in headless Chromium: the resulting DOM (HTML) and a PNG under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{name}.html"
    png = ARTIFACTS / f"{name}.png"
    page.write_text(
        _PAGE.format(
            css=html.escape(BUNDLE.with_name("adaptivecards.css").as_uri()),
            bundle=html.escape(BUNDLE.as_uri()),
            # </script> inside the card JSON must not end the script element.
            card=json.dumps(card).replace("</", "<\\/"),
        ),
        encoding="utf-8",
    )
    # One launch does both: the DOM on stdout, the PNG to the artifact path.
    dom = render_page(page, png, width, height, "--allow-file-access-from-files").stdout
    return dom, png
