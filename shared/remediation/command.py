"""The command line's side of `python -m shared fix`: options, confirmation, output, exit codes.

Kept here so shared/cli.py only wires the subcommand. This runs with the operator's own
credentials; the Functions app never imports this package.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any, TextIO

from ..arm_errors import clean_message
from ..azure_clients import build_credential
from ..config import SEVERITIES, Settings, load_settings
from ..errors import MonitorError
from ..report_format import terminal_width
from .apply import Confirm, run_fix
from .options import FixOptions, fix_options
from .outcome import FixReport
from .render import summary_line, to_json, to_text

EXIT_RUN_FAILED = 2
NEEDS_CONFIRMATION = (
    "--apply writes to every subscription in the plan and stdin is not a terminal to confirm on: "
    "review the dry run first, then add --yes to apply without asking"
)


def add_fix_parser(commands: Any) -> argparse.ArgumentParser:
    fix = commands.add_parser(
        "fix",
        help="plan (and with --apply, write) the security contact changes that make failing subscriptions pass",
        description="Runs the check, then plans per failing subscription the smallest change that makes every "
        "enabled rule pass. Without --apply nothing is written. Needs Security Admin on the subscriptions. "
        "Exit codes: 0 everything fixed (or fixable, in a dry run) or nothing to fix, 1 some subscription "
        "could not be fixed, 2 the run failed or was not confirmed.",
    )
    fix.add_argument("--management-group", action="append", metavar="ID", help="scope group (repeatable)")
    fix.add_argument("--subscription", action="append", metavar="ID", help="only this subscription (repeatable)")
    fix.add_argument(
        "--email",
        action="append",
        required=True,
        metavar="ADDRESS[;ADDRESS]",
        help="security contact address(es) to add where a contact has none (repeatable)",
    )
    fix.add_argument(
        "--severity",
        choices=SEVERITIES,
        help="require alert emails from this severity and set it where they need fixing "
        "(default MIN_ALERT_SEVERITY; more sensitive only)",
    )
    fix.add_argument(
        "--notify-owners",
        action="store_true",
        help="also turn on owner notifications where they are off, even if REQUIRE_OWNER_NOTIFICATIONS is false",
    )
    fix.add_argument(
        "--replace-emails",
        action="store_true",
        help="replace existing addresses that fail the contact-email rule (by default they are kept)",
    )
    fix.add_argument("--apply", action="store_true", help="write the changes (after confirmation)")
    fix.add_argument("--yes", action="store_true", help="with --apply, do not ask for confirmation")
    fix.add_argument("--format", choices=("table", "json"), default="table")
    fix.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return fix


def run_fix_command(args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    stdin = stdin if stdin is not None else sys.stdin
    # Refused before any call: a script that forgot --yes must not hang on a prompt or guess an answer.
    if args.apply and not args.yes and not _is_terminal(stdin):
        print(f"error: {NEEDS_CONFIRMATION}", file=sys.stderr)
        return EXIT_RUN_FAILED
    try:
        settings = load_settings(os.environ).with_overrides(args.management_group, args.subscription)
        options = fix_options(args.email, settings, args.severity, args.replace_emails, args.notify_owners)
        confirm = None if args.yes else _confirmer(stdin)
        report = asyncio.run(_run(settings, options, args.apply, confirm))
    except MonitorError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except Exception as error:  # the exit-code contract holds for surprises too: a line, not a traceback
        logging.getLogger(__name__).debug("fix failed", exc_info=True)
        print(f"error: fix failed unexpectedly: {type(error).__name__}: {clean_message(str(error))}", file=sys.stderr)
        return EXIT_RUN_FAILED
    print(to_json(report) if args.format == "json" else to_text(report, width=terminal_width()))
    return report.exit_code()


async def _run(settings: Settings, options: FixOptions, apply: bool, confirm: Confirm | None) -> FixReport:
    # The credential is created inside the running loop, which its HTTP sessions bind to.
    credential = build_credential(settings)
    try:
        return await run_fix(settings, credential, options, apply=apply, confirm=confirm)
    finally:
        await credential.close()


def _confirmer(stdin: TextIO) -> Confirm:
    def confirm(plan: FixReport) -> bool:
        # The plan goes to stderr so stdout stays the one final report (table or JSON).
        intro = "Planned changes (nothing is written until you confirm):"
        print(to_text(plan, intro=intro, width=terminal_width()), file=sys.stderr)
        writes = len(plan.writes)
        print(
            f"\nWrite the security contact of {writes} subscription(s) listed above? Type 'yes' to apply: ",
            end="",
            file=sys.stderr,
            flush=True,
        )
        answer = stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return False
        print(f"applying: {summary_line(plan)}", file=sys.stderr)
        return True

    return confirm


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
