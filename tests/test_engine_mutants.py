"""Engine details the other engine tests leave open, found by the mutation check (docs/mutation.md).

Finding messages and run errors are what people read in reports, so their wording is pinned here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from emulator.faults import Fault
from emulator.tenant import API_2017, API_2020, API_2023, Tenant
from shared.azure_clients import AzureClients, build_credential
from shared.checker import check_subscription, exit_code, exit_reason, run_check, settle_api_version
from shared.config import load_settings
from shared.contact_shapes import ContactShapeError, parse_contacts
from shared.contacts import MAX_INCONCLUSIVE_PROBES, PROBE_SLOTS, ContactReader, ContactReadError
from shared.errors import RunFailed
from shared.hierarchy import discover, subscriptions_in
from shared.models import ContactSettings, ContactState, Report, Status, Subscription, SubscriptionResult
from shared.rules import evaluate
from tests.conftest import TENANT_ID, TenantBuilder, good_contact, subscription_id
from tests.test_rules import contact

NOT_REGISTERED = (
    "Defender for Cloud has never been set up on this subscription (the Microsoft.Security resource "
    "provider is not registered), so no security alert emails are sent at all."
)


def messages(checked: ContactSettings, **app_settings: str) -> list[tuple[str, str]]:
    settings = load_settings({"REQUIRE_ATTACK_PATH_NOTIFICATIONS": "true", **app_settings})
    return [(finding.rule, finding.message) for finding in evaluate(checked, settings)]


# -- rules: the exact wording of every finding ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checked", "app_settings", "expected"),
    [
        pytest.param(
            ContactSettings.provider_not_registered(API_2023),
            {},
            [
                (
                    "contact-email",
                    "Defender for Cloud has never been set up on this subscription (the Microsoft.Security resource "
                    "provider is not registered), so there is no security contact and no alert emails at all.",
                ),
                ("alert-notifications", NOT_REGISTERED),
                ("owner-notifications", NOT_REGISTERED),
                ("attack-path-notifications", NOT_REGISTERED),
            ],
            id="provider-not-registered",
        ),
        pytest.param(
            ContactSettings.not_configured(API_2023),
            {"MIN_ATTACK_PATH_RISK": "Critical"},
            [
                (
                    "contact-email",
                    "No security contact is configured: only Defender for Cloud's default emails to the subscription "
                    "owners (high-severity alerts) go out, and no security mailbox is told anything.",
                )
            ],
            id="not-configured",
        ),
        pytest.param(
            contact(emails=()), {}, [("contact-email", "The security contact has no email address.")], id="no-email"
        ),
        pytest.param(
            contact(emails=("nope", "also wrong")),
            {},
            [("contact-email", "Not a valid email address: nope, also wrong; replace it with a real mailbox.")],
            id="invalid-emails",
        ),
        pytest.param(
            contact(emails=("a@contoso.com,b@contoso.com",)),
            {},
            [
                (
                    "contact-email",
                    "Not a valid email address: a@contoso.com,b@contoso.com (separate several addresses with ';', "
                    "not ','); replace it with a real mailbox.",
                )
            ],
            id="comma-separated",
        ),
        pytest.param(
            contact(emails=("soc@fabrikam.com", "soc@contoso.com", "soc@evil.net")),
            {"ALLOWED_EMAIL_DOMAINS": "contoso.com,contoso.org"},
            [
                (
                    "contact-email",
                    "Outside the allowed domains (contoso.com, contoso.org): soc@fabrikam.com, soc@evil.net; "
                    "use a mailbox in an allowed domain.",
                )
            ],
            id="outside-domains",
        ),
        pytest.param(
            contact(alert_notifications=False),
            {},
            [("alert-notifications", "Alert email notifications are turned off.")],
            id="alerts-off",
        ),
        pytest.param(
            contact(alert_minimal_severity=None),
            {},
            [("alert-notifications", "Alert notifications are on but no minimal severity is set.")],
            id="no-severity",
        ),
        pytest.param(
            contact(alert_minimal_severity="Severe"),
            {},
            [
                (
                    "alert-notifications",
                    "Alert notifications use an unrecognised minimal severity 'Severe' (expected Low to High).",
                )
            ],
            id="unknown-severity",
        ),
        pytest.param(
            contact(role_notifications=False),
            {},
            [("owner-notifications", "Notifications to subscription owners are turned off.")],
            id="owners-off",
        ),
        pytest.param(
            contact(notified_roles=("Contributor", "Reader")),
            {},
            [("owner-notifications", "Role notifications do not include Owner (roles: Contributor, Reader).")],
            id="owner-missing",
        ),
        pytest.param(
            contact(expresses_attack_paths=False, api_version=API_2020),
            {},
            [
                (
                    "attack-path-notifications",
                    f"The security contacts API in use ({API_2020}) cannot show attack-path notifications, "
                    "so they cannot be confirmed.",
                )
            ],
            id="api-without-attack-paths",
        ),
        pytest.param(
            contact(attack_path_notifications=False),
            {},
            [("attack-path-notifications", "Attack-path email notifications are turned off.")],
            id="attack-paths-off",
        ),
        pytest.param(
            contact(attack_path_minimal_risk=None),
            {},
            [("attack-path-notifications", "Attack-path notifications are on but no minimal risk level is set.")],
            id="no-risk",
        ),
        pytest.param(
            contact(attack_path_minimal_risk="Severe"),
            {},
            [
                (
                    "attack-path-notifications",
                    "Attack-path notifications use an unrecognised risk level 'Severe' (expected Low to Critical).",
                )
            ],
            id="unknown-risk",
        ),
        pytest.param(
            contact(attack_path_minimal_risk="Critical"),
            {},
            [
                (
                    "attack-path-notifications",
                    "Only Critical risk attack paths are emailed; High ones go unnoticed.",
                )
            ],
            id="risk-too-high",
        ),
        pytest.param(
            contact(switched_off="isEnabled is false"),
            {},
            [
                ("alert-notifications", "All security email notifications are off (isEnabled is false)."),
                ("owner-notifications", "All security email notifications are off (isEnabled is false)."),
                ("attack-path-notifications", "All security email notifications are off (isEnabled is false)."),
            ],
            id="master-switch-off",
        ),
    ],
)
def test_each_finding_reads_exactly_as_people_will_see_it(checked, app_settings, expected):
    assert messages(checked, **app_settings) == expected


def test_the_attack_path_fix_names_the_required_risk_level():
    settings = load_settings({"REQUIRE_ATTACK_PATH_NOTIFICATIONS": "true", "MIN_ATTACK_PATH_RISK": "Medium"})

    (finding,) = evaluate(contact(attack_path_minimal_risk="High"), settings)

    assert "choose Medium or lower" in finding.fix


# -- contact shapes ---------------------------------------------------------------------------------------------------


def resource(properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": "/subscriptions/x/providers/Microsoft.Security/securityContacts/default1", "properties": properties}


@pytest.mark.parametrize(
    ("properties", "error"),
    [
        ({"email": 5}, "email is int, expected a string or a list of strings"),
        (
            {"email": "a@contoso.com", "alertNotifications": "Maybe"},
            "alertNotifications is 'Maybe', expected On or Off",
        ),
        ({"email": "a@contoso.com", "alertsToAdmins": True}, "alertsToAdmins is True, expected On or Off"),
    ],
)
def test_a_2017_value_of_an_unexpected_type_is_an_error_naming_the_field(properties, error):
    with pytest.raises(ContactShapeError) as raised:
        parse_contacts([resource(properties)], API_2017)

    assert str(raised.value) == error


def test_the_2017_alerts_to_admins_switch_notifies_the_three_classic_admin_roles():
    contact = parse_contacts([resource({"email": "a@contoso.com", "alertsToAdmins": "On"})], API_2017)

    assert contact.role_notifications is True
    assert contact.notified_roles == ("Owner", "ServiceAdmin", "AccountAdmin")


@pytest.mark.parametrize(
    ("properties", "error"),
    [
        ({"emails": 42}, "emails is int, expected a string or a list of strings"),
        ({"emails": ["a@contoso.com", 7]}, "emails is a list with entries that are not strings"),
        ({"isEnabled": "yes"}, "isEnabled is 'yes', expected true or false"),
        ({"phone": 5551234}, "phone is int, expected a string"),
        ({"alertNotifications": "On"}, "alertNotifications is not an object"),
        ({"alertNotifications": {"state": "Maybe"}}, "alertNotifications.state is 'Maybe', expected On or Off"),
        ({"alertNotifications": {"state": "On", "minimalSeverity": 2}}, "minimalSeverity is int, expected a string"),
        ({"notificationsSources": "Alert"}, "notificationsSources is not a list"),
        ({"notificationsSources": ["Alert"]}, "notificationsSources has an entry that is not an object"),
        ({"notificationsSources": [{"sourceType": 3}]}, "notificationsSources has a sourceType of 3"),
        (
            {"notificationsSources": [{"sourceType": "Alert", "minimalSeverity": 2}]},
            "minimalSeverity is int, expected a string",
        ),
        (
            {"notificationsSources": [{"sourceType": "AttackPath", "minimalRiskLevel": 2}]},
            "minimalRiskLevel is int, expected a string",
        ),
        ({"notificationsByRole": "On"}, "notificationsByRole is not an object"),
        (
            {"notificationsByRole": {"state": "On", "roles": "Owner"}},
            "notificationsByRole.roles is not a list of role names",
        ),
        ({"notificationsByRole": {"state": 1, "roles": []}}, "notificationsByRole.state is 1, expected On or Off"),
    ],
)
def test_a_value_of_an_unexpected_type_is_an_error_naming_the_field_and_what_was_expected(properties, error):
    with pytest.raises(ContactShapeError) as raised:
        parse_contacts([resource({"emails": "a@contoso.com", "isEnabled": True, **properties})], API_2023)

    assert str(raised.value) == error


def test_a_resource_without_properties_is_an_error_that_says_so():
    with pytest.raises(ContactShapeError) as raised:
        parse_contacts([{"id": "x"}], API_2023)

    assert str(raised.value) == "security contact without a properties object"


def test_no_contact_resources_is_not_configured_under_the_api_version_asked():
    assert parse_contacts([], API_2023).api_version == API_2023


def test_a_2017_resource_without_its_switches_sends_nothing():
    contact = parse_contacts([resource({"email": "a@contoso.com"})], API_2017)

    assert (contact.alert_notifications, contact.role_notifications) == (False, False)


def test_a_newer_contact_without_emails_still_has_its_notifications_read():
    contact = parse_contacts(
        [resource({"isEnabled": True, "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "Low"}]})],
        API_2023,
    )

    assert contact.emails == ()
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "Low")


def test_a_resource_with_both_email_and_emails_is_read_as_the_newer_shape():
    contact = parse_contacts(
        [
            resource(
                {
                    "email": "old@contoso.com",
                    "emails": "new@contoso.com",
                    "isEnabled": True,
                    "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "Low"}],
                }
            )
        ],
        API_2023,
    )

    assert contact.emails == ("new@contoso.com",)
    assert contact.alert_minimal_severity == "Low"


@pytest.mark.parametrize(
    ("properties", "api_version"),
    [
        ({"alertNotifications": {"state": "On"}}, API_2020),
        ({"isEnabled": True, "notificationsSources": [{"sourceType": "Alert"}]}, API_2023),
    ],
)
def test_alerts_on_without_a_minimal_severity_read_as_no_severity_set(properties, api_version):
    contact = parse_contacts([resource({"emails": "a@contoso.com", **properties})], api_version)

    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, None)


def test_attack_paths_on_without_a_risk_level_read_as_no_risk_level_set():
    contact = parse_contacts(
        [
            resource(
                {"emails": "a@contoso.com", "isEnabled": True, "notificationsSources": [{"sourceType": "AttackPath"}]}
            )
        ],
        API_2023,
    )

    assert (contact.attack_path_notifications, contact.attack_path_minimal_risk) == (True, None)


def test_role_notifications_without_a_roles_list_notify_no_role():
    contact = parse_contacts(
        [resource({"emails": "a@contoso.com", "isEnabled": True, "notificationsByRole": {"state": "On"}})], API_2023
    )

    assert (contact.role_notifications, contact.notified_roles) == (True, ())


# -- hierarchy: trees as ARM may shape them ---------------------------------------------------------------------------

GROUP_TYPE = "/providers/Microsoft.Management/managementGroups"


def test_groups_without_display_names_are_named_by_their_ids_in_the_path():
    tree = {
        "name": "mg-top",
        "properties": {
            "children": [
                {
                    "type": GROUP_TYPE,
                    "name": "mg-child",
                    "children": [{"type": "/subscriptions", "name": "sub-a", "displayName": "A"}],
                }
            ]
        },
    }

    (subscription,) = subscriptions_in(tree, "scope-id")

    assert subscription == Subscription("sub-a", "A", ("mg-top", "mg-child"), "Unknown", tenant_id="")


def test_a_tree_without_a_name_is_named_by_the_scope_id():
    tree = {"properties": {"children": [{"type": "/subscriptions", "name": "sub-a"}]}}

    (subscription,) = subscriptions_in(tree, "scope-id")

    assert subscription.management_group_path == ("scope-id",)


def test_a_display_name_that_is_not_text_is_not_a_group_name():
    tree = {"name": "mg-top", "properties": {"displayName": 42, "children": [{"type": "/subscriptions", "name": "a"}]}}

    (subscription,) = subscriptions_in(tree, "scope-id")

    assert subscription.management_group_path == ("mg-top",)


def test_a_subscription_child_is_known_by_its_name_or_else_the_last_segment_of_its_id():
    tree = {
        "name": "mg",
        "properties": {
            "children": [
                {"type": "/subscriptions", "name": "sub-a"},
                {"type": "/subscriptions", "id": "/subscriptions/sub-b"},
            ]
        },
    }

    found = [(s.subscription_id, s.display_name) for s in subscriptions_in(tree, "mg")]

    assert found == [("sub-a", "sub-a"), ("sub-b", "sub-b")]


def test_a_subscription_child_with_neither_name_nor_id_fails_the_run_naming_the_group():
    tree = {"name": "mg", "properties": {"children": [{"type": "/subscriptions"}]}}

    with pytest.raises(RunFailed) as raised:
        list(subscriptions_in(tree, "scope-id"))

    assert str(raised.value) == "management group 'scope-id' came back in an unexpected shape (KeyError('id'))"


# -- hierarchy: walking the emulated tenant ---------------------------------------------------------------------------


@pytest.fixture
def discover_with(settings_for):
    async def walk(group_ids, include_delegated):
        settings = settings_for()
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            return await discover(clients.groups, group_ids, settings.arm_endpoint, include_delegated)

    return lambda *group_ids, include_delegated=False: asyncio.run(walk(group_ids, include_delegated))


# ARM's reason ends in exactly one mark of its own before the advice, however its message ended.
@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("No access.", "HTTP 403 AuthorizationFailed: No access."),
        ("No access", "HTTP 403 AuthorizationFailed: No access."),
        ("No access!", "HTTP 403 AuthorizationFailed: No access!"),
        ("Who are you?", "HTTP 403 AuthorizationFailed: Who are you?"),
    ],
)
def test_an_unreadable_scope_group_says_why_in_one_sentence_then_what_to_grant(
    emulator, use_tenant, discover_with, message, reason
):
    use_tenant(TenantBuilder())
    emulator.add_fault(
        Fault(match="managementGroups/corp\\?", status=403, code="AuthorizationFailed", message=message, times=None)
    )

    with pytest.raises(RunFailed) as raised:
        discover_with("corp")

    assert str(raised.value) == (
        f"could not read management group 'corp': {reason} Check the id and that the identity has "
        "Defender Contact Monitor Reader (or Security Reader) on it."
    )


class TenantWithOddEntries(Tenant):
    """The emulated tenant, serving hand-written list entries for the groups and subscriptions a test names."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(tenant_id)
        self.group_entries: dict[str, Any] = {}
        self.subscription_entries: dict[str, Any] = {}
        self.group_bodies: dict[str, Any] = {}
        # Served by GET /tenants before this tenant's own entry.
        self.tenant_list_entries: list[Any] = []

    def tenant_entries(self):
        return [*self.tenant_list_entries, *super().tenant_entries()]

    def group_details(self, group, expand_children, recurse):
        if group.group_id in self.group_bodies:
            return self.group_bodies[group.group_id]
        return super().group_details(group, expand_children, recurse)

    def group_summary(self, group):
        if group.group_id in self.group_entries:
            return self.group_entries[group.group_id]
        return super().group_summary(group)

    def subscription_entry(self, sub):
        if sub.subscription_id in self.subscription_entries:
            return self.subscription_entries[sub.subscription_id]
        return super().subscription_entry(sub)


def tenant_with_odd_entries(tenant_id: str = TENANT_ID) -> TenantBuilder:
    builder = TenantBuilder()
    builder.tenant = TenantWithOddEntries(tenant_id)
    return builder


def test_an_unknown_child_error_names_the_scope_group_and_the_childs_id(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.tenant.unknown_child_type = "Contoso.Widgets/widgets"
    use_tenant(builder)

    with pytest.raises(RunFailed) as raised:
        discover_with()

    assert str(raised.value) == (
        f"management group '{TENANT_ID}' has a child of unknown type 'Contoso.Widgets/widgets' "
        "(/providers/Contoso.Widgets/widgets/w1); stopping rather than leaving out whatever is below it"
    )


def test_overlapping_scopes_keep_the_outermost_path_whichever_scope_comes_first(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.subscription(1, "corp")
    use_tenant(builder)

    (subscription,) = discover_with("contoso", "corp").subscriptions

    assert subscription.management_group_path == ("Contoso", "Landing Zones", "Corp")


def test_a_tenant_id_with_capital_letters_still_gets_the_root_cross_check(emulator, use_tenant, discover_with):
    mixed_case_id = "AbCdEf01-2222-3333-4444-555555555555"
    builder = TenantBuilder()
    builder.tenant = Tenant(mixed_case_id)
    builder.subscription(1, mixed_case_id)
    builder.subscription(2, mixed_case_id, hidden_from_tree=True)
    use_tenant(builder)

    discovery = discover_with()

    assert [s.subscription_id for s in discovery.subscriptions] == [subscription_id(1)]
    assert [s.subscription_id for s in discovery.outside_tree] == [subscription_id(2)]
    assert discovery.delegated_left_out == 0


def test_a_listed_subscription_without_a_state_has_unknown_state(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.subscription(1, state=None)
    use_tenant(builder)

    assert discover_with("contoso").subscriptions[0].state == "Unknown"


def test_a_listed_subscription_without_a_tenant_is_counted_as_this_tenants(emulator, use_tenant, discover_with):
    builder = tenant_with_odd_entries()
    hidden = builder.subscription(1, TENANT_ID, hidden_from_tree=True)
    builder.tenant.subscription_entries[hidden] = {"subscriptionId": hidden, "displayName": "sub-1", "state": "Enabled"}
    use_tenant(builder)

    discovery = discover_with()

    assert [s.subscription_id for s in discovery.outside_tree] == [hidden]
    assert discovery.delegated_left_out == 0


def test_a_subscription_list_entry_without_an_id_fails_the_run(emulator, use_tenant, discover_with):
    builder = tenant_with_odd_entries()
    sub = builder.subscription(1, TENANT_ID)
    builder.tenant.subscription_entries[sub] = {"displayName": "sub-1"}
    use_tenant(builder)

    with pytest.raises(RunFailed) as raised:
        discover_with()

    assert str(raised.value) == "could not list subscriptions: unexpected response shape (KeyError('subscriptionId'))"


def test_listed_groups_without_a_readable_tenant_id_are_passed_over_when_finding_the_root(
    emulator, use_tenant, discover_with
):
    builder = tenant_with_odd_entries()
    odd_entries = {"not-an-object": "text", "no-properties": {"properties": None}, "no-tenant": {"properties": {}}}
    for group_id, entry in odd_entries.items():
        builder.tenant.add_group(group_id, group_id)
        builder.tenant.group_entries[group_id] = entry
    builder.subscription(1, TENANT_ID)
    # The emulator lists the root first; list the odd groups before it, as ARM's order is not promised.
    builder.tenant.groups = dict(reversed(builder.tenant.groups.items()))
    builder.tenant.root_id = "listed-in-insertion-order"
    use_tenant(builder)

    discovery = discover_with()

    assert discovery.scope == (TENANT_ID,)
    assert [s.subscription_id for s in discovery.subscriptions] == [subscription_id(1)]


def test_a_scope_group_that_is_not_an_object_fails_the_run(emulator, use_tenant, discover_with):
    builder = tenant_with_odd_entries()
    builder.tenant.add_group("contoso", "Contoso")
    builder.tenant.group_bodies["contoso"] = ["not", "a", "group"]
    use_tenant(builder)

    with pytest.raises(RunFailed) as raised:
        discover_with("contoso")

    assert str(raised.value) == "management group 'contoso' came back in an unexpected shape (not an object)"


def test_a_scope_group_answered_without_a_name_is_named_by_the_requested_id(emulator, use_tenant, discover_with):
    builder = tenant_with_odd_entries()
    builder.tenant.add_group("contoso", "Contoso")
    builder.tenant.group_bodies["contoso"] = {"properties": {"children": []}}
    use_tenant(builder)

    assert discover_with("contoso").scope_names == ("contoso",)


def test_every_delegated_subscription_is_counted(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    for number in (1, 2):
        builder.subscription(number, "corp", home_tenant_id="99999999-2222-3333-4444-555555555555")
    use_tenant(builder)

    assert discover_with().delegated_left_out == 2


def test_delegated_subscriptions_left_out_are_logged_once_with_their_count(emulator, use_tenant, discover_with, caplog):
    builder = TenantBuilder()
    for number in (1, 2):
        builder.subscription(number, "corp", home_tenant_id="99999999-2222-3333-4444-555555555555")
    use_tenant(builder)

    with caplog.at_level(logging.INFO, logger="shared.hierarchy"):
        discover_with()

    (message,) = [r.getMessage() for r in caplog.records if r.name == "shared.hierarchy"]
    assert message.startswith("2 subscriptions delegated from other tenants")


def test_included_delegations_are_named_by_tenant_display_name_or_default_domain_else_tenant_id(
    emulator, use_tenant, discover_with
):
    fabrikam, adatum = "f0000000-0000-4000-8000-00000000fab1", "a0000000-0000-4000-8000-0000000ada7a"
    builder = tenant_with_odd_entries()
    builder.subscription(10, TENANT_ID, home_tenant_id=fabrikam)
    builder.subscription(11, TENANT_ID, home_tenant_id=adatum)
    builder.tenant.tenant_list_entries = [
        "not-an-object",
        {"tenantId": None, "displayName": "No id"},
        {"tenantId": fabrikam, "defaultDomain": "fabrikam.onmicrosoft.com"},
        {"tenantId": adatum, "displayName": 5},
    ]
    use_tenant(builder)

    discovery = discover_with(include_delegated=True)

    assert {s.subscription_id: s.management_group_path for s in discovery.subscriptions} == {
        subscription_id(10): ("Delegated", "fabrikam.onmicrosoft.com"),
        subscription_id(11): ("Delegated", adatum),
    }
    assert discovery.delegated_left_out == 0


def test_a_subscription_outside_the_tree_is_reported_with_no_path_and_its_listed_state(
    emulator, use_tenant, discover_with
):
    builder = TenantBuilder()
    builder.subscription(4, "corp", hidden_from_tree=True, state="PastDue")
    use_tenant(builder)

    assert discover_with().outside_tree == (Subscription(subscription_id(4), "sub-4", (), "PastDue", TENANT_ID),)


def test_a_refused_management_group_list_fails_the_run_saying_why(emulator, use_tenant, discover_with):
    use_tenant(TenantBuilder())
    emulator.add_fault(Fault(match=r"managementGroups\?", status=403, times=None))

    with pytest.raises(RunFailed) as raised:
        discover_with()

    assert str(raised.value) == (
        "could not list management groups to find the tenant root: HTTP 403 AuthorizationFailed: "
        "The client does not have authorization to perform action."
    )


def test_no_visible_management_group_fails_the_run_with_advice(emulator, use_tenant, discover_with):
    builder = TenantBuilder()
    builder.tenant.groups = {}
    use_tenant(builder)

    with pytest.raises(RunFailed) as raised:
        discover_with()

    assert str(raised.value) == (
        "no management groups are visible to this identity; grant it Defender Contact Monitor Reader "
        "(or Security Reader) on the tenant root group or set MANAGEMENT_GROUP_IDS to the groups it can read"
    )


# -- contacts: what each refusal means --------------------------------------------------------------------------------


@pytest.fixture
def read_in_order(settings_for):
    """Read subscriptions one after another with one reader: each contact (or its error), and the reader."""

    async def read(subscription_ids):
        settings = settings_for()
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
            await reader.decide_api_version()
            results: list[ContactSettings | ContactReadError] = []
            for sub in subscription_ids:
                try:
                    results.append(await reader.read(sub))
                except ContactReadError as error:
                    results.append(error)
            return results, reader

    return lambda *subscription_ids: asyncio.run(read(subscription_ids))


def tenant_of(count: int) -> tuple[TenantBuilder, list[str]]:
    builder = TenantBuilder()
    return builder, [builder.subscription(number, contact=good_contact()) for number in range(count)]


def contact_calls_with(emulator, api_version: str) -> int:
    return sum(1 for entry in emulator.stats.log if entry[1] == "securityContacts" and api_version in entry[2])


def test_where_neither_api_version_is_offered_the_error_says_so_and_why(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(1)
    builder.tenant.contact_api_versions = (API_2017,)
    use_tenant(builder)

    (error,), _ = read_in_order(*subs)

    assert isinstance(error, ContactReadError)
    assert str(error) == (
        f"api-version {API_2023} of the security contacts API is not offered here, and no older one that this "
        f"monitor reads is: HTTP 400 NoRegisteredProviderFound: No registered resource provider found "
        f"for location 'global' and API version '{API_2023}' for type 'securityContacts'. The supported api-versions "
        f"are '{API_2017}'."
    )


def test_verdicts_from_refusals_carry_and_record_the_api_version_that_gave_them(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(2)
    builder.tenant.subscriptions[subs[1]].security_provider_registered = False
    use_tenant(builder)
    emulator.add_fault(Fault(match=subs[0], status=404, code="ResourceNotFound", message="Not found.", times=1))

    (not_configured, not_registered), reader = read_in_order(*subs)

    assert (not_configured.state, not_configured.api_version) == (ContactState.NOT_CONFIGURED, API_2023)
    assert (not_registered.state, not_registered.api_version) == (ContactState.PROVIDER_NOT_REGISTERED, API_2023)
    assert reader.api_versions_used == {API_2023}


def test_a_409_with_another_code_is_an_error_not_an_unregistered_provider(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(Fault(match="securityContacts", status=409, code="Conflict", message="Busy.", times=1))

    (error,), _ = read_in_order(*subs)

    assert str(error) == "HTTP 409 Conflict: Busy."


def test_only_a_400_refusal_means_an_api_version_is_not_offered(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(
        Fault(match="securityContacts", status=403, code="NoRegisteredProviderFound", message="Denied.", times=1)
    )

    (error,), _ = read_in_order(*subs)

    assert str(error) == "HTTP 403 NoRegisteredProviderFound: Denied."


def test_another_404_is_reported_as_arm_gave_it_without_the_moved_subscription_hint(
    emulator, use_tenant, read_in_order
):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(
        Fault(match="securityContacts", status=404, code="NotFound", message="The requested path does not exist.")
    )

    (error,), _ = read_in_order(*subs)

    assert str(error) == "HTTP 404 NotFound: The requested path does not exist."


def test_an_unknown_subscription_error_reads_in_full(emulator, use_tenant, read_in_order):
    use_tenant(TenantBuilder())
    unknown = "99999999-0000-4000-8000-000000000000"

    (error,), _ = read_in_order(unknown)

    assert str(error) == (
        f"HTTP 404 SubscriptionNotFound: The subscription '{unknown}' could not be found. "
        "(the subscription may have moved to another tenant or been deleted)"
    )


def test_a_missing_subscription_is_an_error_even_when_arm_mentions_contacts(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(
        Fault(
            match="securityContacts",
            status=404,
            code="SubscriptionNotFound",
            message="No subscription to read securityContacts from.",
        )
    )

    (error,), _ = read_in_order(*subs)

    assert isinstance(error, ContactReadError)


# The provider's own list of api-versions cannot be read: only the refusal itself can say it is cloud-wide.
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("InvalidResourceType", "The resource type could not be found."),
        (
            "NoRegisteredProviderFound",
            f"No registered resource provider found for API version '{API_2023}'. "
            f"The supported api-versions are '{API_2020}, {API_2023}'.",
        ),
    ],
)
def test_a_refusal_that_does_not_speak_for_the_cloud_does_not_switch_the_run(
    emulator, use_tenant, read_in_order, code, message
):
    builder, subs = tenant_of(3)
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))
    emulator.add_fault(Fault(match=f"{subs[0]}.*{API_2023}", status=400, code=code, message=message, times=1))

    contacts, _ = read_in_order(*subs)

    assert [c.api_version for c in contacts] == [API_2020, API_2023, API_2023]


UNREADABLE_PROVIDER_LIST = Fault(match="providers/Microsoft.Security\\?", status=403, times=None)


def test_a_refusal_that_lists_nothing_this_monitor_reads_ends_the_read_without_trying_the_default_fallback(
    emulator, use_tenant, read_in_order
):
    builder, subs = tenant_of(1)
    builder.tenant.contact_api_versions = (API_2017,)
    use_tenant(builder)
    emulator.add_fault(UNREADABLE_PROVIDER_LIST)

    (error,), _ = read_in_order(*subs)

    assert str(error).startswith(
        f"api-version {API_2023} of the security contacts API is not offered here, and no older"
    )
    assert contact_calls_with(emulator, API_2020) == 0


def test_where_the_fallback_is_refused_too_the_error_names_both(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(UNREADABLE_PROVIDER_LIST)
    for version in (API_2023, API_2020):
        emulator.add_fault(
            Fault(
                match=f"securityContacts.*{version}",
                status=400,
                code="NoRegisteredProviderFound",
                message=f"No registered resource provider found for API version '{version}'.",
            )
        )

    (error,), _ = read_in_order(*subs)

    assert str(error) == (
        f"neither {API_2023} nor {API_2020} of the security contacts API is offered: HTTP 400 "
        f"NoRegisteredProviderFound: No registered resource provider found for API version '{API_2020}'."
    )


def test_a_400_listing_other_api_versions_is_a_refusal_whatever_its_code(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(UNREADABLE_PROVIDER_LIST)
    emulator.add_fault(
        Fault(
            match=f"securityContacts.*{API_2023}",
            status=400,
            code="BadRequest",
            message=f"The supported api-versions are '{API_2020}'.",
        )
    )

    (contact_settings,), _ = read_in_order(*subs)

    assert contact_settings.api_version == API_2020


def test_a_400_with_another_code_and_no_list_is_an_error_not_a_refusal(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(UNREADABLE_PROVIDER_LIST)
    emulator.add_fault(Fault(match="securityContacts", status=400, code="BadRequest", message="Malformed filter."))

    (error,), _ = read_in_order(*subs)

    assert str(error) == "HTTP 400 BadRequest: Malformed filter."
    assert contact_calls_with(emulator, API_2020) == 0


def test_a_cloud_wide_refusal_without_a_list_moves_the_whole_run_to_the_fallback(emulator, use_tenant, read_in_order):
    builder, subs = tenant_of(3)
    use_tenant(builder)
    emulator.add_fault(UNREADABLE_PROVIDER_LIST)
    emulator.add_fault(
        Fault(
            match=f"securityContacts.*{API_2023}",
            status=400,
            code="NoRegisteredProviderFound",
            message=f"No registered resource provider found for API version '{API_2023}'.",
            times=None,
        )
    )

    contacts, reader = read_in_order(*subs)

    assert [c.api_version for c in contacts] == [API_2020] * 3
    assert contact_calls_with(emulator, API_2023) == 1
    assert reader.api_version == API_2020


def test_a_refused_later_page_is_an_error_even_when_it_would_read_as_a_verdict(emulator, use_tenant, read_in_order):
    builder = TenantBuilder()
    items = [{"name": f"c{n}", "properties": {"emails": f"team{n}@contoso.com", "isEnabled": True}} for n in range(3)]
    sub = builder.subscription(1, raw_contacts={API_2023: items})
    builder.tenant.page_size = 2
    use_tenant(builder)
    emulator.add_fault(Fault(match="skiptoken", status=404, code="ResourceNotFound", message="Gone."))

    (error,), _ = read_in_order(sub)

    assert isinstance(error, ContactReadError)
    assert str(error) == "HTTP 404 ResourceNotFound: Gone."


def test_a_run_that_falls_back_says_so_once_in_the_log(emulator, use_tenant, read_in_order, caplog):
    builder, subs = tenant_of(2)
    builder.tenant.contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)
    # Unreadable provider list: the first refusal decides, and says so once.
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    with caplog.at_level(logging.WARNING, logger="shared.contacts"):
        read_in_order(*subs)

    (warning,) = [record.getMessage() for record in caplog.records if record.name == "shared.contacts"]
    assert re.fullmatch(
        f"security contacts api-version {API_2023} is not offered here "
        rf"\(HTTP 400 NoRegisteredProviderFound: .*\); using {API_2020} for this run",
        warning,
    )


def test_a_run_started_on_the_providers_choice_says_so_once_in_the_log(emulator, use_tenant, read_in_order, caplog):
    builder, subs = tenant_of(2)
    builder.tenant.contact_api_versions = (API_2020, API_2017)
    use_tenant(builder)

    with caplog.at_level(logging.WARNING, logger="shared.contacts"):
        read_in_order(*subs)

    (warning,) = [record.getMessage() for record in caplog.records if record.name == "shared.contacts"]
    assert warning == (
        f"security contacts api-version {API_2023} is not offered here (Microsoft.Security offers {API_2020}, "
        f"{API_2017}); using {API_2020} for this run"
    )


def test_why_the_providers_api_version_list_could_not_be_read_is_kept_in_the_debug_log(
    emulator, use_tenant, read_in_order, caplog
):
    builder, subs = tenant_of(1)
    builder.tenant.contact_api_versions = (API_2017, API_2020)
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    with caplog.at_level(logging.DEBUG, logger="shared.contacts"):
        read_in_order(*subs)

    (record,) = [r for r in caplog.records if r.name == "shared.contacts" and r.levelno == logging.DEBUG]
    assert record.getMessage() == "could not read Microsoft.Security's api-versions"
    assert record.exc_info is not None
    assert "HTTP 403 AuthorizationFailed" in str(record.exc_info[1])


# -- contacts: how many reads may try an unproven api-version at once -------------------------------------------------


async def entered_at_once(reader: ContactReader, attempts: int = 4) -> int:
    """How many of `attempts` concurrent turns the reader lets in before any of them ends."""
    entered = 0
    release = asyncio.Event()

    async def hold() -> None:
        nonlocal entered
        async with reader.turn():
            entered += 1
            await release.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(attempts)]
    for _ in range(10):
        await asyncio.sleep(0)
    count = entered
    release.set()
    await asyncio.gather(*tasks)
    return count


@pytest.fixture
def admitted(settings_for):
    """Read the given subscriptions in turn (without a provider list), then count the turns let in at once."""

    async def run(subscription_ids, decide, app_settings):
        settings = settings_for(**app_settings)
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
            if decide:
                await reader.decide_api_version()
            for sub in subscription_ids:
                with contextlib.suppress(ContactReadError):
                    await reader.read(sub)
            return await entered_at_once(reader)

    return lambda *subs, decide=False, **app_settings: asyncio.run(run(subs, decide, app_settings))


def test_an_unproven_api_version_is_tried_by_two_reads_at_a_time(emulator, use_tenant, admitted):
    use_tenant(TenantBuilder())

    assert admitted() == PROBE_SLOTS == 2


def test_the_providers_list_lets_every_read_go_ahead(emulator, use_tenant, admitted):
    use_tenant(TenantBuilder())

    assert admitted(decide=True) == 4


def test_an_api_version_with_nothing_to_fall_back_to_needs_no_probing(emulator, use_tenant, admitted):
    use_tenant(TenantBuilder())

    assert admitted(CONTACTS_API_VERSION=API_2020) == 4


def test_one_read_answered_in_the_version_lets_every_read_go_ahead(emulator, use_tenant, admitted):
    builder, subs = tenant_of(1)
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    assert admitted(*subs) == 4


def test_a_refusal_that_switches_the_run_lets_every_read_go_ahead(emulator, use_tenant, admitted):
    builder, subs = tenant_of(1)
    builder.tenant.contact_api_versions = (API_2020, API_2017)
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))

    assert admitted(*subs) == 4


@pytest.mark.parametrize("inconclusive", [MAX_INCONCLUSIVE_PROBES - 1, MAX_INCONCLUSIVE_PROBES])
def test_probing_stops_after_a_few_inconclusive_answers(emulator, use_tenant, admitted, inconclusive):
    builder = TenantBuilder()
    # Defender not set up, access denied, and a refusal that speaks only for one subscription: none proves anything.
    kinds = [
        {"security_provider_registered": False},
        {"deny_contacts": True},
        {"contact_api_versions": (API_2017, API_2020, API_2023)},
    ]
    subs = [builder.subscription(n, contact=good_contact(), **kinds[n]) for n in range(inconclusive)]
    use_tenant(builder)
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=403, times=None))
    if inconclusive == MAX_INCONCLUSIVE_PROBES:
        emulator.add_fault(Fault(match=f"{subs[2]}.*{API_2023}", status=400, code="InvalidResourceType", message="No."))

    assert admitted(*subs) == (PROBE_SLOTS if inconclusive < MAX_INCONCLUSIVE_PROBES else 4)


def test_a_hanging_probe_gives_its_slot_back_after_the_patience(emulator, use_tenant, settings_for, monkeypatch):
    monkeypatch.setattr("shared.contacts.PROBE_PATIENCE_SECONDS", 0.05)
    use_tenant(TenantBuilder())

    async def run():
        settings = settings_for()
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
            hung = asyncio.Event()

            async def hang() -> None:
                async with reader.turn():
                    await hung.wait()

            holders = [asyncio.create_task(hang()) for _ in range(PROBE_SLOTS)]
            await asyncio.sleep(0)
            async with asyncio.timeout(10):
                async with reader.turn():
                    pass  # let in once a hanging slot's patience ran out
            hung.set()
            await asyncio.gather(*holders)

    asyncio.run(run())


def test_a_provider_list_without_versions_for_contacts_counts_as_unreadable(emulator, use_tenant, admitted):
    use_tenant(TenantBuilder())
    listing = {"resourceTypes": [{"resourceType": "securityContacts", "apiVersions": []}]}
    emulator.add_fault(Fault(match="providers/Microsoft.Security\\?", status=200, body=listing, times=None))

    assert admitted(decide=True) == PROBE_SLOTS


# -- checker: one subscription's result, and what the run's exit says ------------------------------------------------


class _ReaderAnswering:
    """Stands in for ContactReader where only its answer matters: check_subscription takes any reader."""

    def __init__(self, answer: ContactSettings | Exception) -> None:
        self.answer = answer

    async def read(self, subscription_id: str) -> ContactSettings:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


ONE = Subscription(subscription_id(1), "corp-one", ("Root", "Corp"), "Enabled")


def checked_with(answer: ContactSettings | Exception) -> SubscriptionResult:
    return asyncio.run(check_subscription(ONE, _ReaderAnswering(answer), load_settings({})))  # type: ignore[arg-type]


def test_a_contact_that_cannot_be_read_is_an_error_that_says_why():
    result = checked_with(ContactReadError("HTTP 403 AuthorizationFailed: Denied."))

    assert (result.subscription, result.status, result.findings, result.api_version) == (ONE, Status.ERROR, (), None)
    assert result.reason == "could not read security contacts: HTTP 403 AuthorizationFailed: Denied."


def test_a_surprise_in_one_subscription_is_its_error_with_the_type_and_a_clean_message(caplog):
    with caplog.at_level(logging.ERROR, logger="shared.checker"):
        result = checked_with(RuntimeError("the\nanswer   broke"))

    assert (result.subscription, result.status) == (ONE, Status.ERROR)
    assert result.reason == "unexpected error: RuntimeError: the answer broke"
    (record,) = [r for r in caplog.records if r.name == "shared.checker"]
    assert record.getMessage() == f"unexpected failure checking {subscription_id(1)}"
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


def test_a_checked_subscription_carries_the_api_version_that_decided_it():
    passing = checked_with(contact(api_version=API_2020))
    failing = checked_with(ContactSettings.not_configured(API_2017))

    assert (passing.status, passing.findings, passing.reason, passing.api_version) == (
        Status.PASS,
        (),
        None,
        API_2020,
    )
    assert (failing.status, [f.rule for f in failing.findings], failing.api_version) == (
        Status.FAIL,
        ["contact-email"],
        API_2017,
    )


def report_of(*statuses: Status) -> Report:
    results = tuple(
        SubscriptionResult(Subscription(subscription_id(n), f"sub-{n}", ()), status, reason="why")
        for n, status in enumerate(statuses)
    )
    return Report(("root",), results, "2026-11-30T07:00:00+00:00")


@pytest.mark.parametrize(
    ("statuses", "code", "reason"),
    [
        ((Status.PASS, Status.SKIPPED), 0, None),
        ((Status.PASS, Status.FAIL), 1, None),
        ((Status.FAIL, Status.ERROR, Status.ERROR), 2, "2 subscription(s) could not be checked"),
        ((Status.SKIPPED, Status.SKIPPED), 2, "no subscription was checked: all 2 were skipped or excluded"),
    ],
)
def test_the_exit_code_and_its_reason(statuses, code, reason):
    report = report_of(*statuses)

    assert (exit_code(report), exit_reason(report)) == (code, reason)


def checked_run(settings, progress=None):
    async def run():
        async with build_credential(settings) as credential:
            return await run_check(settings, credential, progress)

    return asyncio.run(run())


def test_a_run_reports_its_scope_names_time_and_order_by_name_ignoring_case(emulator, use_tenant, settings_for):
    builder = TenantBuilder()
    # "_" sorts after upper-case letters and before lower-case ones: only lower-casing puts corp_x first.
    for number, name in enumerate(("corpz", "corp_x", "Corpy"), 1):
        builder.tenant.subscriptions[builder.subscription(number, contact=good_contact())].display_name = name
    use_tenant(builder)
    told: list[tuple[int, int]] = []

    before = time.monotonic()
    report = checked_run(settings_for(), lambda done, planned: told.append((done, planned)))
    elapsed = time.monotonic() - before

    assert [r.subscription.display_name for r in report.results] == ["corp_x", "Corpy", "corpz"]
    assert report.scope_names == ("Tenant Root Group",)
    assert datetime.fromisoformat(report.generated_at).utcoffset() == timedelta(0)
    assert report.stats is not None and 0 <= report.stats.duration_seconds <= elapsed
    assert told[0] == (0, 3) and told[-1] == (3, 3)


def test_a_run_whose_deadline_passes_while_finding_subscriptions_says_so(emulator, use_tenant, settings_for):
    use_tenant(TenantBuilder())
    emulator.add_fault(Fault(match="managementGroups/", status=200, delay_seconds=30, times=None))

    with pytest.raises(RunFailed) as raised:
        checked_run(settings_for(RUN_TIMEOUT_SECONDS="5"))

    assert str(raised.value) == "the run deadline (5 s, RUN_TIMEOUT_SECONDS) passed while finding subscriptions"


def test_a_provider_list_still_unread_at_the_deadline_is_not_waited_for(caplog):
    async def settle() -> None:
        never = asyncio.get_running_loop().create_future()
        deciding = asyncio.ensure_future(never)
        await settle_api_version(deciding, asyncio.get_running_loop().time() - 1)
        deciding.cancel()

    with caplog.at_level(logging.WARNING, logger="shared.checker"):
        asyncio.run(settle())

    assert [r.getMessage() for r in caplog.records if r.name == "shared.checker"] == [
        "Microsoft.Security's api-version list did not arrive within 0 s; starting on the preferred version"
    ]


def test_an_included_subscription_that_is_not_in_scope_is_an_error_of_its_own(emulator, use_tenant, settings_for):
    builder = TenantBuilder()
    present = builder.subscription(1, contact=good_contact())
    use_tenant(builder)
    missing = "0000000a-0000-4000-8000-00000000000b"

    report = checked_run(settings_for(INCLUDE_SUBSCRIPTION_IDS=f"{present},{missing}"))

    assert [(r.subscription, r.status, r.reason) for r in report.results] == [
        (
            Subscription(missing, "", ()),
            Status.ERROR,
            "not found under the scope management groups (wrong id, or outside the scope)",
        ),
        (next(r.subscription for r in report.results if r.status is Status.PASS), Status.PASS, None),
    ]
