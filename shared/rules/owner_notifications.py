"""owner-notifications: subscription owners are emailed too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import ContactSettings
from .base import WHERE, Rule, nothing_is_sent

if TYPE_CHECKING:
    from ..config import Settings


def check(contact: ContactSettings, settings: Settings) -> list[str]:
    off = nothing_is_sent(contact)
    if off:
        return [f"{off}."]
    if not contact.role_notifications:
        return ["Notifications to subscription owners are turned off."]
    if not any(role.lower() == "owner" for role in contact.notified_roles):
        roles = ", ".join(contact.notified_roles) or "none"
        return [f"Role notifications do not include Owner (roles: {roles})."]
    return []


RULE = Rule(
    id="owner-notifications",
    title="Subscription owners are notified",
    severity="medium",
    setting="REQUIRE_OWNER_NOTIFICATIONS",
    enabled_by_default=True,
    fix=(
        f"In {WHERE}, tick 'All users with the following roles' and include Owner; "
        "or set notificationsByRole to state On with roles including Owner."
    ),
    cis=("v2.0 2.1.18", "v2.1 2.1.17", "v3.0 3.1.12", "v4.0 9.1.12", "v5.0 8.1.12"),
    check=check,
)
