"""Turning ARM error responses into one readable line, without secrets."""

from __future__ import annotations

import json
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


def describe_response(status: int, body: bytes | str | None) -> str:
    """'HTTP 403 AuthorizationFailed: <message>' from an ARM error body, however malformed."""
    code, message = _error_fields(body)
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
    # Transport failures (DNS, TLS, timeouts) and credential failures carry no
    # request secrets in their messages; the first line is the useful part.
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


def error_code(body: bytes | str | None) -> str:
    return _error_fields(body)[0]


def _error_fields(body: bytes | str | None) -> tuple[str, str]:
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
    return (code if isinstance(code, str) else "", message.strip() if isinstance(message, str) else "")
