"""Settings come from the Functions app settings and are validated before any call is made."""

import pytest

from shared.api_versions import CONTACTS_2020 as CONTACTS_API_2020
from shared.config import Settings, load_settings
from shared.errors import ConfigError

SUB_A = "aaaaaaaa-0000-4000-8000-000000000001"
SUB_B = "bbbbbbbb-0000-4000-8000-000000000002"


def problems_for(**environ: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ)
    return raised.value.problems


def test_an_empty_environment_gives_the_documented_defaults():
    settings = load_settings({})

    assert settings.management_group_ids == ()
    assert settings.enabled_rules == {"contact-email", "alert-notifications", "owner-notifications"}
    assert settings.min_alert_severity == "High"
    assert settings.min_attack_path_risk == "High"
    assert settings.run_timeout_seconds == 540
    assert settings.allowed_email_domains == ()
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.cloud.credential_scope == "https://management.azure.com/.default"
    assert settings.concurrency == Settings.concurrency


def test_lists_accept_commas_semicolons_and_spaces_and_drop_repeats():
    settings = load_settings({"MANAGEMENT_GROUP_IDS": "corp; online ,corp", "EXCLUDE_SUBSCRIPTION_IDS": SUB_A})

    assert settings.management_group_ids == ("corp", "online")
    assert settings.exclude_subscription_ids == {SUB_A}


def test_subscription_ids_are_compared_case_insensitively():
    settings = load_settings({"INCLUDE_SUBSCRIPTION_IDS": SUB_A.upper()})

    assert settings.include_subscription_ids == {SUB_A}


def test_switches_accept_common_spellings():
    settings = load_settings({"REQUIRE_ALERT_NOTIFICATIONS": "off", "REQUIRE_OWNER_NOTIFICATIONS": "No"})

    assert settings.enabled_rules == {"contact-email"}


def test_minimal_severity_is_case_insensitive():
    assert load_settings({"MIN_ALERT_SEVERITY": "medium"}).min_alert_severity == "Medium"


def test_every_problem_is_reported_at_once():
    problems = problems_for(
        MIN_ALERT_SEVERITY="Critical",
        REQUIRE_OWNER_NOTIFICATIONS="maybe",
        INCLUDE_SUBSCRIPTION_IDS="not-a-guid",
        CHECK_CONCURRENCY="0",
        ALLOWED_EMAIL_DOMAINS="contoso",
    )

    assert len(problems) == 5
    assert any("MIN_ALERT_SEVERITY" in p for p in problems)
    assert any("REQUIRE_OWNER_NOTIFICATIONS" in p for p in problems)
    assert any("not-a-guid" in p for p in problems)
    assert any("CHECK_CONCURRENCY" in p for p in problems)
    assert any("ALLOWED_EMAIL_DOMAINS" in p for p in problems)


def test_a_subscription_cannot_be_both_included_and_excluded():
    problems = problems_for(INCLUDE_SUBSCRIPTION_IDS=f"{SUB_A},{SUB_B}", EXCLUDE_SUBSCRIPTION_IDS=SUB_B)

    assert problems == [f"INCLUDE_SUBSCRIPTION_IDS and EXCLUDE_SUBSCRIPTION_IDS both name {SUB_B}"]


def test_management_group_ids_with_illegal_characters_are_rejected():
    assert "MANAGEMENT_GROUP_IDS" in problems_for(MANAGEMENT_GROUP_IDS="corp/../root")[0]


@pytest.mark.parametrize(
    ("cloud", "endpoint", "scope"),
    [
        ("AzureChinaCloud", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"),
        ("usgov", "https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/.default"),
    ],
)
def test_azure_cloud_selects_the_sovereign_endpoint_and_token_audience(cloud, endpoint, scope):
    settings = load_settings({"AZURE_CLOUD": cloud})

    assert settings.arm_endpoint == endpoint
    assert settings.cloud.credential_scope == scope


def test_an_unknown_cloud_is_rejected_with_the_known_names():
    assert "AzureUSGovernment" in problems_for(AZURE_CLOUD="mars")[0]


def test_an_explicit_arm_endpoint_overrides_the_cloud_but_keeps_its_token_audience():
    settings = load_settings({"AZURE_CLOUD": "AzureChinaCloud", "ARM_ENDPOINT": "https://arm-proxy.contoso.cn/"})

    assert settings.arm_endpoint == "https://arm-proxy.contoso.cn"
    assert settings.cloud.credential_scope == "https://management.chinacloudapi.cn/.default"


@pytest.mark.parametrize("endpoint", ["http://management.azure.com", "management.azure.com", "https://x.test/api"])
def test_arm_endpoint_must_be_a_bare_https_url(endpoint):
    assert "ARM_ENDPOINT" in problems_for(ARM_ENDPOINT=endpoint)[0]


def test_contacts_api_version_can_be_pinned_to_the_older_version():
    assert load_settings({"CONTACTS_API_VERSION": CONTACTS_API_2020}).contacts_api_version == CONTACTS_API_2020
    assert "CONTACTS_API_VERSION" in problems_for(CONTACTS_API_VERSION="2017-08-01-preview")[0]


def test_command_line_scope_replaces_the_configured_scope():
    settings = load_settings({"MANAGEMENT_GROUP_IDS": "corp"}).with_overrides(["online"], [SUB_A])

    assert settings.management_group_ids == ("online",)
    assert settings.include_subscription_ids == {SUB_A}


def test_command_line_scope_is_validated_like_the_environment():
    with pytest.raises(ConfigError) as raised:
        load_settings({}).with_overrides(None, ["12345"])

    assert "--subscription" in raised.value.problems[0]


@pytest.mark.parametrize("value", ["0", "4", "3601", "ten", "1.5"])
def test_the_run_timeout_must_be_whole_seconds_in_range(value):
    assert any("RUN_TIMEOUT_SECONDS" in problem for problem in problems_for(RUN_TIMEOUT_SECONDS=value))


def test_a_run_timeout_and_message_cap_that_cannot_fit_the_function_timeout_are_refused_with_the_other_problems():
    problems = problems_for(RUN_TIMEOUT_SECONDS="3600", CHECK_CONCURRENCY="lots")

    assert len(problems) == 2
    (fit,) = [problem for problem in problems if "functionTimeout" in problem]
    assert fit.startswith(
        "RUN_TIMEOUT_SECONDS=3600 with NOTIFY_MAX_MESSAGES=5 does not fit host.json's functionTimeout"
    )
    assert "set RUN_TIMEOUT_SECONDS to at most 734" in fit
    # The largest message cap still fits the default run deadline; a longer deadline with it does not.
    assert load_settings({"NOTIFY_MAX_MESSAGES": "50"}).notify.max_messages == 50
    assert any(
        "at most 554" in problem for problem in problems_for(RUN_TIMEOUT_SECONDS="600", NOTIFY_MAX_MESSAGES="50")
    )


def test_the_run_timeout_is_read():
    assert load_settings({"RUN_TIMEOUT_SECONDS": "60"}).run_timeout_seconds == 60


def test_a_command_line_subscription_that_is_also_excluded_is_a_conflict():
    settings = load_settings({"EXCLUDE_SUBSCRIPTION_IDS": SUB_A})

    with pytest.raises(ConfigError, match="--subscription and EXCLUDE_SUBSCRIPTION_IDS both name " + SUB_A):
        settings.with_overrides(subscription_ids=[SUB_A.upper()])
