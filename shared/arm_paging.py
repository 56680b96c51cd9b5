"""GET requests and paged lists on ARM through an SDK client's own pipeline.

Every list the monitor reads (management groups, subscriptions, security contacts)
goes through `ArmReader.pages`, so paging has one set of guards: a page cap, and a
same-host check that keeps the bearer token from ever following a `nextLink` to a
host other than the ARM endpoint. A list comes as `{"value": [...], "nextLink": ...}`
or, as the live 2020-01-01-preview securityContacts list does, as a bare JSON array.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import AsyncPipeline
from azure.core.pipeline.transport import HttpRequest as TransportRequest
from azure.core.rest import AsyncHttpResponse, HttpRequest

from .arm_errors import ARM_CALL_ERRORS, describe_exception, describe_response, error_code
from .errors import MonitorError

# Management groups page with "@nextLink", most other ARM lists with "nextLink".
NEXT_LINK_NAMES = ("nextLink", "@nextLink")

SendRequest = Callable[[HttpRequest], Awaitable[AsyncHttpResponse]]


class ArmCallError(MonitorError):
    """An ARM call did not give a usable answer; the message is one readable line without secrets."""

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Page:
    status: int
    # The decoded body for 200; the raw text otherwise (decoded only when needed).
    body: Any
    number: int


@dataclass(frozen=True)
class ArmResponse:
    status: int
    content: bytes

    def text(self) -> str:
        return self.content.decode("utf-8-sig", errors="replace")


class ArmReader:
    def __init__(self, send_request: SendRequest, arm_endpoint: str, pipeline: AsyncPipeline[Any, Any] | None = None):
        """`pipeline`, when given, is the SDK client's own pipeline (the one behind `send_request`).

        GETs then go through it as azure-core's plain transport requests: the same policies (retry,
        credential, logging) and transport, without the azure.core.rest request and response
        wrappers that `send_request` adds, which cost about a sixth of the CPU of each call.
        """
        self._send = send_request
        self._pipeline = pipeline
        self._base = arm_endpoint.rstrip("/")
        self._endpoint = urlsplit(arm_endpoint)

    async def get(self, url: str) -> ArmResponse:
        """GET a path on the ARM endpoint (or an absolute URL on the same host)."""
        self._check_host(url)
        if url.startswith("/"):
            url = self._base + url
        try:
            if self._pipeline is not None:
                answer = (await self._pipeline.run(TransportRequest("GET", url), stream=False)).http_response
                return ArmResponse(answer.status_code, answer.body())
            response = await self._send(HttpRequest("GET", url))
            return ArmResponse(response.status_code, response.content)
        except ARM_CALL_ERRORS as error:
            raise ArmCallError(describe_exception(error)) from error

    async def get_json(self, url: str) -> Any:
        response = await self.get(url)
        if response.status != 200:
            body = response.text()
            raise ArmCallError(describe_response(response.status, body), response.status, error_code(body))
        return _decode(response)

    async def pages(self, url: str, max_pages: int) -> AsyncIterator[Page]:
        """Each page of a list; a non-200 page is yielded (not raised) so callers can read its meaning."""
        next_url: str | None = url
        number = 0
        while next_url:
            number += 1
            if number > max_pages:
                raise ArmCallError(f"the list did not end after {max_pages} pages")
            response = await self.get(next_url)
            if response.status != 200:
                yield Page(response.status, response.text(), number)
                return
            body = _decode(response)
            if isinstance(body, list):
                # Some lists (securityContacts at 2020-01-01-preview) answer with a bare array: the whole list.
                yield Page(200, {"value": body}, number)
                return
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise ArmCallError("the list response is neither a JSON array nor an object with a 'value' array")
            yield Page(200, body, number)
            next_url = next_link(body)

    async def list_values(self, url: str, max_pages: int) -> list[Any]:
        """Every item of a paged list; any non-200 page is an error."""
        items: list[Any] = []
        async for page in self.pages(url, max_pages):
            if page.status != 200:
                raise ArmCallError(describe_response(page.status, page.body), page.status, error_code(page.body))
            items.extend(page.body["value"])
        return items

    def _check_host(self, url: str) -> None:
        if url.startswith("/") and not url.startswith("//"):
            return  # a path on the ARM endpoint
        parts = urlsplit(url)
        same = (
            parts.scheme.lower() == "https"
            and (parts.hostname or "").lower() == (self._endpoint.hostname or "").lower()
            and parts.port == self._endpoint.port
        )
        if not same:
            # The host is named so the reader can see what ARM (or a proxy) sent; the request is not made.
            raise ArmCallError(
                f"refused to follow a link to {parts.scheme}://{parts.hostname}: it is not the ARM endpoint "
                f"{self._endpoint.scheme}://{self._endpoint.hostname}"
            )


def next_link(body: dict[str, Any]) -> str | None:
    for name in NEXT_LINK_NAMES:
        link = body.get(name)
        if link is None or link == "":
            continue
        if not isinstance(link, str):
            raise ArmCallError(f"the list response has a {name} that is not a string")
        return link
    return None


def _decode(response: ArmResponse) -> Any:
    # From the bytes: json detects UTF-8/16/32 and a byte order mark itself, which skips
    # azure-core's charset sniffing of every body.
    try:
        return json.loads(response.content)
    except ValueError as error:
        raise ArmCallError("the response is not valid JSON") from error
