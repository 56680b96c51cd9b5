"""What a rule is: one small declared unit with an id, metadata and one check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..models import ContactSettings, ContactState

if TYPE_CHECKING:
    from ..config import Settings

WHERE = "Defender for Cloud > Environment settings > <subscription> > Email notifications"
# How bad a rule's failure is, most severe first.
RULE_SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    # How bad a failure is: "high", "medium" or "low".
    severity: str
    # The app setting that switches the rule on or off, and its default.
    setting: str
    enabled_by_default: bool
    # How to fix it; may name settings as {min_alert_severity} or {min_attack_path_risk}.
    fix: str
    # CIS Microsoft Azure Foundations Benchmark controls, as "v<version> <control>".
    cis: tuple[str, ...]
    # Messages for what is wrong; an empty list is a pass.
    check: Callable[[ContactSettings, Settings], list[str]]

    def fix_for(self, settings: Settings) -> str:
        return self.fix.format(
            min_alert_severity=settings.min_alert_severity, min_attack_path_risk=settings.min_attack_path_risk
        )


def nothing_is_sent(contact: ContactSettings) -> str | None:
    """Why no email at all leaves for this subscription, or None when some can."""
    if contact.state is ContactState.PROVIDER_NOT_REGISTERED:
        return (
            "Defender for Cloud has never been set up on this subscription (the Microsoft.Security resource "
            "provider is not registered), so no security alert emails are sent at all"
        )
    if contact.switched_off:
        return f"All security email notifications are off ({contact.switched_off})"
    return None
