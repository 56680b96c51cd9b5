"""The alert policy, pure: previous state + this run's report + now -> what to post and what to record.

- new: a subscription starts failing (or cannot be checked), or its set of failing rules changes;
- reminder: nothing changed and `remind_after` has passed since it was last posted;
- resolved: a subscription that was alerted now passes;
- nothing otherwise. Skipped subscriptions and subscriptions absent from the report (an on-demand
  check of part of the tenant) keep their state untouched.

An alert counts as told only when every channel delivered a message naming the subscription. For
each item the decision holds two writes: the one made once it was told, and the one made when it
was not (it did not fit the message cap, or a channel failed): the item is then recorded as
pending, keeps what was told before, and the next run names it again, ahead of newer items.
Every write is conditional on the ETag that was read, so a concurrent run's newer write is never
overwritten.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..models import AlertBatch, AlertItem, AlertKind, Report, Status, SubscriptionResult

ALERTING_STATUSES = frozenset({Status.FAIL, Status.ERROR})
# Errors are alerted on their own track: their reason text varies from run to run (request ids,
# throttling), so "cannot be checked" is one fingerprint whatever the reason.
ERROR_FINGERPRINT = "error"


@dataclass(frozen=True)
class AlertState:
    """What one subscription was last alerted about, and whether an alert is still owed."""

    subscription_id: str
    status: Status  # FAIL or ERROR
    fingerprint: str  # the failing rule ids, sorted and comma-joined; ERROR_FINGERPRINT for errors
    first_seen: datetime
    # None: decided but never told (every attempt so far was left out or not delivered).
    last_notified: datetime | None
    display_name: str = ""
    # The Table Storage ETag this state was read with; None for state not yet stored.
    etag: str | None = None
    # Since when an alert for this subscription has been owed; None when nothing is owed.
    pending_since: datetime | None = None

    @property
    def told(self) -> bool:
        return self.last_notified is not None


@dataclass(frozen=True)
class StateChange:
    """One conditional write: put `state` (create if `expected_etag` is None) or delete it."""

    subscription_id: str
    state: AlertState | None  # None: delete
    expected_etag: str | None


@dataclass(frozen=True)
class ItemChanges:
    """The write for one alerted subscription once it is told, and the one if it is not (None: no write)."""

    subscription_id: str
    told: StateChange
    missed: StateChange | None


@dataclass(frozen=True)
class Decision:
    batch: AlertBatch
    items: tuple[ItemChanges, ...] = ()
    # Writes that no message depends on (a pending row whose subscription passes before it was ever told).
    cleanup: tuple[StateChange, ...] = ()

    def count(self, kind: AlertKind) -> int:
        return sum(1 for item in self.batch.items if item.kind is kind)

    @property
    def changes(self) -> tuple[StateChange, ...]:
        """The writes when every item was told."""
        return self.changes_for(frozenset(item.subscription_id for item in self.items))

    def changes_for(self, told: Collection[str]) -> tuple[StateChange, ...]:
        """The writes when the subscriptions in `told` (lower-case ids) were named on every channel."""
        chosen = [item.told if item.subscription_id in told else item.missed for item in self.items]
        return (*(change for change in chosen if change is not None), *self.cleanup)

    def untold(self, told: Collection[str]) -> int:
        return sum(1 for item in self.items if item.subscription_id not in told)


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
    changes: list[ItemChanges] = []
    cleanup: list[StateChange] = []

    def alert(
        kind: AlertKind,
        result: SubscriptionResult,
        key: str,
        first_seen: datetime,
        told: StateChange,
        missed: StateChange | None,
    ) -> None:
        before = previous.get(key)
        pending_since = before.pending_since if before else None
        items.append(AlertItem(kind, result, first_seen=first_seen, pending_since=pending_since))
        changes.append(ItemChanges(key, told, missed))

    for result in report.results:
        key = result.subscription.subscription_id.lower()
        name = result.subscription.display_name
        before = previous.get(key)
        etag = before.etag if before else None
        if result.status in watched:
            current = fingerprint(result)
            unchanged = before is not None and before.status is result.status and before.fingerprint == current
            if before is None or not before.told or not unchanged:
                first_seen = before.first_seen if before is not None and unchanged else now
                told = AlertState(key, result.status, current, first_seen, now, name)
                if before is None:
                    missed = StateChange(key, AlertState(key, result.status, current, now, None, name, None, now), None)
                else:
                    missed = _pending(before, now)
                alert(AlertKind.NEW, result, key, first_seen, StateChange(key, told, etag), missed)
            elif before.pending_since is not None or (
                before.last_notified is not None and now - before.last_notified >= remind_after
            ):
                told_state = replace(before, last_notified=now, display_name=name, etag=None, pending_since=None)
                alert(
                    AlertKind.REMINDER,
                    result,
                    key,
                    before.first_seen,
                    StateChange(key, told_state, etag),
                    _pending(before, now),
                )
        elif result.status is Status.PASS and before is not None:
            if before.told:
                alert(
                    AlertKind.RESOLVED,
                    result,
                    key,
                    before.first_seen,
                    StateChange(key, None, etag),
                    _pending(before, now),
                )
            else:
                cleanup.append(StateChange(key, None, etag))  # nobody heard of the failure: nothing to resolve
    return Decision(AlertBatch(report, tuple(items)), tuple(changes), tuple(cleanup))


def _pending(before: AlertState, now: datetime) -> StateChange | None:
    """Keep what was told before and mark the alert as owed; no write when it is already marked."""
    if before.pending_since is not None:
        return None
    return StateChange(before.subscription_id, replace(before, etag=None, pending_since=now), before.etag)
