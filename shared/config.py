"""Settings from the environment (the Functions app settings), validated up front.

Every problem is collected and reported together so a misconfigured deployment
is fixed in one round rather than one error at a time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from . import api_versions
from .alerts.settings import STATE_APP_SETTINGS, StateSettings, load_state_settings
from .clouds import CLOUDS, Cloud, find_cloud
from .errors import ConfigError
from .notify.settings import NOTIFY_SETTINGS, NotifySettings, load_notify_settings
from .rules import RULES
from .setting_values import bare_https_endpoint, choice, flag, items, whole_number

SEVERITIES = ("Low", "Medium", "High")
RISK_LEVELS = ("Low", "Medium", "High", "Critical")
MAX_CONCURRENCY = 256
DEFAULT_RUN_TIMEOUT_SECONDS = 540
# The default stays under the Functions host's functionTimeout (host.json); an hour is plenty for a terminal run.
MAX_RUN_TIMEOUT_SECONDS = 3600
MIN_RUN_TIMEOUT_SECONDS = 5

# Every app setting the monitor reads, in one place: infra/ sets each of these (or leaves
# it to its documented default on purpose), and tests/test_infra.py holds the two together.
APP_SETTINGS: tuple[str, ...] = (
    "MANAGEMENT_GROUP_IDS",
    "INCLUDE_SUBSCRIPTION_IDS",
    "EXCLUDE_SUBSCRIPTION_IDS",
    *(rule.setting for rule in RULES),
    "MIN_ALERT_SEVERITY",
    "MIN_ATTACK_PATH_RISK",
    "ALLOWED_EMAIL_DOMAINS",
    "CHECK_CONCURRENCY",
    "RUN_TIMEOUT_SECONDS",
    "AZURE_CLOUD",
    "ARM_ENDPOINT",
    "CONTACTS_API_VERSION",
    "INCLUDE_DELEGATED_SUBSCRIPTIONS",
    # Read by the Functions host (the timer's schedule), not by load_settings.
    "CHECK_SCHEDULE",
    *STATE_APP_SETTINGS,
    *NOTIFY_SETTINGS,
)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Management group ids: letters, digits, '-', '_', '(', ')', '.'; at most 90 characters.
_GROUP_ID = re.compile(r"^[A-Za-z0-9\-_().]{1,90}$")
_DOT_SEGMENTS = frozenset({".", ".."})
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


class ScopeOverrideError(ConfigError):
    """The scope a caller asked for (command line, HTTP request) is invalid; the app settings themselves are fine."""


def is_subscription_id(value: str) -> bool:
    """A subscription id as ARM writes it (a GUID); the whole string, so a trailing newline fails."""
    return _GUID.fullmatch(value) is not None


def is_management_group_id(value: str) -> bool:
    """Only characters ARM allows in a management group id, at most 90 of them.

    The one validator for every way a group id comes in (settings, command line, HTTP check). `.` and `..`
    match the character rule but are URL dot-segments: in a request path `..` would climb out of the group.
    """
    return _GROUP_ID.fullmatch(value) is not None and value not in _DOT_SEGMENTS


@dataclass(frozen=True)
class Settings:
    # Empty means: start from the tenant root group.
    management_group_ids: tuple[str, ...] = ()
    include_subscription_ids: frozenset[str] = frozenset()
    exclude_subscription_ids: frozenset[str] = frozenset()
    # Ids of the rules switched on (each rule's REQUIRE_* setting, else its default).
    enabled_rules: frozenset[str] = frozenset(rule.id for rule in RULES if rule.enabled_by_default)
    # The least sensitive acceptable "notify from" threshold: Medium accepts Medium and Low, not High.
    min_alert_severity: str = "High"
    min_attack_path_risk: str = "High"
    allowed_email_domains: tuple[str, ...] = ()
    concurrency: int = 128
    cloud: Cloud = CLOUDS["azurecloud"]
    arm_endpoint: str = CLOUDS["azurecloud"].arm_endpoint
    contacts_api_version: str = api_versions.CONTACTS_2023
    run_timeout_seconds: int = DEFAULT_RUN_TIMEOUT_SECONDS
    # Check subscriptions delegated from other tenants (Azure Lighthouse) too.
    include_delegated: bool = False
    # Only these tenants' subscriptions (the command line's --tenant); empty means every tenant.
    tenant_ids: frozenset[str] = frozenset()
    # include_subscription_ids came from a caller (command line, HTTP check), not INCLUDE_SUBSCRIPTION_IDS:
    # one of them that the run cannot find is the caller's mistake (NotInScope), not a subscription in error.
    subscriptions_requested: bool = False
    # Alert state in Table Storage; off unless STATE_TABLE_ENDPOINT or STATE_CONNECTION_STRING is set.
    state: StateSettings = field(default_factory=StateSettings)
    # Chat alerts (Teams, Slack); no channel unless TEAMS_WEBHOOK_URL or SLACK_WEBHOOK_URL is set.
    notify: NotifySettings = field(default_factory=NotifySettings)

    def with_overrides(
        self,
        management_group_ids: list[str] | None = None,
        subscription_ids: list[str] | None = None,
        tenant_ids: list[str] | None = None,
    ) -> Settings:
        """Apply command-line scope options, validated like their environment twins."""
        problems: list[str] = []
        updated = self
        if management_group_ids:
            groups = _group_ids(",".join(management_group_ids), "--management-group", problems)
            updated = replace(updated, management_group_ids=groups)
        if subscription_ids:
            subs = _subscription_ids(",".join(subscription_ids), "--subscription", problems)
            both = subs & self.exclude_subscription_ids
            if both:
                problems.append("--subscription and EXCLUDE_SUBSCRIPTION_IDS both name " + ", ".join(sorted(both)))
            updated = replace(updated, include_subscription_ids=subs, subscriptions_requested=True)
        if tenant_ids:
            # Naming customer tenants asks for their delegated subscriptions, whatever the setting says.
            tenants = _subscription_ids(",".join(tenant_ids), "--tenant", problems, "tenant ids")
            updated = replace(updated, tenant_ids=tenants, include_delegated=True)
        if problems:
            raise ScopeOverrideError(problems)
        return updated


def load_settings(environ: Mapping[str, str]) -> Settings:
    problems: list[str] = []

    def text(name: str) -> str:
        return environ.get(name, "").strip()

    cloud = CLOUDS["azurecloud"]
    if text("AZURE_CLOUD"):
        found = find_cloud(text("AZURE_CLOUD"))
        if found is None:
            names = ", ".join(c.name for c in CLOUDS.values())
            problems.append(f"AZURE_CLOUD={text('AZURE_CLOUD')!r} is not a known cloud; use one of {names}")
        else:
            cloud = found

    arm_endpoint = cloud.arm_endpoint
    if text("ARM_ENDPOINT"):
        arm_endpoint = _arm_endpoint(text("ARM_ENDPOINT"), problems)

    api_version = text("CONTACTS_API_VERSION") or api_versions.CONTACTS_2023
    if api_version not in api_versions.SUPPORTED_CONTACTS:
        problems.append(
            f"CONTACTS_API_VERSION={api_version!r} must be one of {', '.join(api_versions.SUPPORTED_CONTACTS)}"
        )

    include = _subscription_ids(text("INCLUDE_SUBSCRIPTION_IDS"), "INCLUDE_SUBSCRIPTION_IDS", problems)
    exclude = _subscription_ids(text("EXCLUDE_SUBSCRIPTION_IDS"), "EXCLUDE_SUBSCRIPTION_IDS", problems)
    both = include & exclude
    if both:
        problems.append("INCLUDE_SUBSCRIPTION_IDS and EXCLUDE_SUBSCRIPTION_IDS both name " + ", ".join(sorted(both)))

    settings = Settings(
        management_group_ids=_group_ids(text("MANAGEMENT_GROUP_IDS"), "MANAGEMENT_GROUP_IDS", problems),
        include_subscription_ids=include,
        exclude_subscription_ids=exclude,
        enabled_rules=frozenset(
            rule.id for rule in RULES if flag(text(rule.setting), rule.setting, rule.enabled_by_default, problems)
        ),
        min_alert_severity=choice(text("MIN_ALERT_SEVERITY"), "MIN_ALERT_SEVERITY", SEVERITIES, "High", problems),
        min_attack_path_risk=choice(
            text("MIN_ATTACK_PATH_RISK"), "MIN_ATTACK_PATH_RISK", RISK_LEVELS, "High", problems
        ),
        allowed_email_domains=_domains(text("ALLOWED_EMAIL_DOMAINS"), problems),
        concurrency=whole_number(
            text("CHECK_CONCURRENCY"), "CHECK_CONCURRENCY", 1, MAX_CONCURRENCY, Settings.concurrency, problems
        ),
        cloud=cloud,
        arm_endpoint=arm_endpoint,
        contacts_api_version=api_version,
        run_timeout_seconds=whole_number(
            text("RUN_TIMEOUT_SECONDS"),
            "RUN_TIMEOUT_SECONDS",
            MIN_RUN_TIMEOUT_SECONDS,
            MAX_RUN_TIMEOUT_SECONDS,
            DEFAULT_RUN_TIMEOUT_SECONDS,
            problems,
            unit="seconds",
        ),
        include_delegated=flag(
            text("INCLUDE_DELEGATED_SUBSCRIPTIONS"), "INCLUDE_DELEGATED_SUBSCRIPTIONS", False, problems
        ),
        state=load_state_settings(environ, problems),
        notify=load_notify_settings(environ, cloud, problems),
    )
    if problems:
        raise ConfigError(problems)
    return settings


def _subscription_ids(value: str, name: str, problems: list[str], what: str = "subscription ids") -> frozenset[str]:
    ids = items(value)
    bad = [item for item in ids if not _GUID.match(item)]
    if bad:
        problems.append(f"{name} has values that are not {what} (GUIDs): {', '.join(bad)}")
    return frozenset(item.lower() for item in ids if _GUID.match(item))


def _group_ids(value: str, name: str, problems: list[str]) -> tuple[str, ...]:
    ids = items(value)
    bad = [item for item in ids if not is_management_group_id(item)]
    if bad:
        problems.append(f"{name} has values that are not management group ids: {', '.join(bad)}")
    # Keep order (it decides nothing but reads naturally) and drop repeats.
    return tuple(dict.fromkeys(item for item in ids if is_management_group_id(item)))


def _domains(value: str, problems: list[str]) -> tuple[str, ...]:
    domains = [item.lower().lstrip("@") for item in items(value)]
    bad = [item for item in domains if not _DOMAIN.match(item)]
    if bad:
        problems.append(f"ALLOWED_EMAIL_DOMAINS has values that are not domain names: {', '.join(bad)}")
    return tuple(dict.fromkeys(item for item in domains if _DOMAIN.match(item)))


def _arm_endpoint(value: str, problems: list[str]) -> str:
    # Bearer tokens travel to this endpoint, so plain HTTP is never acceptable.
    endpoint = bare_https_endpoint(value, "ARM_ENDPOINT", "https://management.azure.com", problems)
    return endpoint or CLOUDS["azurecloud"].arm_endpoint
