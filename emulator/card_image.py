"""A Teams card as a picture, for the demo: the real adaptivecards renderer in headless Chromium.

Development tooling like the rest of this package: it needs the checkout's node_modules (`make tools`)
and a Chromium on PATH, and says why when either is missing instead of failing the demo.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path
from typing import Any

BUNDLE = Path(__file__).resolve().parent.parent / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
# Without the background-networking flags Chromium keeps dialling Google's hosts on a closed network.
# The tests launch Chromium with the same flags (tests/chromium.py).
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
_FLAGS = (*HEADLESS_FLAGS, "--allow-file-access-from-files", "--hide-scrollbars")
_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="{css}">
<style>body {{ font-family: 'Segoe UI', 'DejaVu Sans', sans-serif; background: #f5f5f5; margin: 16px; }}
#card {{ background: white; max-width: 760px; border: 1px solid #ddd; border-radius: 4px; }}</style>
<script src="{bundle}"></script></head>
<body><div id="card"></div>
<script>
var card = new AdaptiveCards.AdaptiveCard();
card.parse({card});
document.getElementById("card").appendChild(card.render());
</script></body></html>
"""


def card_png(payload: dict[str, Any], png: Path, width: int = 800, height: int = 1600) -> str | None:
    """Render the first card of a Teams payload to `png`; None when done, else why it was not."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return "no Chromium on PATH"
    if not BUNDLE.exists():
        return "node_modules/adaptivecards is missing (make tools)"
    try:
        card = payload["attachments"][0]["content"]
    except (KeyError, IndexError, TypeError):
        return "the payload holds no card"
    page = png.with_suffix(".html")
    page.write_text(
        _PAGE.format(
            css=escape(BUNDLE.with_name("adaptivecards.css").as_uri()),
            bundle=escape(BUNDLE.as_uri()),
            # </script> inside the card's text must not end the script element.
            card=json.dumps(card).replace("</", "<\\/"),
        ),
        encoding="utf-8",
    )
    with tempfile.TemporaryDirectory(prefix="dcm-card-") as profile:
        try:
            finished = subprocess.run(  # noqa: S603 - a local browser and our own page
                [
                    browser,
                    *_FLAGS,
                    f"--user-data-dir={profile}",
                    f"--screenshot={png}",
                    f"--window-size={width},{height}",
                    page.as_uri(),
                ],
                capture_output=True,
                timeout=90,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "Chromium did not finish within 90 s"
    if finished.returncode != 0 or not png.exists():
        return f"Chromium exited with {finished.returncode}"
    return None
