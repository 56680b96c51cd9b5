"""The checks applied to a subscription's contact settings, each with a stable id and a fix."""

from __future__ import annotations

import re

from .config import SEVERITIES, Settings
from .contact_shapes import SEVERITY_ORDER
from .models import ContactSettings, Finding

RULE_CONTACT_EMAIL = "contact-email"
RULE_ALERT_NOTIFICATIONS = "alert-notifications"
RULE_OWNER_NOTIFICATIONS = "owner-notifications"
RULES = (RULE_CONTACT_EMAIL, RULE_ALERT_NOTIFICATIONS, RULE_OWNER_NOTIFICATIONS)

_WHERE = "Defender for Cloud > Environment settings > <subscription> > Email notifications"
FIX_EMAIL = (
    f"In {_WHERE}, enter at least one monitored mailbox under 'Additional email addresses' and save; "
    "or PUT Microsoft.Security/securityContacts/default with properties.emails."
)
FIX_ALERTS = (
    f"In {_WHERE}, tick 'Notify about alerts with the following severity (or higher)' and choose {{severity}} "
    "or lower; or set the Alert entry of notificationsSources (alertNotifications on older API versions)."
)
FIX_OWNER = (
    f"In {_WHERE}, tick 'All users with the following roles' and include Owner; "
    "or set notificationsByRole to state On with roles including Owner."
)

# Pragmatic, not RFC 5322: catches the mistakes people make in this field
# (missing @, spaces, placeholder text) without rejecting real mailboxes.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"  # local part
    r"@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"  # domain with a real TLD
)


def evaluate(contact: ContactSettings, settings: Settings) -> tuple[Finding, ...]:
    findings: list[Finding] = []
    if settings.require_contact_email:
        findings.extend(_check_email(contact, settings))
    if settings.require_alert_notifications:
        findings.extend(_check_alerts(contact, settings))
    if settings.require_owner_notifications:
        findings.extend(_check_owner(contact))
    return tuple(findings)


def is_valid_email(address: str) -> bool:
    return len(address) <= 254 and _EMAIL.match(address) is not None


def email_domain_allowed(address: str, allowed_domains: tuple[str, ...]) -> bool:
    if not allowed_domains:
        return True
    domain = address.rsplit("@", 1)[-1].lower()
    return any(domain == allowed or domain.endswith("." + allowed) for allowed in allowed_domains)


def _check_email(contact: ContactSettings, settings: Settings) -> list[Finding]:
    if not contact.configured:
        return [
            Finding(RULE_CONTACT_EMAIL, "No security contact is configured, so alert emails go nowhere.", FIX_EMAIL)
        ]
    if not contact.emails:
        return [Finding(RULE_CONTACT_EMAIL, "The security contact has no email address.", FIX_EMAIL)]
    findings = []
    invalid = [address for address in contact.emails if not is_valid_email(address)]
    if invalid:
        findings.append(
            Finding(
                RULE_CONTACT_EMAIL,
                f"Not a valid email address: {', '.join(invalid)}; replace it with a real mailbox.",
                FIX_EMAIL,
            )
        )
    outside = [
        address
        for address in contact.emails
        if is_valid_email(address) and not email_domain_allowed(address, settings.allowed_email_domains)
    ]
    if outside:
        findings.append(
            Finding(
                RULE_CONTACT_EMAIL,
                f"Outside the allowed domains ({', '.join(settings.allowed_email_domains)}): {', '.join(outside)}; "
                "use a mailbox in an allowed domain.",
                FIX_EMAIL,
            )
        )
    return findings


def _check_alerts(contact: ContactSettings, settings: Settings) -> list[Finding]:
    fix = FIX_ALERTS.format(severity=settings.min_alert_severity)
    if not contact.configured:
        return [Finding(RULE_ALERT_NOTIFICATIONS, "Alert email notifications are not configured.", fix)]
    if not contact.alert_notifications:
        return [Finding(RULE_ALERT_NOTIFICATIONS, "Alert email notifications are turned off.", fix)]
    severity = contact.alert_minimal_severity
    if severity is None:
        return [Finding(RULE_ALERT_NOTIFICATIONS, "Alert notifications are on but no minimal severity is set.", fix)]
    if severity.lower() not in SEVERITY_ORDER:
        return [
            Finding(
                RULE_ALERT_NOTIFICATIONS,
                f"Alert notifications use an unrecognised minimal severity {severity!r} "
                f"(expected {', '.join(SEVERITIES)}).",
                fix,
            )
        ]
    if SEVERITY_ORDER[severity.lower()] > SEVERITY_ORDER[settings.min_alert_severity.lower()]:
        return [
            Finding(
                RULE_ALERT_NOTIFICATIONS,
                f"Only {severity} severity alerts are emailed; {settings.min_alert_severity} alerts go unnoticed.",
                fix,
            )
        ]
    return []


def _check_owner(contact: ContactSettings) -> list[Finding]:
    if not contact.configured:
        return [Finding(RULE_OWNER_NOTIFICATIONS, "Owner notifications are not configured.", FIX_OWNER)]
    if not contact.role_notifications:
        return [Finding(RULE_OWNER_NOTIFICATIONS, "Notifications to subscription owners are turned off.", FIX_OWNER)]
    if not any(role.lower() == "owner" for role in contact.notified_roles):
        roles = ", ".join(contact.notified_roles) or "none"
        return [
            Finding(
                RULE_OWNER_NOTIFICATIONS,
                f"Role notifications do not include Owner (roles: {roles}).",
                FIX_OWNER,
            )
        ]
    return []
