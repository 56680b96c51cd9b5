"""attack-path-notifications: attack-path emails are on from the required risk level (needs Defender CSPM)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..contact_shapes import RISK_ORDER
from ..models import ContactSettings
from .base import WHERE, Rule, nothing_is_sent

if TYPE_CHECKING:
    from ..config import Settings


def check(contact: ContactSettings, settings: Settings) -> list[str]:
    off = nothing_is_sent(contact)
    if off:
        return [f"{off}."]
    if not contact.expresses_attack_paths:
        return [
            f"The security contacts API in use ({contact.api_version}) cannot show attack-path notifications, "
            "so they cannot be confirmed."
        ]
    if not contact.attack_path_notifications:
        return ["Attack-path email notifications are turned off."]
    risk = contact.attack_path_minimal_risk
    if risk is None:
        return ["Attack-path notifications are on but no minimal risk level is set."]
    if risk.lower() not in RISK_ORDER:
        return [f"Attack-path notifications use an unrecognised risk level {risk!r} (expected Low to Critical)."]
    if RISK_ORDER[risk.lower()] > RISK_ORDER[settings.min_attack_path_risk.lower()]:
        return [f"Only {risk} risk attack paths are emailed; {settings.min_attack_path_risk} ones go unnoticed."]
    return []


RULE = Rule(
    id="attack-path-notifications",
    title="Attack-path emails are on from the required risk level",
    severity="medium",
    setting="REQUIRE_ATTACK_PATH_NOTIFICATIONS",
    # Attack paths exist only with the Defender CSPM plan.
    enabled_by_default=False,
    fix=(
        f"In {WHERE}, tick 'Notify about attack paths with the following risk level (or higher)' and choose "
        "{min_attack_path_risk} or lower; or add an AttackPath entry with minimalRiskLevel to notificationsSources "
        "(api-version 2023-12-01-preview)."
    ),
    cis=("v4.0 9.1.15", "v5.0 8.1.15"),
    check=check,
)
