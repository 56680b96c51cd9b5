"""The demo's "what fix would do" section: a dry run of `fix` against the emulated sample tenant."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..azure_clients import build_credential
from ..config import Settings
from ..errors import MonitorError
from ..report_format import terminal_width, wrap
from .apply import run_fix
from .options import fix_options
from .outcome import FixReport
from .render import to_text

DEMO_EMAIL = "secops@contoso.com"


async def _dry_run(settings: Settings, credential_options: Mapping[str, Any]) -> FixReport:
    credential = build_credential(settings, **credential_options)
    try:
        return await run_fix(settings, credential, fix_options([DEMO_EMAIL], settings))
    finally:
        await credential.close()


def show_fix_preview(settings: Settings, credential_options: Mapping[str, Any], out: TextIO = sys.stderr) -> bool:
    """Print the plan `fix --email secops@contoso.com` makes for the tenant; nothing is written."""
    width = terminal_width()
    heading = (
        f"What `fix --email {DEMO_EMAIL}` would change (a dry run: nothing is written; "
        "`--format json` adds the exact requests, `--apply` writes them):"
    )
    print("\n" + "\n".join(wrap(heading, width)), file=out)
    try:
        report = asyncio.run(_dry_run(settings, credential_options))
    except MonitorError as error:
        print("\n".join(wrap(f"could not plan: {error}", width, "  ", "    ")), file=out)
        return False
    # Without the blank lines between subscriptions: the demo is read on one screen.
    # Fitted two columns narrower than the terminal: the preview indents every line by two.
    for line in filter(None, to_text(report, intro="", show_requests=False, width=width - 2).splitlines()):
        indent = "  " + " " * (len(line) - len(line.lstrip()))
        print("\n".join(wrap(line.strip(), width, indent, indent + "  ")), file=out)
    return True
