"""Chat alerts: a run's result as a Teams Adaptive Card and a Slack Block Kit message.

The CLI and the Functions app call the functions below. Webhook URLs come from NotifySettings
and never leave this package except as the request itself: results name a channel and host.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..display_text import one_line
from ..models import AlertBatch, AlertItem, AlertKind, Report, Status
from .base import DeliveryResult, Message, Notifier, Payload, delivered_to_all
from .delivery import DEFAULT_POLICY, DeliveryPolicy, delivery_budget_seconds, host_of
from .settings import NOTIFY_SETTINGS, NotifySettings, load_notify_settings
from .slack import SlackNotifier
from .teams import TeamsNotifier
from .text import clip

__all__ = [
    "DEFAULT_POLICY",
    "NOTIFY_SETTINGS",
    "DeliveryPolicy",
    "DeliveryResult",
    "Message",
    "Notifier",
    "NotifySettings",
    "batch_from_report",
    "deliver_batch",
    "deliver_live_notice",
    "deliver_run_failure",
    "deliver_test_message",
    "delivered_to_all",
    "delivery_budget_seconds",
    "live_notice_text",
    "load_notify_settings",
    "notifiers",
    "render_payloads",
]

CHANNELS = ("teams", "slack")
NOTICE_LIMIT = 2000
LIVE_NOTICE_TITLE = "Defender Contact Monitor is live"


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
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> list[DeliveryResult]:
    """Post the batch to every configured channel at once; one result per channel, [] when none is configured.

    An empty batch posts nothing (each channel reports ok with 0 messages) unless `settings.always`.
    One channel failing or hanging does not delay the others; each ends within its budget
    (`policy.channel_budget_seconds` of its message count).
    """
    if batch.is_empty and not settings.always:
        return [
            DeliveryResult(channel, _host(settings, channel), True, 0, "nothing to report")
            for channel in settings.channels
        ]
    return _each_channel(settings, lambda notifier: _render_and_send(notifier, batch, settings, policy))


def deliver_run_failure(
    reason: str,
    settings: NotifySettings,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> list[DeliveryResult]:
    """Tell the channels the monitor could not run at all (nobody would hear otherwise)."""
    text = f"The contact monitor could not run: {reason}"
    return _notice("Defender Contact Monitor could not run", text, settings, policy)


def deliver_test_message(
    settings: NotifySettings,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> list[DeliveryResult]:
    """A short message to each configured channel, to verify a new deployment's webhooks."""
    text = "Test message: chat alerts from the Defender Contact Monitor reach this channel."
    return _notice("Defender Contact Monitor test", text, settings, policy)


def live_notice_text(report: Report) -> str:
    """What the monitor found, under the notice's title "Defender Contact Monitor is live"."""
    total = len(report.results)
    attention = report.count(Status.FAIL) + report.count(Status.ERROR)
    names = [one_line(report.scope_name(index)) for index in range(len(report.scope))]
    scope = ", ".join(name for name in names if name) or "the configured scope"
    found = f"{attention} need{'s' if attention == 1 else ''} attention" if attention else "none needs attention"
    return f"Checked {total} subscription{'' if total == 1 else 's'} in {scope}, {found}."


def deliver_live_notice(
    report: Report,
    settings: NotifySettings,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> list[DeliveryResult]:
    """Tell every configured channel the monitor is live (the alerts follow as usual); one result per channel."""
    return _notice(LIVE_NOTICE_TITLE, live_notice_text(report), settings, policy)


def _notice(title: str, text: str, settings: NotifySettings, policy: DeliveryPolicy) -> list[DeliveryResult]:
    text = clip(text, NOTICE_LIMIT)
    return _each_channel(
        settings, lambda notifier: notifier.send([Message(notifier.render_notice(title, text))], policy)
    )


def _each_channel(settings: NotifySettings, send: Callable[[Notifier], DeliveryResult]) -> list[DeliveryResult]:
    """Every configured channel in its own thread; results in channel order."""
    chosen = list(notifiers(settings).values())
    if not chosen:
        return []
    with ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="notify") as pool:
        return list(pool.map(send, chosen))


def _render_and_send(
    notifier: Notifier,
    batch: AlertBatch,
    settings: NotifySettings,
    policy: DeliveryPolicy,
) -> DeliveryResult:
    try:
        messages = notifier.render_messages(batch)
    except ValueError as error:  # a limit the renderer could not meet: this channel only
        return DeliveryResult(notifier.channel, _host(settings, notifier.channel), False, 0, f"not rendered: {error}")
    return notifier.send(messages, policy)


def _host(settings: NotifySettings, channel: str) -> str:
    url = settings.teams_webhook_url if channel == "teams" else settings.slack_webhook_url
    return host_of(url or "")
