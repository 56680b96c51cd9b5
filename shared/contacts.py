"""Reading one subscription's security contacts through the SecurityCenter client's pipeline.

azure-mgmt-security only models api-versions up to 2020-01-01-preview, so the
newer 2023-12-01-preview resource is fetched as raw JSON through the client's
own pipeline (same credential, retry, logging) and normalised by contact_shapes.

The api-version for the run is decided once, up front, from the provider's own
list (`GET /providers/Microsoft.Security`, one tenant-level call the checker makes
while the hierarchy is walked), so a sovereign cloud starts on what it offers and
no read ever waits on another subscription's. Where that list cannot be read,
reads start on the preferred version: a refusal whose message lists the cloud's
api-versions switches the run to the best of those, and any other refusal makes
only that one subscription fall back.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from azure.mgmt.security.aio import SecurityCenter

from .api_versions import CONTACTS_FALLBACK, SUPPORTED_CONTACTS
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
# "The supported api-versions are '2020-01-01-preview,2017-08-01-preview'." (ARM separates with "," or ", ").
_SUPPORTED_LIST = re.compile(r"supported (?:api-)?versions are '([^']*)'", re.IGNORECASE)
# The statuses ARM refuses an api-version or resource type with: 400 in the public cloud, 404 in Azure China.
_REFUSAL_STATUSES = {400, 404}
MAX_CONTACT_PAGES = 100
# Until the run's api-version is known to be offered (the provider's list could not be read), at most this
# many reads try it at once, so a cloud that refuses it costs a couple of failing calls, not one per worker.
PROBE_SLOTS = 2
# A probe slot is given back after this long even if its read has not answered: a hanging subscription
# delays the others by at most this, once.
PROBE_PATIENCE_SECONDS = 5.0
# Probes whose answer cannot tell whether the version is offered (403, throttling, an unregistered provider)
# before the reader stops holding reads back and lets each find out on its own.
MAX_INCONCLUSIVE_PROBES = 3
_NO_WAIT: AbstractAsyncContextManager[None] = nullcontext()


class ContactReadError(MonitorError):
    """This subscription's contacts could not be read; the message says why."""


class _NotOffered(Exception):
    """ARM refused the api-version (or the type at that version) for this read."""

    def __init__(self, description: str, api_version: str, listed: tuple[str, ...] | None, code: str) -> None:
        super().__init__(description)
        self.api_version = api_version
        # The api-versions the refusal names as supported; None when it names none.
        self.listed = listed
        # The refusal speaks for the whole cloud, not just this subscription.
        self.cloud_wide = api_version not in listed if listed is not None else code in _CLOUD_WIDE_CODES


class ContactReader:
    def __init__(self, client: SecurityCenter, arm_endpoint: str, api_version: str) -> None:
        # The multi-API SecurityCenter has no public send_request; its pipeline client
        # carries the credential, retry and logging policies.
        self._reader = ArmReader(client._client.send_request, arm_endpoint, client._client._pipeline)
        self._preferred = api_version
        # What every read asks first; moved to an older version once the cloud is known not to offer this one.
        self._first = api_version
        # The provider's list of securityContacts api-versions, once read (None: not read or unreadable).
        self._provider_offers: tuple[str, ...] | None = None
        # Whether reads may go ahead without probing: nothing older to fall back to, a provider list, or an answer.
        self._settled = _older_offered(api_version, SUPPORTED_CONTACTS) is None
        self._probing = 0
        self._inconclusive = 0
        self._changed = asyncio.Event()
        self.api_versions_used: set[str] = set()

    @property
    def api_version(self) -> str:
        """The api-version reads start on."""
        return self._first

    async def decide_api_version(self, via: ArmReader | None = None) -> str:
        """Start the run on what the cloud offers, from one tenant-level read of the provider's api-versions.

        Where the list cannot be read, or names nothing older that this monitor reads, the run starts on the
        preferred version and each refusal is handled as it comes. `via` sends that read through another
        client's pipeline (the checker uses the hierarchy walk's, so the two share one token request).
        """
        offered = await provider_versions(via or self._reader)
        if offered is None:
            return self._first
        self._provider_offers = offered
        self._settle()
        if self._preferred not in offered:
            choice = _older_offered(self._preferred, offered)
            if choice is not None:
                log.warning(
                    "security contacts api-version %s is not offered here (Microsoft.Security offers %s); "
                    "using %s for this run",
                    self._preferred,
                    ", ".join(offered) or "none",
                    choice,
                )
                self._first = choice
        return self._first

    def turn(self) -> AbstractAsyncContextManager[None]:
        """Wait, if the run's api-version is still unproven, for one of the few probe slots.

        The checker waits here before a subscription's own budget starts. A slot is given back when its
        read ends or after PROBE_PATIENCE_SECONDS, whichever is first, so no read waits long on another.
        """
        return _NO_WAIT if self._settled else self._probe_turn()

    @asynccontextmanager
    async def _probe_turn(self) -> AsyncIterator[None]:
        while not self._settled and self._probing >= PROBE_SLOTS:
            await self._changed.wait()
        if self._settled:
            yield
            return
        self._probing += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._probing -= 1
                self._notify()

        patience = asyncio.get_running_loop().call_later(PROBE_PATIENCE_SECONDS, release)
        try:
            yield
        finally:
            patience.cancel()
            release()

    async def read(self, subscription_id: str) -> ContactSettings:
        first = self._first
        try:
            contact = await self._read_with(subscription_id, first)
        except _NotOffered as refusal:
            fallback = self._fallback_for(refusal)
            # Only the first refusal of the run's version moves the run (and says so once in the log).
            if fallback is not None and self._first == first and self._switches_the_run(refusal):
                log.warning(
                    "security contacts api-version %s is not offered here (%s); using %s for this run",
                    first,
                    refusal,
                    fallback,
                )
                self._first = fallback
                self._settle()
            else:
                self._count_inconclusive()
            return await self._read_fallback(subscription_id, refusal, fallback)
        except ContactReadError:
            self._count_inconclusive()
            raise
        if contact.state is ContactState.PROVIDER_NOT_REGISTERED:
            self._count_inconclusive()
        else:
            self._settle()
        return contact

    def _settle(self) -> None:
        if not self._settled:
            self._settled = True
            self._notify()

    def _count_inconclusive(self) -> None:
        if not self._settled:
            self._inconclusive += 1
            if self._inconclusive >= MAX_INCONCLUSIVE_PROBES:
                self._settle()

    def _notify(self) -> None:
        # Wake every waiter; each looks again (an Event per change, since asyncio has no pulse).
        self._changed.set()
        self._changed = asyncio.Event()

    def _switches_the_run(self, refusal: _NotOffered) -> bool:
        # The provider's own list outranks any one refusal: a version it offers is only missing in that subscription.
        if self._provider_offers is not None:
            return refusal.api_version not in self._provider_offers
        return refusal.cloud_wide

    def _fallback_for(self, refusal: _NotOffered) -> str | None:
        """The next older version to try: the newest the cloud names (refusal, then provider), else the default."""
        for offered in (refusal.listed, self._provider_offers):
            if offered is not None and refusal.api_version not in offered:
                return _older_offered(refusal.api_version, offered)
        return CONTACTS_FALLBACK.get(refusal.api_version)

    async def _read_fallback(self, subscription_id: str, refusal: _NotOffered, fallback: str | None) -> ContactSettings:
        if fallback is None:
            raise ContactReadError(
                f"api-version {refusal.api_version} of the security contacts API is not offered here, and no older "
                f"one that this monitor reads is: {refusal}"
            ) from refusal
        try:
            return await self._read_with(subscription_id, fallback)
        except _NotOffered as unsupported:
            raise ContactReadError(
                f"neither {refusal.api_version} nor {fallback} of the security contacts API is offered: {unsupported}"
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
        if status in _REFUSAL_STATUSES:
            listed = supported_versions(message)
            # A message listing the supported versions without this one is a refusal whatever its code says.
            if (listed is not None and api_version not in listed) or (
                lowered in _UNSUPPORTED_API_CODES and (status == 400 or lowered == "invalidresourcetype")
            ):
                raise _NotOffered(description, api_version, listed, lowered)
        if status == 404 and _means_no_contact(lowered, message):
            self.api_versions_used.add(api_version)
            return ContactSettings.not_configured(api_version)
        if is_unregistered_provider(status, code):
            self.api_versions_used.add(api_version)
            return ContactSettings.provider_not_registered(api_version)
        if status == 404 and lowered == "subscriptionnotfound":
            description += " (the subscription may have moved to another tenant or been deleted)"
        raise ContactReadError(description)


async def provider_versions(arm: ArmReader) -> tuple[str, ...] | None:
    """The api-versions Microsoft.Security lists for securityContacts; None when that cannot be read."""
    try:
        body = await arm.get_json(f"/providers/Microsoft.Security?api-version={PROVIDERS_API_VERSION}")
        for resource_type in body.get("resourceTypes") or []:
            if str(resource_type.get("resourceType", "")).lower() == "securitycontacts":
                # An empty list says nothing about this cloud: treated like an unreadable one.
                versions = resource_type.get("apiVersions") or []
                return tuple(str(version) for version in versions) or None
    except (ArmCallError, AttributeError, TypeError):
        log.debug("could not read Microsoft.Security's api-versions", exc_info=True)
    return None


def supported_versions(message: str) -> tuple[str, ...] | None:
    """The api-versions an ARM refusal names as supported; None when it names none."""
    match = _SUPPORTED_LIST.search(message)
    if not match:
        return None
    return tuple(version.strip() for version in match.group(1).split(",") if version.strip())


def _older_offered(api_version: str, offered: tuple[str, ...]) -> str | None:
    """The newest api-version this monitor reads that is older than `api_version` and offered here."""
    older = SUPPORTED_CONTACTS[SUPPORTED_CONTACTS.index(api_version) + 1 :] if api_version in SUPPORTED_CONTACTS else ()
    return next((version for version in older if version in offered), None)


def _means_no_contact(code: str, message: str) -> bool:
    """Only a 404 about the contact itself means "not configured"; a missing subscription is an error."""
    if code == "resourcenotfound":
        return True
    return code.endswith("notfound") and code != "subscriptionnotfound" and "contact" in f"{code} {message}".lower()
