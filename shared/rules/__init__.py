"""The rule registry: every rule the monitor applies, in report order, and applying them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import ContactSettings, Finding
from . import alert_notifications, attack_path_notifications, contact_email, owner_notifications
from .base import Rule

if TYPE_CHECKING:
    from ..config import Settings

RULES: tuple[Rule, ...] = (
    contact_email.RULE,
    alert_notifications.RULE,
    owner_notifications.RULE,
    attack_path_notifications.RULE,
)
RULES_BY_ID = {rule.id: rule for rule in RULES}


def evaluate(contact: ContactSettings, settings: Settings) -> tuple[Finding, ...]:
    return tuple(
        Finding(rule.id, message, rule.fix_for(settings), rule.severity, rule.cis)
        for rule in RULES
        if rule.id in settings.enabled_rules
        for message in rule.check(contact, settings)
    )


def rules_table() -> str:
    """The rules table of docs/rules.md, generated from the registry (a test keeps the page in step)."""
    lines = ["| Rule id | Checks | Severity | Switch (default) | CIS controls |", "|---|---|---|---|---|"]
    for rule in RULES:
        default = "on" if rule.enabled_by_default else "off"
        lines.append(
            f"| `{rule.id}` | {rule.title} | {rule.severity} | `{rule.setting}` ({default}) | {', '.join(rule.cis)} |"
        )
    return "\n".join(lines)


__all__ = ["RULES", "RULES_BY_ID", "Rule", "evaluate", "rules_table"]
