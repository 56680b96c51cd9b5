"""The alert policy as a pure function: previous state + report + now -> what to post and what to record."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shared.alerts.policy import AlertState, decide, fingerprint
from shared.models import AlertBatch, AlertItem, AlertKind, Finding, Report, Status, Subscription, SubscriptionResult
from shared.notify.digest import build_digest

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
WEEK = timedelta(hours=168)


def result(number: int, status: Status, *rules: str) -> SubscriptionResult:
    subscription = Subscription(f"00000000-0000-4000-8000-{number:012d}", f"sub-{number}", ("Root",), "Enabled")
    findings = tuple(Finding(rule, "message", "fix") for rule in rules)
    reason = "could not read security contacts: 403" if status is Status.ERROR else None
    return SubscriptionResult(subscription, status, findings, reason)


def report(*results: SubscriptionResult) -> Report:
    return Report(("root",), results, NOW.isoformat())


def stored(item: SubscriptionResult, last_notified: datetime, etag: str = "etag-1") -> dict[str, AlertState]:
    key = item.subscription.subscription_id
    state = AlertState(key, item.status, fingerprint(item), last_notified, last_notified, "sub", etag)
    return {key: state}


def kinds(decision) -> list[tuple[str, str]]:
    return [(item.kind.value, item.result.subscription.display_name) for item in decision.batch.items]


def test_a_subscription_that_starts_failing_is_new_and_its_state_is_created():
    failing = result(1, Status.FAIL, "contact-email")

    decision = decide({}, report(failing, result(2, Status.PASS)), NOW, WEEK)

    assert kinds(decision) == [("new", "sub-1")]
    (change,) = decision.changes
    assert change.expected_etag is None  # create-if-absent
    assert change.state.fingerprint == "contact-email"
    assert change.state.first_seen == change.state.last_notified == NOW


def test_an_unchanged_failure_is_quiet_until_the_reminder_period_has_passed():
    failing = result(1, Status.FAIL, "contact-email", "owner-notifications")

    quiet = decide(stored(failing, NOW - WEEK + timedelta(minutes=1)), report(failing), NOW, WEEK)
    reminded = decide(stored(failing, NOW - WEEK), report(failing), NOW, WEEK)

    assert kinds(quiet) == [] and quiet.changes == ()
    assert kinds(reminded) == [("reminder", "sub-1")]
    (change,) = reminded.changes
    assert change.expected_etag == "etag-1"  # update-if-match
    assert change.state.last_notified == NOW
    assert change.state.first_seen == NOW - WEEK


def test_each_alerted_item_carries_when_its_failure_was_first_seen():
    failing = result(1, Status.FAIL, "contact-email")
    fixed = result(2, Status.PASS)
    previous = {**stored(failing, NOW - WEEK), **stored(result(2, Status.FAIL, "contact-email"), NOW - 2 * WEEK)}

    reminded = decide(previous, report(failing, fixed, result(3, Status.FAIL, "contact-email")), NOW, WEEK)

    assert [(item.result.subscription.display_name, item.first_seen) for item in reminded.batch.items] == [
        ("sub-1", NOW - WEEK),
        ("sub-2", NOW - 2 * WEEK),
        ("sub-3", NOW),
    ]


def test_a_changed_set_of_failing_rules_is_new_again():
    before = result(1, Status.FAIL, "contact-email")
    after = result(1, Status.FAIL, "contact-email", "owner-notifications")

    decision = decide(stored(before, NOW - timedelta(hours=1)), report(after), NOW, WEEK)

    assert kinds(decision) == [("new", "sub-1")]
    assert decision.changes[0].state.fingerprint == "contact-email,owner-notifications"
    assert decision.changes[0].expected_etag == "etag-1"


def test_the_order_of_findings_does_not_change_the_fingerprint():
    assert fingerprint(result(1, Status.FAIL, "b-rule", "a-rule")) == fingerprint(
        result(1, Status.FAIL, "a-rule", "b-rule")
    )


def test_a_fixed_subscription_is_resolved_and_its_state_deleted():
    before = result(1, Status.FAIL, "contact-email")

    decision = decide(stored(before, NOW - timedelta(hours=1)), report(result(1, Status.PASS)), NOW, WEEK)

    assert kinds(decision) == [("resolved", "sub-1")]
    (change,) = decision.changes
    assert change.state is None and change.expected_etag == "etag-1"


def test_a_passing_subscription_without_state_says_nothing():
    decision = decide({}, report(result(1, Status.PASS)), NOW, WEEK)

    assert decision.batch.is_empty and decision.changes == ()


def test_errors_are_their_own_track_and_a_different_error_reason_is_not_news():
    error = result(1, Status.ERROR)
    other_reason = SubscriptionResult(error.subscription, Status.ERROR, reason="throttled, request id 42")

    first = decide({}, report(error), NOW, WEEK)
    again = decide(stored(error, NOW - timedelta(hours=1)), report(other_reason), NOW, WEEK)

    assert kinds(first) == [("new", "sub-1")]
    assert first.changes[0].state.status is Status.ERROR
    assert kinds(again) == []


def test_a_failing_subscription_that_becomes_unreadable_is_new_as_an_error():
    failing = result(1, Status.FAIL, "contact-email")

    decision = decide(stored(failing, NOW - timedelta(hours=1)), report(result(1, Status.ERROR)), NOW, WEEK)

    assert kinds(decision) == [("new", "sub-1")]
    assert decision.changes[0].state.status is Status.ERROR


def test_skipped_and_absent_subscriptions_keep_their_state():
    failing = result(1, Status.FAIL, "contact-email")
    previous = stored(failing, NOW - 2 * WEEK) | stored(result(2, Status.FAIL, "x"), NOW - 2 * WEEK)
    skipped = SubscriptionResult(failing.subscription, Status.SKIPPED, reason="excluded by configuration")

    # Subscription 2 is absent, as in an on-demand check of part of the tenant: not resolved, not reminded.
    decision = decide(previous, report(skipped), NOW, WEEK)

    assert decision.batch.is_empty and decision.changes == ()


def test_statuses_not_alerted_on_are_left_alone():
    current = report(result(1, Status.FAIL, "contact-email"), result(2, Status.ERROR))

    decision = decide({}, current, NOW, WEEK, alert_on={Status.FAIL})

    assert kinds(decision) == [("new", "sub-1")]


def test_without_state_every_failing_and_unreadable_subscription_is_new_each_run():
    current = report(result(1, Status.FAIL, "contact-email"), result(2, Status.ERROR), result(3, Status.PASS))

    assert kinds(decide({}, current, NOW, WEEK)) == kinds(decide({}, current, NOW + timedelta(hours=1), WEEK))
    assert [item.kind for item in decide({}, current, NOW, WEEK).batch.items] == [AlertKind.NEW, AlertKind.NEW]


# -- what was not told stays pending --------------------------------------------------------------

SUB_1 = "00000000-0000-4000-8000-000000000001"


def as_stored(change, etag: str = "etag-2") -> dict[str, AlertState]:
    return {change.subscription_id: replace(change.state, etag=etag)}


def test_a_new_failure_that_was_not_told_is_recorded_as_pending_not_as_alerted():
    decision = decide({}, report(result(1, Status.FAIL, "contact-email")), NOW, WEEK)

    (change,) = decision.changes_for(set())

    assert change.expected_etag is None
    assert (change.state.last_notified, change.state.pending_since, change.state.first_seen) == (None, NOW, NOW)
    assert decision.untold(set()) == 1 and decision.untold({SUB_1}) == 0


def test_a_pending_new_failure_is_new_again_and_carries_how_long_it_has_waited():
    failing = result(1, Status.FAIL, "contact-email")
    (pending,) = decide({}, report(failing), NOW, WEEK).changes_for(set())
    later = NOW + timedelta(days=1)

    again = decide(as_stored(pending), report(failing), later, WEEK)

    (item,) = again.batch.items
    assert (item.kind, item.pending_since) == (AlertKind.NEW, NOW)
    (told,) = again.changes
    assert (told.state.first_seen, told.state.last_notified, told.state.pending_since) == (NOW, later, None)
    assert again.changes_for(set()) == ()  # already pending: no write, no ETag churn


def test_a_pending_reminder_is_repeated_before_the_reminder_period_and_keeps_the_last_told_time():
    failing = result(1, Status.FAIL, "contact-email")
    (reminder,) = decide(stored(failing, NOW - WEEK), report(failing), NOW, WEEK).batch.items
    (missed,) = decide(stored(failing, NOW - WEEK), report(failing), NOW, WEEK).changes_for(set())
    assert reminder.kind is AlertKind.REMINDER
    assert (missed.state.last_notified, missed.state.pending_since) == (NOW - WEEK, NOW)

    an_hour_later = decide(as_stored(missed), report(failing), NOW + timedelta(hours=1), WEEK)

    assert [(item.kind, item.pending_since) for item in an_hour_later.batch.items] == [(AlertKind.REMINDER, NOW)]


def test_a_resolved_subscription_that_was_not_told_keeps_its_row_until_it_is():
    failing = result(1, Status.FAIL, "contact-email")
    fixed = result(1, Status.PASS)
    (missed,) = decide(stored(failing, NOW - WEEK), report(fixed), NOW, WEEK).changes_for(set())
    assert missed.state is not None and missed.state.pending_since == NOW

    again = decide(as_stored(missed), report(fixed), NOW + timedelta(hours=1), WEEK)

    assert [(item.kind, item.pending_since) for item in again.batch.items] == [(AlertKind.RESOLVED, NOW)]
    (delete,) = again.changes
    assert delete.state is None and delete.expected_etag == "etag-2"


def test_a_pending_failure_that_passes_before_anyone_heard_of_it_is_dropped_silently():
    (pending,) = decide({}, report(result(1, Status.FAIL, "contact-email")), NOW, WEEK).changes_for(set())

    decision = decide(as_stored(pending), report(result(1, Status.PASS)), NOW + timedelta(hours=1), WEEK)

    assert decision.batch.is_empty
    (delete,) = decision.changes_for(set())
    assert delete.state is None and delete.expected_etag == "etag-2"


def test_a_changed_failure_that_was_not_told_keeps_what_was_told_before():
    before = result(1, Status.FAIL, "contact-email")
    after = result(1, Status.FAIL, "contact-email", "owner-notifications")

    (missed,) = decide(stored(before, NOW - timedelta(hours=1)), report(after), NOW, WEEK).changes_for(set())

    assert missed.state.fingerprint == "contact-email"  # so the next run still sees the change as news
    assert missed.state.last_notified == NOW - timedelta(hours=1)
    assert missed.state.pending_since == NOW


def test_pending_alerts_come_first_in_their_section_the_longest_waiting_first():
    fresh = [AlertItem(AlertKind.NEW, result(n, Status.FAIL, "contact-email")) for n in (1, 2)]
    waiting = [
        AlertItem(AlertKind.NEW, result(8, Status.FAIL, "contact-email"), pending_since=NOW),
        AlertItem(AlertKind.NEW, result(9, Status.FAIL, "contact-email"), pending_since=NOW - WEEK),
    ]
    resolved = AlertItem(AlertKind.RESOLVED, result(5, Status.PASS), pending_since=NOW - 2 * WEEK)

    digest = build_digest(AlertBatch(report(), (*fresh, resolved, *waiting)), "https://portal.azure.com")

    assert [entry.name for entry in digest.entries] == ["sub-9", "sub-8", "sub-1", "sub-2", "sub-5"]
