"""Deep links into the Azure portal, shared by every renderer that shows a subscription to a person."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .clouds import CLOUDS, find_cloud

# Defender for Cloud > Environment settings > (subscription) > Email notifications: where the contact is set.
_EMAIL_NOTIFICATIONS_BLADE = "#view/Microsoft_Azure_Security/PolicyMenuBlade/~/emailNotifications/subscriptionId"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def portal_link(portal_url: str, subscription_id: str) -> str | None:
    """The subscription's email-notifications page, or None when the id is not a GUID (no link beats a wrong one)."""
    if not _GUID.fullmatch(subscription_id):
        return None
    return f"{portal_url}/{_EMAIL_NOTIFICATIONS_BLADE}/{subscription_id}"


def portal_url_for(environ: Mapping[str, str]) -> str:
    """The portal of the cloud AZURE_CLOUD names; the public portal when it is unset or unknown.

    An unknown cloud fails the run itself (config), so the fallback never ends up on a page.
    """
    cloud = find_cloud(environ.get("AZURE_CLOUD", "").strip() or "AzureCloud")
    return (cloud or CLOUDS["azurecloud"]).portal_url
