"""Chat alerts: a run's result as a Teams Adaptive Card and a Slack Block Kit message.

The CLI and the Functions app call the functions below. Webhook URLs come from NotifySettings
and never leave this package except as the request itself: results name a channel and host.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests

from ..models import AlertBatch, AlertItem, AlertKind, Report
from .base import DeliveryResult, Notifier, Payload
from .delivery import DEFAULT_POLICY, DeliveryPolicy, host_of
from .settings import NOTIFY_SETTINGS, NotifySettings, load_notify_settings
from .slack import SlackNotifier
from .teams import TeamsNotifier
from .text import clip

__all__ = [
    "DEFAULT_POLICY",
    "NOTIFY_SETTINGS",
    "DeliveryPolicy",
    "DeliveryResult",
    "Notifier",
    "NotifySettings",
    "batch_from_report",
    "deliver_batch",
    "deliver_run_failure",
    "deliver_test_message",
    "load_notify_settings",
    "notifiers",
    "render_payloads",
]

CHANNELS = ("teams", "slack")
NOTICE_LIMIT = 2000


def notifiers(settings: NotifySettings, channels: tuple[str, ...] | None = None) -> dict[str, Notifier]:
    """Renderers for `channels` (default: the configured ones), in delivery order."""
    chosen = settings.channels if channels is None else channels
    built: dict[str, Notifier] = {}
    for channel in chosen:
        if channel == "teams":
            built[channel] = TeamsNotifier(
                settings.portal_url, settings.max_messages, settings.teams_webhook_url, settings.report_url
            )
        elif channel == "slack":
            built[channel] = SlackNotifier(
                settings.portal_url, settings.max_messages, settings.slack_webhook_url, settings.report_url
            )
    return built


def batch_from_report(report: Report, settings: NotifySettings) -> AlertBatch:
    """Without alert state (the CLI): every result whose status is in `notify_on` is new."""
    items = tuple(AlertItem(AlertKind.NEW, result) for result in report.results if result.status in settings.notify_on)
    return AlertBatch(report, items)


def render_payloads(batch: AlertBatch, settings: NotifySettings) -> dict[str, list[Payload]]:
    """What would be posted, per channel; both channels when none is configured (a preview)."""
    return {
        channel: notifier.render(batch)
        for channel, notifier in notifiers(settings, settings.channels or CHANNELS).items()
    }


def deliver_batch(
    batch: AlertBatch,
    settings: NotifySettings,
    session: requests.Session | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> list[DeliveryResult]:
    """Post the batch to every configured channel; one result per channel, [] when none is configured.

    An empty batch posts nothing (each channel reports ok with 0 messages) unless `settings.always`.
    One channel failing does not stop the others.
    """
    if batch.is_empty and not settings.always:
        return [
            DeliveryResult(channel, _host(settings, channel), True, 0, "nothing to report")
            for channel in settings.channels
        ]
    with _session(session) as active:
        return [
            _render_and_send(notifier, batch, settings, active, policy) for notifier in notifiers(settings).values()
        ]


def deliver_run_failure(
    reason: str,
    settings: NotifySettings,
    session: requests.Session | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> list[DeliveryResult]:
    """Tell the channels the monitor could not run at all (nobody would hear otherwise)."""
    text = f"The contact monitor could not run: {reason}"
    return _notice("Defender Contact Monitor could not run", text, settings, session, policy)


def deliver_test_message(
    settings: NotifySettings,
    session: requests.Session | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> list[DeliveryResult]:
    """A short message to each configured channel, to verify a new deployment's webhooks."""
    text = "Test message: chat alerts from the Defender Contact Monitor reach this channel."
    return _notice("Defender Contact Monitor test", text, settings, session, policy)


def _notice(
    title: str,
    text: str,
    settings: NotifySettings,
    session: requests.Session | None,
    policy: DeliveryPolicy,
) -> list[DeliveryResult]:
    text = clip(text, NOTICE_LIMIT)
    with _session(session) as active:
        return [
            notifier.send([notifier.render_notice(title, text)], active, policy)
            for notifier in notifiers(settings).values()
        ]


def _render_and_send(
    notifier: Notifier,
    batch: AlertBatch,
    settings: NotifySettings,
    session: requests.Session,
    policy: DeliveryPolicy,
) -> DeliveryResult:
    try:
        payloads = notifier.render(batch)
    except ValueError as error:  # a limit the renderer could not meet: this channel only
        return DeliveryResult(notifier.channel, _host(settings, notifier.channel), False, 0, f"not rendered: {error}")
    return notifier.send(payloads, session, policy)


def _host(settings: NotifySettings, channel: str) -> str:
    url = settings.teams_webhook_url if channel == "teams" else settings.slack_webhook_url
    return host_of(url or "")


@contextmanager
def _session(session: requests.Session | None) -> Iterator[requests.Session]:
    if session is not None:
        yield session
        return
    with requests.Session() as own:
        yield own
