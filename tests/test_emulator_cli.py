"""`python -m emulator` as a person runs it: a subprocess, in a real shell, with `eval "$(… --env)"`.

The wall-clock bounds here are deliberately generous (a loaded 2-core machine): they only tell a
hang (an `eval` that never returns, an emulator that never stops) from working behaviour.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
# Every test emulator ends by itself even if a test dies before it can stop it.
LIFETIME = "300"
_INHERITED_SETTINGS = ("AZURE_", "IDENTITY_", "MSI_", "ARM_ENDPOINT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_MONITOR_SETTINGS = ("MANAGEMENT_GROUP_IDS", "INCLUDE_SUBSCRIPTION_IDS", "EXCLUDE_SUBSCRIPTION_IDS", "TEAMS_", "SLACK_")


def clean_environment() -> dict[str, str]:
    """This process's environment without anything that points at Azure, an emulator or a channel."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_INHERITED_SETTINGS + _MONITOR_SETTINGS) and not name.startswith("NOTIFY_")
    }


def is_running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped serving


def wait_until_stopped(pid: int, seconds: float = 45.0) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if not is_running(pid):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Emulator pids a test started; any still running afterwards is stopped."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_running(pid):
            os.kill(pid, signal.SIGTERM)


def bash(script: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - a fixed shell and our own script
        ["bash", "-c", script],  # noqa: S607 - the developer's bash, as the guide uses it
        cwd=REPOSITORY,
        env={**clean_environment(), "PY": sys.executable, "LIFETIME": LIFETIME, **extra},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def emulator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "emulator", *args],
        cwd=REPOSITORY,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_eval_env_points_the_shell_at_a_background_emulator_that_a_check_then_reads(started, tmp_path):
    report_file = tmp_path / "report.json"
    finished = bash(
        'eval "$("$PY" -m emulator --env --lifetime "$LIFETIME")" || exit 90\n'
        'echo "pid=$EMULATOR_PID"\n'
        '"$PY" -m shared check --format json > "$REPORT"; echo "check=$?"\n'
        'kill "$EMULATOR_PID"\n',
        REPORT=str(report_file),
    )
    report = json.loads(report_file.read_text())

    assert finished.returncode == 0, finished.stderr
    pid = int(finished.stdout.split("pid=")[1].split()[0])
    started.append(pid)
    assert "check=2" in finished.stdout  # the sample tenant has failures and one unreadable subscription
    assert report["summary"]["total"] == 10
    assert wait_until_stopped(pid), "the emulator kept running after kill"


def test_the_webhook_stand_ins_let_notify_test_deliver_and_the_log_notes_it_without_the_secret(started, tmp_path):
    log = tmp_path / "emulator.log"
    finished = bash(
        'eval "$("$PY" -m emulator --env --webhooks --log "$LOG" --lifetime "$LIFETIME")" || exit 90\n'
        'echo "pid=$EMULATOR_PID"\n'
        'echo "teams=$TEAMS_WEBHOOK_URL"\n'
        '"$PY" -m shared notify-test; echo "notify=$?"\n'
        "sleep 1.5\n"  # the emulator notes deliveries twice a second
        'kill "$EMULATOR_PID"\n',
        LOG=str(log),
    )

    assert finished.returncode == 0, finished.stderr
    started.append(int(finished.stdout.split("pid=")[1].split()[0]))
    assert "notify=0" in finished.stdout, finished.stderr
    teams_url = finished.stdout.split("teams=")[1].split()[0]
    assert teams_url.startswith("https://localhost:")
    assert wait_until_stopped(started[0])
    noted = log.read_text()
    assert "webhook teams: answered 202, payload accepted" in noted
    assert "webhook slack: answered 200, payload accepted" in noted
    secret = teams_url.rsplit("sig=", 1)[1]
    assert secret not in noted


def test_env_prints_only_shell_quoted_export_lines_and_returns_while_the_emulator_serves(started):
    begun = time.monotonic()
    finished = emulator("--env", "--webhooks", "--lifetime", LIFETIME)  # returns only once stdout and stderr close
    took = time.monotonic() - begun

    assert finished.returncode == 0, finished.stderr
    exports = {}
    for line in finished.stdout.splitlines():
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2, line
        name, value = words[1].split("=", 1)
        exports[name] = value
    pid = int(exports["EMULATOR_PID"])
    started.append(pid)
    assert set(exports) == {
        "ARM_ENDPOINT",
        "REQUESTS_CA_BUNDLE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "TEAMS_WEBHOOK_URL",
        "SLACK_WEBHOOK_URL",
        "NOTIFY_ALLOWED_HOSTS",
        "EMULATOR_PID",
    }
    assert "&" in exports["TEAMS_WEBHOOK_URL"]
    assert Path(exports["REQUESTS_CA_BUNDLE"]).is_file()
    assert is_running(pid)
    assert f"kill {pid}" in finished.stderr
    assert took < 60
    os.kill(pid, signal.SIGTERM)
    assert wait_until_stopped(pid)
    # A clean stop: the temporary CA and certificates go with it.
    assert not Path(exports["REQUESTS_CA_BUNDLE"]).exists()


def test_a_background_emulator_stops_by_itself_when_its_lifetime_ends(started):
    finished = emulator("--env", "--lifetime", "1")

    assert finished.returncode == 0, finished.stderr
    pid = int(finished.stdout.split("EMULATOR_PID=")[1].split()[0])
    started.append(pid)
    assert "for at most 1 s" in finished.stderr
    assert wait_until_stopped(pid)


def test_in_the_foreground_env_prints_the_exports_and_a_signal_stops_it_cleanly():
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "emulator", "--env", "--foreground", "--lifetime", LIFETIME],
        cwd=REPOSITORY,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(5)]
        assert lines[-1] == f"export EMULATOR_PID={process.pid}\n"
        ca_bundle = Path(shlex.split(next(line for line in lines if "REQUESTS_CA_BUNDLE" in line))[1].split("=", 1)[1])
        assert ca_bundle.is_file()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=45) == 0
        assert not ca_bundle.exists()
    finally:
        process.kill()
        process.communicate()


def test_a_failed_start_leaves_eval_failing_so_nothing_runs_against_a_real_tenant(tmp_path):
    missing = tmp_path / "no-such-scenario.json"

    direct = emulator("--env", "--scenario", str(missing))
    chained = bash('eval "$("$PY" -m emulator --env --scenario "$SCENARIO")" && echo "went on"', SCENARIO=str(missing))

    assert direct.returncode == 1
    assert direct.stdout == "false\n"
    assert "cannot load the tenant" in direct.stderr
    assert "went on" not in chained.stdout


def test_a_background_emulator_that_cannot_listen_says_why_and_eval_fails():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        finished = emulator("--env", "--port", str(taken.getsockname()[1]), "--lifetime", LIFETIME)

    assert finished.returncode == 1
    assert finished.stdout == "false\n"
    assert "the emulator did not start" in finished.stderr
    assert "Address already in use" in finished.stderr


def test_without_env_it_still_prints_one_json_line_for_scripts():
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "emulator", "--generate", "5", "--lifetime", LIFETIME],
        cwd=REPOSITORY,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        environment = json.loads(process.stdout.readline())
        assert environment["ARM_ENDPOINT"].startswith("https://localhost:")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=45) == 0
    finally:
        process.kill()
        process.communicate()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--foreground"], "--foreground only goes with --env"),
        (["--log", "x.log"], "--log only goes with --env"),
        (["--env", "--lifetime", "0"], "--lifetime must be a positive number"),
    ],
)
def test_option_mistakes_are_named(args, problem):
    finished = emulator(*args)

    assert finished.returncode == 2
    assert problem in finished.stderr
