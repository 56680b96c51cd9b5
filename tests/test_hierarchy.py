"""Walking management groups with the real SDK: every subscription once, with its path and state, never one lost."""

import asyncio
import copy

import pytest

from emulator.tenant import LIVE_GROUP_CHILD_TYPE, SPEC_GROUP_CHILD_TYPE
from shared.azure_clients import AzureClients, build_credential
from shared.errors import RunFailed
from shared.hierarchy import child_kind, discover, subscriptions_in
from tests.conftest import TENANT_ID, TenantBuilder, subscription_id
from tests.golden import response_body


@pytest.fixture
def discover_with(settings_for):
    async def walk(group_ids):
        settings = settings_for()
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            return await discover(clients.groups, group_ids, settings.arm_endpoint)

    return lambda *group_ids: asyncio.run(walk(group_ids))


def by_id(discovery):
    return {s.subscription_id: s for s in discovery.subscriptions}


def nested_tenant() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(1, "corp")
    builder.subscription(2, "platform")
    builder.subscription(3, TENANT_ID)
    return builder


@pytest.mark.parametrize("child_type", [LIVE_GROUP_CHILD_TYPE, SPEC_GROUP_CHILD_TYPE])
def test_nested_groups_are_walked_whether_typed_as_live_arm_or_as_the_spec_example(
    emulator, use_tenant, discover_with, child_type
):
    builder = nested_tenant()
    builder.tenant.group_child_type = child_type
    use_tenant(builder)

    discovery = discover_with()

    assert discovery.scope == (TENANT_ID,)
    subs = by_id(discovery)
    assert set(subs) == {subscription_id(1), subscription_id(2), subscription_id(3)}
    assert subs[subscription_id(1)].management_group_path == ("Tenant Root Group", "Contoso", "Landing Zones", "Corp")
    assert subs[subscription_id(2)].management_group_path == ("Tenant Root Group", "Contoso", "Platform")
    assert subs[subscription_id(3)].management_group_path == ("Tenant Root Group",)
    assert subs[subscription_id(1)].display_name == "sub-1"


def test_the_scope_groups_display_names_are_kept_for_people_to_read(emulator, use_tenant, discover_with):
    use_tenant(nested_tenant())

    assert discover_with().scope_names == ("Tenant Root Group",)
    assert discover_with("corp", "platform").scope_names == ("Corp", "Platform")


def test_the_emulator_serves_the_live_child_type_by_default():
    assert TenantBuilder().tenant.group_child_type == "/providers/Microsoft.Management/managementGroups"


@pytest.mark.parametrize(
    ("child_type", "kind"),
    [
        ("/providers/Microsoft.Management/managementGroups", "group"),
        ("Microsoft.Management/managementGroups", "group"),
        ("/PROVIDERS/microsoft.management/MANAGEMENTGROUPS/", "group"),
        ("/subscriptions", "subscription"),
        ("Microsoft.Management/managementGroups/subscriptions", "subscription"),
        ("/providers/Microsoft.Resources/resourceGroups", None),
        ("managementGroups", None),
        ("", None),
        (None, None),
    ],
)
def test_child_types_compare_on_their_last_path_segments_ignoring_case(child_type, kind):
    assert child_kind(child_type) == kind


def test_an_unknown_child_type_fails_the_run_and_names_the_type(emulator, use_tenant, discover_with):
    builder = nested_tenant()
    builder.tenant.unknown_child_type = "Contoso.Widgets/widgets"
    use_tenant(builder)

    with pytest.raises(RunFailed, match=r"unknown type 'Contoso.Widgets/widgets'"):
        discover_with()


def test_the_spec_example_tree_yields_its_subscription_with_the_path_of_groups_above_it():
    tree = response_body("2023-04-01__GetManagementGroupWithExpandAndRecurse")

    (subscription,) = subscriptions_in(tree, "RootGroup")

    assert subscription.subscription_id == "728bcbe4-8d56-4510-86c2-4921b8beefbc"
    assert subscription.display_name == "Pay-As-You-Go"
    assert subscription.management_group_path == ("RootGroup", "Child", "Leaf")


def test_the_spec_example_tree_typed_the_live_way_yields_the_same():
    tree = copy.deepcopy(response_body("2023-04-01__GetManagementGroupWithExpandAndRecurse"))
    stack = list(tree["properties"]["children"])
    while stack:
        child = stack.pop()
        if child["type"] == SPEC_GROUP_CHILD_TYPE:
            child["type"] = LIVE_GROUP_CHILD_TYPE
        stack.extend(child.get("children") or [])

    (subscription,) = subscriptions_in(tree, "RootGroup")

    assert subscription.management_group_path == ("RootGroup", "Child", "Leaf")


def test_at_the_tenant_root_a_listed_subscription_missing_from_the_tree_is_reported(
    emulator, use_tenant, discover_with
):
    builder = nested_tenant()
    builder.subscription(4, "corp", hidden_from_tree=True)
    use_tenant(builder)

    discovery = discover_with()

    assert subscription_id(4) not in by_id(discovery)
    assert [s.subscription_id for s in discovery.outside_tree] == [subscription_id(4)]
    assert discovery.outside_tree[0].display_name == "sub-4"


def test_below_the_root_subscriptions_elsewhere_in_the_tenant_are_not_reported(emulator, use_tenant, discover_with):
    builder = nested_tenant()
    builder.subscription(4, "corp", hidden_from_tree=True)
    use_tenant(builder)

    discovery = discover_with("corp")

    assert set(by_id(discovery)) == {subscription_id(1)}
    assert discovery.outside_tree == ()


def test_the_root_named_explicitly_gets_the_same_cross_check(emulator, use_tenant, discover_with):
    builder = nested_tenant()
    builder.subscription(4, "corp", hidden_from_tree=True)
    use_tenant(builder)

    assert [s.subscription_id for s in discover_with(TENANT_ID).outside_tree] == [subscription_id(4)]


def test_subscriptions_delegated_from_other_tenants_are_not_reported_as_missing(emulator, use_tenant, discover_with):
    builder = nested_tenant()
    builder.subscription(5, "corp", home_tenant_id="99999999-2222-3333-4444-555555555555")
    use_tenant(builder)

    discovery = discover_with()

    assert subscription_id(5) not in by_id(discovery)
    assert discovery.outside_tree == ()
    assert discovery.delegated_left_out == 1


def test_the_whole_tree_costs_one_call_per_scope_group_not_per_group(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    for number in range(20):
        builder.subscription(number, ["corp", "platform", "landing-zones"][number % 3])
    use_tenant(builder)

    assert len(discover_with("contoso").subscriptions) == 20

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


def test_a_next_link_to_another_host_is_refused_and_never_followed(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.tenant.page_size = 2
    builder.tenant.next_link_host = "attacker.example"
    for number in range(5):
        builder.subscription(number)
    use_tenant(builder)

    with pytest.raises(RunFailed, match=r"could not list subscriptions: refused to follow a link to https://attacker"):
        discover_with("contoso")
    assert emulator.stats.snapshot()["calls"]["subscriptions.list"] == 1


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

    with pytest.raises(
        RunFailed,
        match=r"could not read management group 'corp'.*AuthorizationFailed.*"
        r"Defender Contact Monitor Reader \(or Security Reader\) on it\.$",
    ):
        discover_with("corp")


def test_a_throttled_walk_is_retried(emulator, use_tenant, discover_with):
    from emulator.faults import Fault

    builder = TenantBuilder()
    builder.subscription(1)
    use_tenant(builder)
    emulator.add_fault(Fault(match="managementGroups/contoso", status=429, times=2, retry_after=0))

    assert len(discover_with("contoso").subscriptions) == 1
    assert emulator.stats.snapshot()["calls"]["managementGroups.get"] == 3
