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


@dataclass
class ContactChange:
    """Someone edits a subscription's security contact (in the portal, say) while a client works from an
    earlier read: the edit lands with the `after_reads`-th read of that subscription's contacts, which
    still answers what was there before, so every later read sees the edit (e.g. between fix's plan and write).
    """

    subscription_id: str
    after_reads: int
    # emulator.tenant.Contact attribute names and their new values, e.g. {"emails": ["a@x.com", "b@x.com"]}.
    changes: dict[str, Any]
    reads: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContactChange:
        return cls(data["subscriptionId"], int(data.get("afterReads", 1)), dict(data["changes"]))


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._contact_changes: list[ContactChange] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def add_contact_change(self, change: ContactChange) -> None:
        with self._lock:
            self._contact_changes.append(change)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._contact_changes.clear()

    def contact_read(self, subscription_id: str) -> list[ContactChange]:
        """Count one read of this subscription's contacts; the changes due with it."""
        due: list[ContactChange] = []
        with self._lock:
            for change in self._contact_changes:
                if change.subscription_id.lower() == subscription_id.lower():
                    change.reads += 1
                    if change.reads == change.after_reads:
                        due.append(change)
        return due

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
