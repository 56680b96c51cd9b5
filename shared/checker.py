"""One complete run: discover subscriptions, read contacts concurrently, apply rules, build a report.

Every run is bounded in time: discovery and the checks share the run deadline
(RUN_TIMEOUT_SECONDS), each subscription also has its own budget, and whatever is
not finished in time is reported as `error` rather than left out or waited for.
A subscription's budget starts when its own read starts: time spent queueing for a
worker or waiting for anything else is never charged to it.

The contacts api-version is decided from the provider's list while the hierarchy is
walked, so no subscription's read waits on another's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from azure.core.credentials_async import AsyncTokenCredential

from .access import TENANT_ROOT, needs_role
from .arm_errors import clean_message
from .arm_paging import ArmReader
from .azure_clients import AzureClients
from .config import Settings
from .contacts import ContactReader, ContactReadError
from .errors import NotInScope, RunFailed
from .hierarchy import Discovery, discover
from .models import Report, RunStats, Status, Subscription, SubscriptionResult
from .rules import evaluate

log = logging.getLogger(__name__)

_INACTIVE_STATES = {"disabled", "deleted"}
# No single subscription may hold a worker longer than this, whatever ARM's retries ask for.
SUBSCRIPTION_BUDGET_SECONDS = 120.0
NOT_CHECKED_BEFORE_DEADLINE = "not checked before the deadline"
# How long, once the subscriptions are known, the checks wait for the provider's api-version list
# before starting on the preferred version anyway (its read began with the hierarchy walk).
API_VERSION_DECISION_GRACE_SECONDS = 5.0


# Told (subscriptions done, subscriptions planned) as the run goes; the terminal shows it.
ProgressCallback = Callable[[int, int], None]


async def run_check(
    settings: Settings, credential: AsyncTokenCredential, progress: ProgressCallback | None = None
) -> Report:
    """Raises RunFailed when no trustworthy report can be produced."""
    started = time.monotonic()
    deadline = asyncio.get_running_loop().time() + settings.run_timeout_seconds
    async with AzureClients.create(settings, credential) as clients:
        reader = ContactReader(clients.security, settings.arm_endpoint, settings.contacts_api_version)
        # Through the hierarchy walk's pipeline, so the two calls that run at once share one token request.
        deciding = asyncio.create_task(
            reader.decide_api_version(ArmReader(clients.groups.send_request, settings.arm_endpoint))
        )
        try:
            async with asyncio.timeout_at(deadline):
                discovery = await discover(
                    clients.groups, settings.management_group_ids, settings.arm_endpoint, settings.include_delegated
                )
        except TimeoutError as error:
            deciding.cancel()
            raise RunFailed(
                f"the run deadline ({settings.run_timeout_seconds} s, RUN_TIMEOUT_SECONDS) passed while "
                "finding subscriptions"
            ) from error
        except BaseException:
            deciding.cancel()
            raise
        await settle_api_version(deciding, deadline)
        if not discovery.subscriptions and not discovery.outside_tree:
            # An empty report would read as "all clear"; it almost always means a wrong scope or missing role.
            raise RunFailed(
                f"no subscriptions found under {', '.join(discovery.scope)}; check the scope and that the "
                f"identity has {needs_role('it' if len(discovery.scope) == 1 else 'each of them')}"
            )
        planned, results = plan(discovery, settings)
        log.info(
            "checking %d subscriptions under %s (%d decided without a read)",
            len(planned),
            ", ".join(discovery.scope),
            len(results),
        )
        results.extend(await check_all(planned, reader, settings, deadline, progress))
        arm_requests = clients.requests.count
    ordered = sorted(results, key=lambda r: (r.subscription.display_name.lower(), r.subscription.subscription_id))
    return Report(
        scope=discovery.scope,
        results=tuple(ordered),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        contacts_api_versions=tuple(sorted(reader.api_versions_used)),
        stats=RunStats(duration_seconds=time.monotonic() - started, arm_requests=arm_requests),
        scope_names=discovery.scope_names,
    )


async def settle_api_version(deciding: asyncio.Task[str], deadline: float) -> None:
    """Let the provider's api-version list decide if it comes soon; otherwise start on the preferred version."""
    loop = asyncio.get_running_loop()
    wait = max(0.0, min(API_VERSION_DECISION_GRACE_SECONDS, deadline - loop.time()))
    try:
        await asyncio.wait_for(deciding, wait)
    except TimeoutError:
        log.warning(
            "Microsoft.Security's api-version list did not arrive within %g s; starting on the preferred version", wait
        )
    except Exception:  # the decision is an optimisation: without it each refusal is handled as it comes
        log.warning(
            "could not decide the contacts api-version up front; starting on the preferred version", exc_info=True
        )


async def check_all(
    subscriptions: list[Subscription],
    reader: ContactReader,
    settings: Settings,
    deadline: float,
    progress: ProgressCallback | None = None,
) -> list[SubscriptionResult]:
    """Every subscription's result, in order, from a fixed pool of workers (CHECK_CONCURRENCY).

    A pool rather than a task per subscription waiting on a semaphore: tens of thousands of
    waiting tasks cost memory and wake-ups for nothing. The connection pool has the same size,
    so requests never queue inside aiohttp where their timeouts would already be running.
    """
    budget = min(SUBSCRIPTION_BUDGET_SECONDS, float(settings.run_timeout_seconds))
    results: list[SubscriptionResult | None] = [None] * len(subscriptions)
    pending = iter(enumerate(subscriptions))
    finished = 0
    if progress is not None:
        progress(0, len(subscriptions))

    async def bounded(subscription: Subscription) -> SubscriptionResult:
        run_timeout = asyncio.timeout_at(deadline)
        try:
            # Waiting for a probe slot (only while the api-version is unproven) is not this subscription's time.
            async with run_timeout, reader.turn(), asyncio.timeout(budget):
                return await check_subscription(subscription, reader, settings)
        except TimeoutError:
            if run_timeout.expired():
                why = f"the run's {settings.run_timeout_seconds} s (RUN_TIMEOUT_SECONDS) ran out"
            else:
                why = f"no answer within the {budget:g} s allowed per subscription"
            return SubscriptionResult(subscription, Status.ERROR, reason=f"{NOT_CHECKED_BEFORE_DEADLINE}: {why}")

    async def worker() -> None:
        nonlocal finished
        # One shared iterator: each worker takes the next subscription as soon as it is free.
        for index, subscription in pending:
            results[index] = await bounded(subscription)
            finished += 1
            if progress is not None:
                progress(finished, len(subscriptions))

    await asyncio.gather(*(worker() for _ in range(min(settings.concurrency, len(subscriptions)))))
    done = [result for result in results if result is not None]
    if len(done) != len(subscriptions):  # cannot happen while every worker runs to the end; never drop silently
        raise RunFailed(f"{len(subscriptions) - len(done)} subscription(s) were never checked")
    return done


def plan(discovery: Discovery, settings: Settings) -> tuple[list[Subscription], list[SubscriptionResult]]:
    """Split discovered subscriptions into those to check and results decided without a call.

    Raises NotInScope when a caller named subscriptions the discovery did not find.
    """
    to_check: list[Subscription] = []
    decided: list[SubscriptionResult] = []
    seen: set[str] = set()
    outside = {s.subscription_id.lower() for s in discovery.outside_tree}
    for subscription in (*discovery.subscriptions, *discovery.outside_tree):
        key = subscription.subscription_id.lower()
        if settings.tenant_ids and subscription.tenant_id not in settings.tenant_ids:
            continue
        seen.add(key)
        if settings.include_subscription_ids and key not in settings.include_subscription_ids:
            continue
        if key in settings.exclude_subscription_ids:
            decided.append(SubscriptionResult(subscription, Status.SKIPPED, reason="excluded by configuration"))
        elif subscription.state.lower() in _INACTIVE_STATES:
            decided.append(
                SubscriptionResult(subscription, Status.SKIPPED, reason=f"subscription is {subscription.state}")
            )
        elif key in outside:
            # Listed by ARM but absent from the tree the identity walked: never silently left out.
            decided.append(
                SubscriptionResult(
                    subscription,
                    Status.ERROR,
                    reason="not found in the management-group tree: the identity can list this subscription but "
                    f"cannot see where it sits; grant it {needs_role(TENANT_ROOT)}",
                )
            )
        else:
            to_check.append(subscription)
    # An explicitly requested subscription that is not there must not vanish silently.
    missing_ids = sorted(settings.include_subscription_ids - seen)
    if missing_ids and settings.subscriptions_requested:
        raise NotInScope(tuple(missing_ids), discovery.scope)
    for missing in missing_ids:
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
            subscription, Status.ERROR, reason=f"unexpected error: {type(error).__name__}: {clean_message(str(error))}"
        )
    findings = evaluate(contact, settings)
    return SubscriptionResult(
        subscription, Status.FAIL if findings else Status.PASS, findings, api_version=contact.api_version
    )


def exit_code(report: Report) -> int:
    """0 all checked pass, 1 some fail, 2 something could not be checked or nothing was checked at all.

    "0 = all clear" must mean that something was looked at, so a run that only skipped is 2.
    """
    if report.count(Status.ERROR) or not report.checked:
        return 2
    if report.count(Status.FAIL):
        return 1
    return 0


def exit_reason(report: Report) -> str | None:
    """Why a report exits 2, in one line; None otherwise."""
    errors = report.count(Status.ERROR)
    if errors:
        return f"{errors} subscription(s) could not be checked"
    if not report.checked:
        return f"no subscription was checked: all {len(report.results)} were skipped or excluded"
    return None
