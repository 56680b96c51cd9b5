"""Reading one subscription's security contacts through the SecurityCenter client's pipeline.

azure-mgmt-security only models api-versions up to 2020-01-01-preview, so the
newer 2023-12-01-preview resource is fetched as raw JSON through the client's
own pipeline (same credential, retry, logging) and normalised by contact_shapes.

Where 2023-12-01-preview is not offered (a sovereign cloud, say), the first read
of a run finds out and every other read goes straight to 2020-01-01-preview: the
other reads wait for that one probe instead of each failing once. Whether a
refusal means the cloud or just that subscription is settled by the provider's
own list of api-versions; a single odd subscription falls back alone.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from azure.mgmt.security.aio import SecurityCenter

from .api_versions import CONTACTS_FALLBACK
from .api_versions import PROVIDERS as PROVIDERS_API_VERSION
from .arm_errors import describe_response, error_fields, is_unregistered_provider
from .arm_paging import ArmCallError, ArmReader
from .contact_shapes import ContactShapeError, parse_contacts
from .errors import MonitorError
from .models import ContactSettings, ContactState

log = logging.getLogger(__name__)

# What ARM says when a cloud or subscription does not offer an api-version or type.
_UNSUPPORTED_API_CODES = {"noregisteredproviderfound", "invalidapiversionparameter", "invalidresourcetype"}
# Of those, the codes that come from the provider's registration in the whole cloud, not from one subscription.
_CLOUD_WIDE_CODES = {"noregisteredproviderfound", "invalidapiversionparameter"}
_SUPPORTED_LIST = re.compile(r"supported (?:api-)?versions are '([^']*)'", re.IGNORECASE)
MAX_CONTACT_PAGES = 100
# Probes whose answer cannot tell whether the api-version exists (403, throttling...) before
# the reader stops holding the other reads back and lets each fall back on its own.
MAX_INCONCLUSIVE_PROBES = 3


class ContactReadError(MonitorError):
    """This subscription's contacts could not be read; the message says why."""


class _UnsupportedApiVersion(Exception):
    def __init__(self, description: str, cloud_wide: bool) -> None:
        super().__init__(description)
        # The cloud does not offer the version at all (rather than this one subscription being odd).
        self.cloud_wide = cloud_wide


class ContactReader:
    def __init__(self, client: SecurityCenter, arm_endpoint: str, api_version: str) -> None:
        # The multi-API SecurityCenter has no public send_request; its pipeline client
        # carries the credential, retry and logging policies.
        self._reader = ArmReader(client._client.send_request, arm_endpoint)
        self._preferred = api_version
        self._fallback = CONTACTS_FALLBACK.get(api_version)
        # "unknown" until one read shows whether the preferred version is offered here.
        self._availability = "unknown" if self._fallback else "available"
        self._inconclusive_probes = 0
        self._probe_lock = asyncio.Lock()
        self.api_versions_used: set[str] = set()

    async def read(self, subscription_id: str) -> ContactSettings:
        if self._availability == "unknown":
            async with self._probe_lock:
                if self._availability == "unknown":
                    return await self._probe(subscription_id)
        if self._availability == "absent":
            return await self._read_fallback(subscription_id)
        try:
            return await self._read_with(subscription_id, self._preferred)
        except _UnsupportedApiVersion as unsupported:
            return await self._read_fallback(subscription_id, unsupported)

    async def _probe(self, subscription_id: str) -> ContactSettings:
        try:
            contact = await self._read_with(subscription_id, self._preferred)
        except _UnsupportedApiVersion as unsupported:
            # One refusal cannot tell an odd subscription from a cloud without the version, so the
            # provider's own list of api-versions decides (a read that is not another failing probe).
            if unsupported.cloud_wide and await self._offered_by_provider() is not True:
                self._availability = "absent"
                log.warning(
                    "security contacts api-version %s is not offered here (%s); using %s for this run",
                    self._preferred,
                    unsupported,
                    self._fallback,
                )
            return await self._read_fallback(subscription_id)
        except ContactReadError:
            self._count_inconclusive()
            raise
        if contact.state is ContactState.PROVIDER_NOT_REGISTERED:
            self._count_inconclusive()
        else:
            self._availability = "available"
        return contact

    async def _offered_by_provider(self) -> bool | None:
        """Whether Microsoft.Security lists the preferred version for securityContacts; None when unknown."""
        try:
            body = await self._reader.get_json(f"/providers/Microsoft.Security?api-version={PROVIDERS_API_VERSION}")
            for resource_type in body.get("resourceTypes") or []:
                if str(resource_type.get("resourceType", "")).lower() == "securitycontacts":
                    return self._preferred in (resource_type.get("apiVersions") or [])
        except (ArmCallError, AttributeError, TypeError):
            log.debug("could not read Microsoft.Security's api-versions", exc_info=True)
        return None

    def _count_inconclusive(self) -> None:
        self._inconclusive_probes += 1
        if self._inconclusive_probes >= MAX_INCONCLUSIVE_PROBES:
            self._availability = "available"

    async def _read_fallback(
        self, subscription_id: str, refusal: _UnsupportedApiVersion | None = None
    ) -> ContactSettings:
        if self._fallback is None:
            raise ContactReadError(
                f"api-version {self._preferred} of the security contacts API is not offered here and has no "
                f"older one to fall back to: {refusal}"
            ) from refusal
        try:
            return await self._read_with(subscription_id, self._fallback)
        except _UnsupportedApiVersion as unsupported:
            raise ContactReadError(
                f"neither {self._preferred} nor {self._fallback} of the security contacts API is offered: {unsupported}"
            ) from unsupported

    async def _read_with(self, subscription_id: str, api_version: str) -> ContactSettings:
        url = (
            f"/subscriptions/{subscription_id}/providers/Microsoft.Security/securityContacts?api-version={api_version}"
        )
        items: list[Any] = []
        try:
            async for page in self._reader.pages(url, MAX_CONTACT_PAGES):
                if page.status != 200:
                    if page.number > 1:
                        raise ContactReadError(describe_response(page.status, page.body))
                    return self._settings_for_refusal(page.status, page.body, api_version)
                items.extend(page.body["value"])
        except ArmCallError as error:
            raise ContactReadError(f"{error} ({api_version})") from error
        self.api_versions_used.add(api_version)
        try:
            return parse_contacts(items, api_version)
        except ContactShapeError as error:
            raise ContactReadError(f"unexpected security contact format ({api_version}): {error}") from error

    def _settings_for_refusal(self, status: int, body: str, api_version: str) -> ContactSettings:
        """What a non-200 first answer means: a verdict where ARM's code says so, otherwise an error."""
        code, message = error_fields(body)
        lowered = code.lower()
        description = describe_response(status, body)
        if status == 404 and _means_no_contact(lowered, message):
            self.api_versions_used.add(api_version)
            return ContactSettings.not_configured(api_version)
        if is_unregistered_provider(status, code):
            self.api_versions_used.add(api_version)
            return ContactSettings.provider_not_registered(api_version)
        if status == 400 and lowered in _UNSUPPORTED_API_CODES:
            cloud_wide = lowered in _CLOUD_WIDE_CODES and not _lists_as_supported(message, api_version)
            raise _UnsupportedApiVersion(description, cloud_wide)
        if status == 404 and lowered == "subscriptionnotfound":
            description += " (the subscription may have moved to another tenant or been deleted)"
        raise ContactReadError(description)


def _means_no_contact(code: str, message: str) -> bool:
    """Only a 404 about the contact itself means "not configured"; a missing subscription is an error."""
    if code == "resourcenotfound":
        return True
    return code.endswith("notfound") and code != "subscriptionnotfound" and "contact" in f"{code} {message}".lower()


def _lists_as_supported(message: str, api_version: str) -> bool:
    match = _SUPPORTED_LIST.search(message)
    return bool(match) and api_version in match.group(1)
