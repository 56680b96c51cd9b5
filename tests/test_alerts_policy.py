"""The alert policy as a pure function: previous state + report + now -> what to post and what to record."""

from datetime import UTC, datetime, timedelta

from shared.alerts.policy import AlertState, decide, fingerprint
from shared.models import AlertKind, Finding, Report, Status, Subscription, SubscriptionResult

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
