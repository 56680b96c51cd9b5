"""Normalising security contacts from every API shape into one ContactSettings.

Shapes seen in the wild:
- 2017-08-01-preview: one resource per address with `email`, `phone`,
  `alertNotifications` "On"/"Off" (high-severity alerts) and `alertsToAdmins`.
- 2020-01-01-preview: `emails`, `alertNotifications` {state, minimalSeverity},
  `notificationsByRole` {state, roles}.
- 2023-12-01-preview: `emails`, `isEnabled`, `notificationsByRole`, and
  `notificationsSources` [{sourceType: Alert, minimalSeverity},
  {sourceType: AttackPath, minimalRiskLevel}].

`emails` is a ";"-separated string in the specs but a list in some responses.
Parsing is conservative: a value that is missing reads as "off", and a value of
an unexpected type is an error, so nothing unknown can ever read as a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import api_versions
from .errors import MonitorError
from .models import ContactSettings, ContactState

SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2}
RISK_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}
# Only this api-version has the `isEnabled` master switch and attack-path sources.
_WITH_MASTER_SWITCH = {api_versions.CONTACTS_2023}


class ContactShapeError(MonitorError, ValueError):
    """The service answered with a security contact this monitor cannot interpret."""


@dataclass
class _Accumulator:
    emails: list[str] = field(default_factory=list)
    phone: str | None = None
    alerts_on: bool = False
    severities: list[str] = field(default_factory=list)
    roles_on: bool = False
    roles: list[str] = field(default_factory=list)
    attack_paths_on: bool = False
    risk_levels: list[str] = field(default_factory=list)
    switched_off: list[str] = field(default_factory=list)
    switched_on: int = 0


def parse_contacts(items: Iterable[Any], api_version: str) -> ContactSettings:
    """Merge every contact resource of a subscription; no resources means not configured."""
    total = _Accumulator()
    count = 0
    for item in items:
        count += 1
        if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
            raise ContactShapeError("security contact without a properties object")
        _merge(total, item["properties"], api_version)
    if count == 0:
        return ContactSettings.not_configured(api_version)
    # Off only when no resource is on: with several 2017 resources, any one of them mails.
    switched_off = total.switched_off[0] if total.switched_off and not total.switched_on else None
    return ContactSettings(
        state=ContactState.CONFIGURED,
        emails=tuple(dict.fromkeys(total.emails)),
        phone=total.phone,
        alert_notifications=total.alerts_on,
        alert_minimal_severity=_most_inclusive(total.severities, SEVERITY_ORDER),
        role_notifications=total.roles_on,
        notified_roles=tuple(dict.fromkeys(total.roles)),
        attack_path_notifications=total.attack_paths_on,
        attack_path_minimal_risk=_most_inclusive(total.risk_levels, RISK_ORDER),
        switched_off=switched_off,
        expresses_attack_paths=api_version in _WITH_MASTER_SWITCH,
        api_version=api_version,
    )


def split_emails(value: Any, name: str = "emails") -> list[str]:
    """Addresses from a ';'-separated string or a list of strings.

    Commas are not separators to the service, so "a@x.com,b@x.com" stays one (invalid)
    address and the email rule says so, rather than silently reading as two.
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts = value.split(";")
    elif isinstance(value, list):
        if not all(isinstance(part, str) for part in value):
            raise ContactShapeError(f"{name} is a list with entries that are not strings")
        parts = [piece for part in value for piece in part.split(";")]
    else:
        raise ContactShapeError(f"{name} is {type(value).__name__}, expected a string or a list of strings")
    return [part.strip() for part in parts if part.strip()]


def _merge(total: _Accumulator, properties: dict[str, Any], api_version: str) -> None:
    total.phone = total.phone or _optional_text(properties.get("phone"), "phone")
    if "email" in properties and "emails" not in properties:
        _merge_2017(total, properties)
        return
    total.emails.extend(split_emails(properties.get("emails")))
    # Everything is read (and so type-checked) before the master switch is applied.
    this = _Accumulator()
    sources = properties.get("notificationsSources")
    alerts = properties.get("alertNotifications")
    if sources is not None:
        _merge_sources(this, sources)
    elif alerts is not None:
        if not isinstance(alerts, dict):
            raise ContactShapeError("alertNotifications is not an object")
        if _is_on(alerts.get("state"), "alertNotifications.state"):
            this.alerts_on = True
            this.severities.append(_optional_text(alerts.get("minimalSeverity"), "minimalSeverity") or "")

    by_role = properties.get("notificationsByRole")
    if by_role is not None:
        if not isinstance(by_role, dict):
            raise ContactShapeError("notificationsByRole is not an object")
        roles = by_role.get("roles")
        if roles is None:
            roles = []
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise ContactShapeError("notificationsByRole.roles is not a list of role names")
        if _is_on(by_role.get("state"), "notificationsByRole.state"):
            this.roles_on = True
            this.roles.extend(roles)

    off_reason = _master_switch_off(properties, api_version)
    if off_reason:
        # When the master switch is off nothing is sent at all, whatever the rest says.
        total.switched_off.append(off_reason)
        return
    total.switched_on += 1
    total.alerts_on = total.alerts_on or this.alerts_on
    total.severities.extend(this.severities)
    total.roles_on = total.roles_on or this.roles_on
    total.roles.extend(this.roles)
    total.attack_paths_on = total.attack_paths_on or this.attack_paths_on
    total.risk_levels.extend(this.risk_levels)


def _master_switch_off(properties: dict[str, Any], api_version: str) -> str | None:
    """Why the 2023 API's `isEnabled` keeps every email from going out; None when it does not."""
    if "isEnabled" not in properties or properties["isEnabled"] is None:
        return "isEnabled is not set" if api_version in _WITH_MASTER_SWITCH else None
    enabled = properties["isEnabled"]
    if not isinstance(enabled, bool):
        raise ContactShapeError(f"isEnabled is {enabled!r}, expected true or false")
    return None if enabled else "isEnabled is false"


def _merge_sources(total: _Accumulator, sources: Any) -> None:
    if not isinstance(sources, list):
        raise ContactShapeError("notificationsSources is not a list")
    for source in sources:
        if not isinstance(source, dict):
            raise ContactShapeError("notificationsSources has an entry that is not an object")
        source_type = source.get("sourceType")
        if not isinstance(source_type, str):
            raise ContactShapeError(f"notificationsSources has a sourceType of {source_type!r}")
        # Other source types may be added by the service; they turn nothing on here.
        if source_type.lower() == "alert":
            total.alerts_on = True
            total.severities.append(_optional_text(source.get("minimalSeverity"), "minimalSeverity") or "")
        elif source_type.lower() == "attackpath":
            total.attack_paths_on = True
            total.risk_levels.append(_optional_text(source.get("minimalRiskLevel"), "minimalRiskLevel") or "")


def _merge_2017(total: _Accumulator, properties: dict[str, Any]) -> None:
    total.switched_on += 1
    total.emails.extend(split_emails(properties.get("email"), "email"))
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


def _most_inclusive(levels: list[str], order: dict[str, int]) -> str | None:
    """The lowest threshold among enabled entries, since that decides what reaches someone.

    A known value wins over an unknown one, because the known threshold really does
    send mail; with no known value the unknown one is kept so a rule can report it.
    """
    if not levels:
        return None
    known = [level for level in levels if level.lower() in order]
    if known:
        return min(known, key=lambda level: order[level.lower()]).capitalize()
    return levels[0] or None
