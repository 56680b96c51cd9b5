"""contact-email: someone who reads mail is named as the security contact."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..models import ContactSettings, ContactState
from .base import WHERE, Rule

if TYPE_CHECKING:
    from ..config import Settings

# Pragmatic, not RFC 5322: catches the mistakes people make in this field
# (missing @, spaces, placeholder text) without rejecting real mailboxes.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"  # local part
    r"@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"  # domain with a real TLD
)


def is_valid_email(address: str) -> bool:
    return len(address) <= 254 and _EMAIL.match(address) is not None


def email_domain_allowed(address: str, allowed_domains: tuple[str, ...]) -> bool:
    if not allowed_domains:
        return True
    domain = address.rsplit("@", 1)[-1].lower()
    return any(domain == allowed or domain.endswith("." + allowed) for allowed in allowed_domains)


def check(contact: ContactSettings, settings: Settings) -> list[str]:
    if contact.state is ContactState.PROVIDER_NOT_REGISTERED:
        return [
            "Defender for Cloud has never been set up on this subscription (the Microsoft.Security resource "
            "provider is not registered), so there is no security contact and no alert emails at all."
        ]
    if contact.state is ContactState.NOT_CONFIGURED:
        return [
            "No security contact is configured: only Defender for Cloud's default emails to the subscription "
            "owners (high-severity alerts) go out, and no security mailbox is told anything."
        ]
    if not contact.emails:
        return ["The security contact has no email address."]
    messages = []
    invalid = [address for address in contact.emails if not is_valid_email(address)]
    if invalid:
        hint = " (separate several addresses with ';', not ',')" if any("," in a for a in invalid) else ""
        messages.append(f"Not a valid email address: {', '.join(invalid)}{hint}; replace it with a real mailbox.")
    outside = [
        address
        for address in contact.emails
        if is_valid_email(address) and not email_domain_allowed(address, settings.allowed_email_domains)
    ]
    if outside:
        messages.append(
            f"Outside the allowed domains ({', '.join(settings.allowed_email_domains)}): {', '.join(outside)}; "
            "use a mailbox in an allowed domain."
        )
    return messages


RULE = Rule(
    id="contact-email",
    title="A valid security contact email is set",
    severity="high",
    setting="REQUIRE_CONTACT_EMAIL",
    enabled_by_default=True,
    fix=(
        f"In {WHERE}, enter at least one monitored mailbox under 'Additional email addresses' (several separated "
        "by ';') and save; or PUT Microsoft.Security/securityContacts/default with properties.emails. Where "
        "Defender for Cloud was never set up, first register the provider: "
        "az provider register --namespace Microsoft.Security."
    ),
    cis=("v2.0 2.1.19", "v2.1 2.1.18", "v3.0 3.1.13", "v4.0 9.1.13", "v5.0 8.1.13"),
    check=check,
)
