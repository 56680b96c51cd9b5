"""`settings` lists every setting the code reads, with its source and problems, and never a secret's value."""

import json
import re
from pathlib import Path

import pytest

from shared.cli import main
from shared.config import APP_SETTINGS
from shared.schedule import schedule_problem
from shared.setting_names import near_misses
from shared.settings_listing import list_settings

REPOSITORY = Path(__file__).resolve().parent.parent
SECRET = "https://contoso.webhook.office.com/webhookb2/SECRETVALUE?sig=SECRETSIG"


def listed(capsys, *args):
    code = main(["settings", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_every_setting_the_code_reads_is_listed_once_in_registry_order(monkeypatch, capsys):
    for name in APP_SETTINGS:
        monkeypatch.delenv(name, raising=False)

    code, document = listed(capsys)

    assert code == 0
    assert [entry["name"] for entry in document["settings"]] == list(dict.fromkeys(APP_SETTINGS))
    assert {entry["source"] for entry in document["settings"]} == {"default"}


def test_effective_values_and_sources_are_shown(monkeypatch, capsys):
    monkeypatch.setenv("CHECK_CONCURRENCY", "16")
    monkeypatch.delenv("MANAGEMENT_GROUP_IDS", raising=False)

    _, document = listed(capsys)

    values = {entry["name"]: (entry["source"], entry["value"]) for entry in document["settings"]}
    assert values["CHECK_CONCURRENCY"] == ("environment", "16")
    assert values["MANAGEMENT_GROUP_IDS"] == ("default", "the tenant root group")
    assert values["REQUIRE_ATTACK_PATH_NOTIFICATIONS"][1] == "false"


def test_every_setting_the_code_reads_has_an_effective_value_of_its_own(monkeypatch, capsys):
    for name in APP_SETTINGS:
        monkeypatch.delenv(name, raising=False)

    _, document = listed(capsys)

    assert [entry["name"] for entry in document["settings"] if entry["value"] == "(default)"] == []
    values = {entry["name"]: entry["value"] for entry in document["settings"]}
    assert values["REPORT_URL"] == "none"


def test_the_report_url_is_shown_by_its_host_only(monkeypatch, capsys):
    monkeypatch.setenv("REPORT_URL", "https://contoso.sharepoint.com/sites/security/contacts-report.aspx")

    _, document = listed(capsys)

    values = {entry["name"]: entry["value"] for entry in document["settings"]}
    assert values["REPORT_URL"] == "https://contoso.sharepoint.com/… (path not shown)"


def test_secrets_are_shown_as_set_or_unset_only(monkeypatch, capsys):
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", SECRET)
    monkeypatch.setenv("STATE_CONNECTION_STRING", "AccountName=x;AccountKey=SECRETKEY")
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)

    for output_format in ("json", "table"):
        main(["settings", "--format", output_format])
        out = capsys.readouterr().out
        assert "SECRET" not in out
        assert "set (not shown)" in out
        assert re.search(r"SLACK_WEBHOOK_URL\s+default\s+unset", out) or '"unset"' in out


def test_a_refused_value_is_named_under_its_setting_and_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("MIN_ALERT_SEVERITY", "Severe")
    monkeypatch.setenv("CHECK_CONCURRENCY", "8")

    code, document = listed(capsys)

    entries = {entry["name"]: entry for entry in document["settings"]}
    assert code == 2
    assert entries["MIN_ALERT_SEVERITY"]["problems"] == ["MIN_ALERT_SEVERITY='Severe' must be one of Low, Medium, High"]
    assert entries["CHECK_CONCURRENCY"]["value"] == "8"


def test_a_name_one_edit_away_from_a_setting_is_a_warning_and_exits_1(monkeypatch, capsys):
    monkeypatch.setenv("MANAGEMENT_GROUP_ID", "corp")

    code, document = listed(capsys)

    assert code == 1
    assert document["warnings"] == [
        "MANAGEMENT_GROUP_ID is not a setting and is ignored; did you mean MANAGEMENT_GROUP_IDS?"
    ]


def test_near_misses_cover_case_insertion_deletion_substitution_and_swaps_but_not_strangers():
    environ = dict.fromkeys(
        [
            "management_group_ids",
            "CHECK_CONCURENCY",
            "NOTIFY_ALWAYSS",
            "TEAMS_WEBHOOK_URI",
            "MIN_ALERT_SEVERTIY",
            "PATH",
            "HOME",
            "MANAGEMENT_GROUP_IDS",
        ],
        "x",
    )

    named = [warning.split(" ")[0] for warning in near_misses(environ)]

    assert named == [
        "CHECK_CONCURENCY",
        "MIN_ALERT_SEVERTIY",
        "NOTIFY_ALWAYSS",
        "TEAMS_WEBHOOK_URI",
        "management_group_ids",
    ]


def test_the_listing_carries_the_near_miss_warnings():
    listing = list_settings({"NOTIFY_NO": "fail"})

    assert listing.warnings == ("NOTIFY_NO is not a setting and is ignored; did you mean NOTIFY_ON?",)


@pytest.mark.parametrize(
    "schedule", ["0 0 7 * * *", "0 */30 * * * *", "0 0 6,18 * * *", "0 0 7 */1 1-12 0-6", " 0 5 7 * * * "]
)
def test_a_schedule_that_runs_every_day_is_one_the_missed_run_alert_can_watch(schedule):
    assert schedule_problem(schedule.strip()) is None


@pytest.mark.parametrize(
    ("schedule", "named"),
    [
        ("0 0 7 * * 1-5", "day-of-week field is '1-5'"),
        ("0 0 7 * * MON", "day-of-week field is 'MON'"),
        ("0 0 7 1 * *", "day field is '1'"),
        ("0 0 7 */2 * *", "day field is '*/2'"),
        ("0 0 7 * 1 *", "month field is '1'"),
        ("0 7 * * *", "has 5 fields"),
        ("00:05:00", "has 1 field;"),
    ],
)
def test_a_schedule_the_missed_run_alert_cannot_watch_is_named_with_the_reason(schedule, named):
    problem = schedule_problem(schedule)
    assert problem is not None and named in problem


def test_the_settings_command_warns_about_a_schedule_that_does_not_run_every_day(monkeypatch, capsys):
    monkeypatch.setenv("CHECK_SCHEDULE", "0 0 7 * * MON")

    code, document = listed(capsys)

    assert code == 1
    (warning,) = document["warnings"]
    assert warning.startswith("CHECK_SCHEDULE does not run every day")
    assert "looks back at most two days" in warning


def test_the_default_schedule_is_no_warning():
    assert list_settings({"CHECK_SCHEDULE": "0 0 7 * * *"}).warnings == ()
    assert list_settings({}).warnings == ()


def test_the_example_local_settings_list_every_setting_the_code_reads():
    values = json.loads((REPOSITORY / "local.settings.json.example").read_text(encoding="utf-8"))["Values"]

    functions_host = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"}
    assert set(values) - functions_host == set(APP_SETTINGS)


def test_the_settings_reference_documents_exactly_the_settings_the_code_reads():
    text = (REPOSITORY / "docs" / "settings.md").read_text(encoding="utf-8")
    reference = text.split("## Reference", 1)[1]

    documented = re.findall(r"^\| `([A-Z_]+)` \|", reference, flags=re.MULTILINE)
    assert sorted(documented) == sorted(set(APP_SETTINGS))


def test_the_table_fits_80_columns_even_with_long_values_and_problems(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("ALLOWED_EMAIL_DOMAINS", " ".join(f"division-{n}.contoso.com" for n in range(12)))
    monkeypatch.setenv("INCLUDE_SUBSCRIPTION_IDS", "not-a-guid-" * 5)

    assert main(["settings"]) == 2

    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("  problem: INCLUDE_SUBSCRIPTION_IDS has values") for line in lines)
    assert lines[-1] == f"{len(set(APP_SETTINGS))} settings, 1 problem, 0 warnings."


def test_a_connection_string_or_sas_pasted_into_a_plain_setting_is_not_shown(monkeypatch, capsys):
    monkeypatch.setenv("ARM_ENDPOINT", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=SECRETKEY")
    monkeypatch.setenv("STATE_TABLE_ENDPOINT", "https://x.table.core.windows.net/?sv=2024&sig=SECRETSIG")
    monkeypatch.setenv("NOTIFY_ALLOWED_HOSTS", "proxy.contoso.com;key=SECRETVALUE")

    main(["settings"])
    main(["settings", "--format", "json"])

    out = capsys.readouterr().out
    assert "SECRET" not in out
    assert "not shown" in out
