"""Each rule is one declared unit: a stable id, metadata, a fix, a switch, and a check that fails on what it names."""

import re
from pathlib import Path

import pytest

from shared.config import APP_SETTINGS, load_settings
from shared.errors import ConfigError
from shared.models import ContactSettings, ContactState
from shared.rules import RULES, RULES_BY_ID, evaluate, rules_table
from shared.rules.base import RULE_SEVERITIES

EMAIL, ALERTS, OWNER, ATTACK = (
    "contact-email",
    "alert-notifications",
    "owner-notifications",
    "attack-path-notifications",
)
RULES_DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def contact(**changes) -> ContactSettings:
    values = {
        "state": ContactState.CONFIGURED,
        "emails": ("secops@contoso.com",),
        "alert_notifications": True,
        "alert_minimal_severity": "High",
        "role_notifications": True,
        "notified_roles": ("Owner",),
        "attack_path_notifications": True,
        "attack_path_minimal_risk": "High",
        "expresses_attack_paths": True,
        "api_version": "2023-12-01-preview",
    }
    values.update(changes)
    return ContactSettings(**values)


def rules_failed(settings_contact: ContactSettings, **app_settings: str) -> list[str]:
    return [finding.rule for finding in evaluate(settings_contact, load_settings(app_settings))]


def test_the_registry_declares_every_rule_with_its_metadata():
    assert [rule.id for rule in RULES] == [EMAIL, ALERTS, OWNER, ATTACK]
    for rule in RULES:
        assert rule.title and rule.fix and rule.cis
        assert rule.severity in RULE_SEVERITIES
        assert rule.setting.startswith("REQUIRE_")
        assert rule.setting in APP_SETTINGS


def test_rules_map_to_the_cis_azure_foundations_controls():
    assert RULES_BY_ID[OWNER].cis == ("v2.0 2.1.18", "v2.1 2.1.17", "v3.0 3.1.12", "v4.0 9.1.12", "v5.0 8.1.12")
    assert RULES_BY_ID[EMAIL].cis == ("v2.0 2.1.19", "v2.1 2.1.18", "v3.0 3.1.13", "v4.0 9.1.13", "v5.0 8.1.13")
    assert RULES_BY_ID[ALERTS].cis == ("v2.0 2.1.20", "v2.1 2.1.19", "v3.0 3.1.14", "v4.0 9.1.14", "v5.0 8.1.14")
    assert RULES_BY_ID[ATTACK].cis == ("v4.0 9.1.15", "v5.0 8.1.15")


def test_the_readme_rules_table_is_the_one_the_registry_generates():
    assert rules_table() in RULES_DOC.read_text(encoding="utf-8")


def test_findings_carry_their_rules_severity_cis_ids_and_fix():
    (finding,) = evaluate(contact(role_notifications=False), load_settings({}))

    assert (finding.rule, finding.severity, finding.cis) == (OWNER, "medium", RULES_BY_ID[OWNER].cis)
    assert "Owner" in finding.fix


def test_a_complete_contact_passes_every_rule_that_is_on_by_default():
    assert rules_failed(contact()) == []


def test_attack_path_notifications_are_off_by_default_and_on_by_their_switch():
    assert rules_failed(contact(attack_path_notifications=False)) == []
    assert rules_failed(contact(attack_path_notifications=False), REQUIRE_ATTACK_PATH_NOTIFICATIONS="true") == [ATTACK]


def test_an_unconfigured_subscription_gets_one_finding_that_explains_the_owner_default():
    findings = evaluate(ContactSettings.not_configured("2023-12-01-preview"), load_settings({}))

    assert [f.rule for f in findings] == [EMAIL]
    assert "No security contact" in findings[0].message
    assert "default emails to the subscription owners" in findings[0].message


def test_an_unconfigured_subscriptions_owner_default_is_judged_against_the_required_severity():
    unconfigured = ContactSettings.not_configured("2023-12-01-preview")

    assert rules_failed(unconfigured, MIN_ALERT_SEVERITY="Medium") == [EMAIL, ALERTS]
    assert rules_failed(unconfigured, REQUIRE_ATTACK_PATH_NOTIFICATIONS="true") == [EMAIL, ATTACK]
    assert rules_failed(unconfigured, REQUIRE_ATTACK_PATH_NOTIFICATIONS="true", MIN_ATTACK_PATH_RISK="Critical") == [
        EMAIL
    ]


def test_a_subscription_without_defender_fails_every_rule_that_is_on():
    findings = evaluate(ContactSettings.provider_not_registered("2023-12-01-preview"), load_settings({}))

    assert [f.rule for f in findings] == [EMAIL, ALERTS, OWNER]
    assert all("not registered" in f.message for f in findings)
    assert "az provider register --namespace Microsoft.Security" in findings[0].fix


@pytest.mark.parametrize("why", ["isEnabled is false", "isEnabled is not set"])
def test_a_master_switch_that_is_off_or_unset_fails_alerts_and_owners_and_says_why(why):
    findings = evaluate(contact(switched_off=why), load_settings({"REQUIRE_ATTACK_PATH_NOTIFICATIONS": "true"}))

    assert [f.rule for f in findings] == [ALERTS, OWNER, ATTACK]
    assert all(why in f.message for f in findings)


def test_a_contact_without_email_fails():
    assert rules_failed(contact(emails=())) == [EMAIL]


@pytest.mark.parametrize(
    "address", ["secops", "secops@", "@contoso.com", "sec ops@contoso.com", "hr(at)contoso.com", "a@contoso"]
)
def test_an_invalid_email_fails_and_names_the_address(address):
    findings = evaluate(contact(emails=("ok@contoso.com", address)), load_settings({}))

    assert [f.rule for f in findings] == [EMAIL]
    assert address in findings[0].message
    assert "';'" not in findings[0].message


def test_comma_separated_addresses_fail_with_a_hint_to_use_semicolons():
    (finding,) = evaluate(contact(emails=("a@contoso.com,b@contoso.com",)), load_settings({}))

    assert finding.rule == EMAIL
    assert "a@contoso.com,b@contoso.com" in finding.message
    assert "separate several addresses with ';'" in finding.message


def test_an_address_of_255_characters_is_invalid():
    address = "a" * 243 + "@contoso.com"
    assert len(address) == 255
    assert rules_failed(contact(emails=(address,))) == [EMAIL]
    assert rules_failed(contact(emails=(address[1:],))) == []


def test_allowed_domains_accept_subdomains_and_reject_others():
    settings = {"ALLOWED_EMAIL_DOMAINS": "contoso.com"}

    assert rules_failed(contact(emails=("soc@contoso.com",)), **settings) == []
    assert rules_failed(contact(emails=("soc@emea.contoso.com",)), **settings) == []
    assert rules_failed(contact(emails=("soc@contoso.com.evil.net",)), **settings) == [EMAIL]
    assert rules_failed(contact(emails=("soc@evilcontoso.com",)), **settings) == [EMAIL]


def test_an_invalid_and_an_outside_address_are_two_findings():
    findings = evaluate(
        contact(emails=("nope", "soc@fabrikam.com")), load_settings({"ALLOWED_EMAIL_DOMAINS": "contoso.com"})
    )

    assert [f.rule for f in findings] == [EMAIL, EMAIL]
    assert "nope" in findings[0].message and "fabrikam" not in findings[0].message
    assert "soc@fabrikam.com" in findings[1].message and "contoso.com" in findings[1].message


def test_alerts_off_fails():
    assert rules_failed(contact(alert_notifications=False)) == [ALERTS]


@pytest.mark.parametrize("severity", ["Low", "Medium", "High", "high"])
def test_any_threshold_up_to_high_passes_by_default(severity):
    assert rules_failed(contact(alert_minimal_severity=severity)) == []


@pytest.mark.parametrize(("required", "passing", "failing"), [("Medium", "Medium", "High"), ("Low", "Low", "Medium")])
def test_min_alert_severity_is_the_least_sensitive_acceptable_threshold(required, passing, failing):
    assert rules_failed(contact(alert_minimal_severity=passing), MIN_ALERT_SEVERITY=required) == []
    findings = evaluate(contact(alert_minimal_severity=failing), load_settings({"MIN_ALERT_SEVERITY": required}))
    assert [f.rule for f in findings] == [ALERTS]
    assert f"Only {failing} severity alerts are emailed; {required} alerts go unnoticed." == findings[0].message
    assert f"choose {required} or lower" in findings[0].fix


@pytest.mark.parametrize("severity", [None, "Critical", ""])
def test_a_missing_or_unknown_threshold_fails(severity):
    assert rules_failed(contact(alert_minimal_severity=severity)) == [ALERTS]


def test_owner_notifications_off_fails():
    assert rules_failed(contact(role_notifications=False)) == [OWNER]


def test_role_notifications_that_leave_out_owner_fail_and_name_the_roles():
    findings = evaluate(contact(notified_roles=("Contributor",)), load_settings({}))

    assert [f.rule for f in findings] == [OWNER]
    assert "(roles: Contributor)" in findings[0].message
    assert rules_failed(contact(notified_roles=("owner",))) == []
    assert "(roles: none)" in evaluate(contact(notified_roles=()), load_settings({}))[0].message


ON = {"REQUIRE_ATTACK_PATH_NOTIFICATIONS": "true"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"attack_path_notifications": False}, "Attack-path email notifications are turned off."),
        ({"attack_path_minimal_risk": None}, "no minimal risk level is set"),
        ({"attack_path_minimal_risk": "Severe"}, "unrecognised risk level 'Severe'"),
        ({"attack_path_minimal_risk": "Critical"}, "Only Critical risk attack paths are emailed; High ones"),
        ({"expresses_attack_paths": False, "api_version": "2020-01-01-preview"}, "(2020-01-01-preview) cannot show"),
    ],
)
def test_attack_path_rule_fails_on_what_it_cannot_confirm(changes, message):
    findings = evaluate(contact(**changes), load_settings(ON))

    assert [f.rule for f in findings] == [ATTACK]
    assert message in findings[0].message


@pytest.mark.parametrize("risk", ["Low", "Medium", "High"])
def test_attack_path_thresholds_up_to_the_required_risk_pass(risk):
    assert rules_failed(contact(attack_path_minimal_risk=risk), **ON) == []
    assert rules_failed(contact(attack_path_minimal_risk="High"), **ON, MIN_ATTACK_PATH_RISK="Medium") == [ATTACK]


def test_switched_off_rules_are_not_evaluated():
    broken = ContactSettings.provider_not_registered("2023-12-01-preview")

    assert (
        rules_failed(
            broken,
            REQUIRE_CONTACT_EMAIL="false",
            REQUIRE_ALERT_NOTIFICATIONS="false",
            REQUIRE_OWNER_NOTIFICATIONS="false",
        )
        == []
    )


def test_rule_settings_are_validated_with_the_others():
    with pytest.raises(ConfigError) as raised:
        load_settings({"REQUIRE_OWNER_NOTIFICATIONS": "maybe", "MIN_ATTACK_PATH_RISK": "Severe"})

    assert len(raised.value.problems) == 2
    assert any("REQUIRE_OWNER_NOTIFICATIONS" in p for p in raised.value.problems)
    assert any(re.search(r"MIN_ATTACK_PATH_RISK.*Low, Medium, High, Critical", p) for p in raised.value.problems)
