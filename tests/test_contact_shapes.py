"""Every security contact shape the service returns becomes the same ContactSettings."""

import pytest

from shared.contact_shapes import ContactShapeError, parse_contacts, split_emails
from tests.golden import live_body, response_body

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


def test_emails_split_on_semicolons_only_and_ignore_blanks():
    assert split_emails(" a@x.com ; b@x.com;; c@x.com;") == ["a@x.com", "b@x.com", "c@x.com"]


def test_a_comma_separated_string_stays_one_address_for_the_email_rule_to_reject():
    assert split_emails("a@x.com,b@x.com") == ["a@x.com,b@x.com"]


def test_emails_may_arrive_as_a_list_as_the_2020_list_example_shows():
    assert split_emails(["a@x.com", " b@x.com ", "c@x.com;d@x.com"]) == ["a@x.com", "b@x.com", "c@x.com", "d@x.com"]


@pytest.mark.parametrize(
    "properties",
    [
        {"emails": 42},
        {"emails": ["a@contoso.com", 7]},
        {"emails": "a@contoso.com", "isEnabled": "yes"},
        {"emails": "a@contoso.com", "isEnabled": 1},
        {"emails": "a@contoso.com", "isEnabled": True, "alertNotifications": {"state": "Maybe"}},
        {"emails": "a@contoso.com", "isEnabled": True, "alertNotifications": "On"},
        {"emails": "a@contoso.com", "isEnabled": True, "notificationsSources": "Alert"},
        {"emails": "a@contoso.com", "isEnabled": True, "notificationsSources": ["Alert"]},
        {"emails": "a@contoso.com", "isEnabled": True, "notificationsSources": [{"sourceType": 3}]},
        {
            "emails": "a@contoso.com",
            "isEnabled": True,
            "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": 2}],
        },
        {"emails": "a@contoso.com", "isEnabled": True, "notificationsByRole": {"state": "On", "roles": "Owner"}},
        {"emails": "a@contoso.com", "isEnabled": True, "notificationsByRole": "On"},
        {"emails": "a@contoso.com", "isEnabled": False, "notificationsByRole": {"state": 1, "roles": []}},
        {"emails": "a@contoso.com", "phone": 5551234},
    ],
)
def test_values_of_an_unexpected_type_are_errors_not_guesses(properties):
    with pytest.raises(ContactShapeError):
        parse_contacts([resource(properties)], API_2023)


def test_a_resource_without_properties_is_an_error():
    with pytest.raises(ContactShapeError):
        parse_contacts([{"id": "x"}], API_2023)


@pytest.mark.parametrize("is_enabled", ["missing", None])
def test_in_the_2023_shape_a_missing_is_enabled_means_nothing_is_sent(is_enabled):
    properties = {
        "emails": "a@contoso.com",
        "notificationsByRole": {"state": "On", "roles": ["Owner"]},
        "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "Low"}],
    }
    if is_enabled != "missing":
        properties["isEnabled"] = is_enabled

    contact = parse_contacts([resource(properties)], API_2023)

    assert contact.switched_off == "isEnabled is not set"
    assert contact.alert_notifications is False
    assert contact.role_notifications is False


def test_the_2023_master_switch_off_says_so():
    contact = parse_contacts([resource({"emails": "a@contoso.com", "isEnabled": False})], API_2023)

    assert contact.switched_off == "isEnabled is false"


def test_the_2020_shape_has_no_master_switch_to_be_missing():
    contact = parse_contacts(
        [resource({"emails": "a@contoso.com", "alertNotifications": {"state": "On", "minimalSeverity": "High"}})],
        API_2020,
    )

    assert contact.switched_off is None
    assert contact.alert_notifications is True
    assert contact.expresses_attack_paths is False


def test_attack_path_sources_are_read_in_the_2023_shape_and_unknown_sources_turn_nothing_on():
    contact = parse_contacts(
        [
            resource(
                {
                    "emails": "a@contoso.com",
                    "isEnabled": True,
                    "notificationsSources": [
                        {"sourceType": "AttackPath", "minimalRiskLevel": "High"},
                        {"sourceType": "SomethingNew", "minimalSeverity": "Low"},
                    ],
                }
            )
        ],
        API_2023,
    )

    assert contact.attack_path_notifications is True
    assert contact.attack_path_minimal_risk == "High"
    assert contact.alert_notifications is False
    assert contact.expresses_attack_paths is True


def test_a_known_threshold_wins_over_an_unknown_one_and_an_unknown_one_alone_is_kept():
    known_and_unknown = [
        resource({"emails": "a@contoso.com", "alertNotifications": {"state": "On", "minimalSeverity": "Severe"}}),
        resource({"emails": "a@contoso.com", "alertNotifications": {"state": "On", "minimalSeverity": "medium"}}),
    ]
    assert parse_contacts(known_and_unknown, API_2020).alert_minimal_severity == "Medium"
    assert parse_contacts(known_and_unknown[:1], API_2020).alert_minimal_severity == "Severe"


def test_one_switched_on_resource_is_enough_for_its_settings_to_count():
    contact = parse_contacts(
        [
            resource({"emails": "a@contoso.com", "isEnabled": False}),
            resource(
                {
                    "emails": "b@contoso.com",
                    "isEnabled": True,
                    "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "High"}],
                }
            ),
        ],
        API_2023,
    )

    assert contact.switched_off is None
    assert contact.alert_notifications is True
    assert contact.emails == ("a@contoso.com", "b@contoso.com")


# Golden inputs: the azure-rest-api-specs examples, verbatim.


def test_golden_2017_list():
    contact = parse_contacts(
        response_body("2017-08-01-preview__GetSecurityContactsSubscription_full_example")["value"], API_2017
    )

    assert contact.emails == ("john@contoso.com",)
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "High")
    assert contact.role_notifications and "Owner" in contact.notified_roles


def test_golden_2020_get():
    contact = parse_contacts([response_body("2020-01-01-preview__GetSecurityContact_example")], API_2020)

    assert contact.emails == ("john@contoso.com", "jane@contoso.com")
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "Low")
    assert (contact.role_notifications, contact.notified_roles) == (True, ("Owner",))
    assert contact.phone == "(214)275-4038"


def test_golden_2020_list_with_emails_as_an_array():
    contact = parse_contacts(
        response_body("2020-01-01-preview__GetSecurityContactsSubscription_example")["value"], API_2020
    )

    assert contact.emails == ("john@contoso.com", "Jane@contoso.com")
    assert contact.notified_roles == ("Owner", "Admin")


def test_golden_2023_get_with_the_upstream_attach_path_typo_reads_no_attack_paths():
    contact = parse_contacts([response_body("2023-12-01-preview__GetSecurityContact_example")], API_2023)

    assert contact.switched_off is None
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "Medium")
    assert contact.attack_path_notifications is False


def test_golden_2023_list():
    contact = parse_contacts(
        response_body("2023-12-01-preview__GetSecurityContactsSubscription_example")["value"], API_2023
    )

    assert contact.emails == ("john@contoso.com", "Jane@contoso.com")
    assert (contact.attack_path_notifications, contact.attack_path_minimal_risk) == (True, "Critical")
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "Medium")
    assert contact.notified_roles == ("Owner", "Admin")


# Golden inputs in the live service's shapes (tests/fixtures/live): plural type, location, etag.


def test_live_2020_records_read_as_they_come():
    contact = parse_contacts(live_body("2020-01-01-preview__list_configured"), API_2020)

    assert contact.emails == ("secops@contoso.com", "cloud-team@contoso.com")
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "Medium")
    assert contact.phone is None


def test_live_system_default_record_is_a_contact_without_an_address():
    contact = parse_contacts(live_body("2020-01-01-preview__list_system_default"), API_2020)

    assert contact.configured
    assert contact.emails == ()
    assert (contact.alert_notifications, contact.alert_minimal_severity) == (True, "High")
    assert (contact.role_notifications, contact.notified_roles) == (True, ("Owner",))


def test_live_2023_record_reads_as_the_spec_shape_does():
    contact = parse_contacts(live_body("2023-12-01-preview__list_configured")["value"], API_2023)

    assert contact.emails == ("secops@contoso.com",)
    assert (contact.attack_path_notifications, contact.attack_path_minimal_risk) == (True, "Critical")
    assert contact.switched_off is None
