"""Benchmark: a full check of a large emulated tenant, against a naive sequential loop.

    python benchmarks/bench_check.py [--subscriptions 10000] [--depth 6] [--latency-ms 50]
                                     [--clouds public,china] [--baseline REF]

The emulator runs in its own process (so its CPU and memory are not counted),
every ARM response is delayed by --latency-ms, and each measured run happens in
a fresh child process so peak RSS belongs to that run alone. Each cloud gets its
own tenant: "china" offers no 2023-12-01-preview and refuses it with a 404, as
Azure China does. --baseline REF also runs the monitor as committed at REF (a
branch, tag or commit) against the same emulator, so before and after are
measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import requests

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from shared.config import Settings  # noqa: E402 - needs the repository on the path


@contextmanager
def emulated_tenant(
    subscriptions: int, depth: int, latency_ms: float, cloud: str = "public"
) -> Iterator[dict[str, str]]:
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
            "--cloud",
            cloud,
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


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """The repository as committed at `ref`, in a temporary directory (the working tree is left alone)."""
    git = shutil.which("git") or "git"
    archive = subprocess.run([git, "archive", ref], cwd=REPOSITORY, capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as directory:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(directory, filter="data")
        yield Path(directory)


def measure(mode: str, environment: dict[str, str], concurrency: int, tree: Path = REPOSITORY) -> dict[str, float]:
    finished = subprocess.run(
        [
            sys.executable,
            str(tree / "benchmarks" / "bench_check.py"),
            "--child",
            mode,
            "--concurrency",
            str(concurrency),
        ],
        cwd=tree,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{finished.stderr}")
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    # Read here rather than by the child, so a baseline's child (which may not report it) is measured alike.
    stats = requests.get(
        f"{environment['ARM_ENDPOINT']}/_emulator/stats", verify=environment["REQUESTS_CA_BUNDLE"], timeout=10
    ).json()
    figures["subscriptionsRead"] = stats["contactSubscriptions"]
    return figures


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
    parser.add_argument("--naive-subscriptions", type=int, default=200, help="0 skips the naive loop")
    parser.add_argument("--clouds", default="public,china", help="tenants to measure: public, china or both")
    parser.add_argument("--baseline", metavar="REF", help="also measure the monitor as committed at this git ref")
    parser.add_argument("--child", choices=("monitor", "naive"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.concurrency)
        return

    print(
        f"tenant: {args.subscriptions} subscriptions, {args.depth} group levels, "
        f"{args.latency_ms:g} ms per ARM call, concurrency {args.concurrency}"
    )
    rows: list[tuple[str, dict[str, float]]] = []
    with contextlib.ExitStack() as stack:
        baseline = stack.enter_context(checkout(args.baseline)) if args.baseline else None
        for cloud in args.clouds.split(","):
            with emulated_tenant(args.subscriptions, args.depth, args.latency_ms, cloud) as environment:
                # Alternated, so a machine that gets busier during the run does not favour one side.
                if baseline is not None:
                    rows.append(
                        (f"{args.baseline} {cloud}", measure("monitor", environment, args.concurrency, baseline))
                    )
                rows.append((f"monitor {cloud}", measure("monitor", environment, args.concurrency)))
    naive = None
    if args.naive_subscriptions:
        with emulated_tenant(args.naive_subscriptions, args.depth, args.latency_ms) as environment:
            naive = measure("naive", environment, 1)
            rows.append(("naive public", naive))

    width = max(len(name) for name, _ in rows) + 2
    print(
        f"{'run':<{width}}{'subs':>7}{'read':>7}{'wall s':>8}{'CPU s':>7}{'ARM calls':>11}{'calls-read':>12}"
        f"{'conns':>7}{'RSS MB':>8}{'CPU ms/call':>13}"
    )
    for name, figures in rows:
        per_call = 1000 * figures["cpuSeconds"] / max(figures["armCalls"], 1)
        overhead = figures["armCalls"] - figures["subscriptionsRead"]
        print(
            f"{name:<{width}}{figures['subscriptions']:>7}{figures['subscriptionsRead']:>7}{figures['seconds']:>8.2f}"
            f"{figures['cpuSeconds']:>7.2f}{figures['armCalls']:>11}{overhead:>12}"
            f"{figures['connections']:>7}{figures['peakRssMb']:>8.1f}{per_call:>13.3f}"
        )
    monitor = dict(rows)["monitor public"] if "monitor public" in dict(rows) else rows[0][1]
    if naive is not None:
        # The naive loop pays one call per group plus one per subscription, each in turn.
        per_call = naive["seconds"] / max(naive["armCalls"], 1)
        group_calls = naive["armCalls"] - naive["subscriptions"]
        naive_calls = group_calls + monitor["subscriptions"]
        print(
            f"naive loop at {monitor['subscriptions']} subscriptions: {naive_calls} sequential calls "
            f"x {1000 * per_call:.1f} ms = about {naive_calls * per_call:.0f} s"
        )
    target_met = monitor["seconds"] <= 10 and monitor["peakRssMb"] <= 200
    print(f"target (<= 10 s, <= 200 MB): {'met' if target_met else 'NOT met'}")


if __name__ == "__main__":
    main()
