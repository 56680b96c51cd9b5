"""The command line's side of chat alerts: `check --notify[-dry-run|-always]` and `notify-test`.

Kept here so shared/cli.py only wires options to these functions. Output names a channel and
its host, never the webhook URL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TextIO

from ..errors import ConfigError
from ..models import AlertBatch, Report
from . import batch_from_report, deliver_batch, deliver_run_failure, deliver_test_message, render_payloads
from .base import DeliveryResult
from .settings import NotifySettings

EXIT_OK = 0
EXIT_NOT_DELIVERED = 2
NO_CHANNEL = "no chat channel is configured: set TEAMS_WEBHOOK_URL and/or SLACK_WEBHOOK_URL"


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("chat alerts")
    group.add_argument("--notify", action="store_true", help="post the result to TEAMS_WEBHOOK_URL / SLACK_WEBHOOK_URL")
    group.add_argument(
        "--notify-dry-run",
        action="store_true",
        help="print the Teams and Slack payloads (JSON, after the report) instead of posting them",
    )
    group.add_argument(
        "--notify-always",
        action="store_true",
        help="post even when nothing needs attention (default NOTIFY_ALWAYS)",
    )


def wants_notification(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "notify", False) or getattr(args, "notify_dry_run", False))


def notify_after_check(
    report: Report | None,
    failures: Sequence[str],
    settings: NotifySettings,
    args: argparse.Namespace,
    dry_run_out: TextIO | None = None,
) -> bool:
    """Post (or print) the run's alert; False when it did not reach every configured channel.

    A dry run prints the payloads to `dry_run_out` (stdout by default; stderr when stdout holds a report
    document, so it stays one JSON document).
    """
    if args.notify_always:
        settings = replace(settings, always=True)
    if args.notify_dry_run:
        if report is not None:
            batch = batch_from_report(report, settings)
            if batch.is_empty and not settings.always:
                print("notify: nothing needs attention, nothing would be posted", file=sys.stderr)
                return True
            print(json.dumps(render_payloads(batch, settings), ensure_ascii=False, indent=2), file=dry_run_out)
        return True
    if not settings.channels:
        print(f"error: --notify: {NO_CHANNEL}", file=sys.stderr)
        return False
    if report is None:
        results = deliver_run_failure(failures[0] if failures else "unknown error", settings)
    else:
        batch: AlertBatch = batch_from_report(report, settings)
        results = deliver_batch(batch, settings)
    return print_results(results)


def print_results(results: Sequence[DeliveryResult]) -> bool:
    for result in results:
        prefix = "notify" if result.ok else "error: notify"
        print(f"{prefix}: {result.describe()}", file=sys.stderr)
    return all(result.ok for result in results)


def run_notify_test(environ: Mapping[str, str] | None = None) -> int:
    """`notify-test`: one small message per configured channel, and what each endpoint answered."""
    # Imported here: config imports this package's settings module.
    from ..config import load_settings

    try:
        settings = load_settings(os.environ if environ is None else environ).notify
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOT_DELIVERED
    if not settings.channels:
        print(f"error: {NO_CHANNEL}", file=sys.stderr)
        return EXIT_NOT_DELIVERED
    return EXIT_OK if print_results(deliver_test_message(settings)) else EXIT_NOT_DELIVERED
