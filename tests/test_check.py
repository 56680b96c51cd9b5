"""A whole run against the emulated tenant: real SDK, real DefaultAzureCredential, concurrent checks."""

import asyncio
import json
import logging
from dataclasses import replace

import pytest

from emulator.faults import Fault
from shared.azure_clients import RETRY_COUNT, build_credential
from shared.checker import exit_code, exit_reason, run_check
from shared.errors import RunFailed
from shared.models import Status
from tests.conftest import TENANT_ID, TenantBuilder, good_contact, subscription_id


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

    assert set(document["summary"]) == {"pass", "fail", "error", "skipped", "total", "byRule"}
    assert document["summary"]["byRule"] == {"contact-email": 1, "owner-notifications": 1}
    failing = next(s for s in document["subscriptions"] if s["subscriptionId"] == subscription_id(3))
    assert failing == {
        "subscriptionId": subscription_id(3),
        "displayName": "sub-3",
        "managementGroupPath": ["Tenant Root Group", "Contoso", "Platform"],
        "tenantId": TENANT_ID,
        "delegated": False,
        "state": "Enabled",
        "status": "fail",
        "findings": [
            {
                "rule": "owner-notifications",
                "message": "Notifications to subscription owners are turned off.",
                "fix": failing["findings"][0]["fix"],
                "severity": "medium",
                "cis": ["v2.0 2.1.18", "v2.1 2.1.17", "v3.0 3.1.12", "v4.0 9.1.12", "v5.0 8.1.12"],
            }
        ],
        "reason": None,
        "contactsApiVersion": "2023-12-01-preview",
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

    with pytest.raises(RunFailed) as raised:
        check()

    assert str(raised.value).endswith(
        "; check the scope and that the identity has Defender Contact Monitor Reader (or Security Reader) on it"
    )


def test_an_empty_scope_of_several_groups_asks_for_the_role_on_each(emulator, use_tenant, check):
    use_tenant(TenantBuilder())

    with pytest.raises(RunFailed) as raised:
        check(MANAGEMENT_GROUP_IDS="platform,corp")

    assert str(raised.value) == (
        "no subscriptions found under platform, corp; check the scope and that the identity has "
        "Defender Contact Monitor Reader (or Security Reader) on each of them"
    )


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
    # The first read probes the api-version alone, so it takes every 429: one fewer than the retries allowed.
    emulator.add_fault(Fault(match="securityContacts", status=429, times=RETRY_COUNT, retry_after=0.05))
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


def test_every_result_records_the_contacts_api_version_that_judged_it(emulator, use_tenant, check):
    builder = mixed_tenant()
    builder.tenant.subscriptions[subscription_id(3)].contact_api_versions = ("2020-01-01-preview",)
    use_tenant(builder)

    versions = {r.subscription.subscription_id: r.api_version for r in check().results}

    assert versions[subscription_id(1)] == "2023-12-01-preview"
    assert versions[subscription_id(3)] == "2020-01-01-preview"
    assert versions[subscription_id(4)] is None  # could not be read
    assert versions[subscription_id(5)] is None  # skipped


def test_nested_subscriptions_are_all_checked_on_a_tenant_typed_like_live_arm(emulator, use_tenant, check):
    builder = mixed_tenant()
    assert builder.tenant.group_child_type == "/providers/Microsoft.Management/managementGroups"
    use_tenant(builder)

    report = check()

    assert len(report.results) == 6
    assert report.summary["pass"] == 1


def test_a_listed_subscription_outside_the_tree_is_an_error_not_left_out(emulator, use_tenant, check):
    builder = mixed_tenant()
    builder.subscription(7, "corp", good_contact(), hidden_from_tree=True)
    use_tenant(builder)

    report = check()

    missing = next(r for r in report.results if r.subscription.subscription_id == subscription_id(7))
    assert missing.status is Status.ERROR
    assert missing.reason == (
        "not found in the management-group tree: the identity can list this subscription but cannot see where "
        "it sits; grant it Defender Contact Monitor Reader (or Security Reader) on the tenant root group"
    )
    assert exit_code(report) == 2


def test_a_subscription_without_defender_fails_with_an_explanation_and_nothing_is_written(emulator, use_tenant, check):
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact(), security_provider_registered=False)
    use_tenant(builder)

    (result,) = check().results

    assert result.status is Status.FAIL
    assert "not registered" in result.findings[0].message
    assert "az provider register --namespace Microsoft.Security" in result.findings[0].fix
    assert emulator.stats.snapshot()["writes"] == []


def test_a_slow_subscription_is_an_error_before_the_deadline_and_the_report_still_comes(
    emulator, use_tenant, settings_for
):
    builder = TenantBuilder()
    for number in range(4):
        builder.subscription(number, "corp", good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match=f"{subscription_id(2)}/providers", status=200, delay_seconds=3, times=None))
    settings = replace(settings_for(), run_timeout_seconds=1)

    async def run():
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    report = asyncio.run(run())

    slow = next(r for r in report.results if r.subscription.subscription_id == subscription_id(2))
    assert slow.status is Status.ERROR
    assert slow.reason == "not checked before the deadline: the run's 1 s (RUN_TIMEOUT_SECONDS) ran out"
    assert report.summary["pass"] == 3


def test_each_subscription_has_its_own_budget_within_the_run(emulator, use_tenant, settings_for, monkeypatch):
    monkeypatch.setattr("shared.checker.SUBSCRIPTION_BUDGET_SECONDS", 0.5)
    builder = TenantBuilder()
    for number in range(3):
        builder.subscription(number, "corp", good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match=f"{subscription_id(1)}/providers", status=200, delay_seconds=2, times=None))
    settings = settings_for()

    async def run():
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    report = asyncio.run(run())

    assert statuses(report) == {subscription_id(0): "pass", subscription_id(1): "error", subscription_id(2): "pass"}
    slow = next(r for r in report.results if r.status is Status.ERROR)
    assert slow.reason == "not checked before the deadline: no answer within the 0.5 s allowed per subscription"


def test_a_run_that_only_skipped_is_not_all_clear(emulator, use_tenant, check):
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    use_tenant(builder)

    report = check(EXCLUDE_SUBSCRIPTION_IDS=subscription_id(1))

    assert report.summary["skipped"] == 1
    assert exit_code(report) == 2
    assert exit_reason(report) == "no subscription was checked: all 1 were skipped or excluded"


def test_the_report_counts_arm_requests_and_duration(emulator, use_tenant, check):
    use_tenant(mixed_tenant())

    report = check()

    assert report.stats.arm_requests == emulator.stats.snapshot()["armCalls"]
    assert report.stats.duration_seconds > 0
    assert report.to_dict()["run"]["armRequests"] == report.stats.arm_requests


def test_the_spec_shapes_scenario_reads_like_the_specs_examples(emulator, use_tenant, check):
    from emulator import SCENARIOS
    from emulator.tenant import SPEC_GROUP_CHILD_TYPE, Tenant

    tenant = Tenant.from_file(SCENARIOS / "spec-shapes.json")
    assert tenant.group_child_type == SPEC_GROUP_CHILD_TYPE
    emulator.tenant = tenant

    report = check()

    by_name = {r.subscription.display_name: r for r in report.results}
    assert by_name["prod-web"].status is Status.PASS
    assert by_name["prod-web"].api_version == "2020-01-01-preview"
    assert by_name["prod-web"].subscription.management_group_path == ("Tenant Root Group", "Fabrikam", "Production")
    assert [f.rule for f in by_name["prod-data"].findings] == ["contact-email"]
    assert "separate several addresses with ';'" in by_name["prod-data"].findings[0].message
    assert by_name["shared-services"].status is Status.FAIL
    # The provider's list (no 2023-12-01-preview) decided the version before any read: no refused call.
    refused = [e for e in emulator.stats.log if e[1] == "securityContacts" and "2023-12-01-preview" in e[2]]
    assert refused == []
    assert emulator.stats.snapshot()["writes"] == []


# -- the live service: no subscription waits on another, every cloud ------------------------------------------------


def test_a_hanging_first_subscription_delays_only_itself(emulator, use_tenant, settings_for):
    builder = TenantBuilder()
    # First by list order (number 0, listed first in its group) and by name.
    slow_id = builder.subscription(0, "corp", good_contact())
    builder.tenant.subscriptions[slow_id].display_name = "aaa-slow"
    for number in range(1, 12):
        builder.subscription(number, "corp", good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match=f"{slow_id}/providers", status=200, delay_seconds=60, times=None))
    settings = settings_for(RUN_TIMEOUT_SECONDS="15")

    async def run():
        async with build_credential(settings) as credential:
            started = asyncio.get_running_loop().time()
            report = await run_check(settings, credential)
            return report, asyncio.get_running_loop().time() - started

    report, seconds = asyncio.run(run())

    assert report.results[0].subscription.subscription_id == slow_id
    assert report.results[0].status is Status.ERROR
    assert report.results[0].reason == "not checked before the deadline: the run's 15 s (RUN_TIMEOUT_SECONDS) ran out"
    assert [r.status for r in report.results[1:]] == [Status.PASS] * 11
    # Ends by its deadline (a generous bound for a loaded machine), not after the 60 s stall.
    assert seconds < 45


def test_a_china_style_cloud_starts_on_what_it_offers_with_no_failing_call(emulator, use_tenant, check):
    builder = TenantBuilder()
    subs = [builder.subscription(number, "corp", good_contact()) for number in range(6)]
    builder.tenant.contact_api_versions = ("2020-01-01-preview", "2017-08-01-preview")
    builder.tenant.contact_refusal = "china"
    use_tenant(builder)

    report = check()

    assert report.summary["pass"] == 6
    assert report.contacts_api_versions == ("2020-01-01-preview",)
    contact_calls = [e for e in emulator.stats.log if e[1] == "securityContacts"]
    assert [e[3] for e in contact_calls] == [200] * 6
    # ARM calls: one per subscription read, plus the hierarchy walk and the provider list (O(1)).
    assert emulator.stats.snapshot()["calls"]["providers.get"] == 1
    assert len(contact_calls) == len(subs)


def test_a_china_style_404_refusal_falls_back_when_the_provider_list_is_unreadable(emulator, use_tenant, check):
    builder = TenantBuilder()
    for number in range(30):
        builder.subscription(number, "corp", good_contact())
    builder.tenant.contact_api_versions = ("2020-01-01-preview", "2017-08-01-preview")
    builder.tenant.contact_refusal = "china"
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    report = check(CHECK_CONCURRENCY="1")

    assert report.summary["pass"] == 30
    refused = [e for e in emulator.stats.log if e[1] == "securityContacts" and e[3] == 404]
    assert len(refused) == 1


def test_in_a_cloud_without_2023_an_unreadable_provider_list_costs_at_most_two_failing_calls(
    emulator, use_tenant, check
):
    builder = TenantBuilder()
    for number in range(40):
        builder.subscription(number, "corp", good_contact())
    builder.tenant.contact_api_versions = ("2020-01-01-preview", "2017-08-01-preview")
    builder.tenant.contact_refusal = "china"
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    report = check()

    assert report.summary["pass"] == 40
    refused = [e for e in emulator.stats.log if e[1] == "securityContacts" and e[3] == 404]
    assert 1 <= len(refused) <= 2


def test_hanging_probes_hold_the_other_reads_back_only_for_a_few_seconds(emulator, use_tenant, settings_for):
    builder = TenantBuilder()
    subs = [builder.subscription(number, "corp", good_contact()) for number in range(10)]
    use_tenant(builder)
    # No provider list, and the first two reads (the probes) hang far beyond the run.
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))
    for slow in subs[:2]:
        emulator.add_fault(Fault(match=f"{slow}/providers", status=200, delay_seconds=60, times=None))
    settings = settings_for(RUN_TIMEOUT_SECONDS="15")

    async def run():
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    report = asyncio.run(run())

    assert statuses(report) == {sub: ("error" if sub in subs[:2] else "pass") for sub in subs}


def test_a_hanging_provider_list_holds_the_checks_back_only_for_the_grace(
    emulator, use_tenant, settings_for, monkeypatch
):
    monkeypatch.setattr("shared.checker.API_VERSION_DECISION_GRACE_SECONDS", 0.5)
    builder = TenantBuilder()
    for number in range(4):
        builder.subscription(number, "corp", good_contact())
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=200, delay_seconds=60, times=None))
    settings = settings_for(RUN_TIMEOUT_SECONDS="20")

    async def run():
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    report = asyncio.run(run())

    assert report.summary["pass"] == 4
    assert report.contacts_api_versions == ("2023-12-01-preview",)
