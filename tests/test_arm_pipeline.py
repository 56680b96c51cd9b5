"""The ARM pipeline every call goes through: azure-core's retry, credential and logging policies, cut to the rest."""

import asyncio
import logging

import pytest
from azure.core.pipeline.policies import AsyncRetryPolicy
from azure.mgmt.core.policies import ARMHttpLoggingPolicy, AsyncARMChallengeAuthenticationPolicy

from shared.azure_clients import USER_AGENT, AzureClients, RequestCounter, arm_policies, build_credential
from shared.contacts import ContactReader, ContactReadError
from tests.conftest import TenantBuilder, good_contact


@pytest.fixture
def read(settings_for):
    async def run(subscription_ids):
        settings = settings_for()
        async with build_credential(settings) as credential, AzureClients.create(settings, credential) as clients:
            reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
            return [await reader.read(sub) for sub in subscription_ids]

    return lambda *subscription_ids: asyncio.run(run(subscription_ids))


def tenant(use_tenant, count: int) -> list[str]:
    builder = TenantBuilder()
    subs = [builder.subscription(number, contact=good_contact()) for number in range(count)]
    use_tenant(builder)
    return subs


def test_the_pipeline_keeps_azure_cores_retry_credential_and_logging_policies(emulator, settings_for):
    settings = settings_for()

    async def policies():
        async with build_credential(settings) as credential:
            return arm_policies(settings, credential, RequestCounter())

    kinds = [type(policy) for policy in asyncio.run(policies())]

    assert any(issubclass(kind, AsyncRetryPolicy) for kind in kinds)
    assert AsyncARMChallengeAuthenticationPolicy in kinds
    assert ARMHttpLoggingPolicy in kinds
    # Retries are counted by the innermost policy, so each attempt is one ARM request in the run summary.
    assert kinds[-1] is RequestCounter


def test_every_call_carries_the_user_agent_and_its_own_client_request_id(emulator, use_tenant, read):
    subs = tenant(use_tenant, 3)

    read(*subs)

    headers = emulator.stats.client_headers
    assert len(headers) == 3
    assert all(agent.startswith(f"{USER_AGENT} azsdk-python-") for agent, _ in headers)
    assert len({request_id for _, request_id in headers}) == 3
    assert all(len(request_id) == 36 for _, request_id in headers)


def test_calls_are_logged_by_azure_cores_logging_policy_without_the_token(emulator, use_tenant, read, caplog):
    subs = tenant(use_tenant, 1)

    with caplog.at_level(logging.INFO, logger="azure.core.pipeline.policies.http_logging_policy"):
        read(*subs)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "securityContacts" in logged
    assert "REDACTED" in logged
    assert "emu-" not in logged


def test_an_https_proxy_from_the_environment_carries_the_calls(emulator, use_tenant, read, monkeypatch):
    subs = tenant(use_tenant, 1)
    # A proxy that refuses every connection: the read fails there and never reaches ARM directly.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setattr("shared.azure_clients.RETRY_COUNT", 0)

    with pytest.raises(ContactReadError):
        read(*subs)
    assert emulator.stats.snapshot()["calls"].get("securityContacts", 0) == 0
