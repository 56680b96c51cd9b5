"""`python -m shared check|demo`: reports on stdout, explanations on stderr, exit codes for CI."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shared.cli import main
from tests.conftest import TenantBuilder, good_contact, subscription_id

REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture
def tenant_with(emulator, use_tenant):
    def build(*contacts, **fields):
        builder = TenantBuilder()
        for number, contact in enumerate(contacts):
            builder.subscription(number, "corp", contact, **fields)
        use_tenant(builder)

    return build


def test_exit_code_is_0_when_every_subscription_passes(tenant_with, capsys):
    tenant_with(good_contact(), good_contact())

    assert main(["check"]) == 0
    assert "2 subscriptions: 2 pass, 0 fail, 0 error, 0 skipped" in capsys.readouterr().out


def test_exit_code_is_1_when_a_subscription_fails(tenant_with, capsys):
    tenant_with(good_contact(), None)

    assert main(["check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["fail"] == 1


def test_exit_code_is_2_when_a_subscription_cannot_be_checked(tenant_with):
    tenant_with(good_contact(), deny_contacts=True)

    assert main(["check"]) == 2


def test_exit_code_is_2_and_stderr_explains_when_the_run_fails(tenant_with, capsys):
    tenant_with(good_contact())

    assert main(["check", "--management-group", "no-such-group"]) == 2
    assert "could not read management group 'no-such-group'" in capsys.readouterr().err


def test_bad_configuration_exits_2_before_any_call(emulator, tenant_with, capsys, monkeypatch):
    tenant_with(good_contact())
    monkeypatch.setenv("MIN_ALERT_SEVERITY", "Severe")

    assert main(["check"]) == 2
    assert "MIN_ALERT_SEVERITY" in capsys.readouterr().err
    assert emulator.stats.snapshot()["armCalls"] == 0


def test_subscription_option_narrows_the_check(tenant_with, capsys):
    tenant_with(good_contact(), None)

    assert main(["check", "--subscription", subscription_id(0), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["subscriptionId"] for s in report["subscriptions"]] == [subscription_id(0)]


def test_the_table_lists_problems_first_with_their_fixes(tenant_with, capsys):
    tenant_with(good_contact(), good_contact(alerts_enabled=False))

    main(["check"])

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["STATUS", "SUBSCRIPTION"]
    assert lines[1].startswith("FAIL")
    assert any(line.strip().startswith("alert-notifications:") for line in lines)


def test_demo_runs_a_real_check_against_the_sample_tenant():
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    environment.pop("REQUESTS_CA_BUNDLE", None)

    finished = subprocess.run(
        [sys.executable, "-m", "shared", "demo", "--format", "json"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    counts = {key: report["summary"][key] for key in ("pass", "fail", "error", "skipped", "total")}
    assert counts == {"pass": 3, "fail": 5, "error": 1, "skipped": 1, "total": 10}
    assert "`check` would exit with 2" in finished.stderr


def test_every_line_the_demo_prints_fits_an_80_column_terminal():
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    for name in ("REQUESTS_CA_BUNDLE", "TEAMS_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "NOTIFY_ALLOWED_HOSTS"):
        environment.pop(name, None)
    environment["COLUMNS"] = "80"

    finished = subprocess.run(
        [sys.executable, "-m", "shared", "demo"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    printed = (finished.stdout + finished.stderr).splitlines()
    # Characters, not bytes: "…" and "─" are one column each but three bytes.
    too_wide = [line for line in printed if len(line) > 80]
    assert too_wide == []
    assert any(line.startswith("What `fix --email secops@contoso.com` would change") for line in printed)
    # The group column, too narrow for "… / Platform", shows every row's innermost group alike.
    assert any(line.startswith("FAIL     management-prod") and line.endswith("  Platform") for line in printed)
    assert any(line.startswith("FAIL     corp-finance") and line.endswith("  Corp") for line in printed)


def one_line_error(captured: str) -> str:
    assert "Traceback" not in captured
    errors = [line for line in captured.splitlines() if line.startswith("error: ")]
    assert errors, captured
    return errors[0]


def test_an_unreadable_ca_bundle_exits_2_with_a_short_message(tenant_with, capsys, monkeypatch, tmp_path):
    tenant_with(good_contact())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing-ca.pem"))

    assert main(["check"]) == 2
    assert "REQUESTS_CA_BUNDLE" in one_line_error(capsys.readouterr().err)


def test_a_refused_connection_exits_2_with_a_short_message(tenant_with, capsys, monkeypatch):
    tenant_with(good_contact())
    monkeypatch.setattr("shared.azure_clients.RETRY_BACKOFF_FACTOR", 0.01)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("ARM_ENDPOINT", f"https://127.0.0.1:{port}")

    assert main(["check"]) == 2
    assert "ServiceRequestError" in one_line_error(capsys.readouterr().err)


def test_an_unavailable_credential_exits_2_with_a_short_message(tenant_with, capsys, monkeypatch):
    tenant_with(good_contact())
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header-the-endpoint-expects")
    monkeypatch.setattr("shared.azure_clients.RETRY_BACKOFF_FACTOR", 0.01)

    assert main(["check"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "could not list management groups" in line
    assert "not-the-header" not in line


def test_a_run_that_only_skipped_exits_2_and_says_so(tenant_with, capsys, monkeypatch):
    tenant_with(good_contact())
    monkeypatch.setenv("EXCLUDE_SUBSCRIPTION_IDS", subscription_id(0))

    assert main(["check"]) == 2
    assert (
        one_line_error(capsys.readouterr().err) == "error: no subscription was checked: all 1 were skipped or excluded"
    )


def test_a_subscription_option_that_is_also_excluded_exits_2(tenant_with, capsys, monkeypatch):
    tenant_with(good_contact(), good_contact())
    monkeypatch.setenv("EXCLUDE_SUBSCRIPTION_IDS", subscription_id(0))

    assert main(["check", "--subscription", subscription_id(0)]) == 2
    assert "--subscription and EXCLUDE_SUBSCRIPTION_IDS both name" in capsys.readouterr().err


def test_at_80_and_100_columns_no_line_of_the_check_is_wider(emulator, use_tenant, capsys, monkeypatch):
    builder = TenantBuilder()
    for number in range(6):
        builder.subscription(number, "corp", None if number % 2 else good_contact())
    use_tenant(builder)

    for columns in (80, 100):
        monkeypatch.setenv("COLUMNS", str(columns))
        assert main(["check", "--all"]) == 1
        lines = capsys.readouterr().out.splitlines()
        assert max(len(line) for line in lines) <= columns
        statuses = [line.split()[0] for line in lines[1:] if line.startswith(("FAIL", "PASS"))]
        assert statuses == ["FAIL"] * 3 + ["PASS"] * 3


def test_an_escape_sequence_in_a_subscription_name_never_reaches_the_terminal(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    hostile = builder.subscription(0, "corp", None)
    builder.tenant.subscriptions[hostile].display_name = "prod\x1b[2J\x1b]8;;http://evil\x07\u202eeman"
    use_tenant(builder)

    main(["check"])

    out = capsys.readouterr().out
    assert "prod [2J ]8;;http://evil eman" in out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out


@pytest.mark.parametrize(("output_format", "marker"), [("html", "<!DOCTYPE html>"), ("csv", "status,subscriptionId")])
def test_the_report_can_be_written_to_a_file(tenant_with, capsys, tmp_path, output_format, marker):
    tenant_with(good_contact(), None)
    target = tmp_path / f"report.{output_format}"

    assert main(["check", "--format", output_format, "--output", str(target)]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert target.read_text(encoding="utf-8").startswith(marker)
    assert f"report written to {target} (2 subscriptions: 1 fail, 0 error)" in captured.err
    assert [path.name for path in tmp_path.iterdir()] == [target.name]


def test_an_output_folder_that_does_not_exist_exits_2_before_the_run(emulator, tenant_with, capsys, tmp_path):
    tenant_with(good_contact())

    assert main(["check", "--output", str(tmp_path / "missing" / "report.html")]) == 2
    assert "does not exist" in one_line_error(capsys.readouterr().err)
    assert emulator.stats.snapshot()["armCalls"] == 0


def test_a_setting_name_one_edit_away_is_named_on_stderr(tenant_with, capsys, monkeypatch):
    tenant_with(good_contact())
    monkeypatch.setenv("MANAGEMENT_GROUP_ID", "corp")

    assert main(["check"]) == 0
    assert (
        "warning: MANAGEMENT_GROUP_ID is not a setting and is ignored; did you mean MANAGEMENT_GROUP_IDS?"
        in capsys.readouterr().err
    )


def test_the_wrong_group_error_is_one_line_with_single_full_stops(tenant_with, capsys):
    tenant_with(good_contact())

    assert main(["check", "--management-group", "no-such-group"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert ".." not in line
    assert line.endswith(
        "Check the id and that the identity has Defender Contact Monitor Reader (or Security Reader) on it."
    )


def test_a_report_that_cannot_be_written_exits_2_and_leaves_no_partial_file(tenant_with, capsys, tmp_path):
    tenant_with(good_contact())
    (tmp_path / "report.html").mkdir()  # a folder where the file should go: the final move fails

    assert main(["check", "--format", "html", "--output", str(tmp_path / "report.html")]) == 2
    assert "could not write the report to" in one_line_error(capsys.readouterr().err)
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]
