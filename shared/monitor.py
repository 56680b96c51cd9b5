"""One monitored run, as the timer and the HTTP check trigger it.

settings -> run_check -> decide (alert state) -> deliver -> record state -> one-line summary.
State advances for a subscription only when every configured channel delivered a message that
names it; the rest (left out by the message cap, or after a channel failed) are recorded as
pending and named first by the next run (at least once, never lost). When the run itself fails,
the channels hear "the contact monitor could not run" (once per reminder period) and the error is
re-raised so the Functions host records a failed execution.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import DefaultAzureCredential

from .alerts.policy import Decision, decide
from .alerts.settings import StateSettings, load_state_settings
from .alerts.store import StateUnavailable, TableStateStore
from .azure_clients import build_credential
from .checker import exit_code, run_check
from .clouds import CLOUDS, find_cloud
from .config import Settings, load_settings
from .errors import ConfigError, MonitorError, NotInScope
from .models import AlertKind, Report
from .notify import DeliveryResult, deliver_batch, deliver_live_notice, deliver_run_failure, delivered_to_all
from .notify.settings import NotifySettings, load_notify_settings
from .setting_names import setting_warnings

log = logging.getLogger(__name__)

SUMMARY_EVENT = "contact-monitor-run"


class DeliveryFailed(MonitorError):
    """A chat channel did not confirm delivery; only what every channel was told advanced the alert state."""

    def __init__(
        self, message: str, deliveries: Sequence[DeliveryResult] = (), announcement: Sequence[DeliveryResult] = ()
    ):
        super().__init__(message)
        # What each channel got, for an HTTP caller to see beside the reason.
        self.deliveries = tuple(deliveries)
        self.announcement = tuple(announcement)


@dataclass(frozen=True)
class MonitorOutcome:
    """What one run produced; the HTTP check answers with `.report`."""

    report: Report
    decision: Decision | None
    # One per configured channel; empty when nothing was posted.
    deliveries: tuple[DeliveryResult, ...] = ()
    state_advanced: bool = False
    conflicts: int = 0
    summary: Mapping[str, object] = field(default_factory=dict)
    # The "monitor is live" notice, one per configured channel, when the run was asked to announce itself.
    announcement: tuple[DeliveryResult, ...] = ()


async def run_monitor(
    environ: Mapping[str, str],
    *,
    trigger: str,
    notify: bool = True,
    announce: bool = False,
    management_group_ids: Sequence[str] = (),
    subscription_ids: Sequence[str] = (),
    credential: AsyncTokenCredential | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MonitorOutcome:
    """Raises what made the run fail (ConfigError, RunFailed, StateUnavailable, ...) after announcing it.

    `announce` posts a short "monitor is live" notice to every channel before the alerts (it implies `notify`).
    """
    notify = notify or announce
    started = time.monotonic()
    summary: dict[str, object] = {"event": SUMMARY_EVENT, "trigger": trigger, "notify": notify}
    if announce:
        summary["announce"] = True
    # A misspelt setting name is ignored silently by the loader, and a schedule the missed-run alert
    # cannot watch is the host's to read: the summary and the log name both.
    warnings = setting_warnings(environ)
    if warnings:
        summary["settingWarnings"] = warnings
        for warning in warnings:
            log.warning("setting: %s", warning)
    try:
        settings = load_settings(environ)
    except ConfigError as error:
        summary["problems"] = error.problems
        _log_summary(summary, started, outcome="failed", reason="invalid app settings")
        if notify:
            await _announce_run_failure_with_partial_settings(environ, str(error), clock())
        raise
    try:
        # The caller's scope (HTTP check); a scope the settings rule out is the caller's mistake, not announced.
        settings = settings.with_overrides(list(management_group_ids), list(subscription_ids))
    except ConfigError as error:
        summary["problems"] = error.problems
        _log_summary(summary, started, outcome="rejected", reason="requested scope conflicts with the settings")
        raise
    credential = credential or build_credential(settings)
    try:
        return await _monitored(settings, credential, notify, announce, summary, started, clock)
    finally:
        await credential.close()


async def _monitored(
    settings: Settings,
    credential: AsyncTokenCredential,
    notify: bool,
    announce: bool,
    summary: dict[str, object],
    started: float,
    clock: Callable[[], datetime],
) -> MonitorOutcome:
    try:
        report = await run_check(settings, credential)
    except NotInScope:
        # The caller named subscriptions that are not there: answered to the caller, never announced or stored.
        _log_summary(summary, started, outcome="rejected", reason="requested subscriptions not found in scope")
        raise
    except Exception as error:  # any failure (auth, scope, deadline) is announced, then re-raised
        reason = _reason(error)
        _log_summary(summary, started, outcome="failed", reason=reason)
        if notify:
            await _announce_run_failure(reason, settings.notify, settings.state, credential, clock())
        raise
    _count_report(summary, report)
    if not notify:
        _log_summary(summary, started, outcome="checked")
        return MonitorOutcome(report, None, summary=summary)

    announcement = tuple(await _announce_live(report, settings.notify)) if announce else ()
    if announce:
        summary["announced"] = {result.channel: "ok" if result.ok else "failed" for result in announcement}
    alerted = await _alert(settings, report, credential, clock())
    decision, deliveries = alerted.decision, alerted.deliveries
    summary.update(
        state="on" if settings.state.enabled else "off",
        alerts={kind.value: decision.count(kind) for kind in AlertKind},
        channels={result.channel: "ok" if result.ok else "failed" for result in deliveries},
        alertsTold=alerted.told,
        alertsPending=alerted.pending,
        stateAdvanced=alerted.advanced,
        stateConflicts=alerted.conflicts,
    )
    failure: MonitorError | None = alerted.state_error
    if failure is None and not all(result.ok for result in deliveries):
        refused = "; ".join(result.describe() for result in deliveries if not result.ok)
        failure = DeliveryFailed(
            f"chat delivery failed; {alerted.told} alert(s) reached every channel and were recorded, "
            f"{alerted.pending} stay pending for the next run: {refused}",
            deliveries,
            announcement,
        )
    if failure is not None:
        _log_summary(summary, started, outcome="failed", reason=str(failure))
        raise failure
    _log_summary(summary, started, outcome="completed")
    return MonitorOutcome(report, decision, deliveries, alerted.advanced, alerted.conflicts, summary, announcement)


@dataclass(frozen=True)
class _Alerted:
    decision: Decision
    deliveries: tuple[DeliveryResult, ...]
    # Alerts every channel named in a delivered message, and those that stay pending.
    told: int
    pending: int
    advanced: bool
    conflicts: int
    state_error: StateUnavailable | None


async def _alert(settings: Settings, report: Report, credential: AsyncTokenCredential, now: datetime) -> _Alerted:
    """Decide against the stored state, deliver, and advance the state for what every channel was told."""
    state = settings.state
    if not state.enabled:
        log.warning("alert state is off (no STATE_TABLE_ENDPOINT or STATE_CONNECTION_STRING): posting every problem")
    state_error: StateUnavailable | None = None
    advanced, conflicts = False, 0
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(TableStateStore.open(state, credential)) if state.enabled else None
        previous = {}
        if store is not None:
            try:
                previous = await store.load()
            except StateUnavailable as error:
                # Post as if stateless rather than stay silent; the run is still recorded as failed.
                state_error = error
                log.error("%s; posting every problem this run", error)
        decision = decide(previous, report, now, state.remind_after, settings.notify.notify_on)
        deliveries = tuple(await _deliver(decision, settings.notify))
        told = delivered_to_all(deliveries)
        if store is not None and state_error is None:
            try:
                # Without a channel nothing was told or missed: the state stays as it was.
                if deliveries:
                    applied = await store.apply(decision.changes_for(told))
                    advanced, conflicts = bool(told) or decision.batch.is_empty, applied.conflicts
                await store.clear_run_failure()
            except StateUnavailable as error:
                state_error = error
    pending = decision.untold(told)
    return _Alerted(decision, deliveries, len(decision.items) - pending, pending, advanced, conflicts, state_error)


async def _deliver(decision: Decision, notify_settings: NotifySettings) -> list[DeliveryResult]:
    if not notify_settings.channels:
        log.warning("no chat channel configured (TEAMS_WEBHOOK_URL, SLACK_WEBHOOK_URL): nothing posted")
        return []
    # Webhook delivery is blocking HTTP; keep the event loop free for anything else in flight.
    return await asyncio.to_thread(deliver_batch, decision.batch, notify_settings)


async def _announce_live(report: Report, notify_settings: NotifySettings) -> list[DeliveryResult]:
    """The "monitor is live" notice; a channel refusing it is reported to the caller, not a failed run."""
    if not notify_settings.channels:
        log.warning("no chat channel configured (TEAMS_WEBHOOK_URL, SLACK_WEBHOOK_URL): no live notice posted")
        return []
    results = await asyncio.to_thread(deliver_live_notice, report, notify_settings)
    for result in results:
        if not result.ok:
            log.warning("live notice: %s", result.describe())
    return results


async def _announce_run_failure(
    reason: str,
    notify_settings: NotifySettings,
    state: StateSettings,
    credential: AsyncTokenCredential | None,
    now: datetime,
) -> None:
    """Post "could not run" unless it was posted within the reminder period; never raises."""
    if not notify_settings.channels:
        return
    try:
        if not state.enabled:
            await _post_run_failure(reason, notify_settings)
            return
        async with TableStateStore.open(state, credential) as store:
            try:
                previous = await store.run_failure()
            except StateUnavailable as error:
                log.error("%s; announcing the run failure anyway", error)
                await _post_run_failure(reason, notify_settings)
                return
            if previous is not None and now - previous.last_notified < state.remind_after:
                log.info("run failure already announced at %s; not repeating", previous.last_notified.isoformat())
                return
            if await _post_run_failure(reason, notify_settings):
                await store.record_run_failure(now, previous)
    except Exception:  # the run's own failure is what gets raised, not this
        log.exception("could not announce the run failure")


async def _post_run_failure(reason: str, notify_settings: NotifySettings) -> bool:
    results = await asyncio.to_thread(deliver_run_failure, reason, notify_settings)
    return bool(results) and all(result.ok for result in results)


async def _announce_run_failure_with_partial_settings(environ: Mapping[str, str], reason: str, now: datetime) -> None:
    """With the settings invalid, still reach the channels if their own settings are sound."""
    notify_problems: list[str] = []
    cloud = find_cloud(environ.get("AZURE_CLOUD", "").strip() or "AzureCloud") or CLOUDS["azurecloud"]
    notify_settings = load_notify_settings(environ, cloud, notify_problems)
    if notify_problems:
        log.error("cannot announce the run failure: the chat settings are invalid too")
        return
    # Invalid state settings come back as usable defaults (at worst state off: posted without throttling).
    state = load_state_settings(environ, [])
    credential = DefaultAzureCredential(authority=cloud.authority_host) if state.table_endpoint else None
    try:
        await _announce_run_failure(reason, notify_settings, state, credential, now)
    finally:
        if credential is not None:
            await credential.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, MonitorError):
        return str(error)
    # SDK messages can span many lines of response body; the first says what happened.
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


def _count_report(summary: dict[str, object], report: Report) -> None:
    summary["scope"] = list(report.scope)
    summary["subscriptions"] = report.summary
    summary["exitCode"] = exit_code(report)
    stats = getattr(report, "stats", None)
    if stats is not None:
        summary["armCalls"] = stats.arm_requests
        summary["checkSeconds"] = round(stats.duration_seconds, 3)


def _log_summary(summary: dict[str, object], started: float, *, outcome: str, reason: str | None = None) -> None:
    summary["outcome"] = outcome
    if reason is not None:
        summary["reason"] = reason
    summary["durationSeconds"] = round(time.monotonic() - started, 3)
    # One line of JSON: Application Insights keeps it as one trace that a query can parse_json().
    line = json.dumps(summary, separators=(",", ":"), default=str)
    (log.error if outcome == "failed" else log.info)("run summary %s", line)
