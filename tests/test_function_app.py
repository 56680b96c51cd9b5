"""The Functions app as the host sees and calls it.

Bindings are read back the way the host receives them; the user functions are invoked with
azure.functions TimerRequest / HttpRequest against the ARM emulator (real SDK, real
DefaultAzureCredential through the emulated managed identity), Azurite for alert state, and
local HTTPS webhook receivers for Teams and Slack.
"""

import asyncio
import json
import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import azure.functions as func
import pytest
from azure.data.tables import TableClient
from azure.functions.timer import TimerRequest

import function_app
from emulator.faults import Fault
from emulator.webhooks import Reply
from shared.alerts.store import StateUnavailable
from shared.config import load_settings
from shared.errors import ConfigError, RunFailed
from shared.monitor import DeliveryFailed
from shared.notify.settings import MAX_MESSAGES_LIMIT
from shared.run_budget import FUNCTION_TIMEOUT_SECONDS, run_budget_seconds
from tests.conftest import TenantBuilder, good_contact, subscription_id

pytest_plugins = ("tests.azurite", "tests.app_fixtures")

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = ("teams", "slack")


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def summaries(caplog):
    """The one-line JSON run summaries the monitor logged, oldest first."""
    caplog.set_level(logging.INFO, logger="shared.monitor")

    def read() -> list[dict]:
        prefix = "run summary "
        return [
            json.loads(record.getMessage()[len(prefix) :])
            for record in caplog.records
            if record.name == "shared.monitor" and record.getMessage().startswith(prefix)
        ]

    return read


def run_timer(past_due: bool = False) -> None:
    user_function = function_app.scheduled_check.build().get_user_function()
    asyncio.run(user_function(TimerRequest(past_due=past_due)))


def call_http(method: str, query: str = "", body: bytes = b"", headers: dict | None = None) -> func.HttpResponse:
    request = func.HttpRequest(
        method, f"https://app.example/api/check{query}", headers=headers or {}, params={}, body=body
    )
    user_function = function_app.check.build().get_user_function()
    return asyncio.run(user_function(request))


def posted(hooks, channel: str = "teams") -> list[str]:
    """Every message a channel accepted, as text to search."""
    return [json.dumps(message.payload) for message in hooks.messages(channel)]


def counts(hooks) -> dict[str, int]:
    return {channel: len(hooks.messages(channel)) for channel in CHANNELS}


def four_subscriptions() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    builder.subscription(2, "corp", good_contact(emails=[]))
    builder.subscription(3, "platform", good_contact(roles_enabled=False))
    builder.subscription(4, "platform", good_contact())
    return builder


# -- bindings as the host receives them -----------------------------------------------------------


def raw_bindings() -> dict[str, list[dict]]:
    return {
        function.get_function_name(): [json.loads(raw) for raw in function.get_raw_bindings()]
        for function in function_app.app.get_functions()
    }


def test_the_app_has_a_timer_on_the_check_schedule_setting_and_an_http_check():
    assert raw_bindings() == {
        "scheduled_check": [
            {
                "direction": "IN",
                "type": "timerTrigger",
                "name": "timer",
                "schedule": "%CHECK_SCHEDULE%",
                "runOnStartup": False,
                "useMonitor": True,
            }
        ],
        "check": [
            {
                "direction": "IN",
                "type": "httpTrigger",
                "name": "req",
                "methods": ["GET", "POST"],
                "authLevel": "FUNCTION",
                "route": "check",
            },
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
    }


def test_host_json_gives_the_run_deadline_and_delivery_room_within_the_function_timeout():
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    timeout = hours * 3600 + minutes * 60 + seconds
    defaults = load_settings({})

    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    # The settings check measures against the same timeout, and the defaults fit with room to spare.
    assert timeout == FUNCTION_TIMEOUT_SECONDS
    assert run_budget_seconds(defaults.run_timeout_seconds, defaults.notify.max_messages) < timeout
    assert run_budget_seconds(defaults.run_timeout_seconds, MAX_MESSAGES_LIMIT) <= timeout
    # The run summary is a trace from the function's own logger: kept at Information and never sampled away.
    logging_settings = host["logging"]
    assert logging_settings["logLevel"]["Function"] == "Information"
    assert "Trace" in logging_settings["applicationInsights"]["samplingSettings"]["excludedTypes"].split(";")


def test_the_sdks_request_logging_stays_out_of_application_insights():
    # Only the app's own INFO lines (the run summary) reach the host; the SDKs' per-request lines do not.
    assert logging.getLogger("azure.core.pipeline.policies.http_logging_policy").getEffectiveLevel() == logging.WARNING


# -- the timer ------------------------------------------------------------------------------------


def test_three_timer_runs_post_new_failures_then_nothing_then_what_was_fixed_and_what_broke(
    app_settings, use_tenant, hooks, summaries
):
    tenant = use_tenant(four_subscriptions())

    run_timer()
    first = posted(hooks)
    assert counts(hooks) == {"teams": 1, "slack": 1}
    assert "sub-2" in first[0] and "sub-3" in first[0]
    assert "sub-1" not in first[0] and "sub-4" not in first[0]

    run_timer()
    assert counts(hooks) == {"teams": 1, "slack": 1}  # nothing new: nothing posted

    tenant.subscriptions[subscription_id(2)].contact = good_contact()  # fixed
    tenant.subscriptions[subscription_id(4)].contact = good_contact(alerts_enabled=False)  # broken
    run_timer()
    assert counts(hooks) == {"teams": 2, "slack": 2}
    third = posted(hooks)[1]
    assert "sub-2" in third and "sub-4" in third and "sub-3" not in third

    alerts = [summary["alerts"] for summary in summaries()]
    assert alerts == [
        {"new": 2, "reminder": 0, "resolved": 0},
        {"new": 0, "reminder": 0, "resolved": 0},
        {"new": 1, "reminder": 0, "resolved": 1},
    ]


def test_an_unchanged_failure_is_posted_again_as_a_reminder_once_the_period_has_passed(
    app_settings, use_tenant, hooks, summaries
):
    use_tenant(four_subscriptions())
    run_timer()
    # Age the stored alerts past REMIND_AFTER_HOURS (168 by default), as a week of quiet runs would.
    table = TableClient.from_connection_string(
        app_settings["STATE_CONNECTION_STRING"], app_settings["STATE_TABLE_NAME"]
    )
    with table:
        for entity in table.query_entities("PartitionKey eq 'subscription'"):
            entity["LastNotified"] = entity["LastNotified"] - timedelta(hours=168)
            table.update_entity(entity)

    run_timer()
    run_timer()

    assert counts(hooks) == {"teams": 2, "slack": 2}
    assert "sub-2" in posted(hooks)[1] and "sub-3" in posted(hooks)[1]
    assert [summary["alerts"]["reminder"] for summary in summaries()] == [0, 2, 0]


def test_the_run_summary_is_one_structured_line_with_counts_duration_and_arm_calls(app_settings, use_tenant, summaries):
    use_tenant(four_subscriptions())

    run_timer()

    (summary,) = summaries()
    assert summary["event"] == "contact-monitor-run"
    assert summary["trigger"] == "timer"
    assert summary["outcome"] == "completed"
    assert summary["subscriptions"]["fail"] == 2 and summary["subscriptions"]["total"] == 4
    assert summary["armCalls"] > 0
    assert summary["durationSeconds"] >= 0
    assert summary["channels"] == {"teams": "ok", "slack": "ok"}
    assert summary["state"] == "on" and summary["stateAdvanced"] is True


def test_a_channel_that_fails_delivery_gets_the_alert_again_on_the_next_run(app_settings, use_tenant, hooks, summaries):
    use_tenant(four_subscriptions())
    # Every attempt of the first delivery answers 500 (Retry-After 0 keeps the retries quick).
    hooks.expect("teams", *[Reply(500, "boom", retry_after="0")] * 6)

    with pytest.raises(DeliveryFailed, match="teams"):
        run_timer()
    assert counts(hooks) == {"teams": 0, "slack": 1}

    run_timer()  # the state did not advance, so both failures are new again, on every channel
    assert counts(hooks) == {"teams": 1, "slack": 2}
    assert "sub-2" in posted(hooks)[0] and "sub-3" in posted(hooks)[0]

    run_timer()
    assert counts(hooks) == {"teams": 1, "slack": 2}
    assert [summary["stateAdvanced"] for summary in summaries()] == [False, True, True]


def test_two_concurrent_runs_leave_consistent_state(app_settings, emulator, use_tenant, hooks, summaries):
    use_tenant(four_subscriptions())
    emulator.latency_ms = 100  # long enough for the runs to overlap
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_timer()
        except Exception as error:  # noqa: BLE001 - reported below, from the main thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emulator.latency_ms = 0

    assert errors == []
    # Each failure was posted at least once (twice when both runs read the state before either wrote it)...
    assert 1 <= counts(hooks)["teams"] <= 2
    assert all("sub-2" in text and "sub-3" in text for text in posted(hooks))
    # ...and the state is whole: the next run has nothing to say.
    run_timer()
    assert summaries()[-1]["alerts"] == {"new": 0, "reminder": 0, "resolved": 0}
    conflicts = sum(summary["stateConflicts"] for summary in summaries()[:2])
    assert conflicts in (0, 2)  # both created the same two rows (one run lost both races) or they did not overlap


def test_storage_going_away_mid_run_still_posts_and_fails_the_run(
    app_settings, emulator, use_tenant, hooks, monkeypatch, summaries, private_azurite
):
    use_tenant(four_subscriptions())
    monkeypatch.setenv("STATE_CONNECTION_STRING", private_azurite.connection_string)
    emulator.latency_ms = 150
    raised: list[BaseException] = []

    def run() -> None:
        try:
            run_timer()
        except Exception as error:  # noqa: BLE001 - examined below, from the main thread
            raised.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    # The state is read after the check, so stopping storage once ARM is being read is mid-run.
    while emulator.stats.snapshot()["armCalls"] == 0 and thread.is_alive():
        time.sleep(0.01)
    private_azurite.stop()
    thread.join()
    emulator.latency_ms = 0

    (error,) = raised
    assert isinstance(error, StateUnavailable)
    assert "AccountKey" not in str(error)
    # At least once: with the state unreadable, every problem is posted rather than none.
    assert counts(hooks) == {"teams": 1, "slack": 1}
    assert "sub-2" in posted(hooks)[0] and "sub-3" in posted(hooks)[0]
    assert summaries()[-1]["outcome"] == "failed"


def test_subscriptions_not_checked_before_the_deadline_are_posted_as_errors(
    app_settings, emulator, use_tenant, hooks, monkeypatch, summaries
):
    use_tenant(four_subscriptions())
    monkeypatch.setenv("RUN_TIMEOUT_SECONDS", "5")
    # Contact reads are throttled with a long Retry-After, so no subscription finishes in time.
    emulator.add_fault(Fault(match="securityContacts", status=429, times=None, retry_after=30))

    run_timer()

    (summary,) = summaries()
    assert summary["outcome"] == "completed"
    assert summary["subscriptions"]["error"] == 4
    assert summary["alerts"]["new"] == 4
    assert "not checked before the deadline" in posted(hooks)[0]


def test_a_run_that_cannot_read_its_scope_is_announced_once_per_reminder_period_and_recorded_as_failed(
    app_settings, use_tenant, hooks, monkeypatch, summaries
):
    use_tenant(four_subscriptions())
    monkeypatch.setenv("MANAGEMENT_GROUP_IDS", "no-such-group")

    with pytest.raises(RunFailed):
        run_timer()
    with pytest.raises(RunFailed):
        run_timer()

    assert counts(hooks) == {"teams": 1, "slack": 1}
    assert "could not run" in posted(hooks)[0]
    assert [summary["outcome"] for summary in summaries()] == ["failed", "failed"]

    monkeypatch.delenv("MANAGEMENT_GROUP_IDS")
    run_timer()  # recovers: the failures are posted, and the next run failure is announced straight away
    monkeypatch.setenv("MANAGEMENT_GROUP_IDS", "no-such-group")
    with pytest.raises(RunFailed):
        run_timer()
    assert counts(hooks) == {"teams": 3, "slack": 3}


def test_an_identity_that_cannot_get_a_token_fails_the_run_and_is_announced(
    app_settings, use_tenant, hooks, monkeypatch, summaries
):
    use_tenant(four_subscriptions())
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-emulators-secret")

    with pytest.raises(RunFailed, match="token") as raised:
        run_timer()

    assert counts(hooks) == {"teams": 1, "slack": 1}
    assert "could not run" in posted(hooks)[0]
    assert summaries()[0]["outcome"] == "failed"
    assert "not-the-emulators-secret" not in str(raised.value) + posted(hooks)[0]


def test_invalid_settings_fail_the_run_and_still_reach_the_channels(app_settings, hooks, monkeypatch):
    monkeypatch.setenv("CHECK_CONCURRENCY", "lots")
    monkeypatch.setenv("REMIND_AFTER_HOURS", "0")

    with pytest.raises(ConfigError) as raised:
        run_timer()

    assert len(raised.value.problems) == 2
    assert counts(hooks) == {"teams": 1, "slack": 1}
    assert "CHECK_CONCURRENCY" in posted(hooks)[0]


def test_without_state_every_failure_is_posted_on_every_run(app_settings, use_tenant, hooks, monkeypatch, caplog):
    use_tenant(four_subscriptions())
    monkeypatch.delenv("STATE_CONNECTION_STRING")

    run_timer()
    run_timer()

    assert counts(hooks) == {"teams": 2, "slack": 2}
    assert "alert state is off" in caplog.text


def test_a_misspelt_setting_name_is_warned_about_in_the_run_summary(app_settings, use_tenant, summaries, monkeypatch):
    use_tenant(four_subscriptions())
    monkeypatch.setenv("MANAGEMENT_GROUP_ID", "corp")

    run_timer()

    assert summaries()[0]["settingWarnings"] == [
        "MANAGEMENT_GROUP_ID is not a setting and is ignored; did you mean MANAGEMENT_GROUP_IDS?"
    ]


def test_a_schedule_the_missed_run_alert_cannot_watch_is_warned_about_in_the_run_summary(
    app_settings, use_tenant, summaries, monkeypatch
):
    use_tenant(four_subscriptions())
    monkeypatch.setenv("CHECK_SCHEDULE", "0 0 7 * * MON-FRI")

    run_timer()

    (warning,) = summaries()[0]["settingWarnings"]
    assert warning.startswith("CHECK_SCHEDULE does not run every day (its day-of-week field is 'MON-FRI')")


def test_a_past_due_timer_run_is_marked_in_the_summary(app_settings, use_tenant, summaries):
    use_tenant(four_subscriptions())

    run_timer(past_due=True)

    assert summaries()[0]["trigger"] == "timer-past-due"


def test_webhook_urls_and_the_storage_key_never_reach_the_log(app_settings, use_tenant, hooks, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    use_tenant(four_subscriptions())
    hooks.expect("slack", *[Reply(500, retry_after="0")] * 6)

    with pytest.raises(DeliveryFailed) as raised:
        run_timer()

    key = app_settings["STATE_CONNECTION_STRING"].split("AccountKey=")[1].split(";")[0]
    for text in (caplog.text, str(raised.value)):
        assert hooks.secret not in text
        assert key not in text


# -- the HTTP check -------------------------------------------------------------------------------


def test_an_on_demand_check_returns_the_json_report_and_posts_nothing(app_settings, use_tenant, hooks, summaries):
    use_tenant(four_subscriptions())

    response = call_http("GET")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = json.loads(response.get_body())
    assert document["summary"]["fail"] == 2
    assert document["exitCode"] == 1
    assert counts(hooks) == {"teams": 0, "slack": 0}
    assert summaries()[0]["outcome"] == "checked" and summaries()[0]["notify"] is False


def test_repeated_subscription_parameters_narrow_the_check(app_settings, use_tenant):
    use_tenant(four_subscriptions())

    response = call_http("GET", f"?subscription={subscription_id(1)}&subscription={subscription_id(3)}&format=json")

    ids = [entry["subscriptionId"] for entry in json.loads(response.get_body())["subscriptions"]]
    assert sorted(ids) == [subscription_id(1), subscription_id(3)]


def test_notify_true_posts_through_the_same_alert_state_as_the_timer(app_settings, use_tenant, hooks):
    use_tenant(four_subscriptions())

    first = call_http("POST", body=b'{"notify": true}', headers={"Content-Type": "application/json"})
    run_timer()

    assert first.status_code == 200
    assert counts(hooks) == {"teams": 1, "slack": 1}  # the timer found nothing new after the manual run


def notices(hooks, channel: str) -> list[str]:
    return [text for text in posted(hooks, channel) if "Defender Contact Monitor is live" in text]


def test_announce_posts_one_live_notice_to_every_channel_then_the_alerts_and_answers_what_each_got(
    app_settings, use_tenant, hooks, summaries
):
    use_tenant(four_subscriptions())

    response = call_http("GET", "?format=table&announce=true")

    assert response.status_code == 200
    text = response.get_body().decode()
    for channel in CHANNELS:
        [notice] = notices(hooks, channel)
        assert "Checked 4 subscriptions in " in notice and "2 need attention" in notice
        assert len(hooks.messages(channel)) == 2  # the notice, then the alerts as usual
        assert "is live" in json.dumps(hooks.messages(channel)[0].payload)
    channels = text[text.index("Chat channels:") :]
    assert channels.count("live notice: delivered 1 message(s)") == 2
    assert channels.count("alerts: delivered 1 message(s)") == 2
    assert hooks.secret not in text
    assert summaries()[0]["announced"] == {"teams": "ok", "slack": "ok"}


def test_the_live_notice_names_the_requested_scope_by_its_display_name(app_settings, use_tenant, hooks):
    use_tenant(four_subscriptions())

    response = call_http("GET", "?managementGroup=platform&announce=true")

    document = json.loads(response.get_body())
    [notice] = [message.payload for message in hooks.messages("slack") if "is live" in json.dumps(message.payload)]
    assert notice["text"] == "Defender Contact Monitor is live: Checked 2 subscriptions in Platform, 1 needs attention."
    assert [entry["channel"] for entry in document["channels"]] == ["teams", "slack"]
    assert all(entry["notice"]["delivered"] and entry["alerts"]["delivered"] for entry in document["channels"])


def test_a_channel_refusing_the_live_notice_is_in_the_answer_and_does_not_fail_the_check(
    app_settings, use_tenant, hooks, summaries
):
    use_tenant(four_subscriptions())
    hooks.expect("slack", Reply(404, "channel_not_found"))  # the notice; the alerts then go through

    response = call_http("GET", "?announce=true")

    assert response.status_code == 200
    slack = json.loads(response.get_body())["channels"][1]
    assert slack["notice"]["delivered"] is False and "channel_not_found" in slack["notice"]["detail"]
    assert slack["alerts"]["delivered"] is True
    assert summaries()[0]["announced"] == {"teams": "ok", "slack": "failed"}


def test_alerts_that_fail_with_announce_answer_502_with_what_each_channel_got(app_settings, use_tenant, hooks):
    use_tenant(four_subscriptions())
    hooks.expect("teams", Reply(202), *[Reply(500, "boom", retry_after="0")] * 6)

    response = call_http("GET", "?announce=true")

    assert response.status_code == 502
    teams = json.loads(response.get_body())["channels"][0]
    assert teams["notice"]["delivered"] is True and teams["alerts"]["delivered"] is False


def test_announce_without_a_channel_says_nothing_was_posted(app_settings, use_tenant, hooks, monkeypatch):
    use_tenant(four_subscriptions())
    for name in ("TEAMS_WEBHOOK_URL", "SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name)

    response = call_http("GET", "?format=table&announce=true")

    assert response.status_code == 200
    assert "Chat channels: none configured" in response.get_body().decode()


def test_a_partial_on_demand_check_does_not_resolve_subscriptions_it_did_not_look_at(
    app_settings, use_tenant, hooks, summaries
):
    use_tenant(four_subscriptions())
    run_timer()

    call_http("GET", f"?subscription={subscription_id(1)}&notify=true")
    run_timer()

    assert counts(hooks) == {"teams": 1, "slack": 1}
    assert [summary["alerts"]["resolved"] for summary in summaries()] == [0, 0, 0]


def test_the_html_format_is_a_page(app_settings, use_tenant):
    use_tenant(four_subscriptions())

    response = call_http("GET", "?format=html")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "sub-2" in response.get_body().decode()
    assert response.get_body().decode().count('href="https://portal.azure.com/#view/') == 4


@pytest.mark.parametrize(
    ("query", "body", "problem"),
    [
        ("?colour=red", b"", "unknown query parameter"),
        ("?subscription=not-a-guid", b"", "subscription"),
        ("?managementGroup=corp%3Bdrop", b"", "managementGroup"),
        ("?managementGroup=" + "&managementGroup=".join(f"g{n}" for n in range(101)), b"", "at most 100"),
        ("", b"{not json", "JSON"),
        ("?format=xml", b"", "format"),
        ("?notify=perhaps", b"", "notify"),
        ("?announce=yes", b"", "announce"),
        ("?announce=true&notify=false", b"", "announce"),
    ],
)
def test_bad_requests_get_a_400_with_a_json_error(app_settings, hooks, query, body, problem):
    method = "POST" if body else "GET"

    response = call_http(method, query, body, {"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert problem in json.loads(response.get_body())["error"]
    assert counts(hooks) == {"teams": 0, "slack": 0}


def test_a_run_failure_is_a_502_with_the_reason_and_not_announced_when_notify_is_off(app_settings, use_tenant, hooks):
    use_tenant(four_subscriptions())

    response = call_http("GET", "?managementGroup=no-such-group")

    assert response.status_code == 502
    assert "no-such-group" in json.loads(response.get_body())["error"]
    assert counts(hooks) == {"teams": 0, "slack": 0}


def test_asking_to_notify_about_an_excluded_subscription_is_a_400_and_posts_nothing(
    app_settings, use_tenant, hooks, monkeypatch
):
    use_tenant(four_subscriptions())
    monkeypatch.setenv("EXCLUDE_SUBSCRIPTION_IDS", subscription_id(2))

    response = call_http("GET", f"?subscription={subscription_id(2)}&notify=true")

    assert response.status_code == 400
    assert counts(hooks) == {"teams": 0, "slack": 0}  # the caller's mistake is not a monitor failure


def test_invalid_app_settings_are_a_503_listing_the_problems(app_settings, monkeypatch):
    monkeypatch.setenv("REMIND_AFTER_HOURS", "never")

    response = call_http("GET")

    assert response.status_code == 503
    assert any("REMIND_AFTER_HOURS" in problem for problem in json.loads(response.get_body())["problems"])


# -- partial delivery and the message cap over several timer runs ------------------------------------


def failing_tenant(count: int) -> TenantBuilder:
    builder = TenantBuilder()
    for number in range(1, count + 1):
        builder.subscription(number, ("corp", "platform")[number % 2], good_contact(emails=[]))
    return builder


def named_in_run(hooks, since: dict[str, int]) -> dict[str, set[str]]:
    """Per channel, the subscription ids named in the messages accepted since `since` (message counts)."""
    named = {}
    for channel in CHANNELS:
        text = "\n".join(json.dumps(m.payload) for m in hooks.messages(channel)[since[channel] :])
        named[channel] = {sid for sid in ALL_IDS if sid in text}
    return named


ALL_IDS = [subscription_id(number) for number in range(1, 401)]


def test_with_400_failures_and_one_message_per_run_every_subscription_is_named_within_15_runs(
    app_settings, use_tenant, hooks, monkeypatch, summaries
):
    use_tenant(failing_tenant(400))
    monkeypatch.setenv("NOTIFY_MAX_MESSAGES", "1")
    told: set[str] = set()
    runs = 0

    while len(told) < 400 and runs < 20:
        before = counts(hooks)
        run_timer()
        runs += 1
        named = named_in_run(hooks, before)
        both = named["teams"] & named["slack"]
        assert both, f"run {runs} named nobody on both channels"
        assert not both & told, f"run {runs} named again what every channel was already told"
        told |= both

    assert told == set(ALL_IDS)
    assert runs <= 15
    pending = [summary["alertsPending"] for summary in summaries()]
    assert pending[0] == 400 - summaries()[0]["alertsTold"] and pending[-1] == 0
    assert pending == sorted(pending, reverse=True)
    assert all(summary["outcome"] == "completed" for summary in summaries())  # a full message is not a failure
    before = counts(hooks)
    run_timer()
    assert counts(hooks) == before  # everyone told: nothing left to say


def test_a_partly_delivered_run_records_what_every_channel_was_told_and_the_retry_sends_only_the_rest(
    app_settings, use_tenant, hooks, monkeypatch, summaries
):
    use_tenant(failing_tenant(250))  # large enough for two messages per channel
    monkeypatch.setenv("NOTIFY_MAX_MESSAGES", "3")
    # Slack takes the first message, then refuses the second for good (the rest are not tried).
    hooks.expect("slack", Reply(200, "ok"), Reply(404, "channel_not_found"))

    with pytest.raises(DeliveryFailed, match="slack") as raised:
        run_timer()
    first = named_in_run(hooks, {"teams": 0, "slack": 0})
    told_first = first["teams"] & first["slack"]
    assert told_first and len(told_first) < len(first["teams"])
    assert f"{len(told_first)} alert(s) reached every channel" in str(raised.value)

    before = counts(hooks)
    run_timer()
    second = named_in_run(hooks, before)

    told_second = second["teams"] & second["slack"]
    assert told_second
    assert not (second["teams"] | second["slack"]) & told_first  # the retry names only what did not reach every channel
    first_summary, second_summary = summaries()
    assert (first_summary["alertsTold"], first_summary["alertsPending"]) == (len(told_first), 250 - len(told_first))
    assert first_summary["stateAdvanced"] is True and first_summary["outcome"] == "failed"
    assert second_summary["alertsTold"] == len(told_second)
    assert second_summary["outcome"] == "completed"


def test_resolved_subscriptions_left_out_by_the_message_cap_are_named_by_the_next_runs(
    app_settings, use_tenant, hooks, monkeypatch, summaries
):
    tenant = use_tenant(failing_tenant(120))
    for _ in range(8):  # name every failure first (a few runs: the alert grows by a message per 200 entries)
        run_timer()
        if summaries()[-1]["alertsPending"] == 0:
            break
    assert summaries()[-1]["alertsPending"] == 0
    start = len(summaries())
    for number in range(1, 121):
        tenant.subscriptions[subscription_id(number)].contact = good_contact()
    monkeypatch.setenv("NOTIFY_MAX_MESSAGES", "1")
    resolved: set[str] = set()

    for _ in range(6):
        before = counts(hooks)
        run_timer()
        named = named_in_run(hooks, before)
        both = named["teams"] & named["slack"]
        assert not both & resolved  # each run names only what was not yet told
        resolved |= both
        if summaries()[-1]["alertsPending"] == 0:
            break

    assert resolved == set(ALL_IDS[:120])
    assert 2 <= len(summaries()) - start <= 6  # the cap did make it take more than one run
    assert summaries()[start]["alerts"]["resolved"] == 120  # the first resolving run decided all of them
    table = TableClient.from_connection_string(
        app_settings["STATE_CONNECTION_STRING"], app_settings["STATE_TABLE_NAME"]
    )
    with table:
        assert list(table.query_entities("PartitionKey eq 'subscription'")) == []
