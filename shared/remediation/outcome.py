"""What `fix` did (or would do) per subscription, and the run's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..models import Finding, Report, Status, SubscriptionResult
from .plan import ContactPlan
from .request import ContactPut


class Outcome(StrEnum):
    # Dry run: this change would be written.
    PLANNED = "planned"
    # Written, and the re-read passes every enabled rule.
    FIXED = "fixed"
    # Written, but the re-read still fails a rule (see the plan's unresolved parts).
    STILL_FAILING = "still-failing"
    # Nothing this command can write would help (see the plan's unresolved parts).
    CANNOT_FIX = "cannot-fix"
    # The fresh read before planning passes: someone fixed it since the check.
    ALREADY_PASSES = "already-passes"
    # Reading, writing or re-reading was refused or timed out; the reason says which.
    FAILED = "failed"
    # The re-read just before the write planned something other than what was confirmed: not written.
    CHANGED = "changed-since-planned"
    # The check could not read it, so it is never written.
    NOT_CHECKED = "not-checked"


_DONE = {Outcome.FIXED, Outcome.ALREADY_PASSES}


@dataclass(frozen=True)
class SubscriptionFix:
    result: SubscriptionResult
    outcome: Outcome
    plan: ContactPlan | None = None
    reason: str | None = None
    # The rules the re-read after writing still fails.
    findings_after: tuple[Finding, ...] = ()

    @property
    def request(self) -> ContactPut | None:
        if self.plan is None or self.plan.body is None:
            return None
        return ContactPut(self.result.subscription.subscription_id, self.plan.api_version, self.plan.body)

    @property
    def ok(self) -> bool:
        """Fixed, or (in a dry run) fully fixable by applying the plan."""
        if self.outcome is Outcome.PLANNED:
            return self.plan is not None and self.plan.complete
        return self.outcome in _DONE

    def to_dict(self, arm_endpoint: str) -> dict[str, Any]:
        sub = self.result.subscription
        request = self.request
        plan = self.plan
        return {
            "subscriptionId": sub.subscription_id,
            "displayName": sub.display_name,
            "managementGroupPath": list(sub.management_group_path),
            "outcome": self.outcome.value,
            "reason": self.reason,
            "failingRules": sorted({finding.rule for finding in self.result.findings}),
            "contactsApiVersion": plan.api_version if plan else self.result.api_version,
            "creates": plan.creates if plan else False,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in plan.changes] if plan else [],
            "unresolved": list(plan.unresolved) if plan else [],
            "request": request.to_dict(arm_endpoint) if request else None,
            "findingsAfter": [finding.to_dict() for finding in self.findings_after],
        }


@dataclass(frozen=True)
class FixReport:
    check: Report
    # One entry per subscription that failed or could not be checked, in the check's order.
    fixes: tuple[SubscriptionFix, ...]
    applied: bool
    arm_endpoint: str

    @property
    def writes(self) -> tuple[SubscriptionFix, ...]:
        return tuple(fix for fix in self.fixes if fix.request is not None)

    @property
    def nothing_to_write(self) -> bool:
        """Some subscription needs attention, but none has a change this command can write (each says why)."""
        return bool(self.fixes) and not self.writes

    def count(self, outcome: Outcome) -> int:
        return sum(1 for fix in self.fixes if fix.outcome is outcome)

    @property
    def summary(self) -> dict[str, int]:
        counts = {outcome.value: self.count(outcome) for outcome in Outcome}
        counts["pass"] = self.check.count(Status.PASS)
        counts["skipped"] = self.check.count(Status.SKIPPED)
        return counts

    def exit_code(self) -> int:
        """0 everything fixed (or fixable, in a dry run) or nothing to fix; 1 some subscription could not be."""
        return 0 if all(fix.ok for fix in self.fixes) else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "apply" if self.applied else "dry-run",
            "generatedAt": self.check.generated_at,
            "scope": {"managementGroups": list(self.check.scope)},
            "summary": self.summary,
            "subscriptions": [fix.to_dict(self.arm_endpoint) for fix in self.fixes],
        }
