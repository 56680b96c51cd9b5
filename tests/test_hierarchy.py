"""Walking management groups with the real SDK: every subscription once, with its path and state."""

import asyncio

import pytest

from shared.azure_clients import AzureClients, build_credential
from shared.errors import RunFailed
from shared.hierarchy import discover
from tests.conftest import TENANT_ID, TenantBuilder, subscription_id


@pytest.fixture
def discover_with(settings_for):
    async def walk(group_ids):
        settings = settings_for()
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            return await discover(clients.groups, group_ids)

    return lambda *group_ids: asyncio.run(walk(group_ids))


def by_id(discovery):
    return {s.subscription_id: s for s in discovery.subscriptions}


def test_without_configured_groups_the_walk_starts_at_the_tenant_root(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.subscription(1, "corp")
    builder.subscription(2, "platform")
    builder.subscription(3, TENANT_ID)
    use_tenant(builder)

    discovery = discover_with()

    assert discovery.scope == (TENANT_ID,)
    subs = by_id(discovery)
    assert subs[subscription_id(1)].management_group_path == ("Tenant Root Group", "Contoso", "Landing Zones", "Corp")
    assert subs[subscription_id(2)].management_group_path == ("Tenant Root Group", "Contoso", "Platform")
    assert subs[subscription_id(3)].management_group_path == ("Tenant Root Group",)
    assert subs[subscription_id(1)].display_name == "sub-1"


def test_the_whole_tree_costs_one_call_per_scope_group_not_per_group(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    for number in range(20):
        builder.subscription(number, ["corp", "platform", "landing-zones"][number % 3])
    use_tenant(builder)

    discover_with("contoso")

    calls = emulator.stats.snapshot()["calls"]
    assert calls["managementGroups.get"] == 1
    assert calls["subscriptions.list"] == 1


def test_states_come_from_the_paged_subscription_list(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.tenant.page_size = 2
    for number in range(5):
        builder.subscription(number, state="Disabled" if number == 4 else "Enabled")
    use_tenant(builder)

    subs = by_id(discover_with("contoso"))

    assert subs[subscription_id(4)].state == "Disabled"
    assert subs[subscription_id(0)].state == "Enabled"
    assert emulator.stats.snapshot()["calls"]["subscriptions.list"] == 3


def test_a_subscription_missing_from_the_list_has_unknown_state(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.subscription(1, unlisted=True)
    use_tenant(builder)

    assert by_id(discover_with("contoso"))[subscription_id(1)].state == "Unknown"


def test_overlapping_scope_groups_list_each_subscription_once(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.subscription(1, "corp")
    use_tenant(builder)

    discovery = discover_with("corp", "contoso")

    assert len(discovery.subscriptions) == 1
    assert discovery.subscriptions[0].management_group_path == ("Contoso", "Landing Zones", "Corp")


def test_an_unreadable_scope_group_fails_the_run_with_advice(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.tenant.unreadable_group_ids = {"corp"}
    use_tenant(builder)

    with pytest.raises(RunFailed, match=r"could not read management group 'corp'.*AuthorizationFailed"):
        discover_with("corp")


def test_a_throttled_walk_is_retried(emulator, use_tenant, discover_with):
    from emulator.faults import Fault

    builder = TenantBuilder()
    builder.subscription(1)
    use_tenant(builder)
    emulator.add_fault(Fault(match="managementGroups/contoso", status=429, times=2, retry_after=0))

    assert len(discover_with("contoso").subscriptions) == 1
    assert emulator.stats.snapshot()["calls"]["managementGroups.get"] == 3
