"""The alert policy, pure: previous state + this run's report + now -> what to post and what to record.

- new: a subscription starts failing (or cannot be checked), or its set of failing rules changes;
- reminder: nothing changed and `remind_after` has passed since it was last posted;
- resolved: a subscription with state now passes;
- nothing otherwise. Skipped subscriptions and subscriptions absent from the report (an on-demand
  check of part of the tenant) keep their state untouched.
The changes are written only after every channel confirmed delivery, each conditional on the
ETag that was read, so a concurrent run's newer write is never overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..models import AlertBatch, AlertItem, AlertKind, Report, Status, SubscriptionResult

ALERTING_STATUSES = frozenset({Status.FAIL, Status.ERROR})
# Errors are alerted on their own track: their reason text varies from run to run (request ids,
# throttling), so "cannot be checked" is one fingerprint whatever the reason.
ERROR_FINGERPRINT = "error"


@dataclass(frozen=True)
class AlertState:
    """What one subscription was last alerted about."""

    subscription_id: str
    status: Status  # FAIL or ERROR
    fingerprint: str  # the failing rule ids, sorted and comma-joined; ERROR_FINGERPRINT for errors
    first_seen: datetime
    last_notified: datetime
    display_name: str = ""
    # The Table Storage ETag this state was read with; None for state not yet stored.
    etag: str | None = None


@dataclass(frozen=True)
class StateChange:
    """One conditional write: put `state` (create if `expected_etag` is None) or delete it."""

    subscription_id: str
    state: AlertState | None  # None: delete
    expected_etag: str | None


@dataclass(frozen=True)
class Decision:
    batch: AlertBatch
    changes: tuple[StateChange, ...]

    def count(self, kind: AlertKind) -> int:
        return sum(1 for item in self.batch.items if item.kind is kind)


def fingerprint(result: SubscriptionResult) -> str:
    if result.status is Status.ERROR:
        return ERROR_FINGERPRINT
    return ",".join(sorted({finding.rule for finding in result.findings}))


def decide(
    previous: Mapping[str, AlertState],
    report: Report,
    now: datetime,
    remind_after: timedelta,
    alert_on: Iterable[Status] = ALERTING_STATUSES,
) -> Decision:
    """`previous` is keyed by lower-case subscription id; `alert_on` narrows which statuses are posted."""
    watched = frozenset(alert_on) & ALERTING_STATUSES
    items: list[AlertItem] = []
    changes: list[StateChange] = []
    for result in report.results:
        key = result.subscription.subscription_id.lower()
        before = previous.get(key)
        if result.status in watched:
            current = fingerprint(result)
            if before is None or before.status is not result.status or before.fingerprint != current:
                items.append(AlertItem(AlertKind.NEW, result, now))
                state = AlertState(key, result.status, current, now, now, result.subscription.display_name)
                changes.append(StateChange(key, state, before.etag if before else None))
            elif now - before.last_notified >= remind_after:
                items.append(AlertItem(AlertKind.REMINDER, result, before.first_seen))
                state = replace(before, last_notified=now, display_name=result.subscription.display_name, etag=None)
                changes.append(StateChange(key, state, before.etag))
        elif result.status is Status.PASS and before is not None:
            items.append(AlertItem(AlertKind.RESOLVED, result, before.first_seen))
            changes.append(StateChange(key, None, before.etag))
    return Decision(AlertBatch(report, tuple(items)), tuple(changes))
