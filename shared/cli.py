"""Command line: `python -m shared check|notify-test|fix|demo`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence

from azure.core.credentials_async import AsyncTokenCredential

from .arm_errors import clean_message
from .azure_clients import build_credential
from .checker import exit_code, exit_reason, run_check
from .config import Settings, load_settings
from .errors import MonitorError, NotInScope
from .models import Report
from .notify.command import add_check_arguments, notify_after_check, run_notify_test, wants_notification
from .remediation.command import add_fix_parser, run_fix_command
from .report_format import to_json, to_table

EXIT_RUN_FAILED = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.format)
    if args.command == "notify-test":
        return run_notify_test()
    if args.command == "fix":
        return run_fix_command(args)
    failures: list[str] = []
    try:
        settings = load_settings(os.environ).with_overrides(args.management_group, args.subscription, args.tenant)
        report = asyncio.run(check_and_print(settings, args.format, on_failure=failures.append))
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
    if wants_notification(args) and not notify_after_check(report, failures, settings.notify, args):
        return EXIT_RUN_FAILED
    return EXIT_RUN_FAILED if report is None else exit_code(report)


async def check_and_print(
    settings: Settings,
    output_format: str,
    credential: AsyncTokenCredential | None = None,
    on_failure: Callable[[str], object] | None = None,
) -> Report | None:
    """Run one check and print its report; None (after explaining on stderr) when the run failed."""
    # The credential is created inside the running loop, which its HTTP sessions bind to.
    credential = credential or build_credential(settings)
    try:
        report = await run_check(settings, credential)
    except NotInScope:
        raise  # the caller's mistake, not a failed run: said on stderr (exit 2), never posted with --notify
    except MonitorError as error:
        print(f"error: {error}", file=sys.stderr)
        if on_failure is not None:
            on_failure(str(error))
        return None
    finally:
        await credential.close()
    print(to_json(report) if output_format == "json" else to_table(report))
    reason = exit_reason(report)
    if reason:
        print(f"error: {reason}", file=sys.stderr)
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared",
        description="Check that every subscription's Defender for Cloud security contacts reach someone.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
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
    add_check_arguments(check)
    notify_test = commands.add_parser(
        "notify-test", help="post a test message to each configured chat channel and show what it answered"
    )
    notify_test.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    add_fix_parser(commands)
    demo = commands.add_parser("demo", help="run a real check against the built-in emulated tenant")
    for command in (check, demo):
        command.add_argument("--format", choices=("table", "json"), default="table")
        command.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


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
