"""Reading one subscription's security contacts through the SecurityCenter client's pipeline.

azure-mgmt-security only models api-versions up to 2020-01-01-preview, so the
newer 2023-12-01-preview resource is fetched as raw JSON through the client's
own pipeline (same credential, retry, logging) and normalised by contact_shapes.
"""

from __future__ import annotations

import logging
from typing import Any

from azure.core.rest import HttpRequest
from azure.mgmt.security.aio import SecurityCenter

from .arm_errors import ARM_CALL_ERRORS, describe_exception, describe_response, error_code
from .config import CONTACTS_API_2020, CONTACTS_API_2023
from .contact_shapes import ContactShapeError, parse_contacts
from .models import ContactSettings

log = logging.getLogger(__name__)

# What ARM says when a cloud or tenant does not (yet) offer an api-version.
_UNSUPPORTED_API_CODES = {"noregisteredproviderfound", "invalidapiversionparameter", "invalidresourcetype"}
_FALLBACK = {CONTACTS_API_2023: CONTACTS_API_2020}
_MAX_PAGES = 100


class ContactReadError(RuntimeError):
    """This subscription's contacts could not be read; the message says why."""


class _UnsupportedApiVersion(Exception):
    pass


class ContactReader:
    def __init__(self, client: SecurityCenter, arm_endpoint: str, api_version: str) -> None:
        self._client = client
        self._arm_endpoint = arm_endpoint.rstrip("/")
        self._api_version = api_version
        self.api_versions_used: set[str] = set()

    async def read(self, subscription_id: str) -> ContactSettings:
        while True:
            version = self._api_version
            try:
                items = await self._list(subscription_id, version)
            except _UnsupportedApiVersion as unsupported:
                self._fall_back(version, str(unsupported))
                continue
            self.api_versions_used.add(version)
            try:
                return parse_contacts(items, version)
            except ContactShapeError as error:
                raise ContactReadError(f"unexpected security contact format ({version}): {error}") from error

    def _fall_back(self, failed_version: str, detail: str) -> None:
        older = _FALLBACK.get(failed_version)
        if older is None:
            raise ContactReadError(f"security contacts api-version {failed_version} is not supported: {detail}")
        # Many concurrent reads may hit this at once; only the first logs and switches.
        if self._api_version == failed_version:
            log.warning(
                "security contacts api-version %s is not available here (%s); using %s",
                failed_version,
                detail,
                older,
            )
            self._api_version = older

    async def _list(self, subscription_id: str, api_version: str) -> list[Any]:
        url: str | None = (
            f"{self._arm_endpoint}/subscriptions/{subscription_id}"
            f"/providers/Microsoft.Security/securityContacts?api-version={api_version}"
        )
        items: list[Any] = []
        pages = 0
        while url:
            pages += 1
            if pages > _MAX_PAGES:
                raise ContactReadError(f"security contact list did not end after {_MAX_PAGES} pages")
            try:
                # The multi-API SecurityCenter has no public send_request; its
                # pipeline client carries the credential, retry and logging policies.
                response = await self._client._client.send_request(HttpRequest("GET", url))
            except ARM_CALL_ERRORS as error:
                raise ContactReadError(describe_exception(error)) from error
            if response.status_code == 404 and not items:
                # No contact resource at all: the subscription has never been configured.
                return []
            if response.status_code != 200:
                # Error bodies are decoded only here, off the path every healthy read takes.
                body = response.text()
                if response.status_code == 400 and error_code(body).lower() in _UNSUPPORTED_API_CODES:
                    raise _UnsupportedApiVersion(describe_response(400, body))
                raise ContactReadError(describe_response(response.status_code, body))
            try:
                page = response.json()
            except ValueError as error:
                raise ContactReadError(f"security contact response is not valid JSON ({api_version})") from error
            if isinstance(page, dict) and "value" in page:
                if not isinstance(page["value"], list):
                    raise ContactReadError("security contact response has a 'value' that is not a list")
                items.extend(page["value"])
                url = page.get("nextLink")
            elif isinstance(page, dict) and "properties" in page:
                # A single resource rather than a list.
                items.append(page)
                url = None
            else:
                raise ContactReadError("security contact response has neither 'value' nor 'properties'")
        return items
