"""Alert state in Table Storage (Azurite, the real azure-data-tables client): conditional writes, settings."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from shared.alerts.policy import AlertState, StateChange, decide
from shared.alerts.settings import StateSettings, load_state_settings
from shared.alerts.store import StateUnavailable, TableStateStore
from shared.config import APP_SETTINGS
from shared.models import Finding, Report, Status, Subscription, SubscriptionResult

pytest_plugins = ("tests.azurite",)

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
WEEK = timedelta(hours=168)


def settings_for(environment: dict[str, str]) -> StateSettings:
    problems: list[str] = []
    settings = load_state_settings(environment, problems)
    assert problems == []
    return settings


def failing(number: int, *rules: str) -> SubscriptionResult:
    subscription = Subscription(f"00000000-0000-4000-8000-{number:012d}", f"sub-{number}", ("Root",), "Enabled")
    return SubscriptionResult(subscription, Status.FAIL, tuple(Finding(rule, "m", "f") for rule in rules))


def report(*results: SubscriptionResult) -> Report:
    return Report(("root",), results, NOW.isoformat())


def run(coroutine):
    return asyncio.run(coroutine)


async def load(settings: StateSettings) -> dict[str, AlertState]:
    async with TableStateStore.open(settings, None) as store:
        return await store.load()


async def apply(settings: StateSettings, changes) -> tuple[int, int]:
    async with TableStateStore.open(settings, None) as store:
        result = await store.apply(changes)
        return result.written, result.conflicts


def test_state_written_after_a_decision_reads_back_the_same(state_environment):
    settings = settings_for(state_environment)
    decision = decide({}, report(failing(1, "owner-notifications", "contact-email")), NOW, WEEK)

    assert run(apply(settings, decision.changes)) == (1, 0)
    states = run(load(settings))

    (state,) = states.values()
    assert state.subscription_id == "00000000-0000-4000-8000-000000000001"
    assert (state.status, state.fingerprint, state.display_name) == (
        Status.FAIL,
        "contact-email,owner-notifications",
        "sub-1",
    )
    assert state.first_seen == state.last_notified == NOW
    assert state.etag


def test_a_run_working_from_an_outdated_read_does_not_overwrite_the_newer_state(state_environment):
    settings = settings_for(state_environment)
    run(apply(settings, decide({}, report(failing(1, "contact-email")), NOW, WEEK).changes))
    read_by_both = run(load(settings))
    later = NOW + timedelta(hours=1)
    # Two overlapping runs read the same state; the first to finish changes the rule set.
    first = decide(read_by_both, report(failing(1, "contact-email", "owner-notifications")), later, WEEK)
    second = decide(read_by_both, report(failing(1, "alert-notifications")), later, WEEK)

    assert run(apply(settings, first.changes)) == (1, 0)
    assert run(apply(settings, second.changes)) == (0, 1)

    (state,) = run(load(settings)).values()
    assert state.fingerprint == "contact-email,owner-notifications"


def test_two_runs_creating_the_same_state_keep_the_first_and_count_the_second_as_a_conflict(state_environment):
    settings = settings_for(state_environment)
    first = decide({}, report(failing(1, "contact-email")), NOW, WEEK)
    second = decide({}, report(failing(1, "owner-notifications")), NOW, WEEK)

    assert run(apply(settings, first.changes)) == (1, 0)
    assert run(apply(settings, second.changes)) == (0, 1)
    assert run(load(settings))["00000000-0000-4000-8000-000000000001"].fingerprint == "contact-email"


def test_a_resolved_subscription_is_deleted_only_if_nobody_changed_it_since(state_environment):
    settings = settings_for(state_environment)
    run(apply(settings, decide({}, report(failing(1, "contact-email")), NOW, WEEK).changes))
    stale = run(load(settings))
    run(apply(settings, decide(stale, report(failing(1, "owner-notifications")), NOW, WEEK).changes))
    fixed = SubscriptionResult(failing(1).subscription, Status.PASS)

    assert run(apply(settings, decide(stale, report(fixed), NOW, WEEK).changes)) == (0, 1)
    assert run(apply(settings, decide(run(load(settings)), report(fixed), NOW, WEEK).changes)) == (1, 0)
    assert run(load(settings)) == {}


def test_the_run_failure_announcement_is_recorded_with_its_time(state_environment):
    settings = settings_for(state_environment)

    async def scenario():
        async with TableStateStore.open(settings, None) as store:
            assert await store.run_failure() is None
            assert await store.record_run_failure(NOW, None)
            assert not await store.record_run_failure(NOW, None)  # a concurrent run got there first
            recorded = await store.run_failure()
            assert recorded.last_notified == NOW
            assert await store.record_run_failure(NOW + WEEK, recorded)
            assert (await store.run_failure()).last_notified == NOW + WEEK
            await store.clear_run_failure()
            assert await store.run_failure() is None
            # Per-subscription state lives beside it and is not confused with it.
            assert await store.load() == {}

    run(scenario())


def test_unreachable_storage_is_a_state_unavailable_error_without_the_account_key(unreachable_state_environment):
    settings = settings_for(unreachable_state_environment)
    account_key = unreachable_state_environment["STATE_CONNECTION_STRING"].split("AccountKey=")[1].split(";")[0]

    with pytest.raises(StateUnavailable) as raised:
        run(load(settings))

    assert account_key not in str(raised.value)
    assert "could not read alert state" in str(raised.value)


def test_state_is_off_unless_an_endpoint_or_a_connection_string_is_set():
    assert not settings_for({}).enabled
    assert settings_for({"STATE_TABLE_ENDPOINT": "https://acct.table.core.windows.net/"}).table_endpoint == (
        "https://acct.table.core.windows.net"
    )
    assert settings_for({"STATE_CONNECTION_STRING": "UseDevelopmentStorage=true"}).enabled
    assert settings_for({}).table_name == "contactmonitorstate"
    assert settings_for({}).remind_after == timedelta(hours=168)
    assert settings_for({"REMIND_AFTER_HOURS": "24"}).remind_after == timedelta(hours=24)


def test_every_bad_state_setting_is_reported_and_the_connection_string_never_shown():
    secret = "AccountKey=c2VjcmV0LWtleQ=="
    problems: list[str] = []

    settings = load_state_settings(
        {
            "STATE_TABLE_ENDPOINT": "http://acct.table.core.windows.net",
            "STATE_CONNECTION_STRING": secret,
            "STATE_TABLE_NAME": "1-bad",
            "REMIND_AFTER_HOURS": "0",
        },
        problems,
    )

    assert [problem.split("=")[0].split(" ")[0] for problem in problems] == [
        "STATE_TABLE_ENDPOINT",
        "STATE_TABLE_NAME",
        "REMIND_AFTER_HOURS",
    ]
    both = load_state_settings(
        {"STATE_TABLE_ENDPOINT": "https://acct.table.core.windows.net", "STATE_CONNECTION_STRING": secret}, problems
    )
    assert "not both" in problems[-1]
    assert all(secret not in text for text in [*problems, repr(settings), repr(both)])


def test_the_state_settings_are_in_the_app_settings_catalogue():
    assert {"STATE_TABLE_ENDPOINT", "STATE_CONNECTION_STRING", "STATE_TABLE_NAME", "REMIND_AFTER_HOURS"} <= set(
        APP_SETTINGS
    )
    assert "CHECK_SCHEDULE" in APP_SETTINGS


def test_a_change_for_a_subscription_without_stored_state_and_no_state_is_a_no_op(state_environment):
    settings = settings_for(state_environment)

    assert run(apply(settings, [StateChange("00000000-0000-4000-8000-000000000009", None, None)])) == (1, 0)
    assert run(load(settings)) == {}


def test_storage_lost_between_reading_and_writing_is_a_state_unavailable_error(private_azurite):
    settings = settings_for(
        {"STATE_CONNECTION_STRING": private_azurite.connection_string, "STATE_TABLE_NAME": "statelost"}
    )
    decision = decide({}, report(*(failing(number, "contact-email") for number in range(1, 41))), NOW, WEEK)

    async def scenario():
        async with TableStateStore.open(settings, None) as store:
            await store.load()
            private_azurite.stop()
            await store.apply(decision.changes)

    with pytest.raises(StateUnavailable, match="could not write alert state"):
        run(scenario())


def test_a_row_deleted_by_a_concurrent_run_is_a_conflict_not_a_failed_run(state_environment):
    settings = settings_for(state_environment)
    run(apply(settings, decide({}, report(failing(1, "contact-email")), NOW - WEEK, WEEK).changes))
    fixed = SubscriptionResult(failing(1).subscription, Status.PASS)

    async def overlapping_runs() -> tuple[tuple[int, int], tuple[int, int]]:
        # Two runs, each with its own client, read the same row and ETag.
        async with TableStateStore.open(settings, None) as run_a, TableStateStore.open(settings, None) as run_b:
            seen_by_a, seen_by_b = await run_a.load(), await run_b.load()
            resolved = decide(seen_by_a, report(fixed), NOW, WEEK)  # A: fixed, delete-if-match
            reminded = decide(seen_by_b, report(failing(1, "contact-email")), NOW, WEEK)  # B: replace-if-match
            a = await run_a.apply(resolved.changes)
            b = await run_b.apply(reminded.changes)
            return (a.written, a.conflicts), (b.written, b.conflicts)

    a, b = run(overlapping_runs())

    assert a == (1, 0)
    assert b == (0, 1)  # ResourceNotFoundError on replace-if-match: the other run's delete is the newer news
    assert run(load(settings)) == {}


def test_an_alert_that_was_not_told_is_stored_as_pending_and_named_again_first(state_environment):
    settings = settings_for(state_environment)
    first = decide({}, report(failing(1, "contact-email"), failing(2, "contact-email")), NOW, WEEK)
    told_only_2 = frozenset({"00000000-0000-4000-8000-000000000002"})

    assert run(apply(settings, first.changes_for(told_only_2))) == (2, 0)
    stored = run(load(settings))
    pending = stored["00000000-0000-4000-8000-000000000001"]
    assert (pending.last_notified, pending.pending_since, pending.first_seen) == (None, NOW, NOW)
    assert stored["00000000-0000-4000-8000-000000000002"].pending_since is None

    later = NOW + timedelta(days=1)
    second = decide(stored, report(failing(1, "contact-email"), failing(2, "contact-email")), later, WEEK)
    (item,) = second.batch.items
    assert (item.kind.value, item.result.subscription.display_name, item.pending_since) == ("new", "sub-1", NOW)
    assert run(apply(settings, second.changes)) == (1, 0)
    told = run(load(settings))["00000000-0000-4000-8000-000000000001"]
    assert (told.first_seen, told.last_notified, told.pending_since) == (NOW, later, None)


# -- a role granted on the state table only (infra/core/storage.bicep) ------------------------------


ACCOUNT = "devstoreaccount1"  # Azurite's development account (tests/azurite.py)


def key_of(connection_string: str) -> str:
    return connection_string.split("AccountKey=")[1].split(";")[0]


def creating_a_table(method: str, path: str) -> bool:
    """POST /Tables: the account-level call a table-scoped Storage Table Data Contributor may not make."""
    return method == "POST" and path.rstrip("/").endswith("/Tables")


def everything(method: str, path: str) -> bool:
    return True


async def a_whole_run(settings: StateSettings) -> dict[str, AlertState]:
    """What a monitored run does with the store: read, write, record and clear the run failure, read again."""
    decision = decide({}, report(failing(1, "contact-email"), failing(2, "owner-notifications")), NOW, WEEK)
    async with TableStateStore.open(settings, None) as store:
        assert await store.load() == {}
        assert (await store.apply(decision.changes)).written == 2
        assert await store.run_failure() is None
        assert await store.record_run_failure(NOW, None)
        await store.clear_run_failure()
        return await store.load()


def test_an_existing_table_is_used_without_any_account_level_call(azurite_server, refusing_proxy):
    table = f"state{uuid.uuid4().hex[:16]}"
    # Made beforehand by someone else, as azd provision makes it.

    with TableServiceClient.from_connection_string(azurite_server.connection_string) as service:
        service.create_table(table)

    with refusing_proxy(creating_a_table) as proxy:
        settings = settings_for({"STATE_CONNECTION_STRING": proxy.connection_string, "STATE_TABLE_NAME": table})
        states = run(a_whole_run(settings))

    assert len(states) == 2
    assert not [request for request in proxy.requests if creating_a_table(request[0], request[1].split("?")[0])]


def test_a_missing_table_is_created_by_the_first_write_where_the_identity_may(azurite_server, refusing_proxy):
    table = f"state{uuid.uuid4().hex[:16]}"
    with refusing_proxy(lambda method, path: False) as proxy:
        settings = settings_for({"STATE_CONNECTION_STRING": proxy.connection_string, "STATE_TABLE_NAME": table})
        states = run(a_whole_run(settings))

    assert len(states) == 2
    assert sum(1 for method, path in proxy.requests if creating_a_table(method, path.split("?")[0])) == 1


def test_a_missing_table_the_identity_may_not_create_names_the_role_and_the_scope(azurite_server, refusing_proxy):
    table = f"state{uuid.uuid4().hex[:16]}"
    decision = decide({}, report(failing(1, "contact-email")), NOW, WEEK)
    with refusing_proxy(creating_a_table) as proxy:
        settings = settings_for({"STATE_CONNECTION_STRING": proxy.connection_string, "STATE_TABLE_NAME": table})
        assert run(load(settings)) == {}  # nothing stored yet: the run posts every problem
        with pytest.raises(StateUnavailable) as raised:
            run(apply(settings, decision.changes))

    message = str(raised.value)
    assert f"'{table}' does not exist in storage account '{ACCOUNT}'" in message
    assert "Storage Table Data Contributor" in message and "AuthorizationPermissionMismatch" in message
    assert key_of(azurite_server.connection_string) not in message and "AccountKey" not in message


def test_a_role_that_does_not_cover_the_table_says_which_role_on_which_table_without_any_secret(
    azurite_server, refusing_proxy
):
    table = f"state{uuid.uuid4().hex[:16]}"
    with refusing_proxy(everything) as proxy:
        settings = settings_for({"STATE_CONNECTION_STRING": proxy.connection_string, "STATE_TABLE_NAME": table})
        with pytest.raises(StateUnavailable) as raised:
            run(load(settings))

    message = str(raised.value)
    assert message.startswith("could not read alert state: storage refused to read table")
    assert f"'{table}' in account '{ACCOUNT}'" in message
    assert "HTTP 403 AuthorizationPermissionMismatch" in message and "Storage Table Data Contributor" in message
    assert key_of(azurite_server.connection_string) not in message and "Signature" not in message
