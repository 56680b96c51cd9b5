"""Alert state in Azure Table Storage: one entity per alerted subscription, written with ETag conditions.

Every write is conditional (create-if-absent, replace/delete-if-match), so when two runs overlap
(a manual check during the timer run) the slower one finds its view outdated and leaves the
newer state alone instead of overwriting it; its conflicts are counted and logged. A row the
other run deleted (the alert resolved) is such a conflict too, not a storage failure. Each
operation ends within STATE_OPERATION_SECONDS, whatever storage does.

The table is used as it is, without any account-level call: infra creates it and grants Storage
Table Data Contributor on that table only, which may not POST /Tables. A missing table holds no
state; it is created (an account-level operation) only when a write finds it missing, which is
what a local run against Azurite or a key-based account needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from ..errors import MonitorError
from ..models import Status
from .policy import AlertState, StateChange
from .settings import STATE_OPERATION_SECONDS, StateSettings

TABLE_ROLE = "Storage Table Data Contributor"

log = logging.getLogger(__name__)

SUBSCRIPTION_PARTITION = "subscription"
MONITOR_PARTITION = "monitor"
RUN_FAILURE_ROW = "run-failure"
# A state store that does not answer must not hold the run for minutes: a few quick retries, short timeouts.
RETRY_TOTAL = 2
RETRY_BACKOFF_FACTOR = 0.2
CONNECTION_TIMEOUT_SECONDS = 5
# Writes in flight at once: a first run over a large tenant creates thousands of rows.
WRITE_CONCURRENCY = 32
READ_TIMEOUT_SECONDS = 20


class StateUnavailable(MonitorError):
    """The alert state could not be read or written (storage unreachable, no permission)."""


@dataclass(frozen=True)
class RunFailureState:
    last_notified: datetime
    etag: str


@dataclass(frozen=True)
class ApplyResult:
    written: int
    conflicts: int


class TableStateStore:
    """Use as `async with TableStateStore.open(settings, credential) as store:`."""

    def __init__(self, client: TableClient) -> None:
        self._client = client
        # One creation at a time when concurrent writes all find the table missing.
        self._creating = asyncio.Lock()
        self._created = False

    @classmethod
    def open(cls, settings: StateSettings, credential: AsyncTokenCredential | None) -> TableStateStore:
        options: dict[str, Any] = {
            "retry_total": RETRY_TOTAL,
            "retry_backoff_factor": RETRY_BACKOFF_FACTOR,
            "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
            "read_timeout": READ_TIMEOUT_SECONDS,
        }
        if settings.connection_string:
            client = TableClient.from_connection_string(settings.connection_string, settings.table_name, **options)
        elif settings.table_endpoint and credential is not None:
            client = TableClient(settings.table_endpoint, settings.table_name, credential=credential, **options)
        else:
            raise StateUnavailable("alert state is not configured")
        return cls(client)

    async def __aenter__(self) -> TableStateStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()

    async def load(self) -> dict[str, AlertState]:
        """Every subscription's alert state, keyed by lower-case subscription id."""
        query = "PartitionKey eq @partition"
        async with self._guarded("read"):
            try:
                entities = [
                    entity
                    async for entity in self._client.query_entities(
                        query, parameters={"partition": SUBSCRIPTION_PARTITION}
                    )
                ]
            except AzureError as error:
                if _table_missing(error):
                    return {}  # created by the first write
                raise
        states = {}
        for entity in entities:
            state = _from_entity(entity)
            if state is not None:
                states[state.subscription_id] = state
        return states

    async def apply(self, changes: Iterable[StateChange]) -> ApplyResult:
        """Write every change, a few at a time; a change someone else made first is a conflict, not an error."""
        async with self._guarded("write"):
            return await self._apply(changes)

    async def _apply(self, changes: Iterable[StateChange]) -> ApplyResult:
        limit = asyncio.Semaphore(WRITE_CONCURRENCY)

        async def write(change: StateChange) -> bool:
            async with limit:
                try:
                    await self._in_table(lambda: self._apply_one(change))
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    # Another run advanced (or resolved and deleted) this subscription since we read it;
                    # its write is the newer one.
                    log.warning("alert state of %s changed during this run; kept the other's", change.subscription_id)
                    return False
                except AzureError as error:
                    raise StateUnavailable(f"could not write alert state: {self._describe(error, 'write')}") from error
                return True

        try:
            # A TaskGroup (unlike gather) cancels the other writes when storage fails, before the client closes.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(write(change)) for change in changes]
        except* StateUnavailable as failures:
            raise failures.exceptions[0] from None
        written = sum(task.result() for task in tasks)
        return ApplyResult(written, len(tasks) - written)

    async def run_failure(self) -> RunFailureState | None:
        """When the channels were last told that the monitor could not run, if they were."""
        async with self._guarded("read"):
            try:
                entity = await self._client.get_entity(MONITOR_PARTITION, RUN_FAILURE_ROW)
            except ResourceNotFoundError:  # no such row, or no table yet
                return None
        return RunFailureState(_as_datetime(entity["LastNotified"]), entity.metadata["etag"])

    async def record_run_failure(self, now: datetime, previous: RunFailureState | None) -> bool:
        """False when a concurrent run recorded (or cleared) it first."""
        entity = {"PartitionKey": MONITOR_PARTITION, "RowKey": RUN_FAILURE_ROW, "LastNotified": now}
        async with self._guarded("write"):
            try:
                if previous is None:
                    await self._in_table(lambda: self._client.create_entity(entity))
                else:
                    await self._client.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=previous.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                return False
        return True

    async def clear_run_failure(self) -> None:
        """After a good run, so the next failure is posted straight away."""
        async with self._guarded("write"):
            with contextlib.suppress(ResourceNotFoundError):  # no such row, or no table yet: nothing to clear
                await self._client.delete_entity(MONITOR_PARTITION, RUN_FAILURE_ROW)

    async def _apply_one(self, change: StateChange) -> None:
        if change.state is None:
            if change.expected_etag is not None:
                await self._client.delete_entity(
                    SUBSCRIPTION_PARTITION,
                    change.subscription_id,
                    etag=change.expected_etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        elif change.expected_etag is None:
            await self._client.create_entity(_to_entity(change.state))
        else:
            await self._client.update_entity(
                _to_entity(change.state),
                mode=UpdateMode.REPLACE,
                etag=change.expected_etag,
                match_condition=MatchConditions.IfNotModified,
            )

    async def _in_table(self, write: Callable[[], Awaitable[object]]) -> None:
        """Run a write; if the table does not exist yet, create it and run the write once more."""
        try:
            await write()
            return
        except ResourceNotFoundError as error:
            if not _table_missing(error):
                raise
        await self._create_table()
        await write()

    async def _create_table(self) -> None:
        async with self._creating:
            if self._created:
                return
            try:
                await self._client.create_table()
                log.info("created the alert state table %s", self._client.table_name)
            except ResourceExistsError:
                pass  # a concurrent run created it
            except AzureError as error:
                if _status(error) == 403:
                    raise StateUnavailable(
                        f"the alert state table '{self._client.table_name}' does not exist in storage account "
                        f"'{self._client.account_name}' and the monitor's identity may not create it "
                        f"({_describe(error)}): creating a table is an account-level operation, which "
                        f"{TABLE_ROLE} granted on the table alone (as infra/core/storage.bicep grants it) does "
                        f"not allow. Create the table (azd provision does) or grant {TABLE_ROLE} on the account"
                    ) from error
                raise StateUnavailable(f"could not create the alert state table: {_describe(error)}") from error
            self._created = True

    @asynccontextmanager
    async def _guarded(self, verb: str) -> AsyncIterator[None]:
        """One read or write of the state: bounded in time, and any storage error becomes StateUnavailable."""
        try:
            async with asyncio.timeout(STATE_OPERATION_SECONDS):
                yield
        except TimeoutError as error:
            raise StateUnavailable(
                f"could not {verb} alert state: no answer within {STATE_OPERATION_SECONDS} s"
            ) from error
        except AzureError as error:
            raise StateUnavailable(f"could not {verb} alert state: {self._describe(error, verb)}") from error

    def _describe(self, error: AzureError, verb: str) -> str:
        if _status(error) != 403:
            return _describe(error)
        # Which role on which scope: never the key, SAS or token the request carried.
        return (
            f"storage refused to {verb} table '{self._client.table_name}' in account "
            f"'{self._client.account_name}' ({_describe(error)}): the monitor's identity needs the {TABLE_ROLE} "
            "role on that table (or its storage account), and the account's network rules must admit the app"
        )


def _to_entity(state: AlertState) -> dict[str, object]:
    entity: dict[str, object] = {
        "PartitionKey": SUBSCRIPTION_PARTITION,
        "RowKey": state.subscription_id,
        "Status": state.status.value,
        "Fingerprint": state.fingerprint,
        "FirstSeen": state.first_seen,
        # For a person browsing the table; not used by the policy.
        "DisplayName": state.display_name,
    }
    # Absent rather than null (a replace drops what it does not carry): never told / nothing owed.
    if state.last_notified is not None:
        entity["LastNotified"] = state.last_notified
    if state.pending_since is not None:
        entity["PendingSince"] = state.pending_since
    return entity


def _from_entity(entity: Any) -> AlertState | None:
    try:
        return AlertState(
            subscription_id=str(entity["RowKey"]).lower(),
            status=Status(entity["Status"]),
            fingerprint=str(entity["Fingerprint"]),
            first_seen=_as_datetime(entity["FirstSeen"]),
            last_notified=_optional_datetime(entity.get("LastNotified")),
            display_name=str(entity.get("DisplayName", "")),
            etag=entity.metadata["etag"],
            pending_since=_optional_datetime(entity.get("PendingSince")),
        )
    except (KeyError, ValueError, TypeError):
        # A hand-edited or foreign row: treat the subscription as never alerted (at least once, never lost).
        log.warning("ignoring unreadable alert state row %r", entity.get("RowKey"))
        return None


def _as_datetime(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    # TablesEntityDatetime is a datetime subclass; keep plain datetimes in flight.
    return datetime(*value.timetuple()[:6], value.microsecond, tzinfo=value.tzinfo or UTC)


def _optional_datetime(value: Any) -> datetime | None:
    return None if value is None else _as_datetime(value)


def _status(error: AzureError) -> int | None:
    return error.status_code if isinstance(error, HttpResponseError) else None


def _error_code(error: AzureError) -> str:
    """Storage's error code; the Tables SDK leaves `error_code` unset on some answers (inserts), so the
    x-ms-error-code header and the OData body are read too."""
    code = getattr(error, "error_code", None)
    if code:
        return str(getattr(code, "value", code))
    response = getattr(error, "response", None)
    if response is None:
        return ""
    header = response.headers.get("x-ms-error-code")
    if header:
        return str(header)
    try:
        return str(response.json()["odata.error"]["code"])
    except (ValueError, KeyError, TypeError):  # not an OData error body
        return ""


def _table_missing(error: AzureError) -> bool:
    return isinstance(error, ResourceNotFoundError) and _error_code(error) == "TableNotFound"


def _describe(error: AzureError) -> str:
    # The SDK's message can run to many lines of response body; the first line says what happened.
    first_line = (str(error.message or error) or type(error).__name__).splitlines()[0]
    status, code = _status(error), _error_code(error)
    answered = f"HTTP {status}{' ' + code if code else ''}: " if status is not None else ""
    return f"{type(error).__name__}: {answered}{first_line}"
