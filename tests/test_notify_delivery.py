"""Delivery over real HTTPS to local Teams and Slack receivers: retries, limits, pacing, no leaked URLs."""

import itertools
import logging

import pytest
import requests

from emulator.webhooks import TEAMS_MAX_BYTES, Reply, WebhookReceivers
from shared.clouds import CLOUDS
from shared.models import AlertBatch, Finding, Report, Status, Subscription, SubscriptionResult
from shared.notify import (
    DeliveryPolicy,
    batch_from_report,
    deliver_batch,
    deliver_run_failure,
    deliver_test_message,
    load_notify_settings,
)
from shared.notify.preview import slack_text, teams_text

FAST = DeliveryPolicy(
    connect_timeout=2,
    read_timeout=2,
    channel_budget_seconds=5,
    backoff_seconds=0.01,
    max_backoff_seconds=0.05,
    slack_interval_seconds=0,
)
FINDING = Finding("contact-email", "No security contact email is set.", "Add an address under Email notifications.")


@pytest.fixture
def webhooks(monkeypatch):
    with WebhookReceivers() as receivers:
        # Trusted the way the ARM emulator's CA is: through REQUESTS_CA_BUNDLE.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(receivers.ca_path))
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        yield receivers


def settings(webhooks, **environ):
    problems = []
    loaded = load_notify_settings({**webhooks.environment(), **environ}, CLOUDS["azurecloud"], problems)
    assert problems == []
    return loaded


def failing_report(count, errors_every=0):
    results = []
    for n in range(count):
        sub = Subscription(f"00000000-0000-4000-8000-{n:012d}", f"app-{n:05d}", ("Root", f"Group {n % 40}"), "Enabled")
        if errors_every and n % errors_every == 0:
            results.append(SubscriptionResult(sub, Status.ERROR, (), "403 AuthorizationFailed"))
        else:
            results.append(SubscriptionResult(sub, Status.FAIL, (FINDING,)))
    return Report(("contoso",), tuple(results), "2026-11-25T02:00:00+00:00")


def batch(count=3):
    return batch_from_report(failing_report(count), settings_without_urls())


def settings_without_urls():
    return load_notify_settings({}, CLOUDS["azurecloud"], [])


def requests_on(webhooks, channel):
    return [r for r in webhooks.received if r.channel == channel]


def test_a_batch_reaches_both_channels_as_valid_payloads(webhooks):
    results = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert [(r.channel, r.host, r.ok, r.messages_sent, r.detail) for r in results] == [
        ("teams", "localhost", True, 1, "HTTP 202"),
        ("slack", "localhost", True, 1, "HTTP 200"),
    ]
    for channel, render in (("teams", teams_text), ("slack", slack_text)):
        (received,) = requests_on(webhooks, channel)
        assert received.problems == []
        assert received.headers["Content-Type"].startswith("application/json")
        assert "app-00001" in "\n".join(render(received.payload))


def test_a_5000_failure_tenant_is_delivered_as_at_most_5_valid_messages_per_channel(webhooks):
    tenant = failing_report(5_000, errors_every=9)

    results = deliver_batch(batch_from_report(tenant, settings_without_urls()), settings(webhooks), policy=FAST)

    assert [(r.channel, r.ok, r.messages_sent) for r in results] == [("teams", True, 5), ("slack", True, 5)]
    for received in webhooks.received:
        assert received.problems == []
        if received.channel == "teams":
            assert len(received.body) <= TEAMS_MAX_BYTES


def test_slack_429_waits_for_retry_after_then_delivers(webhooks):
    webhooks.expect("slack", Reply(429, "rate_limited", retry_after="1"))

    (result,) = [r for r in deliver_batch(batch(), settings(webhooks), policy=FAST) if r.channel == "slack"]

    first, second = requests_on(webhooks, "slack")
    assert result.ok and result.messages_sent == 1
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.9


def test_server_errors_are_retried(webhooks):
    webhooks.expect("teams", Reply(500), Reply(503))

    (result, _) = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert result.ok
    assert [r.status for r in requests_on(webhooks, "teams")] == [500, 503, 202]


def test_retry_after_may_be_an_http_date(webhooks):
    webhooks.expect("teams", Reply(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"))

    (result, _) = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert result.ok
    assert [r.status for r in requests_on(webhooks, "teams")] == [503, 202]


def test_other_4xx_is_final_and_the_other_channel_still_delivers(webhooks):
    webhooks.expect("slack", Reply(404, "channel_not_found"))
    webhooks.expect("teams", Reply(400, '{"error":{"code":"TriggerInputSchemaMismatch","message":"..."}}'))

    teams, slack = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert (slack.ok, slack.messages_sent, slack.detail) == (False, 0, "HTTP 404 channel_not_found")
    assert (teams.ok, teams.detail) == (False, "HTTP 400 TriggerInputSchemaMismatch")
    assert len(requests_on(webhooks, "slack")) == 1
    assert len(requests_on(webhooks, "teams")) == 1


def test_slack_failing_does_not_stop_teams(webhooks):
    webhooks.expect("slack", Reply(410, "channel_is_archived"))

    teams, slack = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert teams.ok and not slack.ok
    assert slack.detail == "HTTP 410 channel_is_archived"


def test_a_retry_after_beyond_the_channel_budget_gives_up_at_once(webhooks):
    webhooks.expect("slack", Reply(429, "rate_limited", retry_after="3600"))

    _, slack = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert not slack.ok
    assert slack.detail.startswith("HTTP 429 rate_limited (gave up")
    assert len(requests_on(webhooks, "slack")) == 1


def test_retries_are_bounded_by_attempts(webhooks):
    webhooks.expect("teams", *[Reply(500)] * 10)

    teams, _ = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert not teams.ok
    assert teams.detail == "HTTP 500 (gave up after 6 attempts)"
    assert len(requests_on(webhooks, "teams")) == 6


def test_a_timeout_is_retried(webhooks):
    webhooks.expect("teams", Reply(202, delay_seconds=1.0))
    quick = DeliveryPolicy(**{**FAST.__dict__, "read_timeout": 0.3})

    teams, _ = deliver_batch(batch(), settings(webhooks), policy=quick)

    assert teams.ok
    assert len(requests_on(webhooks, "teams")) == 2


def test_slow_answers_cannot_outlast_the_channel_budget(webhooks):
    webhooks.expect("teams", *[Reply(202, delay_seconds=2.0)] * 5)
    tight = DeliveryPolicy(**{**FAST.__dict__, "channel_budget_seconds": 0.5, "read_timeout": 10})

    teams, slack = deliver_batch(batch(), settings(webhooks), policy=tight)

    assert not teams.ok
    assert teams.detail == "timed out (gave up: retrying would exceed 0.5 s)"
    assert len(requests_on(webhooks, "teams")) == 1
    assert slack.ok


def test_a_failed_message_stops_its_channel_and_says_how_many_were_sent(webhooks):
    webhooks.expect("slack", Reply(200, "ok"), Reply(400, "invalid_payload"))
    many = batch_from_report(failing_report(300), settings_without_urls())

    _, slack = deliver_batch(many, settings(webhooks, NOTIFY_MAX_MESSAGES="4"), policy=FAST)

    assert (slack.ok, slack.messages_sent, slack.detail) == (False, 1, "HTTP 400 invalid_payload")
    assert len(requests_on(webhooks, "slack")) == 2


def test_slack_messages_are_paced(webhooks):
    paced = DeliveryPolicy(**{**FAST.__dict__, "slack_interval_seconds": 0.2})
    many = batch_from_report(failing_report(500), settings_without_urls())

    _, slack = deliver_batch(many, settings(webhooks, NOTIFY_MAX_MESSAGES="3"), policy=paced)

    times = [r.at for r in requests_on(webhooks, "slack")]
    assert slack.messages_sent == 3
    assert all(later - earlier >= 0.19 for earlier, later in itertools.pairwise(times))


def test_an_empty_batch_posts_nothing_unless_always(webhooks):
    empty = AlertBatch(failing_report(0), ())

    quiet = deliver_batch(empty, settings(webhooks), policy=FAST)
    assert [(r.ok, r.messages_sent) for r in quiet] == [(True, 0), (True, 0)]
    assert webhooks.received == []

    loud = deliver_batch(empty, settings(webhooks, NOTIFY_ALWAYS="true"), policy=FAST)
    assert [(r.ok, r.messages_sent) for r in loud] == [(True, 1), (True, 1)]
    assert "Nothing needs attention" in "\n".join(teams_text(requests_on(webhooks, "teams")[0].payload))


def test_no_configured_channel_means_no_results_and_no_requests(webhooks):
    assert deliver_batch(batch(), settings_without_urls(), policy=FAST) == []
    assert webhooks.received == []


def test_run_failure_and_test_messages_reach_both_channels(webhooks):
    failure = deliver_run_failure("could not read management group 'corp'", settings(webhooks), policy=FAST)
    test = deliver_test_message(settings(webhooks), policy=FAST)

    assert all(r.ok and r.messages_sent == 1 for r in failure + test)
    teams_failure = "\n".join(teams_text(requests_on(webhooks, "teams")[0].payload))
    slack_failure = "\n".join(slack_text(requests_on(webhooks, "slack")[0].payload))
    for text in (teams_failure, slack_failure):
        assert "The contact monitor could not run: could not read management group 'corp'" in text
    assert all(r.problems == [] for r in webhooks.received)


def test_an_untrusted_certificate_is_reported_not_retried(webhooks, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")

    teams, slack = deliver_batch(batch(), settings(webhooks), policy=FAST)

    assert not teams.ok and not slack.ok
    assert teams.detail == "TLS error (certificate not trusted?)"


def test_no_webhook_url_appears_in_logs_results_or_errors(webhooks, caplog):
    caplog.set_level(logging.DEBUG)
    secret = webhooks.secret
    webhooks.expect("slack", Reply(500, "rollup_error"), Reply(404, "channel_not_found"))
    webhooks.expect("teams", Reply(202, delay_seconds=1.0))
    quick = DeliveryPolicy(**{**FAST.__dict__, "read_timeout": 0.3})
    unreachable = settings(webhooks, SLACK_WEBHOOK_URL=f"https://localhost:9/slack/services/T/B/{secret}")

    results = [
        *deliver_batch(batch(), settings(webhooks), policy=quick),
        *deliver_test_message(unreachable, policy=quick),
        *deliver_run_failure("boom", settings(webhooks), policy=quick),
    ]

    assert not results[1].ok and not results[3].ok  # the failure paths ran
    for result in results:
        assert secret not in repr(result) and secret not in result.describe()
    assert secret not in repr(settings(webhooks))
    # urllib3 logs every request line at DEBUG: it was logged, with the secret part redacted.
    request_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("<redacted>" in line for line in request_lines)
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in str(record.args or "")
    assert secret not in caplog.text


def test_the_receiver_flags_what_teams_would_silently_drop(webhooks):
    oversized = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.5",
                    "body": [{"type": "TextBlock", "text": "x" * 30_000}],
                },
            }
        ],
    }

    response = requests.post(webhooks.teams_url, json=oversized, timeout=5)

    assert response.status_code == 202  # like Teams: accepted, then dropped
    assert any("MessageSizeExceeded" in p for p in webhooks.received[0].problems)
