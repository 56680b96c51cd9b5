"""Input a caller or an operator gets wrong is refused before any call, and a secret pasted into the wrong
setting is named, never repeated: not in the log, the "could not run" chat message or an HTTP answer."""

import asyncio
import json
import logging

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from shared.arm_errors import is_unregistered_provider
from shared.azure_clients import build_credential
from shared.checker import run_check
from shared.cli import main
from shared.config import is_management_group_id, load_settings
from shared.errors import ConfigError
from shared.http_check import handle_check
from shared.models import Status
from tests.conftest import TenantBuilder, good_contact, subscription_id
from tests.test_function_app import call_http, posted, run_timer

pytest_plugins = ("tests.azurite", "tests.app_fixtures")


DOT_SEGMENTS = (".", "..")

# --- management group ids: one validator for settings, command line and HTTP check -------------------------


@pytest.mark.parametrize("group_id", DOT_SEGMENTS)
def test_dot_segments_are_not_management_group_ids(group_id):
    assert not is_management_group_id(group_id)


@pytest.mark.parametrize("group_id", ["corp", "corp.eu", "a.b.c", "(prod)", "..corp", "corp..", "...", "g" * 90])
def test_dots_inside_an_id_are_still_allowed(group_id):
    assert is_management_group_id(group_id)


@pytest.mark.parametrize("group_id", DOT_SEGMENTS)
def test_the_setting_refuses_a_dot_segment_group(group_id):
    with pytest.raises(ConfigError) as raised:
        load_settings({"MANAGEMENT_GROUP_IDS": f"corp,{group_id}"})

    assert raised.value.problems == [f"MANAGEMENT_GROUP_IDS has values that are not management group ids: {group_id}"]


@pytest.mark.parametrize("group_id", DOT_SEGMENTS)
def test_the_command_line_refuses_a_dot_segment_group_before_any_call(emulator, capsys, group_id):
    code = main(["check", "--management-group", group_id])

    assert code == 2
    assert f"--management-group has values that are not management group ids: {group_id}" in capsys.readouterr().err
    assert emulator.stats.snapshot()["calls"] == {}


@pytest.mark.parametrize("group_id", DOT_SEGMENTS)
@pytest.mark.parametrize("where", ["query", "body"])
def test_the_http_check_refuses_a_dot_segment_group_before_running(group_id, where):
    async def run(request):
        raise AssertionError("the check must not run")

    if where == "query":
        params, body = {"managementGroup": [group_id]}, b""
    else:
        params, body = {}, json.dumps({"managementGroup": [group_id]}).encode()
    answer = asyncio.run(handle_check("POST" if body else "GET", params, body, "application/json", run))

    assert answer.status == 400
    assert "managementGroup has values that are not management group ids" in json.loads(answer.body)["error"]


# --- endpoint settings that may hold a secret ---------------------------------------------------------------

SAS_SECRET = "SAS-signature-never-shown"
KEY_SECRET = "AccountKey-never-shown=="
SECRET_VALUES = {
    "a SAS URL": f"https://acct.table.core.windows.net/?sv=2022-11-02&ss=t&sp=rwdlacu&se=2030-01-01&sig={SAS_SECRET}",
    "a connection string": (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY_SECRET};EndpointSuffix=core.windows.net"
    ),
    "a URL with a password": f"https://admin:{SAS_SECRET}@acct.table.core.windows.net",
    "a SAS token alone": f"sv=2022-11-02&sig={SAS_SECRET}",
}
ENDPOINT_SETTINGS = ("STATE_TABLE_ENDPOINT", "ARM_ENDPOINT")


def assert_secret_free(text: str, value: str) -> None:
    assert SAS_SECRET not in text
    assert KEY_SECRET not in text
    assert value not in text


@pytest.mark.parametrize("setting", ENDPOINT_SETTINGS)
@pytest.mark.parametrize("value", SECRET_VALUES.values(), ids=SECRET_VALUES.keys())
def test_a_secret_in_an_endpoint_setting_is_named_not_shown(setting, value):
    with pytest.raises(ConfigError) as raised:
        load_settings({setting: value})

    (problem,) = raised.value.problems
    assert problem.startswith(f"{setting} must be a bare https:// endpoint")
    assert "value not shown" in problem
    assert_secret_free(str(raised.value), value)


def test_a_connection_string_in_the_endpoint_setting_points_at_the_right_one():
    with pytest.raises(ConfigError) as raised:
        load_settings({"STATE_TABLE_ENDPOINT": SECRET_VALUES["a connection string"]})

    assert "looks like a connection string" in raised.value.problems[0]
    assert "belongs in STATE_CONNECTION_STRING" in raised.value.problems[0]


@pytest.mark.parametrize(
    "value", ["https://[not-an-address", "https://acct.table.core.windows.net:port", "https://h/#frag"]
)
def test_an_endpoint_that_is_not_a_url_is_a_problem_not_a_crash(value):
    with pytest.raises(ConfigError) as raised:
        load_settings({"ARM_ENDPOINT": value})

    assert raised.value.problems[0].startswith("ARM_ENDPOINT must be a bare https:// endpoint")


def test_valid_endpoints_are_kept_without_the_trailing_slash():
    settings = load_settings(
        {
            "ARM_ENDPOINT": "https://arm.contoso.test:8443/",
            "STATE_TABLE_ENDPOINT": "https://acct.table.core.windows.net/",
        }
    )

    assert settings.arm_endpoint == "https://arm.contoso.test:8443"
    assert settings.state.table_endpoint == "https://acct.table.core.windows.net"


@pytest.mark.parametrize("setting", ENDPOINT_SETTINGS)
@pytest.mark.parametrize("value", SECRET_VALUES.values(), ids=SECRET_VALUES.keys())
def test_the_timer_run_names_the_setting_in_the_log_and_the_chat_without_the_secret(
    app_settings, hooks, caplog, monkeypatch, setting, value
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(setting, value)
    if setting == "STATE_TABLE_ENDPOINT":
        monkeypatch.delenv("STATE_CONNECTION_STRING")

    with pytest.raises(ConfigError) as raised:
        run_timer()

    chat = posted(hooks, "teams") + posted(hooks, "slack")
    assert len(chat) == 2 and all("could not run" in message and setting in message for message in chat)
    assert setting in caplog.text
    for text in (caplog.text, str(raised.value), *chat):
        assert_secret_free(text, value)


@pytest.mark.parametrize("setting", ENDPOINT_SETTINGS)
@pytest.mark.parametrize("value", SECRET_VALUES.values(), ids=SECRET_VALUES.keys())
def test_the_http_check_answers_503_naming_the_setting_without_the_secret(
    app_settings, hooks, caplog, monkeypatch, setting, value
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(setting, value)
    if setting == "STATE_TABLE_ENDPOINT":
        monkeypatch.delenv("STATE_CONNECTION_STRING")

    response = call_http("GET", "?notify=true")

    body = response.get_body().decode()
    assert response.status_code == 503
    assert any(problem.startswith(setting) for problem in json.loads(body)["problems"])
    for text in (body, caplog.text, *posted(hooks, "teams"), *posted(hooks, "slack")):
        assert_secret_free(text, value)


# --- 409 "Subscription Not Registered" ----------------------------------------------------------------------

UNREGISTERED_CODES = ("MissingSubscriptionRegistration", "Subscription Not Registered", "SubscriptionNotRegistered")


@pytest.mark.parametrize("code", [*UNREGISTERED_CODES, "subscription not registered", " Subscription  Not Registered "])
def test_every_spelling_of_the_unregistered_provider_code_means_the_same(code):
    assert is_unregistered_provider(409, code)


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "Subscription Not Registered"), (409, "Conflict"), (409, "SubscriptionNotFound"), (409, "")],
)
def test_other_refusals_are_not_an_unregistered_provider(status, code):
    assert not is_unregistered_provider(status, code)


@pytest.mark.parametrize("code", UNREGISTERED_CODES)
def test_the_check_reads_subscription_not_registered_as_defender_never_set_up(emulator, use_tenant, settings_for, code):
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact(), security_provider_registered=False, unregistered_code=code)
    use_tenant(builder)

    async def run():
        settings = settings_for()
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    (result,) = asyncio.run(run()).results

    assert result.status is Status.FAIL
    assert "not registered" in result.findings[0].message
    assert emulator.stats.snapshot()["writes"] == []


# --- subscriptions a caller names that are not in scope ----------------------------------------------------

MADE_UP = "0badc0de-0000-4000-8000-000000000000"


def two_subscriptions() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    builder.subscription(2, "platform", good_contact(emails=[]))
    return builder


def counts(hooks) -> dict[str, int]:
    return {channel: len(hooks.messages(channel)) for channel in ("teams", "slack")}


def stored_rows(app_settings) -> list[dict]:
    table = TableClient.from_connection_string(
        app_settings["STATE_CONNECTION_STRING"], app_settings["STATE_TABLE_NAME"]
    )
    with table:
        try:
            return list(table.list_entities())
        except ResourceNotFoundError:
            return []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_http_check_with_notify_of_a_subscription_not_in_the_tenant_answers_404_and_posts_and_stores_nothing(
    app_settings, use_tenant, hooks, method
):
    use_tenant(two_subscriptions())

    if method == "GET":
        response = call_http("GET", f"?subscription={MADE_UP}&notify=true")
    else:
        body = json.dumps({"subscription": [MADE_UP], "notify": True}).encode()
        response = call_http("POST", "", body, {"Content-Type": "application/json"})

    document = json.loads(response.get_body())
    assert (response.status_code, response.mimetype) == (404, "application/json")
    assert document["error"].startswith(f"not found in scope: subscription {MADE_UP} is not under management group")
    assert document["notFound"] == [MADE_UP]
    assert counts(hooks) == {"teams": 0, "slack": 0}
    assert stored_rows(app_settings) == []

    run_timer()  # the next scheduled run has nothing of the made-up id to post or clear

    assert all(MADE_UP not in message for message in posted(hooks, "teams") + posted(hooks, "slack"))
    assert all(MADE_UP not in json.dumps(row, default=str) for row in stored_rows(app_settings))


def test_one_unknown_subscription_among_known_ones_refuses_the_whole_request(app_settings, use_tenant, hooks, emulator):
    use_tenant(two_subscriptions())

    response = call_http("GET", f"?subscription={subscription_id(2)}&subscription={MADE_UP}&notify=true")

    assert response.status_code == 404
    assert json.loads(response.get_body())["notFound"] == [MADE_UP]
    assert counts(hooks) == {"teams": 0, "slack": 0}
    assert stored_rows(app_settings) == []
    assert emulator.stats.snapshot()["calls"].get("securityContacts", 0) == 0


def test_a_subscription_outside_the_requested_group_is_not_found_in_that_scope(app_settings, use_tenant, hooks):
    use_tenant(two_subscriptions())

    response = call_http("GET", f"?managementGroup=corp&subscription={subscription_id(2)}&notify=true")

    document = json.loads(response.get_body())
    assert response.status_code == 404
    assert f"subscription {subscription_id(2)} is not under management group corp" in document["error"]
    assert counts(hooks) == {"teams": 0, "slack": 0}


def test_the_cli_says_not_found_in_scope_and_exits_2_without_posting(app_settings, use_tenant, hooks, capsys):
    use_tenant(two_subscriptions())

    code = main(["check", "--subscription", MADE_UP, "--notify"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert f"error: not found in scope: subscription {MADE_UP} is not under management group" in captured.err
    assert counts(hooks) == {"teams": 0, "slack": 0}


def test_fix_refuses_a_subscription_not_in_scope_with_exit_2_and_writes_nothing(emulator, use_tenant, capsys):
    use_tenant(two_subscriptions())

    code = main(["fix", "--email", "secops@contoso.com", "--subscription", MADE_UP, "--apply", "--yes"])

    assert code == 2
    assert f"not found in scope: subscription {MADE_UP}" in capsys.readouterr().err
    assert emulator.stats.writes == []


def test_a_listed_id_the_setting_names_is_still_reported_as_an_error_row(emulator, use_tenant, settings_for):
    use_tenant(two_subscriptions())

    async def run():
        settings = settings_for(INCLUDE_SUBSCRIPTION_IDS=f"{subscription_id(1)},{MADE_UP}")
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    report = asyncio.run(run())

    assert {r.subscription.subscription_id: r.status for r in report.results} == {
        subscription_id(1): Status.PASS,
        MADE_UP: Status.ERROR,
    }
