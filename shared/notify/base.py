"""What every chat channel offers, and what a delivery attempt reports back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..models import AlertBatch

if TYPE_CHECKING:
    import requests

    from .delivery import DeliveryPolicy

Payload = dict[str, Any]


@dataclass(frozen=True)
class DeliveryResult:
    """One channel's outcome. `detail` says what the endpoint answered; it never holds the URL."""

    channel: str  # "teams" or "slack"
    host: str
    ok: bool
    messages_sent: int
    detail: str  # e.g. "HTTP 202", "HTTP 404 channel_not_found", "timed out"

    def describe(self) -> str:
        where = f"{self.channel} ({self.host})"
        if self.ok:
            return f"{where}: delivered {self.messages_sent} message(s), {self.detail}"
        return f"{where}: NOT delivered ({self.messages_sent} message(s) sent before the failure): {self.detail}"


class Notifier(Protocol):
    channel: str

    def render(self, batch: AlertBatch) -> list[Payload]:
        """The messages for one run, each within the channel's limits, in sending order."""
        ...

    def render_notice(self, title: str, text: str) -> Payload:
        """A one-off message (a test message, or "the monitor could not run")."""
        ...

    def send(self, payloads: list[Payload], session: requests.Session, policy: DeliveryPolicy) -> DeliveryResult:
        """Post `payloads` in order to this channel's webhook; stops at the first that is not delivered."""
        ...
