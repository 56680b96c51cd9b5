"""Data that flows through a check: subscriptions in, findings and a report out."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class ContactSettings:
    """One subscription's security contact configuration, whatever API shape it came in."""

    configured: bool
    emails: tuple[str, ...] = ()
    phone: str | None = None
    alert_notifications: bool = False
    # "Low", "Medium" or "High" as the service reports it; None when not set.
    alert_minimal_severity: str | None = None
    role_notifications: bool = False
    notified_roles: tuple[str, ...] = ()
    api_version: str = ""

    @classmethod
    def not_configured(cls, api_version: str) -> ContactSettings:
        return cls(configured=False, api_version=api_version)


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
            "state": sub.state,
            "status": self.status.value,
            "findings": [finding.to_dict() for finding in self.findings],
            "reason": self.reason,
            "contactsApiVersion": self.api_version,
        }


@dataclass(frozen=True)
class Report:
    scope: tuple[str, ...]
    results: tuple[SubscriptionResult, ...]
    generated_at: str
    contacts_api_versions: tuple[str, ...] = field(default=())

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)

    @property
    def summary(self) -> dict[str, int]:
        counts = {status.value: self.count(status) for status in Status}
        counts["total"] = len(self.results)
        return counts

    def to_dict(self) -> dict[str, object]:
        return {
            "generatedAt": self.generated_at,
            "scope": {"managementGroups": list(self.scope)},
            "contactsApiVersions": list(self.contacts_api_versions),
            "summary": self.summary,
            "subscriptions": [result.to_dict() for result in self.results],
        }


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


@dataclass(frozen=True)
class AlertBatch:
    """What one run tells people: the report's headline plus the subscriptions worth a message."""

    report: Report
    items: tuple[AlertItem, ...]

    @property
    def is_empty(self) -> bool:
        return not self.items
