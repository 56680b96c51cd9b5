"""Injected failures: throttling, server errors, denied access and broken bodies."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    # Regular expression searched in the request path and query.
    match: str
    status: int = 500
    # How many matching requests fail; None means every one.
    times: int | None = 1
    retry_after: float | None = None
    # Answer 200 with a body that is not JSON.
    malformed: bool = False
    code: str = ""
    message: str = ""
    # Hold the answer this long first (a slow subscription); with status 200 the normal answer follows.
    delay_seconds: float = 0.0
    # Answer with exactly this JSON document (a recorded live response) instead of the emulated one.
    body: Any = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        return cls(
            match=data["match"],
            status=int(data.get("status", 200 if data.get("malformed") or "body" in data else 500)),
            times=data.get("times", 1),
            retry_after=data.get("retryAfter"),
            malformed=bool(data.get("malformed", False)),
            code=data.get("code", ""),
            message=data.get("message", ""),
            delay_seconds=float(data.get("delaySeconds", 0.0)),
            body=data.get("body"),
        )


_DEFAULT_CODES = {
    403: ("AuthorizationFailed", "The client does not have authorization to perform action."),
    429: ("TooManyRequests", "The request is being throttled."),
    500: ("InternalServerError", "Encountered internal server error."),
    502: ("BadGateway", "The gateway received an invalid response."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, target: str) -> Fault | None:
        """The first live fault matching this request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.times is not None and fault.times <= 0:
                    continue
                if re.search(fault.match, target, re.IGNORECASE):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None


def fault_error(fault: Fault) -> tuple[str, str]:
    code, message = _DEFAULT_CODES.get(fault.status, ("Error", f"Injected HTTP {fault.status}."))
    return fault.code or code, fault.message or message
