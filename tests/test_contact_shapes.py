"""Every security contact shape the service returns becomes the same ContactSettings."""

import pytest

from shared.contact_shapes import ContactShapeError, parse_contacts, split_emails

API_2023 = "2023-12-01-preview"
API_2020 = "2020-01-01-preview"
API_2017 = "2017-08-01-preview"


def resource(properties):
    return {"id": "/subscriptions/x/providers/Microsoft.Security/securityContacts/default", "properties": properties}


def test_the_2023_shape_reads_emails_alert_source_and_roles():
    contact = parse_contacts(
        [
            resource(
                {
                    "emails": "a@contoso.com;b@contoso.com",
                    "phone": "+1 555",
                    "isEnabled": True,
                    "notificationsByRole": {"state": "On", "roles": ["Owner", "AccountAdmin"]},
                    "notificationsSources": [
                        {"sourceType": "Alert", "minimalSeverity": "Medium"},
                        {"sourceType": "AttackPath", "minimalRiskLevel": "Critical"},
                    ],
                }
            )
        ],
        API_2023,
    )

    assert contact.configured
    assert contact.emails == ("a@contoso.com", "b@contoso.com")
    assert contact.phone == "+1 555"
    assert contact.alert_notifications is True
    assert contact.alert_minimal_severity == "Medium"
    assert contact.role_notifications is True
    assert contact.notified_roles == ("Owner", "AccountAdmin")
    assert contact.api_version == API_2023


def test_the_2023_shape_without_an_alert_source_means_alerts_are_off():
    contact = parse_contacts(
        [
            resource(
                {"emails": "a@contoso.com", "isEnabled": True, "notificationsSources": [{"sourceType": "AttackPath"}]}
            )
        ],
        API_2023,
    )

    assert contact.alert_notifications is False


def test_the_2023_master_switch_off_silences_alerts_and_roles():
    contact = parse_contacts(
        [
            resource(
                {
                    "emails": "a@contoso.com",
                    "isEnabled": False,
                    "notificationsByRole": {"state": "On", "roles": ["Owner"]},
                    "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "Low"}],
                }
            )
        ],
        API_2023,
    )

    assert contact.emails == ("a@contoso.com",)
    assert contact.alert_notifications is False
    assert contact.role_notifications is False


def test_the_2020_shape_reads_alert_notifications_state_and_severity():
    contact = parse_contacts(
        [
            resource(
                {
                    "emails": "a@contoso.com",
                    "alertNotifications": {"state": "On", "minimalSeverity": "High"},
                    "notificationsByRole": {"state": "Off", "roles": ["Owner"]},
                }
            )
        ],
        API_2020,
    )

    assert contact.alert_notifications is True
    assert contact.alert_minimal_severity == "High"
    assert contact.role_notifications is False


def test_the_2017_shape_has_one_resource_per_address_and_only_emails_high_alerts():
    contact = parse_contacts(
        [
            resource({"email": "a@contoso.com", "alertNotifications": "On", "alertsToAdmins": "On"}),
            resource({"email": "b@contoso.com", "alertNotifications": "Off", "alertsToAdmins": "Off"}),
        ],
        API_2017,
    )

    assert contact.emails == ("a@contoso.com", "b@contoso.com")
    assert contact.alert_notifications is True
    assert contact.alert_minimal_severity == "High"
    assert "Owner" in contact.notified_roles


def test_several_contacts_merge_to_the_most_inclusive_settings():
    contact = parse_contacts(
        [
            resource({"emails": "a@contoso.com", "alertNotifications": {"state": "On", "minimalSeverity": "High"}}),
            resource({"emails": "a@contoso.com", "alertNotifications": {"state": "On", "minimalSeverity": "Low"}}),
        ],
        API_2020,
    )

    assert contact.emails == ("a@contoso.com",)
    assert contact.alert_minimal_severity == "Low"


def test_no_contact_resources_means_not_configured():
    contact = parse_contacts([], API_2023)

    assert not contact.configured
    assert contact.emails == ()


def test_emails_split_on_semicolons_and_commas_and_ignore_blanks():
    assert split_emails(" a@x.com ; b@x.com,, c@x.com;") == ["a@x.com", "b@x.com", "c@x.com"]


@pytest.mark.parametrize(
    "properties",
    [
        {"emails": ["a@contoso.com"]},
        {"emails": "a@contoso.com", "isEnabled": "yes"},
        {"emails": "a@contoso.com", "alertNotifications": {"state": "Maybe"}},
        {"emails": "a@contoso.com", "notificationsSources": "Alert"},
        {"emails": "a@contoso.com", "notificationsByRole": {"state": "On", "roles": "Owner"}},
    ],
)
def test_shapes_that_cannot_be_interpreted_are_errors_not_guesses(properties):
    with pytest.raises(ContactShapeError):
        parse_contacts([resource(properties)], API_2023)


def test_a_resource_without_properties_is_an_error():
    with pytest.raises(ContactShapeError):
        parse_contacts([{"id": "x"}], API_2023)
