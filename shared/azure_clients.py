"""The credential and the two ARM clients, sharing one connection pool."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import DefaultAzureCredential
from azure.mgmt.managementgroups import ManagementGroupsMgmtClient
from azure.mgmt.security import SecurityCenter
from requests.adapters import HTTPAdapter

from .config import Settings

# The security client is bound to a subscription at construction, but every
# contact read names its subscription in the URL, so this placeholder is never sent.
_UNUSED_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

# Throttled (429) and failed (5xx) calls are retried by azure-core's RetryPolicy,
# which waits for Retry-After when ARM sends it and backs off exponentially otherwise.
RETRY_TOTAL = 6
RETRY_BACKOFF_FACTOR = 0.5
RETRY_BACKOFF_MAX = 30
CONNECTION_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60


def ca_bundle(environ: Mapping[str, str]) -> str | bool:
    """The CA file requests would use (REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE), else the default store."""
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or True


def build_credential(settings: Settings, **options: Any) -> TokenCredential:
    """DefaultAzureCredential: managed identity in Azure, `az login` on a workstation."""
    return DefaultAzureCredential(
        authority=settings.cloud.authority_host,
        exclude_interactive_browser_credential=True,
        **options,
    )


@dataclass
class AzureClients:
    groups: ManagementGroupsMgmtClient
    security: SecurityCenter
    session: requests.Session

    @classmethod
    def create(cls, settings: Settings, credential: TokenCredential) -> AzureClients:
        session = requests.Session()
        # One pool sized to the worker count, so concurrent checks reuse
        # TLS connections instead of opening (and discarding) new ones.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=settings.concurrency)
        session.mount("https://", adapter)
        # requests re-reads proxy and CA variables from the environment on every
        # request, a third of the client's CPU per call at tenant scale; read them once.
        session.trust_env = False
        session.proxies = requests.utils.get_environ_proxies(settings.arm_endpoint)
        transport = RequestsTransport(
            session=session,
            session_owner=False,
            connection_verify=ca_bundle(os.environ),
            connection_timeout=CONNECTION_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )
        common: dict[str, Any] = {
            "transport": transport,
            "credential_scopes": [settings.cloud.credential_scope],
            "retry_total": RETRY_TOTAL,
            "retry_backoff_factor": RETRY_BACKOFF_FACTOR,
            "retry_backoff_max": RETRY_BACKOFF_MAX,
        }
        groups = ManagementGroupsMgmtClient(credential, base_url=settings.arm_endpoint, **common)
        security = SecurityCenter(credential, _UNUSED_SUBSCRIPTION, base_url=settings.arm_endpoint, **common)
        return cls(groups=groups, security=security, session=session)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> AzureClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
