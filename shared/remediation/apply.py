"""Plan and apply fixes through the SecurityCenter client's own ARM pipeline.

The pipeline is the check's (shared.azure_clients): no auto-registration, the same capped
retries on 429/5xx (PUT is idempotent, so azure-core retries it), the same per-subscription
budget and a run deadline per phase. Writes are bounded to a few at a time: ARM's write
limits are far lower than its read limits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.rest import HttpRequest

from ..arm_errors import (
    ARM_CALL_ERRORS,
    clean_message,
    describe_exception,
    describe_response,
    error_fields,
    is_unregistered_provider,
)
from ..arm_paging import ArmCallError, ArmReader
from ..azure_clients import AzureClients
from ..checker import SUBSCRIPTION_BUDGET_SECONDS, run_check
from ..config import Settings
from ..contact_shapes import ContactShapeError, parse_contacts
from ..contacts import MAX_CONTACT_PAGES, ContactReader, ContactReadError
from ..errors import MonitorError
from ..models import ContactSettings, Report, Status, SubscriptionResult
from ..rules import evaluate
from .options import FixOptions, settings_for_fix
from .outcome import FixReport, Outcome, SubscriptionFix
from .plan import changed_since_planned, plan_contact
from .request import CONTACT_NAME, contact_path

log = logging.getLogger(__name__)

# Concurrent writes (and the reads around them); the check's CHECK_CONCURRENCY caps it further.
WRITE_CONCURRENCY = 16


class FixDeclined(MonitorError):
    """The operator did not confirm the writes; nothing was written."""


Confirm = Callable[[FixReport], bool]


async def run_fix(
    settings: Settings,
    credential: AsyncTokenCredential,
    options: FixOptions,
    apply: bool = False,
    confirm: Confirm | None = None,
) -> FixReport:
    """Check, plan every failing subscription and, with `apply`, write and re-read.

    `confirm` sees the plan before anything is written; False raises FixDeclined. Raises RunFailed
    when the check itself cannot run.
    """
    settings = settings_for_fix(settings, options)
    report = await run_check(settings, credential)
    async with AzureClients.create(settings, credential) as clients:
        fixer = ContactFixer(clients, settings, options)
        planned = FixReport(report, tuple(await fixer.plan_all(report)), False, settings.arm_endpoint)
        if not apply:
            return planned
        if not planned.writes:
            # --apply was asked for and there was nothing to write: an apply that wrote nothing, not a dry run.
            return FixReport(report, planned.fixes, True, settings.arm_endpoint)
        if confirm is not None and not confirm(planned):
            raise FixDeclined("nothing was written: the changes were not confirmed")
        applied = await fixer.apply_all(planned.fixes)
        return FixReport(report, tuple(applied), True, settings.arm_endpoint)


class ContactFixer:
    def __init__(self, clients: AzureClients, settings: Settings, options: FixOptions) -> None:
        # The multi-API SecurityCenter has no public send_request; its pipeline client carries the policies.
        self._send = clients.security._client.send_request
        self._reader = ArmReader(self._send, settings.arm_endpoint)
        self._clients = clients
        self._settings = settings
        self._options = options
        self._contact_readers: dict[str, ContactReader] = {}
        self._limit = asyncio.Semaphore(min(WRITE_CONCURRENCY, settings.concurrency))
        self._budget = min(SUBSCRIPTION_BUDGET_SECONDS, float(settings.run_timeout_seconds))

    async def plan_all(self, report: Report) -> list[SubscriptionFix]:
        """A plan per failing subscription, from a fresh read; error ones are listed and never touched."""
        deadline = self._deadline()
        jobs: list[Awaitable[SubscriptionFix]] = []
        for result in report.results:
            if result.status is Status.FAIL:
                jobs.append(self._bounded(result, deadline, lambda r=result: self.plan(r), _NOT_PLANNED))
            elif result.status is Status.ERROR:
                jobs.append(_done(SubscriptionFix(result, Outcome.NOT_CHECKED, reason=result.reason)))
        return list(await asyncio.gather(*jobs))

    async def apply_all(self, fixes: tuple[SubscriptionFix, ...]) -> list[SubscriptionFix]:
        deadline = self._deadline()
        jobs: list[Awaitable[SubscriptionFix]] = []
        for fix in fixes:
            if fix.outcome is Outcome.PLANNED:
                jobs.append(self._bounded(fix.result, deadline, lambda f=fix: self.apply(f), _MAYBE_WRITTEN, fix))
            else:
                jobs.append(_done(fix))
        return list(await asyncio.gather(*jobs))

    async def plan(self, result: SubscriptionResult) -> SubscriptionFix:
        subscription_id = result.subscription.subscription_id
        # The check recorded the api-version that judged this subscription; the write uses the same one.
        api_version = result.api_version or self._settings.contacts_api_version
        try:
            contact, resource, others = await self._read_raw(subscription_id, api_version)
            plan = plan_contact(contact, resource, self._settings, self._options, subscription_id, others)
        except (ArmCallError, ContactShapeError) as error:
            return SubscriptionFix(
                result, Outcome.FAILED, reason=f"could not read the contact to plan a change: {error}"
            )
        if plan.writes:
            return SubscriptionFix(result, Outcome.PLANNED, plan)
        if plan.complete:
            return SubscriptionFix(result, Outcome.ALREADY_PASSES, plan, reason="passes on a fresh read")
        return SubscriptionFix(result, Outcome.CANNOT_FIX, plan, reason="; ".join(plan.unresolved))

    async def apply(self, fix: SubscriptionFix) -> SubscriptionFix:
        request = fix.request
        assert request is not None and fix.plan is not None
        subscription_id = fix.result.subscription.subscription_id
        # The operator confirmed a plan made from an earlier read; a PUT replaces the whole resource, so
        # anything changed since (an address added in the portal) would be overwritten. Re-read and re-plan
        # just before writing, and write only what was confirmed. (ARM documents no If-Match for
        # securityContacts, so this narrows the window to one round trip rather than closing it.)
        try:
            contact, resource, others = await self._read_raw(subscription_id, request.api_version)
            fresh = plan_contact(contact, resource, self._settings, self._options, subscription_id, others)
        except (ArmCallError, ContactShapeError) as error:
            return _failed(fix, f"not written: could not re-read the contact just before writing: {error}")
        if fresh != fix.plan:
            reason = f"{changed_since_planned(fix.plan, fresh)}; nothing was written: run fix again to review it"
            return SubscriptionFix(fix.result, Outcome.CHANGED, fix.plan, reason=reason)
        try:
            response = await self._send(HttpRequest("PUT", request.url(self._settings.arm_endpoint), json=request.body))
        except ARM_CALL_ERRORS as error:
            return _failed(fix, f"not written: {describe_exception(error)}")
        if response.status_code not in (200, 201):
            body = response.text()
            hint = _write_hint(response.status_code, error_fields(body)[0], subscription_id)
            return _failed(fix, f"not written: {describe_response(response.status_code, body)}{hint}")
        # Read back the way the check reads, so "fixed" means what the next check will say.
        try:
            contact = await self._contact_reader(request.api_version).read(subscription_id)
        except ContactReadError as error:
            return _failed(fix, f"written, but reading it back failed: {error}")
        findings = evaluate(contact, self._settings)
        outcome = Outcome.STILL_FAILING if findings else Outcome.FIXED
        reason = "; ".join(f"{f.rule}: {f.message}" for f in findings) or None
        return SubscriptionFix(fix.result, outcome, fix.plan, reason=reason, findings_after=findings)

    async def _read_raw(
        self, subscription_id: str, api_version: str
    ) -> tuple[ContactSettings, dict[str, Any] | None, list[Any]]:
        """The contact as the check reads it (the list), the raw `default` resource the write starts from,
        and the other contact resources (left as they are)."""
        items: list[Any] = []
        async for page in self._reader.pages(contact_path(subscription_id, api_version, name=None), MAX_CONTACT_PAGES):
            if page.status != 200:
                code = error_fields(page.body)[0].lower()
                if page.number == 1 and page.status == 404 and code == "resourcenotfound":
                    return ContactSettings.not_configured(api_version), None, []
                if page.number == 1 and is_unregistered_provider(page.status, code):
                    return ContactSettings.provider_not_registered(api_version), None, []
                raise ArmCallError(describe_response(page.status, page.body), page.status, code)
            items.extend(page.body["value"])
        contact = parse_contacts(items, api_version)
        named = [isinstance(item, dict) and str(item.get("name", "")).lower() == CONTACT_NAME for item in items]
        resource = next((item for item, is_default in zip(items, named, strict=True) if is_default), None)
        return contact, resource, [item for item, is_default in zip(items, named, strict=True) if not is_default]

    def _contact_reader(self, api_version: str) -> ContactReader:
        if api_version not in self._contact_readers:
            self._contact_readers[api_version] = ContactReader(
                self._clients.security, self._settings.arm_endpoint, api_version
            )
        return self._contact_readers[api_version]

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self._settings.run_timeout_seconds

    async def _bounded(
        self,
        result: SubscriptionResult,
        deadline: float,
        job: Callable[[], Awaitable[SubscriptionFix]],
        timed_out: str,
        planned: SubscriptionFix | None = None,
    ) -> SubscriptionFix:
        run_timeout = asyncio.timeout_at(deadline)
        try:
            async with run_timeout, self._limit, asyncio.timeout(self._budget):
                return await job()
        except TimeoutError:
            if run_timeout.expired():
                why = f"the run's {self._settings.run_timeout_seconds} s (RUN_TIMEOUT_SECONDS) ran out"
            else:
                why = f"no answer within the {self._budget:g} s allowed per subscription"
            plan = planned.plan if planned else None
            return SubscriptionFix(result, Outcome.FAILED, plan, reason=f"{timed_out}: {why}")
        except Exception as error:  # one subscription's surprise must not sink the others
            log.exception("unexpected failure fixing %s", result.subscription.subscription_id)
            plan = planned.plan if planned else None
            reason = f"unexpected error: {type(error).__name__}: {clean_message(str(error))}"
            return SubscriptionFix(result, Outcome.FAILED, plan, reason=reason)


_NOT_PLANNED = "not planned before the deadline"
_MAYBE_WRITTEN = "no answer before the deadline (the change may or may not have been written; run check again)"


async def _done(fix: SubscriptionFix) -> SubscriptionFix:
    return fix


def _failed(fix: SubscriptionFix, reason: str) -> SubscriptionFix:
    return SubscriptionFix(fix.result, Outcome.FAILED, fix.plan, reason=reason)


def _write_hint(status: int, code: str, subscription_id: str) -> str:
    if status == 403:
        return " (writing security contacts needs Security Admin on the subscription)"
    if is_unregistered_provider(status, code):
        return (
            " (Defender for Cloud was never set up here: "
            f"az provider register --namespace Microsoft.Security --subscription {subscription_id})"
        )
    if status == 429:
        return " (still throttled after the retries; run fix again later)"
    return ""
