"""Normalising security contacts from every API shape into one ContactSettings.

Shapes seen in the wild:
- 2017-08-01-preview: one resource per address with `email`, `phone`,
  `alertNotifications` "On"/"Off" (high-severity alerts) and `alertsToAdmins`.
- 2020-01-01-preview: `emails` (";"-separated), `alertNotifications`
  {state, minimalSeverity}, `notificationsByRole` {state, roles}.
- 2023-12-01-preview: `emails`, `isEnabled`, `notificationsByRole`, and
  `notificationsSources` [{sourceType: Alert, minimalSeverity},
  {sourceType: AttackPath, minimalRiskLevel}].
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .models import ContactSettings

SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2}


class ContactShapeError(ValueError):
    """The service answered with a security contact this monitor cannot interpret."""


@dataclass
class _Accumulator:
    emails: list[str] = field(default_factory=list)
    phone: str | None = None
    alerts_on: bool = False
    severities: list[str] = field(default_factory=list)
    roles_on: bool = False
    roles: list[str] = field(default_factory=list)


def parse_contacts(items: Iterable[Any], api_version: str) -> ContactSettings:
    """Merge every contact resource of a subscription; no resources means not configured."""
    total = _Accumulator()
    count = 0
    for item in items:
        count += 1
        if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
            raise ContactShapeError("security contact without a properties object")
        _merge(total, item["properties"])
    if count == 0:
        return ContactSettings.not_configured(api_version)
    return ContactSettings(
        configured=True,
        emails=tuple(dict.fromkeys(total.emails)),
        phone=total.phone,
        alert_notifications=total.alerts_on,
        alert_minimal_severity=_most_inclusive(total.severities),
        role_notifications=total.roles_on,
        notified_roles=tuple(dict.fromkeys(total.roles)),
        api_version=api_version,
    )


def split_emails(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        raise ContactShapeError(f"emails is {type(value).__name__}, expected a string")
    return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]


def _merge(total: _Accumulator, properties: dict[str, Any]) -> None:
    total.phone = total.phone or _optional_text(properties.get("phone"), "phone")
    if "email" in properties and "emails" not in properties:
        _merge_2017(total, properties)
        return
    total.emails.extend(split_emails(properties.get("emails")))
    # 2023 has a master switch; when it is off nothing is sent at all.
    enabled = properties.get("isEnabled", True)
    if not isinstance(enabled, bool):
        raise ContactShapeError(f"isEnabled is {enabled!r}, expected true or false")

    alerts = properties.get("alertNotifications")
    sources = properties.get("notificationsSources")
    if sources is not None:
        if not isinstance(sources, list):
            raise ContactShapeError("notificationsSources is not a list")
        for source in sources:
            if not isinstance(source, dict):
                raise ContactShapeError("notificationsSources has an entry that is not an object")
            if str(source.get("sourceType", "")).lower() == "alert" and enabled:
                total.alerts_on = True
                total.severities.append(_optional_text(source.get("minimalSeverity"), "minimalSeverity") or "")
    elif alerts is not None:
        if not isinstance(alerts, dict):
            raise ContactShapeError("alertNotifications is not an object")
        if _is_on(alerts.get("state"), "alertNotifications.state") and enabled:
            total.alerts_on = True
            total.severities.append(_optional_text(alerts.get("minimalSeverity"), "minimalSeverity") or "")

    by_role = properties.get("notificationsByRole")
    if by_role is not None:
        if not isinstance(by_role, dict):
            raise ContactShapeError("notificationsByRole is not an object")
        if _is_on(by_role.get("state"), "notificationsByRole.state") and enabled:
            roles = by_role.get("roles") or []
            if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
                raise ContactShapeError("notificationsByRole.roles is not a list of role names")
            total.roles_on = True
            total.roles.extend(roles)


def _merge_2017(total: _Accumulator, properties: dict[str, Any]) -> None:
    total.emails.extend(split_emails(properties.get("email")))
    if _is_on(properties.get("alertNotifications"), "alertNotifications"):
        total.alerts_on = True
        # The 2017 API only ever mailed high-severity alerts.
        total.severities.append("High")
    if _is_on(properties.get("alertsToAdmins"), "alertsToAdmins"):
        total.roles_on = True
        total.roles.extend(["Owner", "ServiceAdmin", "AccountAdmin"])


def _is_on(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("on", "off"):
        return value.lower() == "on"
    raise ContactShapeError(f"{name} is {value!r}, expected On or Off")


def _optional_text(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise ContactShapeError(f"{name} is {type(value).__name__}, expected a string")


def _most_inclusive(severities: list[str]) -> str | None:
    """The lowest threshold among enabled contacts, since that decides what reaches someone.

    Unknown values are kept (rather than dropped) so a rule can report them.
    """
    if not severities:
        return None
    known = [s for s in severities if s.lower() in SEVERITY_ORDER]
    if known:
        return min(known, key=lambda s: SEVERITY_ORDER[s.lower()]).capitalize()
    return severities[0] or None
