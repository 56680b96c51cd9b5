"""`python -m shared demo`: a real end-to-end check against the emulated sample tenant.

The real SDK clients and DefaultAzureCredential are used; only the endpoints
are local (ARM over HTTPS with a throwaway CA, and a managed-identity endpoint).
"""

from __future__ import annotations

import asyncio
import os
import sys

from .azure_clients import build_credential
from .checker import exit_code
from .cli import check_and_print
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


async def _check(settings: Settings, output_format: str) -> Report | None:
    return await check_and_print(settings, output_format, build_credential(settings, **EMULATOR_CREDENTIAL_OPTIONS))


def run_demo(output_format: str) -> int:
    try:
        from emulator import SAMPLE_SCENARIO, EmulatorServer, Tenant
        from emulator.webhooks import WebhookReceivers
    except ImportError as error:
        print(
            f"error: the demo needs the emulator package and its dependencies ({error}); run it from the "
            "repository root after `pip install -r requirements-dev.txt`",
            file=sys.stderr,
        )
        return 2
    with (
        EmulatorServer(Tenant.from_file(SAMPLE_SCENARIO)) as emulator,
        # The receivers share the emulator's CA, so REQUESTS_CA_BUNDLE trusts both.
        WebhookReceivers(emulator.certificates) as webhooks,
    ):
        environment = {**emulator.environment(), **webhooks.environment()}
        # DefaultAzureCredential reads IDENTITY_*, the clients REQUESTS_CA_BUNDLE, from the process environment.
        os.environ.update(environment)
        settings = load_settings(environment)
        print(f"Emulated tenant at {emulator.arm_endpoint} (sample scenario)\n", file=sys.stderr)
        report = asyncio.run(_check(settings, output_format))
        if report is not None:
            show_chat_alerts(report, settings.notify, webhooks)
            show_fix_preview(settings, EMULATOR_CREDENTIAL_OPTIONS)
    if report is None:
        return 2
    print(f"\n`check` would exit with {exit_code(report)} for this tenant.", file=sys.stderr)
    return 0
