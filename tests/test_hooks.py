"""The azd hooks (infra/hooks/*.sh), run as azd runs them, against stand-in `az`, `azd` and `sleep`.

The stand-ins (tests/fixtures/hooks/stand_in.py) record every call and answer as the real tools do for
the rights the deployer has: an administrator of the management groups, a deployer who may only read
them (whom `role assignment create` refuses with the real AuthorizationFailed text), one signed in to
another tenant, one not signed in. The postdeploy hook calls a real local HTTP server standing in for
the function app's check route.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.hooks.stand_in import make_assignment

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "infra" / "hooks"
STAND_IN = ROOT / "tests" / "fixtures" / "hooks" / "stand_in.py"
SHELLCHECK = ROOT / ".tools" / "bicep-venv" / "bin" / "shellcheck"

TENANT = "11111111-1111-4111-8111-111111111111"
OTHER_TENANT = "22222222-2222-4222-8222-222222222222"
PRINCIPAL = "aaaaaaaa-0000-4000-8000-000000000001"
SECURITY_READER = "39bc4728-0917-49c7-9d2c-d95423bc2eb4"
ROLE_NAME = "Defender Contact Monitor Reader"
ROLE_ACTIONS = [
    "Microsoft.Security/securityContacts/read",
    "Microsoft.Management/managementGroups/read",
    "Microsoft.Resources/subscriptions/read",
    "Microsoft.Resources/subscriptions/providers/read",
]
KEY = "fUnCtIoNkEy-0123456789abcdefABCDEF=="
PROVISIONED = {
    "MONITOR_IDENTITY_PRINCIPAL_ID": PRINCIPAL,
    "SCOPE_MANAGEMENT_GROUP_IDS": "corp,online",
    "AZURE_TENANT_ID": TENANT,
    "AZURE_ENV_NAME": "prod",
}


def group_scope(group: str) -> str:
    return f"/providers/Microsoft.Management/managementGroups/{group}"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def az(self, *words: str) -> list[list[str]]:
        """The az calls whose leading words are `words`, without the tool name."""
        return [call[1:] for call in self.calls if call[0] == "az" and call[1 : 1 + len(words)] == list(words)]

    def tools(self, tool: str) -> list[list[str]]:
        return [call[1:] for call in self.calls if call[0] == tool]


@dataclass
class Bench:
    """A deployer's machine: the stand-in tools on PATH and the world they answer from."""

    root: Path
    world: dict[str, Any] = field(
        default_factory=lambda: {
            "tenant": TENANT,
            "rights": "admin",
            "definitions": [],
            "assignments": [],
            "azd_env": {},
            "key": KEY,
        }
    )

    def __post_init__(self) -> None:
        self.bin = self.root / "bin"
        self.bin.mkdir()
        for tool in ("az", "azd", "sleep"):
            wrapper = self.bin / tool
            wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STAND_IN}" {tool} "$@"\n')
            wrapper.chmod(0o755)
        self.world_file = self.root / "world.json"

    def run(self, hook: str, **env: str) -> Run:
        self.world_file.write_text(json.dumps(self.world))
        calls = self.root / "calls.jsonl"
        calls.unlink(missing_ok=True)
        environment = {
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "HOOK_WORLD": str(self.world_file),
            "HOOK_CALLS": str(calls),
            **env,
        }
        completed = subprocess.run(  # noqa: S603 - our own hook script
            ["/bin/sh", str(HOOKS / hook)],
            capture_output=True,
            text=True,
            env=environment,
            cwd=ROOT,
            check=False,
            timeout=120,
        )
        self.world = json.loads(self.world_file.read_text())
        logged = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
        return Run(completed.returncode, completed.stdout, completed.stderr, logged)

    def assignments_of(self, principal: str = PRINCIPAL) -> list[tuple[str, str]]:
        return sorted((a["scope"], a["role"]) for a in self.world["assignments"] if a["principalId"] == principal)

    def custom_role_id(self) -> str:
        (definition,) = (d for d in self.world["definitions"] if d["roleName"] == ROLE_NAME)
        return str(definition["name"])


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return Bench(tmp_path)


def printed_commands(output: str) -> list[list[str]]:
    """The `az ...` command lines a hook printed for an administrator, as argv lists."""
    joined = output.replace("\\\n", " ")  # continuation lines
    return [shlex.split(line.strip()) for line in joined.splitlines() if line.startswith("  az ")]


# --- postprovision: the reader role on every scope management group --------------------------------


def test_postprovision_defines_the_custom_role_once_at_the_tenant_root_and_assigns_it_on_each_scope_group(
    bench: Bench,
) -> None:
    run = bench.run("postprovision.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    (create,) = run.az("role", "definition", "create")
    definition = json.loads(create[create.index("--role-definition") + 1])
    assert definition["Name"] == ROLE_NAME
    assert definition["Actions"] == ROLE_ACTIONS
    assert definition["NotActions"] == definition["DataActions"] == []
    # A custom role's assignable scopes may name only one management group: one above every scope group.
    assert definition["AssignableScopes"] == [group_scope(TENANT)]
    role_id = bench.custom_role_id()
    assert [call[call.index("--scope") + 1] for call in run.az("role", "assignment", "create")] == [
        group_scope("corp"),
        group_scope("online"),
    ]
    for call in run.az("role", "assignment", "create"):
        assert call[call.index("--assignee-object-id") + 1] == PRINCIPAL
        # ServicePrincipal: no Graph lookup, which a new identity may not have replicated to yet.
        assert call[call.index("--assignee-principal-type") + 1] == "ServicePrincipal"
        assert call[call.index("--role") + 1] == ROLE_NAME  # az resolves the name at the group
    assert run.az("deployment") == []
    assert bench.assignments_of() == [(group_scope("corp"), role_id), (group_scope("online"), role_id)]
    recorded = bench.world["azd_env"]
    assert sorted(recorded["MONITOR_ROLE_ASSIGNMENT_IDS"].split(",")) == sorted(
        a["id"] for a in bench.world["assignments"]
    )
    assert recorded["MONITOR_ROLE_DEFINITION_CREATED"] == f"{TENANT}/{role_id}"


def test_postprovision_checks_the_signed_in_tenant_before_any_role_call(bench: Bench) -> None:
    run = bench.run("postprovision.sh", **PROVISIONED)
    assert run.az()[0][:2] == ["account", "show"]


def test_postprovision_run_again_changes_nothing(bench: Bench) -> None:
    first = bench.run("postprovision.sh", **PROVISIONED)
    assert first.returncode == 0, first.output
    world_after_first = json.loads(json.dumps(bench.world))

    second = bench.run("postprovision.sh", **PROVISIONED)

    assert second.returncode == 0, second.output
    assert second.az("role", "assignment", "create") == []
    assert second.az("role", "definition", "create") == []
    assert bench.world["assignments"] == world_after_first["assignments"]
    assert bench.world["azd_env"] == world_after_first["azd_env"]
    assert "already has" in second.stdout


def test_postprovision_keeps_an_existing_custom_role_current_and_does_not_claim_it(bench: Bench) -> None:
    bench.world["definitions"] = [
        {
            "name": "5e1f0000-0000-4000-8000-000000000005",
            "roleName": ROLE_NAME,
            "scope": group_scope(TENANT),
            "actions": [],
        }
    ]
    run = bench.run("postprovision.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    assert run.az("role", "definition", "create") == []
    assert bench.world["definitions"][0]["actions"] == ROLE_ACTIONS
    assert "MONITOR_ROLE_DEFINITION_CREATED" not in bench.world["azd_env"]

    again = bench.run("postprovision.sh", **PROVISIONED)
    assert again.az("role", "definition", "update") == []  # current already: no write


def test_postprovision_grants_security_reader_when_chosen_instead(bench: Bench) -> None:
    run = bench.run("postprovision.sh", **PROVISIONED, MANAGEMENT_GROUP_ROLE="security-reader")

    assert run.returncode == 0, run.output
    assert run.az("role", "definition") == []
    assert bench.assignments_of() == [(group_scope("corp"), SECURITY_READER), (group_scope("online"), SECURITY_READER)]


def test_postprovision_refuses_an_unknown_role_choice(bench: Bench) -> None:
    run = bench.run("postprovision.sh", **PROVISIONED, MANAGEMENT_GROUP_ROLE="Owner")
    assert run.returncode != 0
    assert "MANAGEMENT_GROUP_ROLE must be custom or security-reader" in run.stderr
    assert run.az() == []


def test_postprovision_can_define_the_role_at_a_group_below_the_tenant_root(bench: Bench) -> None:
    run = bench.run("postprovision.sh", **PROVISIONED, MONITOR_ROLE_DEFINITION_GROUP="contoso")
    assert run.returncode == 0, run.output
    (create,) = run.az("role", "definition", "create")
    assert json.loads(create[create.index("--role-definition") + 1])["AssignableScopes"] == [group_scope("contoso")]


def test_postprovision_retries_an_assignment_while_a_new_role_definition_propagates(bench: Bench) -> None:
    bench.world["propagation_delay"] = 2
    run = bench.run("postprovision.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    assert len(run.az("role", "assignment", "create")) == 4  # corp twice refused, then corp and online
    assert run.tools("sleep") == [["10"], ["10"]]
    assert len(bench.assignments_of()) == 2


def test_a_deployer_without_the_right_gets_the_commands_to_hand_over_and_azd_up_goes_on(bench: Bench) -> None:
    bench.world["definitions"] = [
        {
            "name": "5e1f0000-0000-4000-8000-000000000005",
            "roleName": ROLE_NAME,
            "scope": group_scope(TENANT),
            "actions": [],
        }
    ]
    bench.world["rights"] = "read"

    run = bench.run("postprovision.sh", **PROVISIONED)

    assert run.returncode == 0, run.output  # the code still deploys
    assert len(run.az("role", "assignment", "create")) == 2
    assert "AuthorizationFailed" in run.stderr  # what Azure said
    assert "needs Microsoft.Authorization/roleAssignments/write on management group corp" in run.stdout
    assert "did NOT get" in run.stdout
    assert "MONITOR_ROLE_ASSIGNMENT_IDS" not in bench.world["azd_env"]
    # The printed commands are exact: an administrator running them grants what the hook could not.
    bench.world["rights"] = "admin"
    bench.world_file.write_text(json.dumps(bench.world))
    for command in printed_commands(run.stdout):
        assert command[0] == "az"
        if command[1] == "login":
            continue
        subprocess.run(  # noqa: S603 - the stand-in az
            [str(bench.bin / "az"), *command[1:]],
            env={"HOOK_WORLD": str(bench.world_file), "HOOK_CALLS": str(bench.root / "admin.jsonl")},
            check=True,
            capture_output=True,
        )
    bench.world = json.loads(bench.world_file.read_text())
    role_id = "5e1f0000-0000-4000-8000-000000000005"
    assert bench.assignments_of() == [(group_scope("corp"), role_id), (group_scope("online"), role_id)]


def test_a_deployer_who_cannot_define_the_role_is_told_so_and_handed_the_definition_too(bench: Bench) -> None:
    bench.world["rights"] = "read"
    run = bench.run("postprovision.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    assert run.az("role", "assignment", "create") == []
    assert "Microsoft.Authorization/roleDefinitions/write" in run.stdout
    assert "MANAGEMENT_GROUP_ROLE security-reader" in run.stdout
    commands = printed_commands(run.stdout)
    assert [command[:4] for command in commands] == [
        ["az", "login", "--tenant", TENANT],
        ["az", "role", "definition", "create"],
        ["az", "role", "assignment", "create"],
        ["az", "role", "assignment", "create"],
    ]
    assert json.loads(commands[1][commands[1].index("--role-definition") + 1])["Actions"] == ROLE_ACTIONS


def test_a_deployer_who_cannot_even_read_the_groups_is_told_what_is_missing(bench: Bench) -> None:
    bench.world["rights"] = "none"
    run = bench.run("postprovision.sh", **PROVISIONED, MANAGEMENT_GROUP_ROLE="security-reader")

    assert run.returncode == 0, run.output
    assert "Microsoft.Authorization/roleAssignments/read" in run.stdout
    assert len([c for c in printed_commands(run.stdout) if c[1:4] == ["role", "assignment", "create"]]) == 2


def test_postprovision_stops_at_a_tenant_other_than_azds_and_says_which(bench: Bench) -> None:
    bench.world["tenant"] = OTHER_TENANT
    run = bench.run("postprovision.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    assert [call[:2] for call in run.az()] == [["account", "show"]]
    assert f"signed in to tenant {OTHER_TENANT}, but azd deployed to tenant {TENANT}" in run.stdout
    assert ["az", "login", "--tenant", TENANT] in printed_commands(run.stdout)


def test_postprovision_without_a_signed_in_az_says_to_sign_in(bench: Bench) -> None:
    bench.world["tenant"] = None
    run = bench.run("postprovision.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    assert "Please run 'az login'" in run.stderr
    assert "not signed in" in run.stdout
    assert bench.world["assignments"] == []


def test_the_skip_setting_changes_nothing_and_prints_the_commands_for_an_administrator(bench: Bench) -> None:
    run = bench.run("postprovision.sh", **PROVISIONED, SKIP_MANAGEMENT_GROUP_ROLE="true")

    assert run.returncode == 0, run.output
    assert run.az() == []
    assert "SKIP_MANAGEMENT_GROUP_ROLE" in run.stdout
    scopes = [c[c.index("--scope") + 1] for c in printed_commands(run.stdout) if c[1:3] == ["role", "assignment"]]
    assert scopes == [group_scope("corp"), group_scope("online")]


def test_postprovision_stops_before_any_call_when_provision_outputs_are_missing(bench: Bench) -> None:
    run = bench.run("postprovision.sh", SCOPE_MANAGEMENT_GROUP_IDS="corp", AZURE_TENANT_ID=TENANT)
    assert run.returncode != 0
    assert "MONITOR_IDENTITY_PRINCIPAL_ID" in run.stderr
    assert run.az() == []


# --- predown: removes exactly what postprovision made ----------------------------------------------


def test_predown_removes_exactly_what_postprovision_made(bench: Bench) -> None:
    someone_elses = make_assignment(
        group_scope("corp"), SECURITY_READER, "bbbbbbbb-0000-4000-8000-000000000002", "other"
    )
    bench.world["assignments"].append(someone_elses)
    assert bench.run("postprovision.sh", **PROVISIONED).returncode == 0

    run = bench.run("predown.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    assert len(run.az("role", "assignment", "delete")) == 2
    assert bench.world["assignments"] == [someone_elses]
    assert bench.world["definitions"] == []
    assert bench.world["azd_env"]["MONITOR_ROLE_ASSIGNMENT_IDS"] == ""
    assert bench.world["azd_env"]["MONITOR_ROLE_DEFINITION_CREATED"] == ""


def test_predown_leaves_an_assignment_an_administrator_made(bench: Bench) -> None:
    bench.world["assignments"].append(make_assignment(group_scope("corp"), SECURITY_READER, PRINCIPAL, "byadmin"))
    env = {**PROVISIONED, "SCOPE_MANAGEMENT_GROUP_IDS": "corp", "MANAGEMENT_GROUP_ROLE": "security-reader"}
    assert bench.run("postprovision.sh", **env).returncode == 0

    run = bench.run("predown.sh", **env)

    assert run.returncode == 0, run.output
    assert run.az("role", "assignment", "delete") == []
    assert [a["id"].rsplit("/", 1)[1] for a in bench.world["assignments"]] == ["byadmin"]


def test_predown_removes_the_custom_role_where_it_was_defined_even_if_the_setting_changed(bench: Bench) -> None:
    assert bench.run("postprovision.sh", **PROVISIONED, MONITOR_ROLE_DEFINITION_GROUP="contoso").returncode == 0

    run = bench.run("predown.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    (delete,) = run.az("role", "definition", "delete")
    assert delete[delete.index("--scope") + 1] == group_scope("contoso")
    assert bench.world["definitions"] == []


def test_predown_keeps_the_custom_role_while_another_environment_assigns_it(bench: Bench) -> None:
    assert bench.run("postprovision.sh", **PROVISIONED).returncode == 0
    other_environment = {**PROVISIONED, "MONITOR_IDENTITY_PRINCIPAL_ID": "cccccccc-0000-4000-8000-000000000003"}
    mine = dict(bench.world["azd_env"])
    bench.world["azd_env"] = {}
    assert bench.run("postprovision.sh", **other_environment).returncode == 0
    bench.world["azd_env"] = mine

    run = bench.run("predown.sh", **PROVISIONED)

    assert run.returncode == 0, run.output
    assert "still assigned elsewhere" in run.stdout
    assert [d["roleName"] for d in bench.world["definitions"]] == [ROLE_NAME]
    assert len(bench.assignments_of("cccccccc-0000-4000-8000-000000000003")) == 2
    assert bench.assignments_of() == []


def test_predown_that_cannot_remove_says_how_and_lets_azd_down_go_on(bench: Bench) -> None:
    env = {**PROVISIONED, "MANAGEMENT_GROUP_ROLE": "security-reader"}
    assert bench.run("postprovision.sh", **env).returncode == 0
    ids = bench.world["azd_env"]["MONITOR_ROLE_ASSIGNMENT_IDS"]
    bench.world["rights"] = "read"

    run = bench.run("predown.sh", **env)

    assert run.returncode == 0, run.output
    assert "AuthorizationFailed" in run.stderr
    for assignment_id in ids.split(","):
        assert f"az role assignment delete --ids {assignment_id}" in run.stdout
    assert bench.world["azd_env"]["MONITOR_ROLE_ASSIGNMENT_IDS"] == ids  # still to do, still recorded


def test_predown_is_a_no_op_for_an_environment_never_provisioned(bench: Bench) -> None:
    run = bench.run("predown.sh")
    assert run.returncode == 0
    assert run.az() == []


# --- preprovision: at least one chat channel ---------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"TEAMS_WEBHOOK_URL": "https://contoso.webhook.office.com/webhookb2/x"},
        {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x"},
        {"TEAMS_WEBHOOK_URL": "akvs://00000000-0000-0000-0000-000000000000/kv-monitor/teams-webhook-url"},
        {"ALLOW_NO_CHAT_CHANNEL": "true"},
    ],
    ids=["teams", "slack", "akvs-reference", "explicitly-none"],
)
def test_preprovision_lets_a_deployment_with_a_channel_or_an_explicit_none_through(
    bench: Bench, env: dict[str, str]
) -> None:
    run = bench.run("preprovision.sh", **env)
    assert run.returncode == 0, run.output


def test_preprovision_stops_a_deployment_that_would_tell_nobody(bench: Bench) -> None:
    run = bench.run("preprovision.sh", TEAMS_WEBHOOK_URL="", ALLOW_NO_CHAT_CHANNEL="false")
    assert run.returncode == 1
    for advice in (
        "azd env set-secret TEAMS_WEBHOOK_URL",
        "azd env set TEAMS_WEBHOOK_URL",
        "ALLOW_NO_CHAT_CHANNEL true",
    ):
        assert advice in run.stderr


def test_preprovision_refuses_a_webhook_that_is_not_a_url_without_echoing_it(bench: Bench) -> None:
    secret = "contoso.webhook.office.com/webhookb2/sig=SECRETPART"
    run = bench.run("preprovision.sh", TEAMS_WEBHOOK_URL=secret, SLACK_WEBHOOK_URL="https://hooks.slack.com/x")
    assert run.returncode == 1
    assert "TEAMS_WEBHOOK_URL" in run.stderr
    assert "SECRETPART" not in run.output


TEAMS = {"TEAMS_WEBHOOK_URL": "https://contoso.webhook.office.com/webhookb2/x"}


@pytest.mark.parametrize("schedule", ["0 0 7 * * *", "0 */15 * * * *", "0 0 6,18 * * *", "0 0 7 */1 1-12 0-6"])
def test_preprovision_lets_a_schedule_that_runs_every_day_through(bench: Bench, schedule: str) -> None:
    run = bench.run("preprovision.sh", **TEAMS, CHECK_SCHEDULE=schedule)
    assert run.returncode == 0, run.output


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("0 0 7 * * 1-5", "its day-of-week field is '1-5'"),
        ("0 0 7 * * MON", "its day-of-week field is 'MON'"),
        ("0 0 7 1 * *", "its day field is '1'"),
        ("0 0 7 */2 * *", "its day field is '*/2'"),
        ("0 0 7 * 6 *", "its month field is '6'"),
        ("0 7 * * *", "has 5 field(s)"),
    ],
)
def test_preprovision_refuses_a_schedule_the_missed_run_alert_cannot_watch(
    bench: Bench, schedule: str, reason: str
) -> None:
    run = bench.run("preprovision.sh", **TEAMS, CHECK_SCHEDULE=schedule)
    assert run.returncode == 1
    assert f"CHECK_SCHEDULE '{schedule}'" in run.stderr and reason in run.stderr
    assert "looks back at most two days" in run.stderr
    assert "azd env set CHECK_SCHEDULE '0 0 7 * * *'" in run.stderr


@pytest.mark.parametrize("flag", ["ALLOW_NO_CHAT_CHANNEL", "KEY_VAULT_PURGE_PROTECTION", "SKIP_MANAGEMENT_GROUP_ROLE"])
@pytest.mark.parametrize("value", ["yes", "1", "True", "on"])
def test_preprovision_refuses_a_true_false_setting_bicep_would_not_take(bench: Bench, flag: str, value: str) -> None:
    run = bench.run("preprovision.sh", **TEAMS, **{flag: value})
    assert run.returncode == 1
    assert f"{flag} is '{value}'; it must be true or false" in run.stderr


@pytest.mark.parametrize("value", ["true", "false", ""])
def test_preprovision_takes_exactly_true_false_or_unset(bench: Bench, value: str) -> None:
    env = {"ALLOW_NO_CHAT_CHANNEL": value, "KEY_VAULT_PURGE_PROTECTION": value, "SKIP_MANAGEMENT_GROUP_ROLE": value}
    run = bench.run("preprovision.sh", **TEAMS, **env)
    assert run.returncode == 0, run.output


def test_allow_no_chat_channel_yes_is_refused_not_read_as_true(bench: Bench) -> None:
    run = bench.run("preprovision.sh", ALLOW_NO_CHAT_CHANNEL="yes")
    assert run.returncode == 1
    assert "ALLOW_NO_CHAT_CHANNEL is 'yes'" in run.stderr


def test_postprovision_refuses_a_skip_setting_that_is_not_true_or_false(bench: Bench) -> None:
    run = bench.run("postprovision.sh", **PROVISIONED, SKIP_MANAGEMENT_GROUP_ROLE="yes")
    assert run.returncode == 1
    assert "SKIP_MANAGEMENT_GROUP_ROLE is 'yes'" in run.stderr
    assert not run.az("role")


# --- predeploy: a new identity's storage role propagates (Azure/azure-dev#8026) ---------------------


def test_predeploy_waits_on_the_first_deploy_of_a_new_identity_only(bench: Bench) -> None:
    assert bench.run("postprovision.sh", **PROVISIONED, SKIP_MANAGEMENT_GROUP_ROLE="true").returncode == 0

    first = bench.run("predeploy.sh", **PROVISIONED)
    assert first.returncode == 0, first.output
    ((seconds,),) = first.tools("sleep")
    assert 0 < int(seconds) <= 120
    assert "azd deploy" in first.stdout

    bench.world["azd_env"]["MONITOR_IDENTITY_PROVISIONED_AT"] = f"{PRINCIPAL}:1000"  # long ago
    later = bench.run("predeploy.sh", **PROVISIONED)
    assert later.returncode == 0
    assert later.tools("sleep") == []


def test_predeploy_does_not_wait_when_turned_off_or_for_an_identity_it_never_saw(bench: Bench) -> None:
    assert bench.run("postprovision.sh", **PROVISIONED, SKIP_MANAGEMENT_GROUP_ROLE="true").returncode == 0
    assert bench.run("predeploy.sh", **PROVISIONED, ROLE_PROPAGATION_WAIT_SECONDS="0").tools("sleep") == []
    other = {**PROVISIONED, "MONITOR_IDENTITY_PRINCIPAL_ID": "dddddddd-0000-4000-8000-000000000004"}
    assert bench.run("predeploy.sh", **other).tools("sleep") == []
    assert bench.run("predeploy.sh", **PROVISIONED, ROLE_PROPAGATION_WAIT_SECONDS="2m").returncode == 1


def test_postprovision_records_when_it_first_saw_the_identity_and_keeps_that_time(bench: Bench) -> None:
    bench.run("postprovision.sh", **PROVISIONED)
    first = bench.world["azd_env"]["MONITOR_IDENTITY_PROVISIONED_AT"]
    assert re.fullmatch(rf"{PRINCIPAL}:\d+", first)
    bench.world["azd_env"]["MONITOR_IDENTITY_PROVISIONED_AT"] = f"{PRINCIPAL}:1000"
    bench.run("postprovision.sh", **PROVISIONED)
    assert bench.world["azd_env"]["MONITOR_IDENTITY_PROVISIONED_AT"] == f"{PRINCIPAL}:1000"


# --- postdeploy: one check through the deployed app, never failing azd up ----------------------------


@dataclass
class CheckRoute:
    """A local stand-in for the app's /api/check route: answers `status` with `body`, records requests."""

    status: int = 200
    body: str = "Subscription   Status\nProd           PASS\n"
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def check_route() -> Iterator[tuple[CheckRoute, str]]:
    route = CheckRoute()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route.requests.append((self.path, dict(self.headers.items())))
            payload = route.body.encode()
            self.send_response(route.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield route, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def deployed(uri: str) -> dict[str, str]:
    return {"SERVICE_API_URI": uri, "AZURE_RESOURCE_GROUP": "rg-prod", "AZURE_FUNCTION_NAME": "func-prod"}


def test_postdeploy_runs_one_check_with_the_function_key_and_says_the_monitor_is_live(
    bench: Bench, check_route: tuple[CheckRoute, str]
) -> None:
    route, uri = check_route
    run = bench.run("postdeploy.sh", **deployed(uri))

    assert run.returncode == 0, run.output
    (keys,) = run.az("functionapp", "function", "keys", "list")
    assert keys[keys.index("--function-name") + 1] == "check"
    ((path, headers),) = route.requests
    assert path == "/api/check?format=table&announce=true"  # a "monitor is live" notice, then the alerts
    assert headers.get("x-functions-key") == KEY  # in a header, never in the URL
    assert "Prod           PASS" in run.stdout
    assert "monitor is live" in run.stdout
    assert KEY not in run.output


def test_postdeploy_shows_a_long_report_in_part_and_says_how_much_is_left(
    bench: Bench, check_route: tuple[CheckRoute, str]
) -> None:
    route, uri = check_route
    route.body = "".join(f"Subscription {n:03}   PASS\n" for n in range(75))
    run = bench.run("postdeploy.sh", **deployed(uri))
    assert run.returncode == 0
    assert "Subscription 059" in run.stdout
    assert "Subscription 060" not in run.stdout
    assert "15 more lines" in run.stdout


CHANNELS_TOLD = (
    "\nChat channels:\n  teams (contoso.webhook.office.com)\n    live notice: delivered 1 message(s), HTTP 202\n"
    "    alerts: delivered 1 message(s), HTTP 202\n"
)


def test_postdeploy_always_shows_what_each_channel_got_even_after_a_long_report(
    bench: Bench, check_route: tuple[CheckRoute, str]
) -> None:
    route, uri = check_route
    route.body = "".join(f"Subscription {n:03}   PASS\n" for n in range(75)) + CHANNELS_TOLD
    run = bench.run("postdeploy.sh", **deployed(uri))
    assert run.returncode == 0
    assert "Subscription 060" not in run.stdout
    assert "live notice: delivered 1 message(s)" in run.stdout
    assert "each chat channel got a" in run.stdout


def test_postdeploy_says_when_a_channel_did_not_take_the_notice_and_how_to_rerun(
    bench: Bench, check_route: tuple[CheckRoute, str]
) -> None:
    route, uri = check_route
    route.body += CHANNELS_TOLD.replace(
        "delivered 1 message(s), HTTP 202\n    alerts", "NOT delivered: HTTP 404\n    alerts"
    )
    run = bench.run("postdeploy.sh", **deployed(uri))
    assert run.returncode == 0
    assert "did not take its message" in run.stdout
    assert "azd hooks run postdeploy" in run.stdout


def test_postdeploy_without_a_channel_says_nobody_was_told(bench: Bench, check_route: tuple[CheckRoute, str]) -> None:
    route, uri = check_route
    route.body += "\nChat channels: none configured (TEAMS_WEBHOOK_URL, SLACK_WEBHOOK_URL); nothing was posted.\n"
    run = bench.run("postdeploy.sh", **deployed(uri))
    assert run.returncode == 0
    assert "nobody was told" in run.stdout


def test_postdeploy_when_the_role_is_not_effective_yet_prints_what_it_saw_and_how_to_rerun(
    bench: Bench, check_route: tuple[CheckRoute, str]
) -> None:
    route, uri = check_route
    route.status = 502
    route.body = '{"error": "the identity cannot read management group corp (403 AuthorizationFailed)"}'

    run = bench.run("postdeploy.sh", **deployed(uri))

    assert run.returncode == 0
    assert "cannot read management group corp" in run.stdout
    assert "up to 30 minutes" in run.stdout
    assert "azd hooks run postdeploy" in run.stdout


def test_postdeploy_when_the_app_is_not_reachable_never_fails(bench: Bench) -> None:
    run = bench.run("postdeploy.sh", **deployed("http://127.0.0.1:9"))

    assert run.returncode == 0
    assert "could not be reached" in run.stdout
    assert "azd hooks run postdeploy" in run.stdout
    assert KEY not in run.output


def test_postdeploy_when_public_access_is_off_says_so(bench: Bench, check_route: tuple[CheckRoute, str]) -> None:
    route, uri = check_route
    route.status = 403
    route.body = "Ip Forbidden"
    run = bench.run("postdeploy.sh", **deployed(uri))
    assert run.returncode == 0
    assert "public network access is off" in run.stdout


def test_postdeploy_retries_the_key_while_the_host_starts_then_gives_up_without_failing(bench: Bench) -> None:
    bench.world["key"] = None
    run = bench.run("postdeploy.sh", **deployed("http://127.0.0.1:9"))

    assert run.returncode == 0
    assert len(run.az("functionapp", "function", "keys", "list")) == 6
    assert run.tools("sleep") == [["10"]] * 5
    assert "could not read the check function's key" in run.stdout
    assert "azd hooks run postdeploy" in run.stdout


def test_postdeploy_without_provision_outputs_only_says_how_to_run_it_later(bench: Bench) -> None:
    run = bench.run("postdeploy.sh")
    assert run.returncode == 0
    assert run.az() == []
    assert "azd hooks run postdeploy" in run.stdout


# --- wiring and lint -------------------------------------------------------------------------------------


def test_azure_yaml_runs_every_hook_script_in_sh_and_only_postdeploy_may_fail_quietly() -> None:
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text())["hooks"]
    assert set(hooks) == {"preprovision", "postprovision", "predeploy", "postdeploy", "predown"}
    for name, hook in hooks.items():
        assert hook["run"] == f"./infra/hooks/{name}.sh"
        assert hook["shell"] == "sh"
        assert hook["continueOnError"] is (name == "postdeploy")
    scripts = {path.name for path in HOOKS.glob("*.sh")} - {"common.sh"}
    assert scripts == {f"{name}.sh" for name in hooks}
    assert not (ROOT / "infra" / "mg-role.bicep").exists()


def test_the_hooks_are_clean_posix_sh_for_shellcheck() -> None:
    if not SHELLCHECK.exists():
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"shellcheck missing in {SHELLCHECK.parent}")
        pytest.skip(f"shellcheck missing in {SHELLCHECK.parent}: run .ci/tools/40-bicep-tools.sh (make test does)")
    hooks = sorted(str(path) for path in HOOKS.glob("*.sh"))
    completed = subprocess.run(  # noqa: S603 - fixed argv
        [str(SHELLCHECK), "--shell=sh", "--external-sources", *hooks],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stdout


def test_postprovision_explains_a_role_of_the_same_name_defined_at_another_group(bench: Bench) -> None:
    bench.world["definitions"] = [
        {
            "name": "5e1f0000-0000-4000-8000-000000000005",
            "roleName": ROLE_NAME,
            "scope": group_scope("elsewhere"),
            "actions": ROLE_ACTIONS,
        }
    ]
    run = bench.run("postprovision.sh", **PROVISIONED, MONITOR_ROLE_DEFINITION_GROUP="corp")

    assert run.returncode == 0, run.output
    assert "RoleDefinitionWithSameNameExists" in run.stderr
    assert "set MONITOR_ROLE_DEFINITION_GROUP to that group" in run.stdout
    assert bench.assignments_of() == []


def test_every_provision_output_the_hooks_read_is_an_output_of_main_bicep() -> None:
    outputs = set(re.findall(r"^output (\w+) ", (ROOT / "infra" / "main.bicep").read_text(), re.MULTILINE))
    read = {
        "MONITOR_IDENTITY_PRINCIPAL_ID",  # postprovision, predeploy
        "SCOPE_MANAGEMENT_GROUP_IDS",  # postprovision
        "AZURE_TENANT_ID",  # postprovision: the tenant az must be signed in to
        "SERVICE_API_URI",  # postdeploy
        "AZURE_RESOURCE_GROUP",  # postdeploy
        "AZURE_FUNCTION_NAME",  # postdeploy
    }
    assert read <= outputs
    for variable in read:
        assert any(variable in path.read_text() for path in HOOKS.glob("*.sh")), variable
