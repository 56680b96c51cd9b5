"""`check --notify`, `--notify-dry-run`, `--notify-always` and `notify-test` against a real check and real receivers."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.card_image import BUNDLE as CARD_BUNDLE
from emulator.webhooks import Reply, WebhookReceivers
from shared.cli import main
from shared.notify.preview import slack_text, teams_text
from tests.conftest import TenantBuilder, good_contact
from tests.js.adaptive_cards import card_problems

REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.fixture
def webhooks(emulator, monkeypatch):
    # The receivers use the ARM emulator's CA, so the REQUESTS_CA_BUNDLE it set trusts both.
    with WebhookReceivers(emulator.certificates) as receivers:
        for name, value in receivers.environment().items():
            monkeypatch.setenv(name, value)
        yield receivers


def failing_tenant() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    builder.subscription(2, "corp", None)
    builder.subscription(3, "platform", good_contact(roles_enabled=False))
    return builder


def compliant_tenant() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    return builder


def json_documents(text: str) -> list[object]:
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text.strip()):
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
        while index < len(text) and text[index].isspace():
            index += 1
    return documents


def received_text(webhooks, channel):
    render = teams_text if channel == "teams" else slack_text
    return "\n".join(line for message in webhooks.messages(channel) for line in render(message.payload))


def test_check_notify_posts_a_real_runs_result_to_both_channels(use_tenant, webhooks, capsys):
    use_tenant(failing_tenant())

    code = main(["check", "--format", "json", "--notify"])

    captured = capsys.readouterr()
    report = json.loads(captured.out)
    alerted = {s["displayName"] for s in report["subscriptions"] if s["status"] in ("fail", "error")}
    assert code == 1
    assert alerted == {"sub-2", "sub-3"}
    assert "notify: teams (localhost): delivered 1 message(s), HTTP 202" in captured.err
    assert "notify: slack (localhost): delivered 1 message(s), HTTP 200" in captured.err
    for channel in ("teams", "slack"):
        text = received_text(webhooks, channel)
        assert all(name in text for name in alerted)
        assert "sub-1 " not in text
    assert all(r.problems == [] for r in webhooks.received)
    cards = [m.payload["attachments"][0]["content"] for m in webhooks.messages("teams")]
    assert card_problems(cards) == [[]]


def test_an_undelivered_alert_exits_2_naming_the_channel_and_its_answer_but_not_the_url(use_tenant, webhooks, capsys):
    use_tenant(failing_tenant())
    webhooks.expect("slack", Reply(404, "channel_not_found"))

    code = main(["check", "--notify"])

    err = capsys.readouterr().err
    assert code == 2
    assert "error: notify: slack (localhost): NOT delivered" in err
    assert "HTTP 404 channel_not_found" in err
    assert "notify: teams (localhost): delivered" in err
    assert webhooks.secret not in err


def test_a_json_dry_run_writes_one_document_to_stdout_and_the_payloads_to_stderr(use_tenant, webhooks, capsys):
    use_tenant(failing_tenant())

    code = main(["check", "--format", "json", "--notify-dry-run"])

    captured = capsys.readouterr()
    (report,) = json_documents(captured.out)
    (payloads,) = json_documents(captured.err[captured.err.index("{") :])
    assert code == 1
    assert report["summary"]["fail"] == 2
    assert set(payloads) == {"teams", "slack"}
    assert payloads["teams"][0]["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert "sub-2" in json.dumps(payloads["slack"])
    assert webhooks.received == []


def test_a_table_dry_run_prints_the_payloads_after_the_table(use_tenant, webhooks, capsys):
    use_tenant(failing_tenant())

    main(["check", "--notify-dry-run"])

    out = capsys.readouterr().out
    table, payloads = out.split("\n{", 1)
    assert "2 fail" in table
    assert set(json.loads("{" + payloads)) == {"teams", "slack"}
    assert webhooks.received == []


def test_a_compliant_run_posts_nothing_unless_notify_always(use_tenant, webhooks, capsys):
    use_tenant(compliant_tenant())

    assert main(["check", "--notify"]) == 0
    assert webhooks.received == []
    assert "notify: teams (localhost): delivered 0 message(s), nothing to report" in capsys.readouterr().err

    assert main(["check", "--notify", "--notify-always"]) == 0
    assert "Every checked subscription passes." in received_text(webhooks, "teams")
    assert "Every checked subscription passes." in received_text(webhooks, "slack")


def test_a_run_that_fails_tells_the_channels_why(use_tenant, webhooks, capsys):
    use_tenant(compliant_tenant())

    code = main(["check", "--management-group", "no-such-group", "--notify"])

    assert code == 2
    for channel in ("teams", "slack"):
        text = received_text(webhooks, channel)
        assert "The contact monitor could not run:" in text
        assert "no-such-group" in text


def test_notify_without_a_configured_channel_exits_2(use_tenant, emulator, capsys):
    use_tenant(failing_tenant())

    assert main(["check", "--notify"]) == 2
    assert "no chat channel is configured" in capsys.readouterr().err


def test_notify_test_says_what_each_endpoint_answered(webhooks, capsys):
    assert main(["notify-test"]) == 0
    err = capsys.readouterr().err
    assert "teams (localhost): delivered 1 message(s), HTTP 202" in err
    assert "slack (localhost): delivered 1 message(s), HTTP 200" in err
    assert "Test message" in received_text(webhooks, "slack")

    webhooks.expect("slack", Reply(410, "channel_is_archived"))
    assert main(["notify-test"]) == 2
    assert "slack (localhost): NOT delivered (0 message(s) sent before the failure): HTTP 410 channel_is_archived" in (
        capsys.readouterr().err
    )


def test_notify_test_against_a_refused_connection_answers_within_20_s(webhooks, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhooks.refused_url)
    started = time.monotonic()

    code = main(["notify-test"])

    assert time.monotonic() - started < 20
    assert code == 2
    assert "slack (localhost): NOT delivered" in capsys.readouterr().err


def test_check_notify_with_both_channels_failing_hard_ends_within_45_s_and_exits_2(use_tenant, webhooks, capsys):
    use_tenant(failing_tenant())
    # Teams answers 500 to every attempt; Slack dribbles one byte every 5 s. The real delivery policy.
    webhooks.expect("teams", *[Reply(500, "boom")] * 20)
    webhooks.expect("slack", *[Reply(200, "ok", drip_seconds=5)] * 20)
    started = time.monotonic()

    code = main(["check", "--notify"])

    assert time.monotonic() - started < 45
    assert code == 2
    err = capsys.readouterr().err
    assert "error: notify: teams (localhost): NOT delivered" in err
    assert "error: notify: slack (localhost): NOT delivered" in err


def test_notify_test_reports_bad_settings_without_the_url(emulator, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.example.com/services/T/B/SECRETVALUE")

    assert main(["notify-test"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_WEBHOOK_URL points at host 'hooks.example.com'" in err
    assert "SECRETVALUE" not in err


def test_the_demo_previews_one_message_and_writes_both_payloads_to_files_it_names(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    for name in ("REQUESTS_CA_BUNDLE", "TEAMS_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "NOTIFY_ALLOWED_HOSTS"):
        environment.pop(name, None)
    environment["COLUMNS"] = "100"

    finished = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "shared", "demo", "--files", str(tmp_path)],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert "teams (localhost): delivered 1 message(s), HTTP 202" in finished.stderr
    assert "slack (localhost): delivered 1 message(s), HTTP 200" in finished.stderr
    assert finished.stderr.count("── Teams message 1 of 1") == 1
    assert "── Slack" not in finished.stderr
    teams, slack = tmp_path / "teams-message-1.json", tmp_path / "slack-message-1.json"
    assert f"  {teams}\n  {slack}\n" in finished.stderr
    assert json.loads(teams.read_text())["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert "corp-hr" in slack.read_text()
    if shutil.which("chromium") and CARD_BUNDLE.exists():
        png = tmp_path / "teams-message-1.png"
        assert f"  {png}\n" in finished.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Each rule's fix text is printed once (the table's "How to fix"), not once per message and channel.
    assert (finished.stdout + finished.stderr).count("tick 'All users with the following roles'") == 1
    assert len((finished.stdout + finished.stderr).splitlines()) < 110
