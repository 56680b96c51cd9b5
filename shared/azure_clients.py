"""The credential and the two ARM clients, sharing one pool of connections.

The clients are the SDKs' asyncio flavours: a tenant-wide check is thousands of
small waits on ARM, and one event loop drives them for about half the CPU that
a pool of threads needs for the same calls (see benchmarks/bench_check.py).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.managementgroups.aio import ManagementGroupsMgmtClient
from azure.mgmt.security.aio import SecurityCenter

from .config import Settings

# The security client is bound to a subscription at construction, but every
# contact read names its subscription in the URL, so this placeholder is never sent.
_UNUSED_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

# Throttled (429) and failed (5xx) calls are retried by azure-core's retry policy,
# which waits for Retry-After when ARM sends it and backs off exponentially otherwise.
RETRY_TOTAL = 6
RETRY_BACKOFF_FACTOR = 0.5
RETRY_BACKOFF_MAX = 30
CONNECTION_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60


def ca_bundle(environ: Mapping[str, str]) -> str | None:
    """A private CA file named the way requests expects it (REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE)."""
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or None


def proxies_for(url: str) -> dict[str, str]:
    """Proxy settings from the environment for this URL, honouring NO_PROXY."""
    host = urlsplit(url).hostname or ""
    if proxy_bypass(host):
        return {}
    return {scheme: proxy for scheme, proxy in getproxies().items() if scheme in ("http", "https")}


def build_credential(settings: Settings, **options: Any) -> AsyncTokenCredential:
    """DefaultAzureCredential: managed identity in Azure, `az login` on a workstation."""
    return DefaultAzureCredential(authority=settings.cloud.authority_host, **options)


@dataclass
class AzureClients:
    groups: ManagementGroupsMgmtClient
    security: SecurityCenter
    session: aiohttp.ClientSession

    @classmethod
    def create(cls, settings: Settings, credential: AsyncTokenCredential) -> AzureClients:
        """Must be called with an event loop running (aiohttp binds to it)."""
        bundle = ca_bundle(os.environ)
        tls = ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()
        # One pool sized to the concurrency, so checks reuse TLS connections
        # instead of opening (and discarding) new ones.
        connector = aiohttp.TCPConnector(limit=settings.concurrency, ssl=tls)
        # aiohttp's trust_env re-reads proxy variables on every request (a third of the
        # CPU per call at tenant scale); read HTTPS_PROXY / NO_PROXY once instead.
        session = aiohttp.ClientSession(connector=connector, trust_env=False)
        transport = AioHttpTransport(
            session=session,
            session_owner=False,
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
        proxies = proxies_for(settings.arm_endpoint)
        if proxies:
            common["proxies"] = proxies
        groups = ManagementGroupsMgmtClient(credential, base_url=settings.arm_endpoint, **common)
        security = SecurityCenter(credential, _UNUSED_SUBSCRIPTION, base_url=settings.arm_endpoint, **common)
        return cls(groups=groups, security=security, session=session)

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> AzureClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
