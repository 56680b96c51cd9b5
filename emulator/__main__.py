"""`python -m emulator`: an emulated tenant (and Teams/Slack stand-ins).

Without --env: prints one JSON line of settings (for scripts), serves until
interrupted. With --env: prints `export` lines and keeps serving in the
background, so that
    eval "$(python -m emulator --env --webhooks)"
points this shell at it; `kill "$EMULATOR_PID"` stops it. See docs/local.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import SAMPLE_SCENARIO
from .background import StartFailed, detach, export_lines, stop_event
from .faults import Fault
from .server import EmulatorServer
from .tenant import Tenant, generate
from .webhooks import WebhookReceivers

# A forgotten background emulator ends with the working day rather than never.
BACKGROUND_LIFETIME_SECONDS = 8 * 3600.0
# Variables DefaultAzureCredential would use before the emulated managed identity.
_CREDENTIAL_VARIABLES = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--scenario", type=Path, default=SAMPLE_SCENARIO, help="tenant scenario JSON file")
    source.add_argument("--generate", type=int, metavar="N", help="generate a tenant of N subscriptions")
    parser.add_argument("--depth", type=int, default=6, help="management group levels when generating")
    parser.add_argument(
        "--cloud",
        choices=("public", "china"),
        default="public",
        help="when generating: china offers no 2023-12-01-preview and refuses it with a 404, as Azure China does",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every ARM response")
    parser.add_argument("--port", type=int, default=0, help="ARM HTTPS port (0 picks a free one)")
    parser.add_argument("--identity-port", type=int, default=0, help="token endpoint port (0 picks a free one)")
    parser.add_argument("--cert-dir", type=Path, help="where to write the CA and server certificate")
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="also serve Teams and Slack webhook stand-ins (sets TEAMS_WEBHOOK_URL, SLACK_WEBHOOK_URL)",
    )
    parser.add_argument(
        "--env",
        action="store_true",
        help="print `export` lines for a POSIX shell and keep serving in the background (EMULATOR_PID)",
    )
    parser.add_argument("--foreground", action="store_true", help="with --env: keep serving in this terminal")
    parser.add_argument(
        "--lifetime",
        type=float,
        metavar="SECONDS",
        help="stop after this long (default: 8 hours in the background, no limit otherwise)",
    )
    parser.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="with --env: where the background emulator notes webhook deliveries and errors",
    )
    args = parser.parse_args(argv)
    if args.foreground and not args.env:
        parser.error("--foreground only goes with --env")
    if args.log and not args.env:
        parser.error("--log only goes with --env (in the foreground, notes go to stderr)")
    if args.lifetime is not None and args.lifetime <= 0:
        parser.error("--lifetime must be a positive number of seconds")

    try:
        tenant, faults, latency = _tenant(args)
    except (OSError, ValueError, KeyError) as error:
        print(f"error: cannot load the tenant: {error}", file=sys.stderr)
        return _failed(args)
    _warn_about_credentials()

    def serve(ready: Callable[[dict[str, str]], None], lifetime: float | None) -> None:
        stop = stop_event()
        server = EmulatorServer(
            tenant,
            latency_ms=latency,
            arm_port=args.port,
            identity_port=args.identity_port,
            certificate_dir=args.cert_dir,
        )
        for fault in faults:
            server.add_fault(fault)
        with server:
            # The receivers share the emulator's CA, so one REQUESTS_CA_BUNDLE trusts both.
            hooks = WebhookReceivers(server.certificates).start() if args.webhooks else None
            try:
                ready({**server.environment(), **(hooks.environment() if hooks else {})})
                _serve_until(stop, lifetime, hooks)
            finally:
                if hooks is not None:
                    hooks.stop()

    if not args.env:

        def print_json(environment: dict[str, str]) -> None:
            # One JSON line that scripts (the benchmark, the demo) can read to find the emulator.
            print(json.dumps(environment), flush=True)

        serve(print_json, args.lifetime)
        return 0
    if args.foreground:

        def print_exports(environment: dict[str, str]) -> None:
            print(export_lines({**environment, "EMULATOR_PID": str(os.getpid())}), end="", flush=True)
            print("Serving in the foreground; Ctrl-C stops it.", file=sys.stderr, flush=True)

        serve(print_exports, args.lifetime)
        return 0
    lifetime = args.lifetime or BACKGROUND_LIFETIME_SECONDS
    try:
        environment = detach(lambda ready: serve(ready, lifetime), str(args.log or os.devnull))
    except StartFailed as error:
        print(f"error: the emulator did not start: {error}", file=sys.stderr)
        return _failed(args)
    print(export_lines(environment), end="", flush=True)
    pid = environment["EMULATOR_PID"]
    print(
        f"Emulator serving in the background at {environment['ARM_ENDPOINT']} (pid {pid}, for at most "
        f"{_duration(lifetime)}); stop it with: kill {pid}",
        file=sys.stderr,
    )
    return 0


def _tenant(args: argparse.Namespace) -> tuple[Tenant, list[Fault], float]:
    if args.generate is not None:
        return generate(args.generate, depth=args.depth, cloud=args.cloud), [], args.latency_ms
    data = json.loads(args.scenario.read_text(encoding="utf-8"))
    faults = [Fault.from_json(item) for item in data.get("faults", [])]
    return Tenant.from_json(data), faults, args.latency_ms or float(data.get("latencyMs", 0))


def _serve_until(stop: threading.Event, lifetime: float | None, hooks: WebhookReceivers | None) -> None:
    ends = None if lifetime is None else time.monotonic() + lifetime
    noted = 0
    with contextlib.suppress(KeyboardInterrupt):
        while not stop.wait(0.5):
            if hooks is not None:
                noted = _note_deliveries(hooks, noted)
            if ends is not None and time.monotonic() >= ends:
                print("emulator: lifetime over, stopping", file=sys.stderr, flush=True)
                return


def _note_deliveries(hooks: WebhookReceivers, noted: int) -> int:
    # What the stand-ins received, so `notify-test` can be followed; the URLs (secrets) are never printed.
    for delivery in hooks.received[noted:]:
        verdict = "; ".join(delivery.problems) or "payload accepted"
        print(f"webhook {delivery.channel}: answered {delivery.status}, {verdict}", file=sys.stderr, flush=True)
    return len(hooks.received)


def _warn_about_credentials() -> None:
    found = [name for name in _CREDENTIAL_VARIABLES if os.environ.get(name)]
    if found:
        print(
            f"warning: {', '.join(found)} set in this shell: DefaultAzureCredential will use that identity "
            "instead of the emulated managed identity; unset it to check the emulated tenant",
            file=sys.stderr,
        )


def _failed(args: argparse.Namespace) -> int:
    # `eval "$(python -m emulator --env)" && python -m shared check` must not go on to check a real tenant.
    if args.env:
        print("false", flush=True)
    return 1


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


if __name__ == "__main__":
    sys.exit(main())
