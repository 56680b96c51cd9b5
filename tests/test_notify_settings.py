"""Chat alert settings: validated with every other setting, and the webhook URLs never shown."""

import pytest

from shared.clouds import CLOUDS
from shared.config import APP_SETTINGS, load_settings
from shared.errors import ConfigError
from shared.models import Status
from shared.notify import NOTIFY_SETTINGS, NotifySettings, load_notify_settings

TEAMS = "https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=TEAMSSECRET"
TEAMS_NEW = "https://default1234.56.environment.api.powerplatform.com:443/powerautomate/automations/direct/x?sig=S2"
TEAMS_LEGACY = "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi"
SLACK = "https://hooks.slack.com/services/T000/B000/SLACKSECRET"


def notify(**environ: str) -> tuple[NotifySettings, list[str]]:
    problems: list[str] = []
    return load_notify_settings(environ, CLOUDS["azurecloud"], problems), problems


def test_no_webhook_means_no_channel_and_the_documented_defaults():
    settings, problems = notify()

    assert problems == []
    assert settings.channels == ()
    assert settings.notify_on == {Status.FAIL, Status.ERROR}
    assert settings.max_messages == 5
    assert settings.always is False
    assert settings.portal_url == "https://portal.azure.com"


@pytest.mark.parametrize("url", [TEAMS, TEAMS_NEW, TEAMS_LEGACY])
def test_teams_accepts_workflows_and_legacy_webhook_hosts(url):
    settings, problems = notify(TEAMS_WEBHOOK_URL=url)

    assert problems == []
    assert settings.channels == ("teams",)


def test_both_channels_can_be_set_and_teams_goes_first():
    settings, problems = notify(TEAMS_WEBHOOK_URL=TEAMS, SLACK_WEBHOOK_URL=SLACK)

    assert problems == []
    assert settings.channels == ("teams", "slack")


@pytest.mark.parametrize(
    ("name", "url", "expected"),
    [
        ("SLACK_WEBHOOK_URL", "http://hooks.slack.com/services/T/B/SECRETX", "must be an https:// URL"),
        ("SLACK_WEBHOOK_URL", "https://hooks.slack.com.evil.example/services/SECRETX", "not a known webhook host"),
        ("TEAMS_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/SECRETX", "not a known webhook host"),
        ("TEAMS_WEBHOOK_URL", "https://logic.azure.com.evil.example/x?sig=SECRETX", "not a known webhook host"),
        ("TEAMS_WEBHOOK_URL", "https://user:SECRETX@prod-1.westus.logic.azure.com/x", "user name or password"),
        ("TEAMS_WEBHOOK_URL", "https://prod-1.westus.logic.azure.com:99999/x?sig=SECRETX", "not a valid URL"),
    ],
)
def test_a_bad_webhook_is_a_problem_naming_the_setting_but_never_the_url(name, url, expected):
    _, problems = notify(**{name: url})

    assert len(problems) == 1
    assert problems[0].startswith(name)
    assert expected in problems[0]
    assert "SECRETX" not in problems[0]
    assert url not in problems[0]


def test_allowed_hosts_admit_a_proxy_or_test_receiver_for_either_channel():
    settings, problems = notify(
        TEAMS_WEBHOOK_URL="https://localhost:8443/teams/x",
        SLACK_WEBHOOK_URL="https://relay.corp.example/slack/x",
        NOTIFY_ALLOWED_HOSTS="localhost, *.corp.example",
    )

    assert problems == []
    assert settings.channels == ("teams", "slack")


def test_allowed_hosts_must_be_host_names():
    _, problems = notify(NOTIFY_ALLOWED_HOSTS="https://proxy.example/x")

    assert problems == ["NOTIFY_ALLOWED_HOSTS has values that are not host names: https://proxy.example/x"]


def test_notify_on_accepts_fail_and_error_but_never_skipped():
    only_fail, problems = notify(NOTIFY_ON="fail")
    assert problems == []
    assert only_fail.notify_on == {Status.FAIL}

    _, problems = notify(NOTIFY_ON="fail,skipped")
    assert len(problems) == 1
    assert "skipped" in problems[0]


@pytest.mark.parametrize("value", ["0", "51", "five"])
def test_max_messages_must_be_1_to_50(value):
    _, problems = notify(NOTIFY_MAX_MESSAGES=value)

    assert problems == [f"NOTIFY_MAX_MESSAGES={value!r} must be a whole number from 1 to 50"]


def test_notify_always_is_a_flag():
    assert notify(NOTIFY_ALWAYS="true")[0].always is True
    assert notify(NOTIFY_ALWAYS="maybe")[1] == ["NOTIFY_ALWAYS='maybe' must be true or false"]


@pytest.mark.parametrize(
    ("cloud", "portal"),
    [
        ("AzureCloud", "https://portal.azure.com"),
        ("AzureChinaCloud", "https://portal.azure.cn"),
        ("AzureUSGovernment", "https://portal.azure.us"),
    ],
)
def test_the_portal_for_deep_links_follows_the_cloud(cloud, portal):
    assert load_settings({"AZURE_CLOUD": cloud}).notify.portal_url == portal


def test_notify_problems_are_reported_with_every_other_setting_problem():
    with pytest.raises(ConfigError) as raised:
        load_settings({"CHECK_CONCURRENCY": "0", "SLACK_WEBHOOK_URL": "http://x/SECRETX", "NOTIFY_ON": "skipped"})

    problems = raised.value.problems
    assert any(p.startswith("CHECK_CONCURRENCY") for p in problems)
    assert any(p.startswith("SLACK_WEBHOOK_URL") for p in problems)
    assert any(p.startswith("NOTIFY_ON") for p in problems)
    assert "SECRETX" not in str(raised.value)


def test_the_settings_repr_hides_the_webhook_urls():
    settings = load_settings({"TEAMS_WEBHOOK_URL": TEAMS, "SLACK_WEBHOOK_URL": SLACK})

    assert "TEAMSSECRET" not in repr(settings)
    assert "SLACKSECRET" not in repr(settings)
    assert settings.notify.teams_webhook_url == TEAMS


def test_every_notify_setting_is_in_the_app_settings_catalogue():
    assert set(NOTIFY_SETTINGS) <= set(APP_SETTINGS)


def test_a_report_url_is_optional_and_kept_when_it_is_a_plain_https_link():
    assert notify()[0].report_url is None
    url = "https://reports.contoso.example/defender-contacts?format=html"

    settings, problems = notify(REPORT_URL=url)

    assert problems == [] and settings.report_url == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://reports.contoso.example/SECRETX", "must be an https:// URL"),
        ("reports.contoso.example/SECRETX", "must be an https:// URL"),
        ("https://user:SECRETX@reports.contoso.example/", "user name or password"),
        ("https://reports.contoso.example:99999/SECRETX", "not a valid URL"),
        (
            "https://func.azurewebsites.net/api/check?format=html&code=SECRETX",
            "carries a credential in its query (code)",
        ),
        ("https://acct.blob.core.windows.net/r/report.html?sv=2024&sig=SECRETX", "credential in its query (sig)"),
        ("https://reports.contoso.example/" + "SECRETX" * 400, "at most 2000 characters"),
    ],
)
def test_a_bad_report_url_is_a_problem_that_never_echoes_the_url(url, expected):
    settings, problems = notify(REPORT_URL=url)

    assert settings.report_url is None
    assert len(problems) == 1 and expected in problems[0] and "REPORT_URL" in problems[0]
    assert "SECRETX" not in problems[0]
