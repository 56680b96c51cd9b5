"""alert-notifications: alert emails are on, from at least the configured severity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..contact_shapes import SEVERITY_ORDER
from ..models import ContactSettings
from .base import WHERE, Rule, nothing_is_sent

if TYPE_CHECKING:
    from ..config import Settings


def check(contact: ContactSettings, settings: Settings) -> list[str]:
    off = nothing_is_sent(contact)
    if off:
        return [f"{off}."]
    if not contact.alert_notifications:
        return ["Alert email notifications are turned off."]
    severity = contact.alert_minimal_severity
    if severity is None:
        return ["Alert notifications are on but no minimal severity is set."]
    if severity.lower() not in SEVERITY_ORDER:
        return [f"Alert notifications use an unrecognised minimal severity {severity!r} (expected Low to High)."]
    if SEVERITY_ORDER[severity.lower()] > SEVERITY_ORDER[settings.min_alert_severity.lower()]:
        return [f"Only {severity} severity alerts are emailed; {settings.min_alert_severity} alerts go unnoticed."]
    return []


RULE = Rule(
    id="alert-notifications",
    title="Alert emails are on from the required severity",
    severity="high",
    setting="REQUIRE_ALERT_NOTIFICATIONS",
    enabled_by_default=True,
    fix=(
        f"In {WHERE}, tick 'Notify about alerts with the following severity (or higher)' and choose "
        "{min_alert_severity} or lower; or set the Alert entry of notificationsSources "
        "(alertNotifications on older API versions) and isEnabled true."
    ),
    cis=("v2.0 2.1.20", "v2.1 2.1.19", "v3.0 3.1.14", "v4.0 9.1.14", "v5.0 8.1.14"),
    check=check,
)
