"""One complete run: discover subscriptions, read contacts concurrently, apply rules, build a report."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from azure.core.credentials_async import AsyncTokenCredential

from .azure_clients import AzureClients
from .config import Settings
from .contacts import ContactReader, ContactReadError
from .errors import RunFailed
from .hierarchy import discover
from .models import Report, Status, Subscription, SubscriptionResult
from .rules import evaluate

log = logging.getLogger(__name__)

_INACTIVE_STATES = {"disabled", "deleted"}


async def run_check(settings: Settings, credential: AsyncTokenCredential) -> Report:
    """Raises RunFailed when no trustworthy report can be produced."""
    async with AzureClients.create(settings, credential) as clients:
        discovery = await discover(clients.groups, settings.management_group_ids)
        if not discovery.subscriptions:
            # An empty report would read as "all clear"; it almost always means a wrong scope or missing role.
            raise RunFailed(
                f"no subscriptions found under {', '.join(discovery.scope)}; check the scope and that the "
                "identity has Security Reader there"
            )
        planned, results = plan(discovery.subscriptions, settings)
        reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
        log.info(
            "checking %d subscriptions under %s (%d skipped)",
            len(planned),
            ", ".join(discovery.scope),
            len(results),
        )
        # The connection pool is sized to the concurrency too; the semaphore keeps
        # requests from queueing inside aiohttp where timeouts would already be running.
        limit = asyncio.Semaphore(settings.concurrency)

        async def bounded(subscription: Subscription) -> SubscriptionResult:
            async with limit:
                return await check_subscription(subscription, reader, settings)

        results.extend(await asyncio.gather(*(bounded(subscription) for subscription in planned)))
    ordered = sorted(results, key=lambda r: (r.subscription.display_name.lower(), r.subscription.subscription_id))
    return Report(
        scope=discovery.scope,
        results=tuple(ordered),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        contacts_api_versions=tuple(sorted(reader.api_versions_used)),
    )


def plan(
    subscriptions: tuple[Subscription, ...], settings: Settings
) -> tuple[list[Subscription], list[SubscriptionResult]]:
    """Split discovered subscriptions into those to check and results decided without a call."""
    to_check: list[Subscription] = []
    decided: list[SubscriptionResult] = []
    seen: set[str] = set()
    for subscription in subscriptions:
        key = subscription.subscription_id.lower()
        seen.add(key)
        if settings.include_subscription_ids and key not in settings.include_subscription_ids:
            continue
        if key in settings.exclude_subscription_ids:
            decided.append(SubscriptionResult(subscription, Status.SKIPPED, reason="excluded by configuration"))
        elif subscription.state.lower() in _INACTIVE_STATES:
            decided.append(
                SubscriptionResult(subscription, Status.SKIPPED, reason=f"subscription is {subscription.state}")
            )
        else:
            to_check.append(subscription)
    # An explicitly requested subscription that is not there must not vanish silently.
    for missing in sorted(settings.include_subscription_ids - seen):
        decided.append(
            SubscriptionResult(
                Subscription(missing, "", ()),
                Status.ERROR,
                reason="not found under the scope management groups (wrong id, or outside the scope)",
            )
        )
    return to_check, decided


async def check_subscription(
    subscription: Subscription, reader: ContactReader, settings: Settings
) -> SubscriptionResult:
    try:
        contact = await reader.read(subscription.subscription_id)
    except ContactReadError as error:
        return SubscriptionResult(subscription, Status.ERROR, reason=f"could not read security contacts: {error}")
    except Exception as error:  # one subscription's surprise must not sink the run
        log.exception("unexpected failure checking %s", subscription.subscription_id)
        return SubscriptionResult(
            subscription, Status.ERROR, reason=f"unexpected error: {type(error).__name__}: {error}"
        )
    findings = evaluate(contact, settings)
    return SubscriptionResult(subscription, Status.FAIL if findings else Status.PASS, findings)


def exit_code(report: Report) -> int:
    """0 when everything checked passed, 1 when something failed, 2 when something could not be checked."""
    if report.count(Status.ERROR):
        return 2
    if report.count(Status.FAIL):
        return 1
    return 0
