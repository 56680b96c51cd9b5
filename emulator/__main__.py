"""`python -m emulator --scenario FILE`: serve an emulated tenant until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from pathlib import Path

from . import SAMPLE_SCENARIO
from .faults import Fault
from .server import EmulatorServer
from .tenant import Tenant, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
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
    args = parser.parse_args(argv)

    if args.generate is not None:
        tenant = generate(args.generate, depth=args.depth, cloud=args.cloud)
        faults: list[Fault] = []
        latency = args.latency_ms
    else:
        data = json.loads(args.scenario.read_text(encoding="utf-8"))
        tenant = Tenant.from_json(data)
        faults = [Fault.from_json(item) for item in data.get("faults", [])]
        latency = args.latency_ms or float(data.get("latencyMs", 0))

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
        # One JSON line that scripts (the benchmark, the demo) can read to find the emulator.
        print(json.dumps(server.environment()), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
