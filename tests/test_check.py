"""A whole run against the emulated tenant: real SDK, real DefaultAzureCredential, concurrent checks."""

import asyncio
import json
import logging

import pytest

from emulator.faults import Fault
from shared.azure_clients import build_credential
from shared.checker import exit_code, run_check
from shared.errors import RunFailed
from shared.models import Status
from tests.conftest import TenantBuilder, good_contact, subscription_id


@pytest.fixture
def check(settings_for):
    async def run(app_settings):
        settings = settings_for(**app_settings)
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    return lambda **app_settings: asyncio.run(run(app_settings))


def statuses(report) -> dict[str, str]:
    return {r.subscription.subscription_id: r.status.value for r in report.results}


def mixed_tenant() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    builder.subscription(2, "corp", None)
    builder.subscription(3, "platform", good_contact(roles_enabled=False))
    builder.subscription(4, "platform", good_contact(), deny_contacts=True)
    builder.subscription(5, "platform", good_contact(), state="Disabled")
    builder.subscription(6, "landing-zones", good_contact(), state="Deleted")
    return builder


def test_each_subscription_gets_pass_fail_error_or_skipped(emulator, use_tenant, check):
    use_tenant(mixed_tenant())

    report = check()

    assert statuses(report) == {
        subscription_id(1): "pass",
        subscription_id(2): "fail",
        subscription_id(3): "fail",
        subscription_id(4): "error",
        subscription_id(5): "skipped",
        subscription_id(6): "skipped",
    }
    assert report.summary == {"pass": 1, "fail": 2, "error": 1, "skipped": 2, "total": 6}
    assert exit_code(report) == 2


def test_the_json_report_has_the_documented_fields(emulator, use_tenant, check):
    use_tenant(mixed_tenant())

    document = json.loads(json.dumps(check().to_dict()))

    assert set(document["summary"]) == {"pass", "fail", "error", "skipped", "total"}
    failing = next(s for s in document["subscriptions"] if s["subscriptionId"] == subscription_id(3))
    assert failing == {
        "subscriptionId": subscription_id(3),
        "displayName": "sub-3",
        "managementGroupPath": ["Tenant Root Group", "Contoso", "Platform"],
        "state": "Enabled",
        "status": "fail",
        "findings": [
            {
                "rule": "owner-notifications",
                "message": "Notifications to subscription owners are turned off.",
                "fix": failing["findings"][0]["fix"],
            }
        ],
        "reason": None,
    }
    denied = next(s for s in document["subscriptions"] if s["subscriptionId"] == subscription_id(4))
    assert "403 AuthorizationFailed" in denied["reason"]
    assert document["contactsApiVersions"] == ["2023-12-01-preview"]


def test_inactive_subscriptions_are_skipped_without_reading_their_contacts(emulator, use_tenant, check):
    use_tenant(mixed_tenant())

    report = check()

    skipped = [r for r in report.results if r.status is Status.SKIPPED]
    assert {r.reason for r in skipped} == {"subscription is Disabled", "subscription is Deleted"}
    contact_paths = [entry[2] for entry in emulator.stats.log if entry[1] == "securityContacts"]
    assert not any(subscription_id(5) in path or subscription_id(6) in path for path in contact_paths)


def test_excluded_subscriptions_are_reported_as_skipped(emulator, use_tenant, check):
    use_tenant(mixed_tenant())

    report = check(EXCLUDE_SUBSCRIPTION_IDS=subscription_id(2))

    excluded = next(r for r in report.results if r.subscription.subscription_id == subscription_id(2))
    assert (excluded.status, excluded.reason) == (Status.SKIPPED, "excluded by configuration")


def test_included_subscriptions_narrow_the_run_and_missing_ones_are_errors(emulator, use_tenant, check):
    use_tenant(mixed_tenant())
    absent = "99999999-0000-4000-8000-000000000000"

    report = check(INCLUDE_SUBSCRIPTION_IDS=f"{subscription_id(1)},{absent}")

    assert statuses(report) == {subscription_id(1): "pass", absent: "error"}
    assert "not found under the scope" in next(r.reason for r in report.results if r.status is Status.ERROR)


def test_a_scope_group_limits_the_run_to_its_subtree(emulator, use_tenant, check):
    use_tenant(mixed_tenant())

    report = check(MANAGEMENT_GROUP_IDS="corp")

    assert set(statuses(report)) == {subscription_id(1), subscription_id(2)}
    assert report.scope == ("corp",)


def test_an_empty_scope_fails_the_run_instead_of_reporting_all_clear(emulator, use_tenant, check):
    use_tenant(TenantBuilder())

    with pytest.raises(RunFailed, match="no subscriptions found"):
        check()


def test_checks_share_a_bounded_pool_of_connections_and_one_token(emulator, use_tenant, check):
    builder = TenantBuilder()
    for number in range(60):
        builder.subscription(number, "corp", good_contact())
    use_tenant(builder)
    emulator.latency_ms = 20

    report = check(CHECK_CONCURRENCY="8")

    assert report.summary["pass"] == 60
    stats = emulator.stats.snapshot()
    assert stats["calls"]["securityContacts"] == 60
    assert stats["calls"]["token"] == 1
    assert stats["connections"] <= 8


def test_transient_failures_during_a_run_do_not_change_the_outcome(emulator, use_tenant, check):
    builder = TenantBuilder()
    for number in range(10):
        builder.subscription(number, "corp", good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match="securityContacts", status=429, times=5, retry_after=0.05))
    emulator.add_fault(Fault(match="/subscriptions\\?", status=500, times=1, retry_after=0))

    report = check()

    assert report.summary["pass"] == 10


def test_one_broken_subscription_does_not_hide_the_others(emulator, use_tenant, check):
    builder = TenantBuilder()
    for number in range(5):
        builder.subscription(number, "corp", good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match=f"{subscription_id(3)}/providers", malformed=True, status=200, times=None))

    report = check()

    assert statuses(report)[subscription_id(3)] == "error"
    assert report.summary["pass"] == 4


def test_no_token_or_identity_secret_reaches_the_report_or_the_logs(emulator, use_tenant, check, caplog):
    use_tenant(mixed_tenant())
    caplog.set_level(logging.DEBUG)

    report = json.dumps(check().to_dict())

    secrets = [*emulator._issued_tokens, emulator.identity_header]
    assert secrets
    for secret in secrets:
        assert secret not in report
        assert secret not in caplog.text


def test_tokens_are_requested_for_the_configured_clouds_arm_audience(emulator, use_tenant, check):
    use_tenant(mixed_tenant())

    check(AZURE_CLOUD="AzureChinaCloud")

    assert emulator.issued_audiences() == {"https://management.chinacloudapi.cn"}
