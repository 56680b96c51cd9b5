"""Turning ARM error responses into one short readable line, without secrets or noise."""

from __future__ import annotations

import json
import re
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

# What a call through an SDK pipeline raises: transport failures, credential
# failures, and error responses the pipeline itself turns into exceptions.
ARM_CALL_ERRORS = (HttpResponseError, ServiceRequestError, ServiceResponseError, ClientAuthenticationError)

MAX_MESSAGE_LENGTH = 300

# Identifiers that help support engineers but no reader of a report, and anything token-like.
_NOISE = (
    re.compile(
        r"\s*[(\[]?\b(?:correlation|request|tracking|activity|client request)[ -]?id\b\s*[:=]?\s*"
        r"'?[0-9a-f]{8}(?:-?[0-9a-f]{4}){3}-?[0-9a-f]{12}'?[)\]]?\.?",
        re.IGNORECASE,
    ),
    re.compile(r"\s*\btimestamp\s*:\s*\S+", re.IGNORECASE),
)
_SECRETS = (
    (re.compile(r"\bbearer\s+\S+", re.IGNORECASE), "Bearer [redacted]"),
    (re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"), "[redacted token]"),
    (re.compile(r"\b(sig|code|access_token|client_secret)=[^&\s'\"]+", re.IGNORECASE), r"\1=[redacted]"),
)


def describe_response(status: int, body: bytes | str | None) -> str:
    """'HTTP 403 AuthorizationFailed: <message>' from an ARM error body, however malformed."""
    code, message = error_fields(body)
    text = f"HTTP {status}"
    if code:
        text += f" {code}"
    if message:
        text += f": {message}"
    return text


def describe_exception(error: Exception) -> str:
    if isinstance(error, DecodeError):
        return "the response is not valid JSON"
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        response = error.response
        body = response.text() if response is not None else None
        return describe_response(error.status_code, body)
    # Transport failures (DNS, TLS, timeouts) and credential failures: the first line is the useful part.
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    first_line = clean_message(first_line)
    text = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:
        text += " (no usable Azure credential: sign in with `az login`, or check the managed identity)"
    return text


# ARM's code for "the resource provider was never registered on this subscription". Microsoft.Security has also
# been seen answering the same 409 with the code spelt "Subscription Not Registered" (and "SubscriptionNotRegistered").
_UNREGISTERED_PROVIDER_CODES = frozenset({"missingsubscriptionregistration", "subscriptionnotregistered"})


def is_unregistered_provider(status: int, code: str) -> bool:
    """Whether an answer means the resource provider is not registered on the subscription (a 409)."""
    return status == 409 and "".join(code.split()).lower() in _UNREGISTERED_PROVIDER_CODES


def error_code(body: bytes | str | None) -> str:
    return error_fields(body)[0]


def error_fields(body: bytes | str | None) -> tuple[str, str]:
    """(code, cleaned message) of an ARM error body; empty strings when it has none."""
    if not body:
        return "", ""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "", ""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code")
    message = error.get("message")
    return (
        clean_message(code) if isinstance(code, str) else "",
        clean_message(message) if isinstance(message, str) else "",
    )


def clean_message(text: str) -> str:
    """ARM's text trimmed for a report: no request ids or timestamps, nothing token-like, bounded length."""
    for pattern in _NOISE:
        text = pattern.sub("", text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[: MAX_MESSAGE_LENGTH - 1].rstrip() + "…"
    return text
