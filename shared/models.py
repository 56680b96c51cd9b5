"""Data that flows through a check: subscriptions in, findings and a report out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    display_name: str
    # Display names from the scope group down to the subscription's parent group.
    management_group_path: tuple[str, ...]
    # "Enabled", "Warned", "PastDue", "Disabled", "Deleted", or "Unknown" when the
    # subscription list did not include it (the identity may lack access).
    state: str = "Unknown"
    # The tenant the subscription belongs to (lowercase); another tenant's for an Azure Lighthouse delegation.
    tenant_id: str = ""
    # Delegated to this tenant from another one (Azure Lighthouse).
    delegated: bool = False


class ContactState(StrEnum):
    """What the contact read found, before any rule judges it."""

    CONFIGURED = "configured"
    # No contact resource: Defender for Cloud's defaults apply (owners get high-severity emails).
    NOT_CONFIGURED = "not-configured"
    # Microsoft.Security is not registered on the subscription: Defender for Cloud was never set up,
    # so nothing at all is emailed.
    PROVIDER_NOT_REGISTERED = "provider-not-registered"


@dataclass(frozen=True)
class ContactSettings:
    """One subscription's effective security contact configuration, whatever API shape it came in."""

    state: ContactState
    emails: tuple[str, ...] = ()
    phone: str | None = None
    alert_notifications: bool = False
    # "Low", "Medium" or "High" as the service reports it; None when not set.
    alert_minimal_severity: str | None = None
    role_notifications: bool = False
    notified_roles: tuple[str, ...] = ()
    attack_path_notifications: bool = False
    # "Low", "Medium", "High" or "Critical"; None when not set.
    attack_path_minimal_risk: str | None = None
    # Why every email notification is off although the resource exists (the 2023 API's
    # `isEnabled` false or missing); None when the master switch is on or the API has none.
    switched_off: str | None = None
    # Whether this api-version can express attack-path notifications at all.
    expresses_attack_paths: bool = False
    api_version: str = ""

    @property
    def configured(self) -> bool:
        return self.state is ContactState.CONFIGURED

    @classmethod
    def not_configured(cls, api_version: str) -> ContactSettings:
        """Defender for Cloud's documented default without a contact: owners get high-severity alert emails.

        Attack-path emails to owners default to the highest risk level only, the conservative reading.
        """
        return cls(
            state=ContactState.NOT_CONFIGURED,
            alert_notifications=True,
            alert_minimal_severity="High",
            role_notifications=True,
            notified_roles=("Owner",),
            attack_path_notifications=True,
            attack_path_minimal_risk="Critical",
            expresses_attack_paths=True,
            api_version=api_version,
        )

    @classmethod
    def provider_not_registered(cls, api_version: str) -> ContactSettings:
        return cls(
            state=ContactState.PROVIDER_NOT_REGISTERED,
            switched_off="Defender for Cloud is not set up on this subscription",
            expresses_attack_paths=True,
            api_version=api_version,
        )


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    fix: str
    # The rule's severity ("high", "medium", "low") and the CIS Microsoft Azure
    # Foundations controls it maps to, copied from the rule so a report stands alone.
    severity: str = "medium"
    cis: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "message": self.message,
            "fix": self.fix,
            "severity": self.severity,
            "cis": list(self.cis),
        }


@dataclass(frozen=True)
class SubscriptionResult:
    subscription: Subscription
    status: Status
    findings: tuple[Finding, ...] = ()
    # Why a subscription was skipped or could not be checked; None for pass and fail.
    reason: str | None = None
    # The securityContacts api-version whose answer decided pass/fail; None when nothing was read.
    api_version: str | None = None

    def to_dict(self) -> dict[str, object]:
        sub = self.subscription
        return {
            "subscriptionId": sub.subscription_id,
            "displayName": sub.display_name,
            "managementGroupPath": list(sub.management_group_path),
            "tenantId": sub.tenant_id or None,
            "delegated": sub.delegated,
            "state": sub.state,
            "status": self.status.value,
            "findings": [finding.to_dict() for finding in self.findings],
            "reason": self.reason,
            "contactsApiVersion": self.api_version,
        }


@dataclass(frozen=True)
class RunStats:
    duration_seconds: float
    # HTTP requests sent to ARM, retries included.
    arm_requests: int


@dataclass(frozen=True)
class Report:
    scope: tuple[str, ...]
    results: tuple[SubscriptionResult, ...]
    generated_at: str
    contacts_api_versions: tuple[str, ...] = field(default=())
    stats: RunStats | None = None
    # Display names of the scope groups, in `scope` order ("Tenant Root Group"); empty when unknown.
    scope_names: tuple[str, ...] = ()

    def scope_name(self, index: int) -> str:
        """The scope group's display name, or its id where the walk did not say."""
        names = self.scope_names
        return (names[index] if index < len(names) else "") or self.scope[index]

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)

    @property
    def summary(self) -> dict[str, int]:
        counts = {status.value: self.count(status) for status in Status}
        counts["total"] = len(self.results)
        return counts

    @property
    def checked(self) -> int:
        """Subscriptions whose contacts were actually read and judged."""
        return self.count(Status.PASS) + self.count(Status.FAIL)

    def failures_by_rule(self) -> dict[str, int]:
        """How many subscriptions fail each rule (a subscription counts once per rule)."""
        counts: dict[str, int] = {}
        for result in self.results:
            for rule in dict.fromkeys(finding.rule for finding in result.findings):
                counts[rule] = counts.get(rule, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, object]:
        document: dict[str, object] = {
            "generatedAt": self.generated_at,
            "scope": {"managementGroups": list(self.scope)},
            "contactsApiVersions": list(self.contacts_api_versions),
            "summary": {**self.summary, "byRule": self.failures_by_rule()},
            "subscriptions": [result.to_dict() for result in self.results],
        }
        if self.stats is not None:
            document["run"] = {
                "durationSeconds": round(self.stats.duration_seconds, 3),
                "armRequests": self.stats.arm_requests,
            }
        return document


class AlertKind(StrEnum):
    """Why a subscription is in an alert: it started failing, still fails, or was fixed."""

    NEW = "new"
    REMINDER = "reminder"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertItem:
    kind: AlertKind
    # The current result (for RESOLVED, the passing result that ended the alert).
    result: SubscriptionResult
    # When the stored alert state first saw this subscription failing; None without state (the CLI).
    first_seen: datetime | None = None


@dataclass(frozen=True)
class AlertBatch:
    """What one run tells people: the report's headline plus the subscriptions worth a message."""

    report: Report
    items: tuple[AlertItem, ...]

    @property
    def is_empty(self) -> bool:
        return not self.items
