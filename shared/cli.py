"""The terminal: `defender-contacts check|fix|notify-test|settings` (also `python -m shared …`).

Reports go to stdout (or --output FILE), explanations and progress to stderr, and the exit code
tells CI what happened. Commands that need the checkout (the demo and its emulator) are added by
shared/__main__.py through `Command`; this module imports none of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from azure.core.credentials_async import AsyncTokenCredential

from .arm_errors import clean_message
from .azure_clients import build_credential
from .checker import exit_code, exit_reason, run_check
from .config import Settings, load_settings
from .errors import MonitorError, NotInScope
from .models import Report
from .notify.command import add_check_arguments, notify_after_check, run_notify_test, wants_notification
from .progress import Progress, shown
from .remediation.command import add_fix_parser, run_fix_command
from .render_html import report_to_html
from .report_format import terminal_width, to_csv, to_json, to_table
from .setting_names import near_misses
from .settings_listing import list_settings
from .settings_listing import to_text as settings_text

EXIT_RUN_FAILED = 2
PROG = "defender-contacts"
REPORT_FORMATS = ("table", "json", "csv", "html")


@dataclass(frozen=True)
class Command:
    """A sub-command added from outside this module (the checkout's `demo`)."""

    name: str
    add_parser: Callable[[argparse._SubParsersAction], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Output:
    """Where and how `check` writes its report."""

    format: str = "table"
    path: Path | None = None
    show_all: bool = False
    verbose: bool = False

    def render(self, report: Report) -> str:
        if self.format == "json":
            return to_json(report)
        if self.format == "csv":
            return to_csv(report)
        if self.format == "html":
            return report_to_html(report)
        return to_table(report, terminal_width(), self.show_all)

    def write(self, report: Report) -> None:
        text = self.render(report)
        if self.path is None:
            print(text, end="" if text.endswith("\n") else "\n")
            return
        # Written whole next to the target, then moved, so a failed write never leaves half a report.
        partial = self.path.with_name(f".{self.path.name}.partial")
        try:
            partial.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", newline="")
            partial.replace(self.path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise MonitorError(f"could not write the report to {self.path}: {error.strerror or error}") from error
        summary = report.summary
        print(
            f"report written to {self.path} ({summary['total']} subscriptions: {summary['fail']} fail, "
            f"{summary['error']} error)",
            file=sys.stderr,
        )

    @property
    def holds_stdout(self) -> bool:
        """stdout carries a document (JSON, CSV, HTML) that nothing else may be mixed into."""
        return self.path is None and self.format != "table"


def main(argv: Sequence[str] | None = None, *, prog: str = PROG, extra: Sequence[Command] = ()) -> int:
    parser, commands = build_parser(prog)
    for command in extra:
        command.add_parser(commands)
    args = parser.parse_args(argv)
    _configure_logging(getattr(args, "verbose", False))
    for command in extra:
        if args.command == command.name:
            return command.run(args)
    if args.command == "settings":
        return run_settings(args.format)
    try:
        if args.command == "notify-test":
            return run_notify_test()
        if args.command == "fix":
            return run_fix_command(args)
        return run_check_command(args)
    finally:
        warn_about_near_misses()


def run_check_command(args: argparse.Namespace) -> int:
    output = Output(args.format, None if str(args.output) == "-" else args.output, args.all, args.verbose)
    failures: list[str] = []
    try:
        if output.path is not None and not output.path.parent.is_dir():
            raise MonitorError(f"--output {output.path}: the folder {output.path.parent} does not exist")
        settings = load_settings(os.environ).with_overrides(args.management_group, args.subscription, args.tenant)
        report = asyncio.run(check_and_print(settings, output, on_failure=failures.append))
    except MonitorError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except Exception as error:  # the exit-code contract holds for surprises too: a line, not a traceback
        logging.getLogger(__name__).debug("run failed", exc_info=True)
        print(
            f"error: the run failed unexpectedly: {type(error).__name__}: {clean_message(str(error))}", file=sys.stderr
        )
        return EXIT_RUN_FAILED
    # The alert must reach people; when it does not, the run did not do its job (exit 2).
    dry_run_out = sys.stderr if output.holds_stdout else sys.stdout
    if wants_notification(args) and not notify_after_check(report, failures, settings.notify, args, dry_run_out):
        return EXIT_RUN_FAILED
    return EXIT_RUN_FAILED if report is None else exit_code(report)


async def check_and_print(
    settings: Settings,
    output: Output | str,
    credential: AsyncTokenCredential | None = None,
    on_failure: Callable[[str], object] | None = None,
) -> Report | None:
    """Run one check and write its report; None (after explaining on stderr) when the run failed."""
    output = Output(output) if isinstance(output, str) else output
    # The credential is created inside the running loop, which its HTTP sessions bind to.
    credential = credential or build_credential(settings)
    try:
        async with shown(Progress(), sys.stderr, output.verbose) as progress:
            report = await run_check(settings, credential, progress.update)
    except NotInScope:
        raise  # the caller's mistake, not a failed run: said on stderr (exit 2), never posted with --notify
    except MonitorError as error:
        print(f"error: {error}", file=sys.stderr)
        if on_failure is not None:
            on_failure(str(error))
        return None
    finally:
        await credential.close()
    output.write(report)
    reason = exit_reason(report)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
    return report


def run_settings(output_format: str, out: TextIO | None = None) -> int:
    """`settings`: 0 all valid, 1 valid but a near-miss name is set, 2 some setting is refused."""
    out = out or sys.stdout
    listing = list_settings(os.environ)
    if output_format == "json":
        print(json.dumps(listing.to_dict(), indent=2), file=out)
    else:
        print(settings_text(listing, terminal_width()), file=out)
    if listing.problems:
        return EXIT_RUN_FAILED
    return 1 if listing.warnings else 0


def warn_about_near_misses() -> None:
    for warning in near_misses(os.environ):
        print(f"warning: {warning}", file=sys.stderr)


def build_parser(prog: str = PROG) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check that every subscription's Defender for Cloud security contacts reach someone.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="check the tenant your Azure credentials reach",
        description="Exit codes: 0 all checked subscriptions pass, 1 some fail, "
        "2 the run failed or some subscription could not be checked.",
    )
    check.add_argument(
        "--management-group",
        action="append",
        metavar="ID",
        help="scope management group id (repeatable; default MANAGEMENT_GROUP_IDS, else the tenant root)",
    )
    check.add_argument(
        "--subscription",
        action="append",
        metavar="ID",
        help="check only this subscription id (repeatable; default INCLUDE_SUBSCRIPTION_IDS)",
    )
    check.add_argument(
        "--tenant",
        action="append",
        metavar="ID",
        help="check only this tenant's subscriptions, delegated ones included (repeatable; Azure Lighthouse)",
    )
    add_report_arguments(check)
    add_check_arguments(check)
    notify_test = commands.add_parser(
        "notify-test", help="post a test message to each configured chat channel and show what it answered"
    )
    notify_test.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    add_fix_parser(commands)
    settings = commands.add_parser(
        "settings",
        help="show every setting's effective value, where it came from and what is wrong with it",
        description="Secrets are shown as set or unset. Exit codes: 0 all valid, 1 an environment name is one "
        "edit away from a setting (probably misspelt), 2 some setting is refused.",
    )
    settings.add_argument("--format", choices=("table", "json"), default="table")
    return parser, commands


def add_report_arguments(command: argparse.ArgumentParser) -> None:
    """The report options `check` and the demo share."""
    command.add_argument("--format", choices=REPORT_FORMATS, default="table", help="report format (default table)")
    command.add_argument(
        "--output", type=Path, metavar="FILE", help="write the report to FILE instead of stdout ('-' is stdout)"
    )
    command.add_argument(
        "--all", action="store_true", help="list passing and skipped subscriptions in the table too (default: a count)"
    )
    command.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The SDK logs every request at INFO; ours is the useful summary.
    logging.getLogger("azure").setLevel(logging.WARNING)
    if not verbose:
        # azure-identity explains a failed sign-in over a dozen lines; the error line says it in one (-v shows all).
        logging.getLogger("azure.identity").setLevel(logging.ERROR)
