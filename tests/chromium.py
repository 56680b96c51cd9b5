"""Headless Chromium for the rendering tests: one way to launch it, with the flags this closed network needs."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from emulator.card_image import HEADLESS_FLAGS

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is needed for the rendering tests; `make test` installs it (.ci/tools/20-chromium.sh)")
    return found


def render_page(
    page: Path, screenshot: Path, width: int, height: int, *extra_flags: str
) -> subprocess.CompletedProcess[str]:
    """One launch: the page's DOM on stdout and a PNG at `screenshot`, with a fresh profile."""
    screenshot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="dcm-chromium-") as profile:
        return subprocess.run(  # noqa: S603 - a fixed local binary and our own file
            [
                chromium(),
                *HEADLESS_FLAGS,
                f"--user-data-dir={profile}",
                *extra_flags,
                "--dump-dom",
                f"--screenshot={screenshot}",
                f"--window-size={width},{height}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
