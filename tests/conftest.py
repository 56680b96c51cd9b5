"""Fixtures: one HTTPS ARM emulator per session, pointed at by the real SDK through the environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from emulator import EmulatorServer, Tenant
from emulator.tenant import Contact, EmulatedSubscription
from shared.config import Settings, load_settings

TENANT_ID = "11111111-2222-3333-4444-555555555555"

# Variables that would make DefaultAzureCredential try something other than the emulated managed identity.
_FOREIGN_CREDENTIAL_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)
_MONITOR_VARIABLES = (
    "MANAGEMENT_GROUP_IDS",
    "INCLUDE_SUBSCRIPTION_IDS",
    "EXCLUDE_SUBSCRIPTION_IDS",
    "REQUIRE_CONTACT_EMAIL",
    "REQUIRE_ALERT_NOTIFICATIONS",
    "MIN_ALERT_SEVERITY",
    "REQUIRE_OWNER_NOTIFICATIONS",
    "ALLOWED_EMAIL_DOMAINS",
    "CHECK_CONCURRENCY",
    "AZURE_CLOUD",
    "CONTACTS_API_VERSION",
    "INCLUDE_DELEGATED_SUBSCRIPTIONS",
    "RUN_TIMEOUT_SECONDS",
    "CHECK_SCHEDULE",
    "STATE_TABLE_ENDPOINT",
    "STATE_CONNECTION_STRING",
    "STATE_TABLE_NAME",
    "REMIND_AFTER_HOURS",
    "TEAMS_WEBHOOK_URL",
    "SLACK_WEBHOOK_URL",
    "NOTIFY_ALLOWED_HOSTS",
    "NOTIFY_ON",
    "NOTIFY_MAX_MESSAGES",
    "NOTIFY_ALWAYS",
)


def good_contact(**changes: object) -> Contact:
    contact = Contact(emails=["secops@contoso.com"], minimal_severity="Medium", roles=["Owner"])
    for name, value in changes.items():
        setattr(contact, name, value)
    return contact


def subscription_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


class TenantBuilder:
    """A small tenant: root > Contoso > {Platform, Landing Zones > Corp}."""

    def __init__(self) -> None:
        self.tenant = Tenant(TENANT_ID)
        self.tenant.add_group("contoso", "Contoso")
        self.tenant.add_group("platform", "Platform", "contoso")
        self.tenant.add_group("landing-zones", "Landing Zones", "contoso")
        self.tenant.add_group("corp", "Corp", "landing-zones")

    def subscription(
        self,
        number: int,
        group: str = "corp",
        contact: Contact | None = None,
        **fields: object,
    ) -> str:
        sub_id = subscription_id(number)
        self.tenant.add_subscription(
            EmulatedSubscription(
                subscription_id=sub_id,
                display_name=f"sub-{number}",
                group_id=group,
                contact=contact,
                **fields,  # type: ignore[arg-type]
            )
        )
        return sub_id


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(TenantBuilder().tenant) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """The emulator with a fresh fault plan and counters, and this process's environment aimed at it."""
    emulator_server.reset()
    emulator_server.latency_ms = 0
    for name in (*_FOREIGN_CREDENTIAL_VARIABLES, *_MONITOR_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    for name, value in emulator_server.environment().items():
        monkeypatch.setenv(name, value)
    yield emulator_server
    emulator_server.reset()


@pytest.fixture
def use_tenant(emulator: EmulatorServer) -> Callable[[TenantBuilder], Tenant]:
    def install(builder: TenantBuilder) -> Tenant:
        emulator.tenant = builder.tenant
        return builder.tenant

    return install


@pytest.fixture
def settings_for(emulator: EmulatorServer) -> Callable[..., Settings]:
    """Settings as the app would load them from its environment, plus any extra app settings."""

    def build(**app_settings: str) -> Settings:
        return load_settings({**emulator.environment(), **app_settings})

    return build
