"""Benchmark: a full check of a large emulated tenant, against a naive sequential loop.

    python benchmarks/bench_check.py [--subscriptions 10000] [--depth 6] [--latency-ms 50]

The emulator runs in its own process (so its CPU and memory are not counted),
every ARM response is delayed by --latency-ms, and each measured run happens in
a fresh child process so peak RSS belongs to that run alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from shared.config import Settings  # noqa: E402 - needs the repository on the path


@contextmanager
def emulated_tenant(subscriptions: int, depth: int, latency_ms: float) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--generate",
            str(subscriptions),
            "--depth",
            str(depth),
            "--latency-ms",
            str(latency_ms),
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(mode: str, environment: dict[str, str], concurrency: int) -> dict[str, float]:
    finished = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--concurrency", str(concurrency)],
        cwd=REPOSITORY,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{finished.stderr}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def child(mode: str, concurrency: int) -> None:
    from shared.config import load_settings

    settings = load_settings({**os.environ, "CHECK_CONCURRENCY": str(concurrency)})
    arm = os.environ["ARM_ENDPOINT"]
    requests.post(f"{arm}/_emulator/reset", timeout=10)
    started = time.perf_counter()
    cpu_started = time.process_time()
    checked = asyncio.run(run_mode(mode, settings))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    stats = requests.get(f"{arm}/_emulator/stats", timeout=10).json()
    print(
        json.dumps(
            {
                "subscriptions": checked,
                "seconds": elapsed,
                "cpuSeconds": cpu,
                "armCalls": stats["armCalls"],
                "connections": stats["connections"],
                "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


async def run_mode(mode: str, settings) -> int:
    from shared.azure_clients import build_credential
    from shared.checker import run_check
    from shared.demo import EMULATOR_CREDENTIAL_OPTIONS

    async with build_credential(settings, **EMULATOR_CREDENTIAL_OPTIONS) as credential:
        if mode == "monitor":
            return (await run_check(settings, credential)).summary["total"]
        return await naive_check(settings, credential)


async def naive_check(settings, credential) -> int:
    """What a first script usually does: visit each group, then each subscription, one call at a time."""
    from shared.arm_paging import ArmReader
    from shared.azure_clients import AzureClients
    from shared.contacts import ContactReader
    from shared.hierarchy import find_root_group_id
    from shared.rules import evaluate

    checked = 0
    async with AzureClients.create(settings, credential) as clients:
        reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
        pending = [await find_root_group_id(ArmReader(clients.groups.send_request, settings.arm_endpoint))]
        while pending:
            group = await clients.groups.management_groups.get(pending.pop(), expand="children")
            for child in group.properties.children or []:
                if str(getattr(child.type, "value", child.type)).lower() == "/subscriptions":
                    evaluate(await reader.read(child.name), settings)
                    checked += 1
                else:
                    pending.append(child.name)
    return checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=6, help="management group levels below the root")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=Settings.concurrency)
    parser.add_argument("--naive-subscriptions", type=int, default=200)
    parser.add_argument("--child", choices=("monitor", "naive"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.concurrency)
        return

    print(
        f"tenant: {args.subscriptions} subscriptions, {args.depth} group levels, "
        f"{args.latency_ms:g} ms per ARM call, concurrency {args.concurrency}"
    )
    with emulated_tenant(args.subscriptions, args.depth, args.latency_ms) as environment:
        monitor = measure("monitor", environment, args.concurrency)
    with emulated_tenant(args.naive_subscriptions, args.depth, args.latency_ms) as environment:
        naive = measure("naive", environment, 1)

    print(
        f"{'run':<10}{'subs':>8}{'wall s':>10}{'CPU s':>8}{'ARM calls':>11}{'conns':>7}{'peak RSS MB':>13}{'ms/sub':>9}"
    )
    for name, figures in (("monitor", monitor), ("naive", naive)):
        per_sub = 1000 * figures["seconds"] / max(figures["subscriptions"], 1)
        print(
            f"{name:<10}{figures['subscriptions']:>8}{figures['seconds']:>10.2f}{figures['cpuSeconds']:>8.2f}"
            f"{figures['armCalls']:>11}"
            f"{figures['connections']:>7}{figures['peakRssMb']:>13.1f}{per_sub:>9.2f}"
        )
    # The naive loop pays one call per group plus one per subscription, each in turn.
    per_call = naive["seconds"] / max(naive["armCalls"], 1)
    group_calls = naive["armCalls"] - naive["subscriptions"]
    naive_calls = group_calls + monitor["subscriptions"]
    print(
        f"naive loop at {monitor['subscriptions']} subscriptions: {naive_calls} sequential calls "
        f"x {1000 * per_call:.1f} ms = about {naive_calls * per_call:.0f} s"
    )
    target_met = monitor["seconds"] <= 10 and monitor["peakRssMb"] <= 250
    print(f"target (<= 10 s, <= 250 MB): {'met' if target_met else 'NOT met'}")


if __name__ == "__main__":
    main()
