"""The demo's chat alerts: post the run's alert to local receivers, preview one message, keep the payloads.

One preview is enough to see the design (the Slack message says the same); every payload is written
to a file, whose path is printed, for a closer look or to paste into a card designer.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..models import Report
from ..report_format import terminal_width, wrap
from . import batch_from_report, deliver_batch
from .preview import teams_text
from .settings import NotifySettings

PREVIEW_LINES = 12


class Receivers(Protocol):
    def messages(self, channel: str) -> list[Any]: ...


def show_chat_alerts(
    report: Report, settings: NotifySettings, receivers: Receivers, folder: Path, out: TextIO = sys.stderr
) -> list[Path]:
    """Deliver the alert for `report`, print a preview of the first Teams message, write every payload to `folder`.

    Returns the payload files written (Teams first); empty when nothing was delivered.
    """
    results = deliver_batch(batch_from_report(report, settings), replace(settings, always=True))
    print("\nChat alert, posted to local stand-ins for the Teams and Slack webhooks:", file=out)
    for result in results:
        print(f"  {result.describe()}", file=out)
    written: list[Path] = []
    for channel in ("teams", "slack"):
        for number, message in enumerate(receivers.messages(channel), 1):
            path = folder / f"{channel}-message-{number}.json"
            path.write_text(json.dumps(message.payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            written.append(path)
    teams = receivers.messages("teams")
    if teams:
        lines = teams_text(teams[0].payload)
        print(f"\n── Teams message 1 of {len(teams)} ({len(teams[0].body):,} bytes), as text ──", file=out)
        for line in lines[:PREVIEW_LINES]:
            for part in wrap(line, terminal_width(), "  ", "    "):
                print(part, file=out)
        if len(lines) > PREVIEW_LINES:
            print(f"  … {len(lines) - PREVIEW_LINES} more lines in the payload file", file=out)
    return written
