"""What every chat channel offers, and what a delivery attempt reports back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..models import AlertBatch

if TYPE_CHECKING:
    from .delivery import DeliveryPolicy

Payload = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One rendered message and the subscriptions it names (lower-case ids), so delivery can say who was told."""

    payload: Payload
    names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DeliveryResult:
    """One channel's outcome. `detail` says what the endpoint answered; it never holds the URL."""

    channel: str  # "teams" or "slack"
    host: str
    ok: bool
    messages_sent: int
    detail: str  # e.g. "HTTP 202", "HTTP 404 channel_not_found", "timed out"
    # Subscriptions named in the messages this channel accepted (lower-case ids).
    named: frozenset[str] = field(default=frozenset(), repr=False)
    # Messages rendered for this channel; those after the first failure were not tried.
    messages_total: int = 0

    def describe(self) -> str:
        where = f"{self.channel} ({self.host})"
        if self.ok:
            return f"{where}: delivered {self.messages_sent} message(s), {self.detail}"
        total = f" of {self.messages_total}" if self.messages_total > 1 else ""
        return f"{where}: NOT delivered ({self.messages_sent}{total} message(s) sent before the failure): {self.detail}"


def delivered_to_all(results: Sequence[DeliveryResult]) -> frozenset[str]:
    """The subscriptions every channel named in a message it accepted: only these count as told."""
    if not results:
        return frozenset()
    return frozenset.intersection(*(result.named for result in results))


class Notifier(Protocol):
    channel: str

    def render_messages(self, batch: AlertBatch) -> list[Message]:
        """The messages for one run, each within the channel's limits, in sending order, with who each names."""
        ...

    def render(self, batch: AlertBatch) -> list[Payload]:
        """`render_messages` without the names: what would be posted."""
        ...

    def render_notice(self, title: str, text: str) -> Payload:
        """A one-off message (a test message, or "the monitor could not run")."""
        ...

    def send(self, messages: Sequence[Message], policy: DeliveryPolicy) -> DeliveryResult:
        """Post `messages` in order to this channel's webhook; stops at the first that is not delivered."""
        ...
