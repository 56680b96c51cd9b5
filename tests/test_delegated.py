"""Subscriptions delegated from other tenants (Azure Lighthouse): left out unless asked for, then grouped by tenant."""

import asyncio
import json
import logging

import pytest

from shared.azure_clients import build_credential
from shared.checker import run_check
from shared.cli import main
from shared.models import Status
from tests.conftest import TenantBuilder, good_contact, subscription_id

FABRIKAM = "f0000000-0000-4000-8000-00000000fab1"
ADATUM = "a0000000-0000-4000-8000-0000000ada7a"


def provider_tenant() -> TenantBuilder:
    """A home tenant with two subscriptions, and three delegated from two customers (one unnamed in /tenants)."""
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    builder.subscription(2, "corp", None)
    builder.subscription(10, contact=good_contact(), home_tenant_id=FABRIKAM)
    builder.subscription(11, contact=None, home_tenant_id=FABRIKAM)
    builder.subscription(12, contact=good_contact(), home_tenant_id=ADATUM, deny_contacts=True)
    builder.tenant.delegating_tenants = {FABRIKAM: "Fabrikam Ltd", ADATUM: None}
    return builder


@pytest.fixture
def check(emulator, use_tenant, settings_for):
    use_tenant(provider_tenant())

    def run(**app_settings):
        settings = settings_for(**app_settings)
        if "tenants" in app_settings:
            settings = settings.with_overrides(tenant_ids=app_settings["tenants"])

        async def go():
            async with build_credential(settings) as credential:
                return await run_check(settings, credential)

        return asyncio.run(go())

    return run


def by_id(report):
    return {r.subscription.subscription_id: r for r in report.results}


def test_by_default_delegated_subscriptions_are_neither_errors_nor_checked_and_the_log_says_how_many(
    emulator, check, caplog
):
    caplog.set_level(logging.WARNING)

    report = check()

    assert set(by_id(report)) == {subscription_id(1), subscription_id(2)}
    assert "3 subscriptions delegated from other tenants" in caplog.text
    assert "INCLUDE_DELEGATED_SUBSCRIPTIONS=true" in caplog.text
    contact_reads = [e[2] for e in emulator.stats.log if e[1] == "securityContacts"]
    assert not any(subscription_id(10) in path for path in contact_reads)


def test_when_included_they_are_checked_and_grouped_by_tenant_name_or_id(emulator, check):
    report = check(INCLUDE_DELEGATED_SUBSCRIPTIONS="true")

    results = by_id(report)
    assert len(results) == 5
    assert results[subscription_id(10)].status is Status.PASS
    assert results[subscription_id(10)].subscription.management_group_path == ("Delegated", "Fabrikam Ltd")
    assert results[subscription_id(10)].subscription.delegated is True
    assert results[subscription_id(10)].subscription.tenant_id == FABRIKAM
    assert results[subscription_id(11)].status is Status.FAIL
    assert results[subscription_id(12)].subscription.management_group_path == ("Delegated", ADATUM)
    assert emulator.stats.snapshot()["calls"]["tenants.list"] == 1


def test_a_delegated_subscription_that_cannot_be_read_is_an_error_like_any_other(emulator, check):
    report = check(INCLUDE_DELEGATED_SUBSCRIPTIONS="true")

    denied = by_id(report)[subscription_id(12)]
    assert denied.status is Status.ERROR
    assert "403 AuthorizationFailed" in denied.reason


def test_include_and_exclude_filters_apply_to_delegated_subscriptions(emulator, check):
    report = check(
        INCLUDE_DELEGATED_SUBSCRIPTIONS="true",
        INCLUDE_SUBSCRIPTION_IDS=f"{subscription_id(1)},{subscription_id(10)}",
    )
    excluded = check(INCLUDE_DELEGATED_SUBSCRIPTIONS="true", EXCLUDE_SUBSCRIPTION_IDS=subscription_id(11))

    assert {k: r.status.value for k, r in by_id(report).items()} == {
        subscription_id(1): "pass",
        subscription_id(10): "pass",
    }
    assert by_id(excluded)[subscription_id(11)].status is Status.SKIPPED


def test_tenant_option_limits_the_run_to_those_customers_and_includes_their_delegations(emulator, check):
    report = check(tenants=[FABRIKAM.upper()])

    assert set(by_id(report)) == {subscription_id(10), subscription_id(11)}


def test_delegated_subscriptions_are_marked_in_the_json_report(emulator, use_tenant, capsys, monkeypatch):
    use_tenant(provider_tenant())

    assert main(["check", "--tenant", FABRIKAM, "--format", "json"]) == 1

    entries = {s["subscriptionId"]: s for s in json.loads(capsys.readouterr().out)["subscriptions"]}
    assert entries[subscription_id(10)]["delegated"] is True
    assert entries[subscription_id(10)]["tenantId"] == FABRIKAM
    assert entries[subscription_id(10)]["managementGroupPath"] == ["Delegated", "Fabrikam Ltd"]


def test_a_tenant_option_that_is_not_a_guid_is_a_configuration_error(emulator, use_tenant, capsys):
    use_tenant(provider_tenant())

    assert main(["check", "--tenant", "fabrikam.onmicrosoft.com"]) == 2
    assert "--tenant has values that are not tenant ids (GUIDs)" in capsys.readouterr().err


def test_the_lighthouse_scenario_serves_a_second_tenants_delegations(emulator, settings_for):
    from emulator import SCENARIOS, Tenant

    emulator.tenant = Tenant.from_file(SCENARIOS / "lighthouse.json")
    settings = settings_for(INCLUDE_DELEGATED_SUBSCRIPTIONS="true")

    async def go():
        async with build_credential(settings) as credential:
            return await run_check(settings, credential)

    paths = {r.subscription.display_name: r.subscription.management_group_path for r in asyncio.run(go()).results}

    assert paths == {
        "managed-services": ("Tenant Root Group", "Contoso"),
        "fabrikam-prod": ("Delegated", "Fabrikam Ltd"),
        "fabrikam-dev": ("Delegated", "Fabrikam Ltd"),
        "adatum-erp": ("Delegated", "6a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"),
    }
