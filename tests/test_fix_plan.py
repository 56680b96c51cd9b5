"""`fix` planning, pure: the smallest read-modify-write change per contact shape, and option validation."""

import json
import shlex
from dataclasses import replace

import pytest

from shared.config import load_settings
from shared.contact_shapes import parse_contacts
from shared.models import ContactSettings
from shared.remediation import ContactPut, FixOptionsError, fix_options, plan_contact, settings_for_fix
from shared.rules import evaluate

V2020 = "2020-01-01-preview"
V2023 = "2023-12-01-preview"
SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"


def settings(**app_settings):
    return load_settings(app_settings)


def options(*emails, **changes):
    base = settings()
    return fix_options(list(emails or ["secops@contoso.com"]), base, **changes)


def resource(api_version, **properties):
    return {
        "id": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Security/securityContacts/default",
        "name": "default",
        "type": "Microsoft.Security/securityContact",
        "properties": properties,
    }


def good_2023(**changes):
    properties = {
        "emails": "secops@contoso.com",
        "phone": "+1-555-0100",
        "isEnabled": True,
        "notificationsByRole": {"state": "On", "roles": ["Owner"]},
        "notificationsSources": [
            {"sourceType": "Alert", "minimalSeverity": "High"},
            {"sourceType": "AttackPath", "minimalRiskLevel": "Critical"},
        ],
    }
    properties.update(changes)
    return resource(V2023, **properties)


def good_2020(**changes):
    properties = {
        "emails": "secops@contoso.com",
        "phone": "+1-555-0100",
        "alertNotifications": {"state": "On", "minimalSeverity": "High"},
        "notificationsByRole": {"state": "On", "roles": ["Owner"]},
    }
    properties.update(changes)
    return resource(V2020, **properties)


def plan_for(raw, api_version, fix_settings=None, fix=None):
    fix_settings = fix_settings or settings()
    contact = parse_contacts([raw] if raw else [], api_version)
    return plan_contact(contact, raw, fix_settings, fix or options(), SUBSCRIPTION)


def changes(plan):
    return {change.field: (change.old, change.new) for change in plan.changes}


def passes_after(plan, fix_settings=None):
    after = parse_contacts([plan.body], plan.api_version)
    return evaluate(after, fix_settings or settings()) == ()


def test_a_passing_contact_needs_no_change():
    plan = plan_for(good_2023(), V2023)

    assert (plan.writes, plan.changes, plan.unresolved) == (False, (), ())


def test_nothing_configured_in_2023_creates_a_contact_that_keeps_the_default_owner_and_attack_path_emails():
    plan = plan_for(None, V2023)

    assert plan.creates
    assert plan.body == {
        "properties": {
            "emails": "secops@contoso.com",
            "isEnabled": True,
            "notificationsSources": [
                {"sourceType": "Alert", "minimalSeverity": "High"},
                {"sourceType": "AttackPath", "minimalRiskLevel": "Critical"},
            ],
            "notificationsByRole": {"state": "On", "roles": ["Owner"]},
        }
    }
    assert plan.complete and passes_after(plan)


def test_nothing_configured_in_2020_creates_a_contact_in_the_2020_shape():
    plan = plan_for(None, V2020)

    assert plan.body == {
        "properties": {
            "emails": "secops@contoso.com",
            "alertNotifications": {"state": "On", "minimalSeverity": "High"},
            "notificationsByRole": {"state": "On", "roles": ["Owner"]},
        }
    }
    assert plan.complete and passes_after(plan)


def test_alerts_off_in_2020_turns_only_the_state_on_and_keeps_everything_else():
    raw = good_2020(alertNotifications={"state": "Off", "minimalSeverity": "Medium"})

    plan = plan_for(raw, V2020)

    assert changes(plan) == {"alertNotifications.state": ("Off", "On")}
    assert plan.body["properties"] == {
        **raw["properties"],
        "alertNotifications": {"state": "On", "minimalSeverity": "Medium"},
    }
    assert not plan.creates and plan.complete and passes_after(plan)


def test_alerts_off_in_2023_adds_an_alert_source_and_keeps_the_attack_path_source():
    raw = good_2023(notificationsSources=[{"sourceType": "AttackPath", "minimalRiskLevel": "High"}])

    plan = plan_for(raw, V2023)

    assert changes(plan) == {"notificationsSources[Alert]": (None, {"sourceType": "Alert", "minimalSeverity": "High"})}
    assert plan.body["properties"]["notificationsSources"] == [
        {"sourceType": "AttackPath", "minimalRiskLevel": "High"},
        {"sourceType": "Alert", "minimalSeverity": "High"},
    ]
    assert plan.body["properties"]["phone"] == "+1-555-0100"
    assert passes_after(plan)


def test_a_severity_above_the_required_one_is_lowered_to_the_requested_severity():
    strict = settings(MIN_ALERT_SEVERITY="Medium")
    raw = good_2023()

    plan = plan_for(raw, V2023, strict, fix_options(["secops@contoso.com"], strict, severity="Low"))

    assert changes(plan) == {"notificationsSources[Alert].minimalSeverity": ("High", "Low")}
    assert passes_after(plan, strict)


def test_owner_missing_adds_owner_to_the_existing_roles():
    plan = plan_for(good_2023(notificationsByRole={"state": "On", "roles": ["Contributor"]}), V2023)

    assert changes(plan) == {"notificationsByRole.roles": (["Contributor"], ["Contributor", "Owner"])}
    assert passes_after(plan)


def test_owner_notifications_off_are_turned_on_with_owner_added():
    plan = plan_for(good_2020(notificationsByRole={"state": "Off", "roles": ["AccountAdmin"]}), V2020)

    assert changes(plan) == {
        "notificationsByRole.state": ("Off", "On"),
        "notificationsByRole.roles": (["AccountAdmin"], ["AccountAdmin", "Owner"]),
    }


def test_the_2023_master_switch_off_is_the_only_change_when_the_rest_is_right():
    plan = plan_for(good_2023(isEnabled=False), V2023)

    assert changes(plan) == {"isEnabled": (False, True)}
    assert passes_after(plan)


def test_a_missing_master_switch_is_set_as_well():
    raw = good_2023()
    del raw["properties"]["isEnabled"]

    assert changes(plan_for(raw, V2023)) == {"isEnabled": (None, True)}


def test_existing_valid_emails_are_kept_when_another_rule_fails():
    raw = good_2023(emails="team-a@contoso.com;team-b@contoso.com", isEnabled=False)

    plan = plan_for(raw, V2023, fix=options("other@contoso.com"))

    assert plan.body["properties"]["emails"] == "team-a@contoso.com;team-b@contoso.com"
    assert "emails" not in changes(plan)


def test_a_contact_without_an_address_gets_the_requested_ones():
    plan = plan_for(good_2023(emails=""), V2023, fix=options("a@contoso.com;b@contoso.com"))

    assert changes(plan) == {"emails": ("", "a@contoso.com;b@contoso.com")}
    assert passes_after(plan)


def test_an_invalid_address_is_kept_and_reported_unless_replace_emails():
    raw = good_2023(emails="hr-it(at)contoso.com", notificationsByRole={"state": "Off", "roles": ["Owner"]})

    kept = plan_for(raw, V2023)
    replaced = plan_for(raw, V2023, fix=options(replace_emails=True))

    assert kept.body["properties"]["emails"] == "hr-it(at)contoso.com"
    assert "notificationsByRole.state" in changes(kept)
    assert len(kept.unresolved) == 1 and "--replace-emails" in kept.unresolved[0]
    assert changes(replaced)["emails"] == ("hr-it(at)contoso.com", "secops@contoso.com")
    assert replaced.complete and passes_after(replaced)


def test_an_address_outside_the_allowed_domains_counts_as_failing_the_rule():
    strict = settings(ALLOWED_EMAIL_DOMAINS="contoso.com")
    raw = good_2023(emails="someone@gmail.com")

    plan = plan_for(raw, V2023, strict, fix_options(["secops@contoso.com"], strict, replace_emails=True))

    assert changes(plan) == {"emails": ("someone@gmail.com", "secops@contoso.com")}
    assert passes_after(plan, strict)


def test_an_emails_list_is_written_back_as_the_apis_semicolon_string():
    plan = plan_for(good_2023(emails=["a@contoso.com", "b@contoso.com"], isEnabled=False), V2023)

    assert plan.body["properties"]["emails"] == "a@contoso.com;b@contoso.com"


def test_attack_paths_are_added_in_2023_and_reported_as_unfixable_in_2020():
    with_attack_paths = settings(REQUIRE_ATTACK_PATH_NOTIFICATIONS="true", MIN_ATTACK_PATH_RISK="Medium")
    raw = good_2023(notificationsSources=[{"sourceType": "Alert", "minimalSeverity": "High"}])

    plan_2023 = plan_for(raw, V2023, with_attack_paths)
    plan_2020 = plan_for(good_2020(), V2020, with_attack_paths)

    assert changes(plan_2023) == {
        "notificationsSources[AttackPath]": (None, {"sourceType": "AttackPath", "minimalRiskLevel": "Medium"})
    }
    assert passes_after(plan_2023, with_attack_paths)
    assert not plan_2020.writes
    assert "cannot express attack-path notifications" in plan_2020.unresolved[0]


def test_an_unregistered_provider_plans_a_new_contact_and_says_the_write_needs_registration_first():
    contact = ContactSettings.provider_not_registered(V2023)

    plan = plan_contact(contact, None, settings(), options(), SUBSCRIPTION)

    assert plan.creates and plan.writes
    assert plan.unresolved == (
        "Microsoft.Security is not registered on this subscription, so the write will be refused: run "
        f"`az provider register --namespace Microsoft.Security --subscription {SUBSCRIPTION}` first",
    )


def test_the_az_rest_line_sends_exactly_the_planned_body():
    plan = plan_for(good_2023(isEnabled=False, phone="it's 'quoted'"), V2023)
    put = ContactPut(SUBSCRIPTION, V2023, plan.body)

    words = shlex.split(put.az_rest("https://management.azure.com"))

    assert words[:4] == ["az", "rest", "--method", "put"]
    assert words[words.index("--url") + 1] == (
        f"https://management.azure.com/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Security/"
        "securityContacts/default?api-version=2023-12-01-preview"
    )
    assert json.loads(words[words.index("--body") + 1]) == plan.body


def test_email_options_are_validated_like_the_check_and_every_problem_is_listed():
    strict = settings(ALLOWED_EMAIL_DOMAINS="contoso.com", MIN_ALERT_SEVERITY="Medium")

    with pytest.raises(FixOptionsError) as raised:
        fix_options(["a@contoso.com,b@contoso.com", "not-an-address", "x@gmail.com"], strict, severity="High")

    problems = raised.value.problems
    assert any("separate several addresses with ';'" in problem for problem in problems)
    assert any("'not-an-address' is not a valid email address" in problem for problem in problems)
    assert any("x@gmail.com is outside ALLOWED_EMAIL_DOMAINS" in problem for problem in problems)
    assert any("--severity High is less sensitive than MIN_ALERT_SEVERITY=Medium" in problem for problem in problems)


def test_semicolon_separated_and_repeated_email_options_are_one_list():
    fix = fix_options(["a@contoso.com; b@contoso.com", "a@contoso.com"], settings())

    assert fix.emails == ("a@contoso.com", "b@contoso.com")
    assert fix.severity == "High"


def test_notify_owners_and_severity_raise_the_bar_for_this_run():
    base = settings(REQUIRE_OWNER_NOTIFICATIONS="false")

    fixed = settings_for_fix(base, fix_options(["a@contoso.com"], base, severity="Low", notify_owners=True))

    assert "owner-notifications" in fixed.enabled_rules
    assert fixed.min_alert_severity == "Low"
    assert replace(fixed, enabled_rules=base.enabled_rules, min_alert_severity="High") == base


def test_the_self_check_counts_the_other_contact_resources_the_check_also_reads():
    other = {"name": "default1", "properties": {"emails": "old-team(at)contoso.com"}}
    raw = good_2023(isEnabled=False)
    contact = parse_contacts([raw, other], V2023)

    plan = plan_contact(contact, raw, settings(), options(), SUBSCRIPTION, [other])

    assert changes(plan) == {"isEnabled": (False, True)}
    assert plan.unresolved == (
        "contact-email: Not a valid email address: old-team(at)contoso.com; replace it with a real mailbox.",
    )


def test_an_emails_list_alone_is_no_reason_to_write():
    with_attack_paths = settings(REQUIRE_ATTACK_PATH_NOTIFICATIONS="true")

    plan = plan_for(good_2020(emails=["a@contoso.com"]), V2020, with_attack_paths)

    assert (plan.writes, plan.changes) == (False, ())
    assert "cannot express attack-path notifications" in plan.unresolved[0]
