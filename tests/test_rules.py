"""Each rule has a stable id, says what is wrong and how to fix it, and can be switched off."""

import pytest

from shared.config import load_settings
from shared.models import ContactSettings
from shared.rules import RULE_ALERT_NOTIFICATIONS, RULE_CONTACT_EMAIL, RULE_OWNER_NOTIFICATIONS, evaluate


def contact(**changes) -> ContactSettings:
    values = {
        "configured": True,
        "emails": ("secops@contoso.com",),
        "alert_notifications": True,
        "alert_minimal_severity": "High",
        "role_notifications": True,
        "notified_roles": ("Owner",),
        "api_version": "2023-12-01-preview",
    }
    values.update(changes)
    return ContactSettings(**values)


def rules_failed(settings_contact: ContactSettings, **app_settings: str) -> list[str]:
    return [finding.rule for finding in evaluate(settings_contact, load_settings(app_settings))]


def test_a_complete_contact_passes_every_rule():
    assert rules_failed(contact()) == []


def test_an_unconfigured_subscription_fails_every_rule_with_a_fix():
    findings = evaluate(ContactSettings.not_configured("2023-12-01-preview"), load_settings({}))

    assert [f.rule for f in findings] == [RULE_CONTACT_EMAIL, RULE_ALERT_NOTIFICATIONS, RULE_OWNER_NOTIFICATIONS]
    assert all("Email notifications" in f.fix for f in findings)


def test_a_contact_without_email_fails():
    assert rules_failed(contact(emails=())) == [RULE_CONTACT_EMAIL]


@pytest.mark.parametrize(
    "address", ["secops", "secops@", "@contoso.com", "sec ops@contoso.com", "hr(at)contoso.com", "a@contoso"]
)
def test_an_invalid_email_fails_and_names_the_address(address):
    findings = evaluate(contact(emails=("ok@contoso.com", address)), load_settings({}))

    assert [f.rule for f in findings] == [RULE_CONTACT_EMAIL]
    assert address in findings[0].message


def test_allowed_domains_accept_subdomains_and_reject_others():
    settings = {"ALLOWED_EMAIL_DOMAINS": "contoso.com"}

    assert rules_failed(contact(emails=("soc@emea.contoso.com",)), **settings) == []
    assert rules_failed(contact(emails=("soc@contoso.com.evil.net",)), **settings) == [RULE_CONTACT_EMAIL]


def test_alerts_off_fails():
    assert rules_failed(contact(alert_notifications=False)) == [RULE_ALERT_NOTIFICATIONS]


@pytest.mark.parametrize("severity", ["Low", "Medium", "High"])
def test_any_threshold_up_to_high_passes_by_default(severity):
    assert rules_failed(contact(alert_minimal_severity=severity)) == []


def test_a_threshold_above_the_required_severity_fails():
    findings = evaluate(contact(alert_minimal_severity="High"), load_settings({"MIN_ALERT_SEVERITY": "Medium"}))

    assert [f.rule for f in findings] == [RULE_ALERT_NOTIFICATIONS]
    assert "Medium alerts go unnoticed" in findings[0].message


@pytest.mark.parametrize("severity", [None, "Critical"])
def test_a_missing_or_unknown_threshold_fails(severity):
    assert rules_failed(contact(alert_minimal_severity=severity)) == [RULE_ALERT_NOTIFICATIONS]


def test_owner_notifications_off_fails():
    assert rules_failed(contact(role_notifications=False)) == [RULE_OWNER_NOTIFICATIONS]


def test_role_notifications_that_leave_out_owner_fail():
    findings = evaluate(contact(notified_roles=("Contributor",)), load_settings({}))

    assert [f.rule for f in findings] == [RULE_OWNER_NOTIFICATIONS]
    assert "Contributor" in findings[0].message


def test_switched_off_rules_are_not_evaluated():
    unconfigured = ContactSettings.not_configured("2023-12-01-preview")

    assert (
        rules_failed(
            unconfigured,
            REQUIRE_CONTACT_EMAIL="false",
            REQUIRE_ALERT_NOTIFICATIONS="false",
            REQUIRE_OWNER_NOTIFICATIONS="false",
        )
        == []
    )
