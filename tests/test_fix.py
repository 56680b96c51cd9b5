"""`python -m shared fix` against the ARM emulator: real SDK pipeline, real PUTs, real re-reads."""

import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from emulator import SAMPLE_SCENARIO, Tenant
from emulator.faults import ContactChange, Fault
from shared.cli import main
from shared.demo import EMULATOR_CREDENTIAL_OPTIONS
from shared.remediation.demo import show_fix_preview
from tests.conftest import TenantBuilder, good_contact, subscription_id

V2020 = "2020-01-01-preview"
V2023 = "2023-12-01-preview"
EMAIL = "secops@contoso.com"

GOOD = 1
NOTHING = 2
ALERTS_OFF = 3
OWNER_MISSING = 4
SWITCHED_OFF = 5
ONLY_2020 = 6
DENIED = 7
DISABLED = 8


class Terminal(io.StringIO):
    """What the operator types, on a stdin that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """The text output fits COLUMNS; the tests that read whole sentences out of it get a wide terminal."""
    monkeypatch.setenv("COLUMNS", "200")


def failing_shapes() -> TenantBuilder:
    builder = TenantBuilder()
    builder.subscription(GOOD, "corp", good_contact())
    builder.subscription(NOTHING, "corp", None)
    builder.subscription(ALERTS_OFF, "corp", good_contact(alerts_enabled=False, phone="+1-555-0100"))
    builder.subscription(OWNER_MISSING, "platform", good_contact(roles=["Contributor"], emails=["a@contoso.com"]))
    builder.subscription(SWITCHED_OFF, "platform", good_contact(enabled=False))
    builder.subscription(ONLY_2020, "platform", good_contact(alerts_enabled=False), contact_api_versions=(V2020,))
    return builder


def with_unfixable(builder: TenantBuilder) -> TenantBuilder:
    builder.subscription(DENIED, "corp", None, deny_contacts=True)
    builder.subscription(DISABLED, "corp", None, state="Disabled")
    return builder


def fix(capsys, *arguments: str) -> tuple[int, dict]:
    code = main(["fix", "--email", EMAIL, "--format", "json", *arguments])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def by_id(document: dict) -> dict[str, dict]:
    return {entry["subscriptionId"]: entry for entry in document["subscriptions"]}


def written(emulator) -> list[str]:
    return [target for method, target in emulator.stats.writes if method == "PUT"]


def test_dry_run_plans_every_failing_shape_and_writes_nothing(emulator, use_tenant, capsys):
    use_tenant(with_unfixable(failing_shapes()))

    code, document = fix(capsys)

    assert emulator.stats.writes == []
    assert document["mode"] == "dry-run"
    plans = by_id(document)
    assert set(plans) == {
        subscription_id(n) for n in (NOTHING, ALERTS_OFF, OWNER_MISSING, SWITCHED_OFF, ONLY_2020, DENIED)
    }
    nothing = plans[subscription_id(NOTHING)]
    assert (nothing["outcome"], nothing["creates"], nothing["contactsApiVersion"]) == ("planned", True, V2023)
    assert nothing["request"]["body"]["properties"]["emails"] == EMAIL
    alerts = plans[subscription_id(ALERTS_OFF)]
    assert [c["field"] for c in alerts["changes"]] == ["notificationsSources[Alert]"]
    assert alerts["request"]["body"]["properties"]["phone"] == "+1-555-0100"
    owner = plans[subscription_id(OWNER_MISSING)]
    assert owner["changes"] == [
        {"field": "notificationsByRole.roles", "old": ["Contributor"], "new": ["Contributor", "Owner"]}
    ]
    assert owner["request"]["body"]["properties"]["emails"] == "a@contoso.com"
    assert plans[subscription_id(SWITCHED_OFF)]["changes"] == [{"field": "isEnabled", "old": False, "new": True}]
    only_2020 = plans[subscription_id(ONLY_2020)]
    assert only_2020["contactsApiVersion"] == V2020
    assert only_2020["changes"] == [{"field": "alertNotifications.state", "old": "Off", "new": "On"}]
    assert only_2020["request"]["url"].endswith(f"securityContacts/default?api-version={V2020}")
    assert only_2020["request"]["azRest"].startswith("az rest --method put --url ")
    denied = plans[subscription_id(DENIED)]
    assert (denied["outcome"], denied["request"]) == ("not-checked", None)
    assert "403" in denied["reason"]
    assert document["summary"]["planned"] == 5
    assert code == 1  # the denied subscription cannot be fixed


def test_a_dry_run_where_everything_can_be_fixed_exits_0_and_the_table_shows_old_and_new(emulator, use_tenant, capsys):
    use_tenant(failing_shapes())

    code = main(["fix", "--email", EMAIL])

    out = capsys.readouterr().out
    assert code == 0
    assert emulator.stats.writes == []
    assert "Dry run: nothing was written" in out
    assert 'notificationsByRole.roles: ["Contributor"] -> ["Contributor", "Owner"]' in out
    assert f"az rest --method put --url '{emulator.arm_endpoint}/subscriptions/{subscription_id(SWITCHED_OFF)}" in out
    assert "5 would change" in out


def test_at_80_columns_every_line_of_the_plan_fits_except_the_az_rest_commands_on_lines_of_their_own(
    emulator, capsys, monkeypatch
):
    emulator.tenant = Tenant.from_file(SAMPLE_SCENARIO)
    monkeypatch.setenv("COLUMNS", "80")

    main(["fix", "--email", EMAIL])

    lines = capsys.readouterr().out.splitlines()
    commands = [line for line in lines if "az rest" in line]
    assert commands and all(line.startswith("  az rest --method put --url '") for line in commands)
    assert all(shlex.split(line)[-2] == "--body" for line in commands)  # whole: nothing cut or wrapped
    assert [line for line in lines if len(line) > 80 and line not in commands] == []
    text = "\n".join(lines)
    assert "management-prod (1b6f0c1e-0003-4a4e-9a57-0d1f2c3b4a03," in text
    assert "5 would change; 1 not checked, never written (3 passed the check, 1 skipped)" in text


def test_at_80_columns_the_outcome_and_group_move_to_lines_of_their_own_and_long_details_hang_indented(
    emulator, capsys, monkeypatch
):
    emulator.tenant = Tenant.from_file(SAMPLE_SCENARIO)
    monkeypatch.setenv("COLUMNS", "80")

    main(["fix", "--email", EMAIL])

    lines = capsys.readouterr().out.splitlines()
    at = lines.index("management-prod (1b6f0c1e-0003-4a4e-9a57-0d1f2c3b4a03, 2023-12-01-preview)")
    assert lines[at + 1 : at + 3] == [
        "  would change (creates the security contact)",
        "  in Tenant Root Group / Contoso / Platform",
    ]
    source = next(n for n, line in enumerate(lines) if line.startswith("  notificationsSources[AttackPath]: (not set)"))
    assert lines[source + 1] == '      "minimalRiskLevel": "Critical"}'


def test_a_wide_terminal_keeps_each_subscription_on_one_headline(emulator, capsys, monkeypatch):
    emulator.tenant = Tenant.from_file(SAMPLE_SCENARIO)
    monkeypatch.setenv("COLUMNS", "200")

    main(["fix", "--email", EMAIL])

    assert (
        "management-prod (1b6f0c1e-0003-4a4e-9a57-0d1f2c3b4a03, 2023-12-01-preview) "
        "[Tenant Root Group / Contoso / Platform]: would change (creates the security contact)\n"
    ) in capsys.readouterr().out


def test_apply_writes_each_failing_subscription_once_and_the_check_then_passes(emulator, use_tenant, capsys):
    use_tenant(failing_shapes())

    code, document = fix(capsys, "--apply", "--yes")

    assert code == 0
    assert {entry["outcome"] for entry in document["subscriptions"]} == {"fixed"}
    targets = written(emulator)
    assert sorted(targets) == sorted(
        f"/subscriptions/{subscription_id(n)}/providers/Microsoft.Security/securityContacts/default?api-version={v}"
        for n, v in (
            (NOTHING, V2023),
            (ALERTS_OFF, V2023),
            (OWNER_MISSING, V2023),
            (SWITCHED_OFF, V2023),
            (ONLY_2020, V2020),
        )
    )
    assert main(["check"]) == 0
    kept = emulator.tenant.subscriptions[subscription_id(ALERTS_OFF)].raw_contacts[V2023][0]["properties"]
    assert kept["phone"] == "+1-555-0100"
    assert kept["emails"] == "secops@contoso.com"


def test_error_and_skipped_subscriptions_are_never_written(emulator, use_tenant, capsys):
    use_tenant(with_unfixable(failing_shapes()))

    code, document = fix(capsys, "--apply", "--yes")

    assert code == 1
    assert not any(subscription_id(DENIED) in t or subscription_id(DISABLED) in t for t in written(emulator))
    assert by_id(document)[subscription_id(DENIED)]["outcome"] == "not-checked"
    assert subscription_id(DISABLED) not in by_id(document)


def test_refused_and_throttled_writes_are_reported_per_subscription_and_the_rest_are_fixed(
    emulator, use_tenant, capsys
):
    use_tenant(failing_shapes())
    emulator.add_fault(Fault(match=f"{subscription_id(ALERTS_OFF)}/.*securityContacts/default", status=403, times=None))
    emulator.add_fault(
        Fault(
            match=f"{subscription_id(OWNER_MISSING)}/.*securityContacts/default",
            status=429,
            retry_after=0.01,
            times=None,
        )
    )

    code, document = fix(capsys, "--apply", "--yes")

    assert code == 1
    results = by_id(document)
    refused = results[subscription_id(ALERTS_OFF)]
    assert refused["outcome"] == "failed"
    assert refused["reason"].startswith("not written: HTTP 403 AuthorizationFailed")
    assert "Security Admin" in refused["reason"]
    throttled = results[subscription_id(OWNER_MISSING)]
    assert throttled["outcome"] == "failed"
    assert "HTTP 429" in throttled["reason"]
    # The pipeline's retries apply to writes as to reads: the first try and 4 retries.
    assert (
        written(emulator).count(
            f"/subscriptions/{subscription_id(OWNER_MISSING)}/providers/Microsoft.Security/securityContacts/default"
            f"?api-version={V2023}"
        )
        == 5
    )
    others = {n: results[subscription_id(n)]["outcome"] for n in (NOTHING, SWITCHED_OFF, ONLY_2020)}
    assert others == {NOTHING: "fixed", SWITCHED_OFF: "fixed", ONLY_2020: "fixed"}
    assert document["summary"]["fixed"] == 3 and document["summary"]["failed"] == 2


def test_an_unregistered_provider_is_a_per_subscription_error_and_is_never_registered(emulator, use_tenant, capsys):
    builder = failing_shapes()
    unregistered = builder.subscription(9, "corp", None, security_provider_registered=False)
    use_tenant(builder)

    code, document = fix(capsys, "--apply", "--yes")

    assert code == 1
    entry = by_id(document)[unregistered]
    assert entry["outcome"] == "failed"
    assert "409 MissingSubscriptionRegistration" in entry["reason"]
    assert f"az provider register --namespace Microsoft.Security --subscription {unregistered}" in entry["reason"]
    assert not any("/register" in target for _, target in emulator.stats.writes)


def test_existing_invalid_addresses_are_kept_unless_replace_emails(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    bad = builder.subscription(1, "corp", good_contact(emails=["hr-it(at)contoso.com"], roles_enabled=False))
    use_tenant(builder)

    kept_code, kept = fix(capsys, "--apply", "--yes")
    after_kept = emulator.tenant.subscriptions[bad].raw_contacts[V2023][0]["properties"]["emails"]
    replaced_code, replaced = fix(capsys, "--apply", "--yes", "--replace-emails")

    assert (kept_code, by_id(kept)[bad]["outcome"]) == (1, "still-failing")
    assert after_kept == "hr-it(at)contoso.com"
    assert (replaced_code, by_id(replaced)[bad]["outcome"]) == (0, "fixed")
    assert emulator.tenant.subscriptions[bad].raw_contacts[V2023][0]["properties"]["emails"] == EMAIL


def test_apply_on_a_non_interactive_stdin_without_yes_is_refused_before_any_call(emulator, use_tenant, capsys):
    use_tenant(failing_shapes())

    code = main(["fix", "--email", EMAIL, "--apply"])

    assert code == 2
    assert "add --yes" in capsys.readouterr().err
    assert emulator.stats.snapshot()["armCalls"] == 0


def test_apply_asks_on_a_terminal_and_writes_nothing_unless_told_yes(emulator, use_tenant, capsys, monkeypatch):
    use_tenant(failing_shapes())
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))

    declined = main(["fix", "--email", EMAIL, "--apply"])

    err = capsys.readouterr().err
    assert declined == 2
    assert "Type 'yes' to apply" in err and "not confirmed" in err
    assert "notificationsByRole.roles" in err  # the plan is shown before the question
    assert emulator.stats.writes == []

    monkeypatch.setattr(sys, "stdin", Terminal("yes\n"))
    assert main(["fix", "--email", EMAIL, "--apply"]) == 0
    assert len(written(emulator)) == 5


def test_invalid_email_options_fail_the_run_before_any_call(emulator, use_tenant, capsys, monkeypatch):
    use_tenant(failing_shapes())
    monkeypatch.setenv("ALLOWED_EMAIL_DOMAINS", "fabrikam.com")

    code = main(["fix", "--email", EMAIL])

    assert code == 2
    assert "outside ALLOWED_EMAIL_DOMAINS" in capsys.readouterr().err
    assert emulator.stats.snapshot()["armCalls"] == 0


def _token(emulator) -> str:
    answer = requests.get(
        emulator.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
        headers={"X-IDENTITY-HEADER": emulator.identity_header},
        timeout=5,
    )
    return answer.json()["access_token"]


@pytest.mark.parametrize(
    ("api_version", "name", "body", "problem"),
    [
        (V2023, "default1", {"properties": {"emails": EMAIL}}, "the name must be 'default'"),
        (V2023, "default", {"emails": EMAIL}, "'properties' object"),
        (V2023, "default", {"properties": {"emails": ["a@contoso.com"]}}, "emails must be a string"),
        (V2023, "default", {"properties": {"alertNotifications": {"state": "On"}}}, "Properties not in"),
        (V2023, "default", {"properties": {"notificationsSources": [{"sourceType": "Alert"}]}}, "not a valid Alert"),
        (V2020, "default", {"properties": {"isEnabled": True}}, "Properties not in"),
        (V2020, "default", {"properties": {"notificationsByRole": {"state": "On", "roles": ["Boss"]}}}, "roles"),
    ],
)
def test_the_emulator_refuses_contact_writes_the_api_would_refuse(
    emulator, use_tenant, api_version, name, body, problem
):
    builder = TenantBuilder()
    target = builder.subscription(1, "corp", None)
    use_tenant(builder)

    answer = requests.put(
        f"{emulator.arm_endpoint}/subscriptions/{target}/providers/Microsoft.Security/securityContacts/{name}",
        params={"api-version": api_version},
        json=body,
        headers={"Authorization": f"Bearer {_token(emulator)}"},
        verify=str(emulator.ca_path),
        timeout=5,
    )

    assert answer.status_code == 400
    assert problem in answer.json()["error"]["message"]
    assert emulator.tenant.subscriptions[target].raw_contacts == {}


def test_the_demo_shows_what_fix_would_change_in_the_sample_tenant_without_writing(emulator, settings_for):
    emulator.tenant = Tenant.from_file(SAMPLE_SCENARIO)
    out = io.StringIO()

    assert show_fix_preview(settings_for(), EMULATOR_CREDENTIAL_OPTIONS, out)

    text = out.getvalue()
    assert emulator.stats.writes == []
    assert "management-prod (1b6f0c1e-0003-4a4e-9a57-0d1f2c3b4a03, 2023-12-01-preview)" in text
    assert "would change (creates the security contact)" in text
    assert 'notificationsByRole.roles: ["Contributor"] -> ["Contributor", "Owner"]' in text
    assert "add --replace-emails" in text
    assert "5 would change; 1 not checked, never written (3 passed the check, 1 skipped)" in text


def test_the_functions_app_and_the_monitor_never_load_the_fix_package():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, function_app, shared.monitor; print('shared.remediation' in sys.modules)"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert loaded.stdout.strip() == "False"


def test_nothing_to_fix_exits_0_without_asking_or_writing(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    builder.subscription(1, "corp", good_contact())
    use_tenant(builder)

    code = main(["fix", "--email", EMAIL, "--apply", "--yes"])

    out = capsys.readouterr().out
    assert code == 0
    assert "Nothing to fix" in out
    assert "Dry run" not in out and "add --apply" not in out
    assert emulator.stats.writes == []


def test_a_check_that_cannot_run_fails_the_fix_with_exit_2(emulator, use_tenant, capsys):
    use_tenant(failing_shapes())

    code = main(["fix", "--email", EMAIL, "--management-group", "no-such-group", "--apply", "--yes"])

    assert code == 2
    assert "could not read management group 'no-such-group'" in capsys.readouterr().err
    assert emulator.stats.writes == []


def test_severity_raises_the_bar_and_lowers_only_thresholds_above_it(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    high = builder.subscription(1, "corp", good_contact(minimal_severity="High"))
    low = builder.subscription(2, "corp", good_contact(minimal_severity="Low"))
    use_tenant(builder)

    code, document = fix(capsys, "--severity", "Medium", "--apply", "--yes")

    assert code == 0
    assert set(by_id(document)) == {high}
    assert by_id(document)[high]["changes"] == [
        {"field": "notificationsSources[Alert].minimalSeverity", "old": "High", "new": "Medium"}
    ]
    assert not any(low in target for target in written(emulator))
    assert main(["check"]) == 0


def test_a_write_with_no_answer_before_the_deadline_is_reported_as_maybe_written(
    emulator, use_tenant, capsys, monkeypatch
):
    builder = TenantBuilder()
    slow = builder.subscription(1, "corp", good_contact(enabled=False))
    use_tenant(builder)
    monkeypatch.setenv("RUN_TIMEOUT_SECONDS", "5")
    emulator.add_fault(Fault(match=f"{slow}/.*securityContacts/default", status=200, delay_seconds=6))

    code, document = fix(capsys, "--apply", "--yes")

    assert code == 1
    entry = by_id(document)[slow]
    assert entry["outcome"] == "failed"
    assert entry["reason"].startswith("no answer before the deadline (the change may or may not have been written")


def test_apply_with_nothing_it_can_write_says_so_and_never_calls_itself_a_dry_run(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    bad = builder.subscription(1, "corp", good_contact(emails=["hr-it(at)contoso.com"]))
    use_tenant(builder)

    code = main(["fix", "--email", EMAIL, "--apply", "--yes"])
    text = capsys.readouterr().out
    json_code, document = fix(capsys, "--apply", "--yes")

    assert code == json_code == 1  # the bad address is still there: not everything is fixed
    assert text.startswith("Nothing was written: no subscription has a change this command can write.")
    assert "Dry run" not in text and "add --apply" not in text
    assert "cannot be fixed by this command" in text
    assert (document["mode"], by_id(document)[bad]["outcome"]) == ("apply", "cannot-fix")
    assert emulator.stats.writes == []


def contact_reads(emulator, sub: str) -> int:
    return sum(1 for _, route, target, _ in emulator.stats.log if route == "securityContacts" and sub in target)


def reads_before_the_write(emulator, sub: str, capsys) -> int:
    """How many times a fix reads the contact before it writes: the dry run makes exactly those reads."""
    fix(capsys)
    reads = contact_reads(emulator, sub)
    emulator.reset()
    return reads


def test_a_contact_changed_between_plan_and_write_is_not_written_and_the_address_added_meanwhile_survives(
    emulator, use_tenant, capsys
):
    builder = TenantBuilder()
    sub = builder.subscription(1, "corp", good_contact(emails=["a@contoso.com"], roles=["Contributor"]))
    use_tenant(builder)
    # Someone adds an address in the portal while the operator reads the plan.
    added = ["a@contoso.com", "soc@contoso.com"]
    emulator.add_contact_change(ContactChange(sub, reads_before_the_write(emulator, sub, capsys), {"emails": added}))

    code, document = fix(capsys, "--apply", "--yes")

    entry = by_id(document)[sub]
    assert code == 1
    assert entry["outcome"] == "changed-since-planned"
    assert entry["reason"].startswith("the contact changed since it was planned (emails); nothing was written")
    assert written(emulator) == []
    assert emulator.tenant.subscriptions[sub].contact.emails == added

    again, document = fix(capsys, "--apply", "--yes")

    assert (again, by_id(document)[sub]["outcome"]) == (0, "fixed")
    properties = emulator.tenant.subscriptions[sub].raw_contacts[V2023][0]["properties"]
    assert properties["emails"] == "a@contoso.com;soc@contoso.com"
    assert properties["notificationsByRole"]["roles"] == ["Contributor", "Owner"]


def test_a_contact_fixed_by_someone_else_after_the_plan_is_not_written_again(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    sub = builder.subscription(1, "corp", good_contact(enabled=False))
    use_tenant(builder)
    emulator.add_contact_change(ContactChange(sub, reads_before_the_write(emulator, sub, capsys), {"enabled": True}))

    code = main(["fix", "--email", EMAIL, "--apply", "--yes"])

    out = capsys.readouterr().out
    assert code == 1
    assert "changed since planned, not written" in out
    assert "needs no change now; nothing was written: run fix again to review it" in out
    assert written(emulator) == []


def test_the_contact_is_read_again_just_before_each_write(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    sub = builder.subscription(1, "corp", good_contact(enabled=False))
    use_tenant(builder)
    before = reads_before_the_write(emulator, sub, capsys)

    fix(capsys, "--apply", "--yes")

    assert len(written(emulator)) == 1
    assert contact_reads(emulator, sub) == before + 3  # the re-read, the PUT and the read-back


def test_a_write_refused_as_subscription_not_registered_gives_the_register_hint(emulator, use_tenant, capsys):
    builder = TenantBuilder()
    sub = builder.subscription(
        1, "corp", None, security_provider_registered=False, unregistered_code="Subscription Not Registered"
    )
    use_tenant(builder)

    code, document = fix(capsys, "--apply", "--yes")

    entry = by_id(document)[sub]
    assert code == 1
    assert "409 Subscription Not Registered" in entry["reason"]
    assert f"az provider register --namespace Microsoft.Security --subscription {sub}" in entry["reason"]
    assert not any("/register" in target for _, target in emulator.stats.writes)


def test_the_emulator_refuses_a_contact_change_to_a_field_a_contact_does_not_have(emulator):
    with pytest.raises(ValueError, match="colour"):
        emulator.add_contact_change(ContactChange(subscription_id(1), 1, {"colour": "red"}))
