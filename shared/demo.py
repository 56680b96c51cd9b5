"""`python -m shared demo`: a real end-to-end check against the emulated sample tenant (a checkout command).

The real SDK clients and DefaultAzureCredential are used; only the endpoints are local (ARM over
HTTPS with a throwaway CA, a managed-identity endpoint, and Teams/Slack stand-ins). The demo is a
consumer of the CLI's pieces; the CLI knows nothing of it (shared/__main__.py adds the command).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from .azure_clients import build_credential
from .checker import exit_code
from .cli import Command, Output, add_report_arguments, check_and_print
from .config import Settings, load_settings
from .models import Report
from .notify.demo import show_chat_alerts
from .remediation.demo import show_fix_preview

# Only the managed identity (pointed at the emulator) may answer, so a developer's
# own Azure login or service-principal variables never leak into the demo.
EMULATOR_CREDENTIAL_OPTIONS = {
    "exclude_environment_credential": True,
    "exclude_workload_identity_credential": True,
    "exclude_shared_token_cache_credential": True,
    "exclude_visual_studio_code_credential": True,
    "exclude_cli_credential": True,
    "exclude_powershell_credential": True,
    "exclude_developer_cli_credential": True,
}


async def _check(settings: Settings, output: Output) -> Report | None:
    return await check_and_print(settings, output, build_credential(settings, **EMULATOR_CREDENTIAL_OPTIONS))


def run_demo(args: argparse.Namespace) -> int:
    try:
        from emulator import SAMPLE_SCENARIO, EmulatorServer, Tenant
        from emulator.card_image import card_png
        from emulator.webhooks import WebhookReceivers
    except ImportError as error:
        print(
            f"error: the demo needs the emulator, which is part of the checkout, not of the installed command "
            f"({error}); run `make demo` in a clone of the repository",
            file=sys.stderr,
        )
        return 2
    folder = Path(args.files) if args.files else Path(tempfile.mkdtemp(prefix="defender-contacts-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    with (
        EmulatorServer(Tenant.from_file(SAMPLE_SCENARIO)) as emulator,
        # The receivers share the emulator's CA, so REQUESTS_CA_BUNDLE trusts both.
        WebhookReceivers(emulator.certificates) as webhooks,
    ):
        environment = {**emulator.environment(), **webhooks.environment()}
        # DefaultAzureCredential reads IDENTITY_*, the clients REQUESTS_CA_BUNDLE, from the process environment.
        os.environ.update(environment)
        settings = load_settings(environment)
        print(f"Emulated sample tenant at {emulator.arm_endpoint}\n", file=sys.stderr)
        report = asyncio.run(_check(settings, Output(args.format, args.output, args.all, args.verbose)))
        if report is not None:
            written = show_chat_alerts(report, settings.notify, webhooks, folder)
            show_fix_preview(settings, EMULATOR_CREDENTIAL_OPTIONS)
            teams = next((path for path in written if path.name.startswith("teams-")), None)
            not_rendered = "no Teams message" if teams is None else None
            if teams is not None:
                png = teams.with_suffix(".png")
                not_rendered = card_png(json.loads(teams.read_text(encoding="utf-8")), png)
                if not_rendered is None:
                    written.append(png)
            if written:
                print("\nThe chat payloads, to read in full (and the Teams card as rendered):", file=sys.stderr)
                for path in written:
                    print(f"  {path}", file=sys.stderr)
            if not_rendered:
                print(f"  (no card image: {not_rendered})", file=sys.stderr)
    if report is None:
        return 2
    print(f"\n`check` would exit with {exit_code(report)} for this tenant.", file=sys.stderr)
    return 0


def _add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    demo = commands.add_parser(
        "demo", help="run a real check against the built-in emulated tenant (from a checkout of the repository)"
    )
    add_report_arguments(demo)
    demo.add_argument("--files", metavar="DIR", help="write the chat payloads here (default: a new temporary folder)")
    return demo


DEMO_COMMAND = Command("demo", _add_parser, run_demo)
