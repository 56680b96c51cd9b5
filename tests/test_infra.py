"""infra/ and azure.yaml: the Bicep parses, passes checkov, and deploys what the monitor needs, no more.

No Bicep CLI is installable here, so the templates are parsed by tree-sitter-bicep (syntax gate) and
pycep-parser (structure, the parser checkov uses) in .tools/bicep-venv (.ci/tools/40-bicep-tools.sh),
through tests/infra_parse.py. Identifiers and string literals both come out of pycep as plain strings;
the assertions below read them as the template text reads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared import api_versions
from shared.clouds import find_cloud
from shared.config import APP_SETTINGS, RISK_LEVELS, SEVERITIES, load_settings
from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
TOOLS_VENV = ROOT / ".tools" / "bicep-venv"
TOOLS_PYTHON = TOOLS_VENV / "bin" / "python"
CHECKOV = TOOLS_VENV / "bin" / "checkov"
SHELLCHECK = TOOLS_VENV / "bin" / "shellcheck"

ROLE_IDS = {
    "Security Reader": "39bc4728-0917-49c7-9d2c-d95423bc2eb4",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}
# Settings the template may set although shared/config.py does not read them: the Functions host's and
# the Azure SDKs' own (identity-based storage, Application Insights, DefaultAzureCredential's client id).
PLATFORM_SETTING = re.compile(r"^(FUNCTIONS_|AzureWebJobs|APPLICATIONINSIGHTS_)|^AZURE_CLIENT_ID$")
# Read by the Functions host for the timer binding ("%CHECK_SCHEDULE%"), whether or not APP_SETTINGS lists it.
HOST_SETTINGS = ("CHECK_SCHEDULE",)
# App settings Flex Consumption has no use for (the runtime and the package come from functionAppConfig),
# plus a key-based AzureWebJobsStorage: Flex accepts one, but this app reaches storage only by identity.
FLEX_UNWANTED_SETTINGS = (
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "AzureWebJobsStorage",
)
# siteConfig properties FC1 sites refuse with ARM error 51021 ("... for Flex Consumption sites is invalid"),
# enforced region by region (microsoft/azure-pipelines-tasks#21032, Azure/terraform-azurerm-avm-res-web-site#345),
# and those the same sources name as not applicable to Flex (runtime stack, scale and worker settings).
# alwaysOn: Microsoft's quickstart sends false, the AVM Terraform module omits it on FC1; omitted here too.
FLEX_REJECTED_SITE_CONFIG = (
    "ftpsState",
    "use32BitWorkerProcess",
    "netFrameworkVersion",
    "functionsRuntimeScaleMonitoringEnabled",
    "linuxFxVersion",
    "windowsFxVersion",
    "preWarmedInstanceCount",
    "functionAppScaleLimit",
    "elasticWebAppScaleLimit",
    "minimumElasticInstanceCount",
    "alwaysOn",
    "numberOfWorkers",
)
# What siteConfig may hold on FC1: what Microsoft's Flex templates set (TLS), and the app settings.
FLEX_SITE_CONFIG = {"minTlsVersion", "scmMinTlsVersion", "appSettings"}
# Azure-Samples/functions-quickstart-python-azd-timer (and its http sibling): the regions offering Flex Consumption.
FLEX_REGIONS = [
    "australiaeast",
    "australiasoutheast",
    "brazilsouth",
    "canadacentral",
    "centralindia",
    "centralus",
    "eastasia",
    "eastus",
    "eastus2",
    "eastus2euap",
    "francecentral",
    "germanywestcentral",
    "italynorth",
    "japaneast",
    "koreacentral",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "southafricanorth",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westus",
    "westus2",
    "westus3",
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _require_tools() -> None:
    if TOOLS_PYTHON.exists() and CHECKOV.exists() and SHELLCHECK.exists():
        return
    message = f"Bicep tools missing in {TOOLS_VENV}: run .ci/tools/40-bicep-tools.sh (make test does)"
    if _in_ci():
        pytest.fail(message)
    pytest.skip(message)


def _run_parse(root: Path, *yaml_files: Path) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: S603 - fixed argv, our own helper
        [str(TOOLS_PYTHON), str(ROOT / "tests" / "infra_parse.py"), str(root), *map(str, yaml_files)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout)


@dataclass(frozen=True)
class Tools:
    parsed: dict[str, Any]
    checkov: dict[str, Any]

    def template(self, name: str) -> dict[str, Any]:
        return self.parsed["bicep"][name]["template"]


@pytest.fixture(scope="module")
def tools() -> Iterator[Tools]:
    _require_tools()
    # checkov (a few seconds) runs while the parse helper does; BC_SKIP_MAPPING and --skip-download
    # keep it from calling out to its vendor's API.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    command = [str(CHECKOV), "--framework", "bicep", "-d", str(INFRA), "-o", "json", "--compact", "--skip-download"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as checkov:  # noqa: S603
        parsed = _run_parse(INFRA, ROOT / "azure.yaml")
        out, err = checkov.communicate(timeout=300)
    report = json.loads(out) if out.strip() else {}
    if isinstance(report, list):  # one entry per framework when several ran
        report = next(entry for entry in report if entry.get("check_type") == "bicep")
    assert report, f"checkov printed no report (exit {checkov.returncode}): {err[-2000:]}"
    yield Tools(parsed=parsed, checkov=report)


# --- reading pycep's structure ---------------------------------------------------------------------


def config(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's body; a conditional resource (`= if (...) {`) nests it one level deeper."""
    body = resource["config"]
    return body["config"] if "condition" in body and "config" in body else body


def identifiers(expression: Any) -> set[str]:
    """Every name an expression mentions: bare identifiers and those inside '${...}' interpolations."""
    names: set[str] = set()
    if isinstance(expression, dict):
        for value in expression.values():
            names |= identifiers(value)
    elif isinstance(expression, list):
        for value in expression:
            names |= identifiers(value)
    elif isinstance(expression, str):
        names.add(expression)
        for inner in re.findall(r"\$\{([^}]*)\}", expression):
            names |= set(re.findall(r"[A-Za-z_]\w*", inner))
    return names


def dotted(expression: Any) -> str:
    """A property access chain as the template writes it: 'storage.properties.primaryEndpoints.blob'."""
    if isinstance(expression, dict) and expression.get("operator", {}).get("type") == "property_accessor":
        operands = expression["operator"]["operands"]
        return f"{dotted(operands['operand_1'])}.{dotted(operands['operand_2'])}"
    return expression if isinstance(expression, str) else json.dumps(expression)


def variable(template: dict[str, Any], name: str) -> Any:
    return template["variables"][name]["value"]


def resources_of_type(tools: Tools, resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for file, parsed in tools.parsed["bicep"].items():
        for name, resource in (parsed["template"] or {}).get("resources", {}).items():
            if resource["type"] == resource_type and not resource["existing"]:
                found.append((file, name, resource))
    return found


def app_settings(tools: Tools) -> dict[str, Any]:
    main = tools.template("main.bicep")
    api = tools.template("app/api.bicep")
    return {**variable(main, "monitorSettings"), **variable(api, "platformSettings")}


# --- the tools' verdicts ---------------------------------------------------------------------------


def test_every_bicep_file_passes_the_tree_sitter_syntax_gate(tools: Tools) -> None:
    files = tools.parsed["bicep"]
    assert set(files) >= {"main.bicep", "app/api.bicep", "core/storage.bicep"}
    assert {name: entry["syntax_errors"] for name, entry in files.items() if entry["syntax_errors"]} == {}


def test_every_bicep_file_parses_into_the_structure_checkov_reads(tools: Tools) -> None:
    files = tools.parsed["bicep"]
    assert {name: entry["structure_error"] for name, entry in files.items() if entry["structure_error"]} == {}


def test_the_parser_drops_no_resource_the_text_declares(tools: Tools) -> None:
    # pycep has silently dropped nested child resources before; every test below would then pass vacuously.
    for name, entry in tools.parsed["bicep"].items():
        declared = re.findall(r"^\s*resource\s+(\w+)\s+'", (INFRA / name).read_text(), flags=re.MULTILINE)
        assert sorted(declared) == sorted(entry["template"].get("resources", {})), name


def test_the_syntax_gate_reports_a_broken_template(tmp_path: Path) -> None:
    _require_tools()
    (tmp_path / "broken.bicep").write_text("param name string =\nresource site 'Microsoft.Web/sites@2024-04-01' = {\n")
    verdict = _run_parse(tmp_path)["bicep"]["broken.bicep"]
    assert verdict["syntax_errors"]
    assert verdict["structure_error"]


def test_checkov_parses_every_template_and_no_check_fails(tools: Tools) -> None:
    summary = tools.checkov["summary"]
    # checkov exits 0 on a syntax error, so its own count is what tells.
    assert summary["parsing_errors"] == 0, tools.checkov["results"].get("parsing_errors")
    assert summary["resource_count"] > 0
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in tools.checkov["results"]["failed_checks"]
    ]
    assert failed == []


def test_every_skipped_checkov_check_says_why_in_the_template(tools: Tools) -> None:
    skipped = tools.checkov["results"].get("skipped_checks", [])
    unexplained = [
        f"{check['check_id']} {check['resource']}"
        for check in skipped
        if len(check["check_result"].get("suppress_comment", "").strip()) < 15
        or check["check_result"]["suppress_comment"] == "No comment provided"
    ]
    assert unexplained == []


# --- app settings --------------------------------------------------------------------------------


def test_every_setting_the_monitor_reads_is_set_or_left_to_its_default_on_purpose(tools: Tools) -> None:
    main = tools.template("main.bicep")
    set_by_template = set(app_settings(tools))
    left_to_default = variable(main, "settingsLeftToDefault")
    assert not set_by_template & set(left_to_default)
    assert [name for name in APP_SETTINGS if name not in set_by_template | set(left_to_default)] == []
    # Each deliberate omission carries its reason next to it.
    assert all(len(reason) > 20 for reason in left_to_default.values())


def test_every_app_setting_the_template_sets_is_read_by_the_monitor_or_the_platform(tools: Tools) -> None:
    known = set(APP_SETTINGS) | set(HOST_SETTINGS)
    unknown = [name for name in app_settings(tools) if name not in known and not PLATFORM_SETTING.match(name)]
    assert unknown == []


def test_the_state_table_is_reached_by_identity_and_arm_by_the_clouds_own_endpoint(tools: Tools) -> None:
    settings = app_settings(tools)
    left_to_default = variable(tools.template("main.bicep"), "settingsLeftToDefault")
    assert "STATE_CONNECTION_STRING" not in settings
    assert "STATE_CONNECTION_STRING" in left_to_default
    assert "ARM_ENDPOINT" not in settings
    assert "ARM_ENDPOINT" in left_to_default
    assert dotted(settings["STATE_TABLE_ENDPOINT"]) == "storage.outputs.tableEndpoint"
    assert settings["AZURE_CLOUD"] == {"function": {"type": "environment", "property_name": "name"}}
    # environment().name is one of these in Azure's clouds; the monitor must know each.
    assert all(find_cloud(name) for name in ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment"))


def test_the_site_gets_exactly_the_settings_the_tests_read(tools: Tools) -> None:
    main = tools.template("main.bicep")
    api = tools.template("app/api.bicep")
    assert config(main["modules"]["api"])["params"]["monitorSettings"] == "monitorSettings"
    site = config(api["resources"]["functionApp"])
    loop = site["properties"]["siteConfig"]["appSettings"]["loop_type"]["detail"]["object_name"]
    assert "union" in loop
    assert re.findall(r"'arg_\d': '(\w+)'", loop) == ["monitorSettings", "platformSettings"]
    assert [name for name in FLEX_UNWANTED_SETTINGS if name in app_settings(tools)] == []


def test_the_check_schedule_setting_feeds_the_timer_binding(tools: Tools) -> None:
    main = tools.template("main.bicep")
    assert app_settings(tools)["CHECK_SCHEDULE"] == "checkSchedule"
    assert main["parameters"]["checkSchedule"]["default"] == "0 0 7 * * *"
    function_app = ROOT / "function_app.py"
    if function_app.exists():
        assert 'schedule="%CHECK_SCHEDULE%"' in function_app.read_text()


# --- typed parameters ----------------------------------------------------------------------------

# Monitor parameters that are numbers: the Settings value each sets, read back through the real loader.
NUMBER_PARAMETERS: dict[str, tuple[str, Any]] = {
    "checkConcurrency": ("CHECK_CONCURRENCY", lambda settings: settings.concurrency),
    "runTimeoutSeconds": ("RUN_TIMEOUT_SECONDS", lambda settings: settings.run_timeout_seconds),
    "notifyMaxMessages": ("NOTIFY_MAX_MESSAGES", lambda settings: settings.notify.max_messages),
    "remindAfterHours": ("REMIND_AFTER_HOURS", lambda settings: settings.state.remind_after.total_seconds() / 3600),
}
# Text parameters limited to a list; '' (the default) leaves the setting to the monitor's own default.
CHOICE_PARAMETERS = {
    "requireContactEmail": "REQUIRE_CONTACT_EMAIL",
    "requireAlertNotifications": "REQUIRE_ALERT_NOTIFICATIONS",
    "requireOwnerNotifications": "REQUIRE_OWNER_NOTIFICATIONS",
    "requireAttackPathNotifications": "REQUIRE_ATTACK_PATH_NOTIFICATIONS",
    "includeDelegatedSubscriptions": "INCLUDE_DELEGATED_SUBSCRIPTIONS",
    "notifyAlways": "NOTIFY_ALWAYS",
    "minAlertSeverity": "MIN_ALERT_SEVERITY",
    "minAttackPathRisk": "MIN_ATTACK_PATH_RISK",
    "contactsApiVersion": "CONTACTS_API_VERSION",
    "notifyOn": "NOTIFY_ON",
}


def decorator(parameter: dict[str, Any], kind: str) -> Any:
    found = [entry["argument"] for entry in parameter["decorators"] if entry["type"] == kind]
    return found[0] if found else None


def accepted(setting: str, value: str) -> bool:
    try:
        load_settings({setting: value})
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(NUMBER_PARAMETERS))
def test_number_settings_are_ints_with_the_monitors_range_and_default(tools: Tools, name: str) -> None:
    setting, read = NUMBER_PARAMETERS[name]
    parameter = tools.template("main.bicep")["parameters"][name]
    assert parameter["type"] == "int"
    low, high = decorator(parameter, "min_value"), decorator(parameter, "max_value")
    # Bicep refuses exactly what the monitor would refuse at 07:00 (or less, never more).
    assert accepted(setting, str(low))
    assert accepted(setting, str(high))
    assert not accepted(setting, str(low - 1))
    # azd leaves an unset variable to the Bicep default: the monitor's own.
    assert parameter["default"] == read(load_settings({}))
    assert read(load_settings({setting: str(parameter["default"])})) == parameter["default"]
    assert app_settings(tools)[setting] == {"function": {"type": "string", "parameters": {"value_to_convert": name}}}
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"][name]
    assert mapped["value"] == f"${{{setting}={parameter['default']}}}"


def test_the_run_timeout_leaves_the_host_timeout_room_to_deliver_the_messages(tools: Tools) -> None:
    parameter = tools.template("main.bicep")["parameters"]["runTimeoutSeconds"]
    hours, minutes, seconds = json.loads((ROOT / "host.json").read_text())["functionTimeout"].split(":")
    function_timeout = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    assert decorator(parameter, "max_value") <= 600 < function_timeout - 240
    assert parameter["default"] <= decorator(parameter, "max_value")


@pytest.mark.parametrize("name", sorted(CHOICE_PARAMETERS))
def test_choice_settings_allow_only_what_the_monitor_accepts_and_default_to_its_own_default(
    tools: Tools, name: str
) -> None:
    setting = CHOICE_PARAMETERS[name]
    parameter = tools.template("main.bicep")["parameters"][name]
    assert parameter["type"] == "string"
    assert parameter["default"] == ""
    allowed = decorator(parameter, "allowed")
    assert allowed[0] == ""
    assert [value for value in allowed if not accepted(setting, value)] == []
    assert app_settings(tools)[setting] == name
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"][name]
    assert mapped["value"] == f"${{{setting}=}}"


def test_the_choice_lists_name_every_value_of_the_monitors_own_lists(tools: Tools) -> None:
    parameters = tools.template("main.bicep")["parameters"]
    assert decorator(parameters["minAlertSeverity"], "allowed")[1:] == list(SEVERITIES)
    assert decorator(parameters["minAttackPathRisk"], "allowed")[1:] == list(RISK_LEVELS)
    assert decorator(parameters["contactsApiVersion"], "allowed")[1:] == list(api_versions.SUPPORTED_CONTACTS)
    for flag in ("requireContactEmail", "includeDelegatedSubscriptions", "notifyAlways"):
        assert decorator(parameters[flag], "allowed") == ["", "true", "false"]


def test_every_monitor_parameter_is_typed_or_free_text_on_purpose(tools: Tools) -> None:
    # Lists of ids, domains and hosts stay free text: the monitor names each bad entry.
    free_text = {"includeSubscriptionIds", "excludeSubscriptionIds", "allowedEmailDomains", "notifyAllowedHosts"}
    main = tools.template("main.bicep")
    passed_through = {value for value in variable(main, "monitorSettings").values() if isinstance(value, str)}
    untyped = [
        name
        for name, parameter in main["parameters"].items()
        if name in passed_through
        and parameter["type"] == "string"
        and decorator(parameter, "allowed") is None
        and name not in free_text | {"checkSchedule", "reportUrl"}
    ]
    assert untyped == []


def test_a_report_url_and_the_no_chat_channel_switch_are_parameters(tools: Tools) -> None:
    main = tools.template("main.bicep")
    assert main["parameters"]["reportUrl"]["default"] == ""
    assert app_settings(tools)["REPORT_URL"] == "reportUrl"
    # Declared (typed, mapped from ALLOW_NO_CHAT_CHANNEL) for the preprovision hook, which enforces it.
    allow = main["parameters"]["allowNoChatChannel"]
    assert (allow["type"], allow["default"]) == ("bool", False)
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert mapped["allowNoChatChannel"]["value"] == "${ALLOW_NO_CHAT_CHANNEL=false}"
    assert mapped["reportUrl"]["value"] == "${REPORT_URL=}"


# --- identity wiring -----------------------------------------------------------------------------


def test_the_storage_host_application_insights_and_arm_use_the_user_assigned_identity(tools: Tools) -> None:
    settings = app_settings(tools)
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert dotted(settings["AzureWebJobsStorage__blobServiceUri"]) == "storage.properties.primaryEndpoints.blob"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    main = config(tools.template("main.bicep")["modules"]["api"])["params"]
    assert dotted(main["identityClientId"]) == "identity.outputs.clientId"
    assert dotted(main["identityId"]) == "identity.outputs.id"


def test_the_functions_host_is_given_blob_storage_only(tools: Tools) -> None:
    # A timer + HTTP app on Flex Consumption keeps its package, host keys and timer status in blobs;
    # queues serve queue/blob triggers and Durable Functions (none here), and the identity has no role on
    # either, so naming their endpoints would only invite 403s.
    host = [name for name in app_settings(tools) if name.startswith("AzureWebJobsStorage__")]
    assert sorted(host) == [
        "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__clientId",
        "AzureWebJobsStorage__credential",
    ]
    storage = tools.template("core/storage.bicep")
    assert ROLE_IDS["Storage Queue Data Contributor"] not in json.dumps(storage)


def test_the_function_app_runs_on_flex_consumption_with_only_the_user_assigned_identity(tools: Tools) -> None:
    api = tools.template("app/api.bicep")
    plan = config(api["resources"]["plan"])
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = config(api["resources"]["functionApp"])
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"
    app_config = site["properties"]["functionAppConfig"]
    storage = app_config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    assert app_config["scaleAndConcurrency"] == {
        "instanceMemoryMB": "instanceMemoryMB",
        "maximumInstanceCount": "maximumInstanceCount",
    }
    main = tools.template("main.bicep")
    assert {"instanceMemoryMB", "maximumInstanceCount"} <= set(main["parameters"])


def test_the_function_app_runtime_is_one_python_version_parameter_defaulting_to_the_one_ci_tests_with(
    tools: Tools,
) -> None:
    api = tools.template("app/api.bicep")
    runtime = config(api["resources"]["functionApp"])["properties"]["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "pythonVersion"}
    main = tools.template("main.bicep")
    assert config(main["modules"]["api"])["params"]["pythonVersion"] == "pythonVersion"
    declared = main["parameters"]["pythonVersion"]
    # The versions Functions supports on Flex (3.11 until October 2027, 3.12 until October 2028).
    assert {"type": "allowed", "argument": ["3.11", "3.12"]} in declared["decorators"]
    version = declared["default"]
    # The oldest Python the project supports is the one CI runs and the one deployed by default.
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert version == "3.11"
    assert requires == f">={version}"
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]["pythonVersion"]
    assert mapped["value"] == f"${{PYTHON_VERSION={version}}}"
    if _in_ci():
        assert version == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_site_config_holds_only_what_flex_consumption_accepts(tools: Tools) -> None:
    site_config = config(tools.template("app/api.bicep")["resources"]["functionApp"])["properties"]["siteConfig"]
    assert [name for name in FLEX_REJECTED_SITE_CONFIG if name in site_config] == []
    assert set(site_config) <= FLEX_SITE_CONFIG
    # The text too: pycep could drop a property the deployment would still send.
    text = (INFRA / "app" / "api.bicep").read_text()
    assert [name for name in FLEX_REJECTED_SITE_CONFIG if re.search(rf"^\s*{name}\s*:", text, re.MULTILINE)] == []


def test_the_location_is_limited_to_the_regions_offering_flex_consumption(tools: Tools) -> None:
    location = tools.template("main.bicep")["parameters"]["location"]
    allowed = [decorator for decorator in location["decorators"] if decorator.get("type") == "allowed"]
    assert allowed == [{"type": "allowed", "argument": FLEX_REGIONS}]


def test_the_function_app_is_hardened(tools: Tools) -> None:
    api = tools.template("app/api.bicep")
    properties = config(api["resources"]["functionApp"])["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert properties["siteConfig"]["scmMinTlsVersion"] == "1.2"
    assert properties["publicNetworkAccess"] == "publicNetworkAccess"
    # FTP and basic publishing credentials are off through the policies (FC1 refuses siteConfig.ftpsState);
    # ARM refuses these policies without a location although the Bicep types do not declare one.
    policies = {config(api["resources"][name])["name"]: config(api["resources"][name]) for name in api["resources"]}
    for name in ("ftp", "scm"):
        assert policies[name]["properties"] == {"allow": False}
        assert policies[name]["location"] == "location"
        assert policies[name]["parent"] == "functionApp"
    main = tools.template("main.bicep")
    access = main["parameters"]["publicNetworkAccess"]
    assert {"type": "allowed", "argument": ["Enabled", "Disabled"]} in access["decorators"]


# --- storage, Key Vault, monitoring --------------------------------------------------------------


def test_storage_allows_no_shared_key_no_anonymous_blob_and_only_tls_1_2_over_https(tools: Tools) -> None:
    storage = tools.template("core/storage.bicep")
    properties = config(storage["resources"]["storage"])["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    assert config(storage["resources"]["deploymentContainer"])["properties"]["publicAccess"] == "None"


def test_key_vault_uses_rbac_and_soft_delete(tools: Tools) -> None:
    vault = config(tools.template("core/keyvault.bicep")["resources"]["vault"])["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert "accessPolicies" not in vault


def test_key_vault_purge_protection_is_a_parameter_off_by_default_and_never_sent_as_false(tools: Tools) -> None:
    # Off by default so `azd down` can purge the vault and `azd up` can reuse its name (docs/deploy.md);
    # ARM refuses an explicit false ("cannot be set to false"), so off means the property is left out.
    keyvault = tools.template("core/keyvault.bicep")
    purge = config(keyvault["resources"]["vault"])["properties"]["enablePurgeProtection"]["operator"]["operands"]
    assert (purge["condition"], purge["true_value"], purge["false_value"]) == ("enablePurgeProtection", True, None)
    main = tools.template("main.bicep")
    assert main["parameters"]["keyVaultPurgeProtection"]["type"] == "bool"
    assert main["parameters"]["keyVaultPurgeProtection"]["default"] is False
    assert config(main["modules"]["keyVault"])["params"]["enablePurgeProtection"] == "keyVaultPurgeProtection"
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert mapped["keyVaultPurgeProtection"]["value"] == "${KEY_VAULT_PURGE_PROTECTION=false}"
    assert "purge protection" in (ROOT / "docs" / "deploy.md").read_text().lower()


def test_webhook_urls_are_secure_parameters_stored_only_as_key_vault_secrets(tools: Tools) -> None:
    main = tools.template("main.bicep")
    keyvault = tools.template("core/keyvault.bicep")
    settings = app_settings(tools)
    for parameter, setting, reference in (
        ("teamsWebhookUrl", "TEAMS_WEBHOOK_URL", "teamsReference"),
        ("slackWebhookUrl", "SLACK_WEBHOOK_URL", "slackReference"),
    ):
        declared = main["parameters"][parameter]
        assert {"type": "secure"} in declared["decorators"]
        assert declared["default"] == ""
        assert {"type": "secure"} in keyvault["parameters"][parameter]["decorators"]
        # The app setting is the Key Vault reference (or empty), never the URL itself.
        operands = settings[setting]["operator"]["operands"]
        assert (operands["true_value"], operands["false_value"]) == ("", reference)
        assert variable(main, reference).startswith(
            "@Microsoft.KeyVault(SecretUri=${keyVault.outputs.vaultUri}secrets/"
        )
        # Besides that emptiness test, the URL goes to the Key Vault module and nowhere else.
        users = [name for name, module in main["modules"].items() if parameter in identifiers(config(module)["params"])]
        assert users == ["keyVault"]
        assert parameter not in identifiers({k: v for k, v in main["variables"].items() if k != "monitorSettings"})
    secrets = [config(resource) for _, _, resource in resources_of_type(tools, "Microsoft.KeyVault/vaults/secrets")]
    assert sorted(secret["properties"]["value"] for secret in secrets) == ["slackWebhookUrl", "teamsWebhookUrl"]
    assert all(secret["properties"]["contentType"] for secret in secrets)


def test_no_output_carries_a_secret(tools: Tools) -> None:
    leaks = []
    for file, entry in tools.parsed["bicep"].items():
        template = entry["template"]
        secure = {
            name
            for name, parameter in template.get("parameters", {}).items()
            if {"type": "secure"} in parameter["decorators"]
        }
        for name, output in template.get("outputs", {}).items():
            mentioned = identifiers(output["value"])
            text = json.dumps(output["value"]).lower()
            if (
                mentioned & secure
                or re.search(r"secret|password|webhook|connectionstring", name.lower())
                or re.search(r"connectionstring|\"list\w*\"|listkeys|secreturi", text)
            ):
                leaks.append(f"{file}: output {name}")
    assert leaks == []


def test_application_insights_and_log_analytics_refuse_key_based_ingestion(tools: Tools) -> None:
    monitoring = tools.template("core/monitoring.bicep")
    assert config(monitoring["resources"]["appInsights"])["properties"]["DisableLocalAuth"] is True
    assert config(monitoring["resources"]["workspace"])["properties"]["features"]["disableLocalAuth"] is True
    assert dotted(config(monitoring["resources"]["appInsights"])["properties"]["WorkspaceResourceId"]) == "workspace.id"


def timer_alert(tools: Tools) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The rule's body, its query text (the format string) and the format arguments."""
    alerts = tools.template("app/alerts.bicep")
    rule = config(alerts["resources"]["timerAlert"])
    condition = rule["properties"]["criteria"]["allOf"][0]
    query = variable(alerts, condition["query"])["function"]["parameters"]
    return rule, query["format_string"], query


def test_an_alert_mails_the_monitor_failure_address_when_the_timer_fails_or_does_not_run(tools: Tools) -> None:
    alerts = tools.template("app/alerts.bicep")
    rule, text, query = timer_alert(tools)
    assert alerts["resources"]["timerAlert"]["type"] == "Microsoft.Insights/scheduledQueryRules"
    assert rule["properties"]["scopes"] == ["applicationInsightsId"]
    assert "actionGroup" in identifiers(rule["properties"]["actions"])
    condition = rule["properties"]["criteria"]["allOf"][0]
    assert (condition["operator"], condition["threshold"], condition["timeAggregation"]) == ("GreaterThan", 0, "Count")
    assert "success == false" in text  # a failed run
    assert "toscalar(runs | count) == 0" in text  # no run in the window
    arguments = (query["arg_1"], query["arg_2"], query["arg_3"])
    assert arguments == ("timerFunctionName", "missedRunAlertHours", "deployedAt")
    receivers = config(alerts["resources"]["actionGroup"])["properties"]["emailReceivers"]
    assert [receiver["emailAddress"] for receiver in receivers] == ["monitorFailureEmail"]
    main = tools.template("main.bicep")
    # Named for what it is for: the monitor itself failing, not the chat alerts about contacts.
    assert "alertEmail" not in main["parameters"]
    assert main["parameters"]["monitorFailureEmail"]["default"] is None  # azd asks for it
    assert config(main["modules"]["alerts"])["params"]["monitorFailureEmail"] == "monitorFailureEmail"
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert mapped["monitorFailureEmail"]["value"] == "${MONITOR_FAILURE_EMAIL}"


def test_the_alert_windows_on_ingestion_time_so_a_late_ingested_run_is_seen(tools: Tools) -> None:
    _, text, _ = timer_alert(tools)
    # Both windows on ingestion time; request time (timestamp) stamps the run's start, which a long run
    # plus the ingestion delay pushes before a fixed ago(1h).
    assert re.findall(r"ingestion_time\(\) > ago\((\{1\}h|1h)\)", text) == ["{1}h", "1h"]
    assert not re.search(r"\btimestamp\s*[<>]", text)
    assert "ago(" not in text.replace("ingestion_time() > ago(", "")
    # Failures are counted in the rows ingested in the last hour, one evaluation period.
    failed = text[text.index("let failed") : text.index("let watchFrom")]
    assert "ingestion_time() > ago(1h)" in failed
    assert "success == false" in failed


def test_the_missed_run_alert_waits_one_period_plus_slack_after_a_deployment(tools: Tools) -> None:
    alerts = tools.template("app/alerts.bicep")
    _, text, _ = timer_alert(tools)
    deployed = alerts["parameters"]["deployedAt"]
    # utcNow(): each deployment's own time, in a form KQL's todatetime() documents (its default is not one).
    assert deployed["default"]["function"] == {"type": "utc_now", "parameters": {"format": "yyyy-MM-ddTHH:mm:ssZ"}}
    assert "let watchFrom = todatetime('{2}') + {1}h;" in text
    missed = text[text.index("let missed") : text.index("union")]
    assert "where now() > watchFrom" in missed
    assert "toscalar(runs | count) == 0" in missed


def test_the_alert_is_stateful_and_never_muted(tools: Tools) -> None:
    rule, _, _ = timer_alert(tools)
    properties = rule["properties"]
    assert properties["autoMitigate"] is True
    # ARM refuses muteActionsDuration together with autoMitigate.
    assert "muteActionsDuration" not in properties
    assert not re.search(r"^\s*muteActionsDuration\s*:", (INFRA / "app" / "alerts.bicep").read_text(), re.MULTILINE)
    assert (properties["evaluationFrequency"], properties["windowSize"]) == ("PT1H", "PT1H")


def test_the_missed_run_look_back_is_bounded_by_the_two_days_a_log_alert_can_see(tools: Tools) -> None:
    rule, _, _ = timer_alert(tools)
    assert rule["properties"]["overrideQueryTimeRange"] == "P2D"
    for template in (tools.template("main.bicep"), tools.template("app/alerts.bicep")):
        decorators = template["parameters"]["missedRunAlertHours"]["decorators"]
        assert {"type": "max_value", "argument": 48} in decorators
        assert {"type": "min_value", "argument": 1} in decorators
    main = tools.template("main.bicep")
    assert main["parameters"]["missedRunAlertHours"]["default"] == 26  # a daily schedule plus two hours
    # The schedule's limit is written where people set it.
    text = (INFRA / "main.bicep").read_text()
    schedule_comment = text[: text.index("param checkSchedule")].rsplit("param ", 1)[1]
    assert "at least daily" in schedule_comment


def test_the_alert_watches_the_timer_function_function_app_py_defines(tools: Tools) -> None:
    function_app = ROOT / "function_app.py"
    if not function_app.exists():
        pytest.skip("function_app.py is not there yet")
    timer = re.search(r"@app\.timer_trigger\([^)]*\)\s*\n\s*(?:async\s+)?def\s+(\w+)", function_app.read_text())
    assert timer is not None
    assert tools.template("main.bicep")["parameters"]["timerFunctionName"]["default"] == timer.group(1)
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["timerFunctionName"]["value"] == f"${{TIMER_FUNCTION_NAME={timer.group(1)}}}"


# --- role assignments ----------------------------------------------------------------------------


def test_each_role_is_assigned_once_by_built_in_id_on_the_narrowest_scope(tools: Tools) -> None:
    expected = {
        ("core/storage.bicep", ROLE_IDS["Storage Blob Data Owner"], "storage"),
        ("core/storage.bicep", ROLE_IDS["Storage Table Data Contributor"], "stateTable"),
        ("core/keyvault.bicep", ROLE_IDS["Key Vault Secrets User"], "vault"),
        ("core/monitoring.bicep", ROLE_IDS["Monitoring Metrics Publisher"], "appInsights"),
    }
    found = set()
    # The management-group role is granted by the azd hooks (tests/test_hooks.py), not by Bicep.
    for file, _, resource in resources_of_type(tools, "Microsoft.Authorization/roleAssignments"):
        body = config(resource)
        template = tools.template(file)
        role_variable = body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        role_id = variable(template, role_variable)
        found.add((file, role_id, body.get("scope")))
        assert body["properties"]["principalId"] == "principalId"
        assert body["properties"]["principalType"] == "ServicePrincipal"
        # guid(scope, principal, role): deterministic, so redeploying changes nothing.
        name = body["name"]["function"]
        assert name["type"] == "guid"
        assert {"principalId", role_variable} <= identifiers(name["parameters"])
    assert found == expected
    scopes = {
        file: (entry["template"].get("globals") or {}).get("scope", {}).get("value")
        for file, entry in tools.parsed["bicep"].items()
    }
    assert [file for file, scope in scopes.items() if scope in ("managementGroup", "tenant")] == []
    assert ROLE_IDS["Security Reader"] not in json.dumps(tools.parsed["bicep"])


def test_the_scope_groups_and_the_identity_reach_the_postprovision_hook_that_grants_the_reader_role(
    tools: Tools,
) -> None:
    # A subscription deployment cannot assign at management-group scope: infra/hooks/postprovision.sh does
    # (tests/test_hooks.py), from these outputs.
    # The groups default to the tenant root group, whose id is the tenant id.
    main = tools.template("main.bicep")
    assert main["parameters"]["managementGroupIds"]["default"] == ""
    groups = variable(main, "scopeManagementGroupIds")["operator"]["operands"]
    assert groups["condition"] == {"function": {"type": "empty", "parameters": {"item_to_test": "requestedGroupIds"}}}
    assert groups["true_value"][0]["function"]["type"] == "tenant"
    assert "tenantId" in groups["true_value"][0]["function"]["property_name"]
    outputs = main["outputs"]
    assert "scopeManagementGroupIds" in identifiers(outputs["SCOPE_MANAGEMENT_GROUP_IDS"]["value"])
    assert app_settings(tools)["MANAGEMENT_GROUP_IDS"] == outputs["SCOPE_MANAGEMENT_GROUP_IDS"]["value"]
    assert dotted(outputs["MONITOR_IDENTITY_PRINCIPAL_ID"]["value"]) == "identity.outputs.principalId"


# --- azd -----------------------------------------------------------------------------------------


def test_azure_yaml_follows_the_functions_quickstart_layout(tools: Tools) -> None:
    azure_yaml = tools.parsed["yaml"][str(ROOT / "azure.yaml")]
    assert azure_yaml["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}
    hooks = azure_yaml["hooks"]
    assert hooks["postprovision"]["run"] == "./infra/hooks/postprovision.sh"
    assert hooks["predown"]["run"] == "./infra/hooks/predown.sh"
    for hook in hooks.values():
        assert (ROOT / hook["run"]).exists()
    # azd finds the app by this tag.
    site = config(tools.template("app/api.bicep")["resources"]["functionApp"])
    assert site["tags"]["function"]["parameters"]["arg_2"] == {"'azd-service-name'": "api"}


def test_the_parameters_file_maps_every_parameter_azd_must_supply_and_no_other(tools: Tools) -> None:
    declared = tools.template("main.bicep")["parameters"]
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert sorted(set(mapped) - set(declared)) == []
    assert sorted(name for name in declared if name not in mapped) == []
    for name, entry in mapped.items():
        assert re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}", entry["value"]), name
