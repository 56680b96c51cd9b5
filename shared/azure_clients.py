"""The credential and the two ARM clients, sharing one pool of connections and one pipeline shape.

The clients are the SDKs' asyncio flavours: a tenant-wide check is thousands of
small waits on ARM, and one event loop drives them for about half the CPU that
a pool of threads needs for the same calls (see benchmarks/bench_check.py).

The pipeline is assembled here rather than left to the SDK defaults because the
defaults do three things a read-only monitor must not: the ARM auto-registration
policy answers a 409 MissingSubscriptionRegistration with a POST that registers
Microsoft.Security (a write), the retry policy sleeps for whatever Retry-After
says (45 s, 5 minutes...), and redirects would carry the request elsewhere.

It is also cut to what every call needs, because at tenant scale the pipeline's own
CPU is most of the monitor's: azure-core's retry, credential and logging policies
stay as they are; the four policies that only set headers and proxy options are
one policy here; and there is no ContentDecodePolicy, which decoded every body a
second time for SDK models that this monitor never builds (ArmReader decodes once).
See docs/performance.md for the figures.
"""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy, AsyncRetryPolicy, UserAgentPolicy
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.core.policies import ARMHttpLoggingPolicy, AsyncARMChallengeAuthenticationPolicy
from azure.mgmt.managementgroups.aio import ManagementGroupsMgmtClient
from azure.mgmt.security.aio import SecurityCenter

from .config import Settings
from .errors import RunFailed

# The security client is bound to a subscription at construction, but every
# contact read names its subscription in the URL, so this placeholder is never sent.
_UNUSED_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

# Throttled (429) and failed (5xx) calls are retried. Every count is set explicitly:
# azure-core's retry_total alone does not apply to status retries (retry_status defaults to 3).
RETRY_COUNT = 4
RETRY_BACKOFF_FACTOR = 0.5
RETRY_BACKOFF_MAX = 10
# ARM may ask for a long Retry-After; a worker never sleeps longer than this per attempt.
RETRY_AFTER_CAP_SECONDS = 10
# azure-core's overall limit for one request and its retries (its default is a week).
RETRY_TIMEOUT_SECONDS = 120
CONNECTION_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
USER_AGENT = "defender-contact-monitor"


def ca_bundle(environ: Mapping[str, str]) -> str | None:
    """A private CA file named the way requests expects it (REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE)."""
    return environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or None


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    bundle = ca_bundle(environ)
    if not bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as error:
        raise RunFailed(f"the CA bundle {bundle!r} (REQUESTS_CA_BUNDLE) cannot be used: {error}") from error


def proxies_for(url: str) -> dict[str, str]:
    """Proxy settings from the environment for this URL, honouring NO_PROXY."""
    host = urlsplit(url).hostname or ""
    if proxy_bypass(host):
        return {}
    return {scheme: proxy for scheme, proxy in getproxies().items() if scheme in ("http", "https")}


def build_credential(settings: Settings, **options: Any) -> AsyncTokenCredential:
    """DefaultAzureCredential: managed identity in Azure, `az login` on a workstation."""
    return DefaultAzureCredential(authority=settings.cloud.authority_host, **options)


class CappedRetryPolicy(AsyncRetryPolicy):
    """azure-core's retry policy with Retry-After honoured up to a cap."""

    def __init__(self, retry_after_cap: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after_cap = retry_after_cap

    def get_retry_after(self, response: PipelineResponse[Any, Any]) -> float | None:
        requested = super().get_retry_after(response)
        return None if requested is None else min(requested, self.retry_after_cap)


class RequestCounter(AsyncHTTPPolicy[Any, Any]):
    """Counts every attempt that reaches the transport (retries included), for the run summary."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        self.count += 1
        return await self.next.send(request)


class RequestShapePolicy(AsyncHTTPPolicy[Any, Any]):
    """What azure-core's RequestIdPolicy, HeadersPolicy, UserAgentPolicy and ProxyPolicy do for these calls.

    One plain policy instead of four SansIO ones: each of those costs two awaited hooks per call.
    """

    REQUEST_ID_HEADER = "x-ms-client-request-id"

    def __init__(self, user_agent: str, proxies: Mapping[str, str] | None) -> None:
        super().__init__()
        self.user_agent = user_agent
        self.proxies = dict(proxies) if proxies else None

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        headers = request.http_request.headers
        options = request.context.options
        extra = options.pop("headers", None)
        if extra:
            headers.update(extra)
        if self.REQUEST_ID_HEADER not in headers:
            # Any unique id serves ARM's support staff; uuid4 costs a tenth of RequestIdPolicy's uuid1.
            headers[self.REQUEST_ID_HEADER] = str(uuid.uuid4())
        headers["User-Agent"] = self.user_agent
        if self.proxies and "proxies" not in options:
            options["proxies"] = self.proxies
        return await self.next.send(request)


def arm_policies(settings: Settings, credential: AsyncTokenCredential, counter: RequestCounter) -> list[Any]:
    """The policies of every ARM call, outermost first; deliberately no registration or redirect policy."""
    proxies = proxies_for(settings.arm_endpoint)
    return [
        # azure-core's own User-Agent ("defender-contact-monitor azsdk-python-core/… Python/…"), built once.
        RequestShapePolicy(UserAgentPolicy(user_agent=USER_AGENT).user_agent, proxies),
        CappedRetryPolicy(
            RETRY_AFTER_CAP_SECONDS,
            retry_total=RETRY_COUNT,
            retry_connect=RETRY_COUNT,
            retry_read=RETRY_COUNT,
            retry_status=RETRY_COUNT,
            retry_backoff_factor=RETRY_BACKOFF_FACTOR,
            retry_backoff_max=RETRY_BACKOFF_MAX,
            timeout=RETRY_TIMEOUT_SECONDS,
        ),
        AsyncARMChallengeAuthenticationPolicy(credential, settings.cloud.credential_scope),
        ARMHttpLoggingPolicy(),
        counter,
    ]


@dataclass
class AzureClients:
    groups: ManagementGroupsMgmtClient
    security: SecurityCenter
    session: aiohttp.ClientSession
    requests: RequestCounter

    @classmethod
    def create(cls, settings: Settings, credential: AsyncTokenCredential) -> AzureClients:
        """Must be called with an event loop running (aiohttp binds to it)."""
        tls = tls_context(os.environ)
        # One pool sized to the concurrency, so checks reuse TLS connections
        # instead of opening (and discarding) new ones.
        connector = aiohttp.TCPConnector(limit=settings.concurrency, ssl=tls)
        # aiohttp's trust_env re-reads proxy variables on every request (a third of the
        # CPU per call at tenant scale); read HTTPS_PROXY / NO_PROXY once instead.
        # ARM needs no cookies: without a jar, no per-request cookie filtering either.
        session = aiohttp.ClientSession(connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
        transport = AioHttpTransport(
            session=session,
            session_owner=False,
            connection_timeout=CONNECTION_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )
        counter = RequestCounter()
        # Each pipeline links its own policy objects together, so each client gets its own list.
        groups = ManagementGroupsMgmtClient(
            credential,
            base_url=settings.arm_endpoint,
            transport=transport,
            policies=arm_policies(settings, credential, counter),
        )
        security = SecurityCenter(
            credential,
            _UNUSED_SUBSCRIPTION,
            base_url=settings.arm_endpoint,
            transport=transport,
            policies=arm_policies(settings, credential, counter),
        )
        return cls(groups=groups, security=security, session=session, requests=counter)

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> AzureClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
