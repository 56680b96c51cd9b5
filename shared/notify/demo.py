"""The demo's chat alerts: post the run's alert to local receivers and show what each channel got."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any, Protocol, TextIO

from ..models import Report
from . import batch_from_report, deliver_batch
from .preview import slack_text, teams_text
from .settings import NotifySettings

PREVIEW_LINES = 40
_TITLES = {"teams": "Microsoft Teams (Adaptive Card)", "slack": "Slack (Block Kit)"}


class Receivers(Protocol):
    def messages(self, channel: str) -> list[Any]: ...


def show_chat_alerts(report: Report, settings: NotifySettings, receivers: Receivers, out: TextIO = sys.stderr) -> bool:
    """Deliver the alert for `report` and print a short rendering of every message received."""
    results = deliver_batch(batch_from_report(report, settings), replace(settings, always=True))
    print("\nChat alerts (posted to local stand-ins for the Teams and Slack webhooks):", file=out)
    for result in results:
        print(f"  {result.describe()}", file=out)
    for channel, render in (("teams", teams_text), ("slack", slack_text)):
        messages = receivers.messages(channel)
        for number, message in enumerate(messages, 1):
            size = f"{len(message.body):,} bytes"
            print(f"\n── {_TITLES[channel]}: message {number} of {len(messages)}, {size} ──", file=out)
            lines = render(message.payload)
            for line in lines[:PREVIEW_LINES]:
                print(f"  {line}", file=out)
            if len(lines) > PREVIEW_LINES:
                print(f"  … {len(lines) - PREVIEW_LINES} more lines", file=out)
    return all(result.ok for result in results)
