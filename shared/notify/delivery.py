"""Posting messages to a webhook: whole-request deadlines, bounded retries, pacing, answers without secrets.

429 and 5xx are retried, honouring Retry-After, within a time budget per message and per channel;
any other 4xx is final (the payload or the URL is wrong, and retrying would not change that), and
so are a refused connection and a host name that does not resolve (nothing is listening there; a
retry would only make `notify-test` slow to say so).

`requests`' timeout bounds each socket read, not the request: a receiver that sends one byte every
few seconds would hold a post for ever. So every attempt runs under a watchdog that shuts the
attempt's socket down at its deadline, which ends the blocked read at once (the connection is
discarded, nothing lingers).

Redirects are not followed: a webhook that redirects is misconfigured, and following would send
the payload somewhere nobody vetted. Exceptions from `requests` carry the URL in their text, so
only their kind is reported.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError

from ..models import AlertBatch
from .base import DeliveryResult, Message, Payload

log = logging.getLogger(__name__)

USER_AGENT = "defender-contact-monitor"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class DeliveryPolicy:
    connect_timeout: float = 5.0
    # Per socket read; the whole attempt is bounded by `request_seconds` as well.
    read_timeout: float = 20.0
    # One attempt, from connecting to the last byte of the answer, whatever the receiver does.
    request_seconds: float = 20.0
    # One message with all its retries and waits.
    message_budget_seconds: float = 30.0
    # A channel's budget grows by this much for every message after the first (pacing, a Retry-After).
    extra_message_seconds: float = 4.0
    # Backoff when a retryable answer carries no Retry-After: first wait, doubled, capped.
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 16.0
    max_attempts: int = 6
    # Slack allows about one message per second per webhook.
    slack_interval_seconds: float = 1.0

    def channel_budget_seconds(self, messages: int) -> float:
        """The most one channel may spend on `messages` messages; channels are sent concurrently."""
        return self.message_budget_seconds + max(messages - 1, 0) * self.extra_message_seconds


DEFAULT_POLICY = DeliveryPolicy()


def delivery_budget_seconds(max_messages: int, policy: DeliveryPolicy = DEFAULT_POLICY) -> float:
    """The most one run's chat delivery can take: channels go in parallel, each within its budget."""
    return policy.channel_budget_seconds(max_messages)


@dataclass(frozen=True)
class _Answer:
    ok: bool
    retryable: bool
    detail: str
    retry_after: float | None = None


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "?"


def post_all(
    channel: str,
    url: str,
    messages: Sequence[Message],
    policy: DeliveryPolicy,
    accepted: Callable[[requests.Response], bool],
    interval_seconds: float = 0.0,
) -> DeliveryResult:
    """Send `messages` in order; stop at the first that cannot be delivered (later parts are not tried)."""
    host = host_of(url)
    started = time.monotonic()
    channel_deadline = started + policy.channel_budget_seconds(len(messages))
    sent = 0
    named: set[str] = set()
    detail = "nothing to send"
    last_post = None
    with redacted(url), deadline_session() as session:
        for message in messages:
            if last_post is not None and interval_seconds:
                time.sleep(max(0.0, min(last_post + interval_seconds, channel_deadline) - time.monotonic()))
            body = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            deadline = min(time.monotonic() + policy.message_budget_seconds, channel_deadline)
            answer = _post_with_retries(url, body, session, policy, accepted, deadline)
            last_post = time.monotonic()
            detail = answer.detail
            if not answer.ok:
                log.warning(
                    "%s (%s): message %d of %d not delivered: %s", channel, host, sent + 1, len(messages), detail
                )
                return DeliveryResult(channel, host, False, sent, detail, frozenset(named), len(messages))
            sent += 1
            named.update(message.names)
    log.info("%s (%s): delivered %d message(s) in %.1f s, %s", channel, host, sent, time.monotonic() - started, detail)
    return DeliveryResult(channel, host, True, sent, detail, frozenset(named), len(messages))


def _post_with_retries(
    url: str,
    body: bytes,
    session: requests.Session,
    policy: DeliveryPolicy,
    accepted: Callable[[requests.Response], bool],
    deadline: float,
) -> _Answer:
    backoff = policy.backoff_seconds
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _Answer(False, False, "not sent: the delivery budget is spent")
        answer = _post_once(url, body, session, policy, min(policy.request_seconds, remaining), accepted)
        if answer.ok or not answer.retryable:
            return answer
        wait = answer.retry_after if answer.retry_after is not None else backoff
        backoff = min(backoff * 2, policy.max_backoff_seconds)
        if attempt >= policy.max_attempts:
            return _Answer(False, True, f"{answer.detail} (gave up after {attempt} attempts)")
        if time.monotonic() + wait >= deadline:
            return _Answer(False, True, f"{answer.detail} (gave up after {attempt} attempt(s): out of time to retry)")
        log.info("webhook answered %s; retrying in %.1f s", answer.detail, wait)
        time.sleep(wait)


def _post_once(
    url: str,
    body: bytes,
    session: requests.Session,
    policy: DeliveryPolicy,
    seconds: float,
    accepted: Callable[[requests.Response], bool],
) -> _Answer:
    with _watchdog(seconds) as watch:
        try:
            response = session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
                timeout=(min(policy.connect_timeout, seconds), min(policy.read_timeout, seconds)),
                allow_redirects=False,
            )
        except Exception as error:  # noqa: BLE001 - sorted below; a shut-down socket can surface as anything
            if watch.expired or isinstance(error, requests.Timeout):
                # The message may have arrived; a duplicate is better than silence.
                return _Answer(False, True, f"timed out after {seconds:.1f} s")
            return _failure(error)
    with response:
        detail = f"HTTP {response.status_code}"
        code = _error_code(response)
        if code:
            detail += f" {code}"
        if accepted(response):
            return _Answer(True, False, detail)
        status = response.status_code
        retryable = status == 429 or status >= 500
        return _Answer(False, retryable, detail, _retry_after(response) if retryable else None)


def _failure(error: BaseException) -> _Answer:
    causes = list(_causes(error))
    if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes) or isinstance(
        error, requests.exceptions.SSLError
    ):
        return _Answer(False, False, "TLS error (certificate not trusted?)")
    if any(isinstance(cause, NameResolutionError | socket.gaierror) for cause in causes):
        return _Answer(False, False, "host name did not resolve (DNS)")
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return _Answer(False, False, "connection refused (nothing listens there)")
    if isinstance(error, requests.ConnectionError | OSError):
        return _Answer(False, True, "connection failed")
    # Only the kind: the text of a library's exception may hold the URL.
    return _Answer(False, False, f"request failed ({type(error).__name__})")


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps: requests -> urllib3 MaxRetryError -> reason -> OSError."""
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([*current.args, getattr(current, "reason", None), current.__cause__, current.__context__])


# -- the whole-request deadline -----------------------------------------------------------------

_current = threading.local()


class _Watch:
    """The sockets one attempt opened; at the deadline they are shut down, which ends any blocked read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False

    def track(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, on the descriptor: safe while another thread is blocked reading it
    # (SSLSocket.shutdown would also drop the TLS object under that reader).
    with suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextmanager
def _watchdog(seconds: float) -> Iterator[_Watch]:
    watch = _Watch()
    timer = threading.Timer(max(seconds, 0.0), watch.expire)
    timer.daemon = True
    _current.watch = watch
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        _current.watch = None


def _track(sock: socket.socket | None) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.track(sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _track(sock)  # before the TLS handshake, which a receiver could drag out too
        return sock

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _track(self.sock)  # a kept-alive connection was opened by an earlier attempt
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "https": _WatchedHTTPSPool,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "https": _WatchedHTTPSPool}
        return manager


@contextmanager
def deadline_session() -> Iterator[requests.Session]:
    """A session whose HTTPS attempts honour `_watchdog`; one per channel (sessions are not shared across threads)."""
    with requests.Session() as session:
        session.mount("https://", _WatchedAdapter())
        yield session


def _error_code(response: requests.Response) -> str | None:
    """A short error code from the body (Slack's `channel_not_found`, a flow's `error.code`), if any."""
    text = response.text[:2000].strip() if response.content else ""
    if not text or response.status_code < 300:
        return None
    if _CODE.match(text):
        return text
    try:
        document = json.loads(text)
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and _CODE.match(code) else None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# -- keeping webhook URLs out of logs ---------------------------------------------------------

_secrets: dict[str, int] = {}
_secrets_lock = threading.Lock()


class _RedactWebhooks(logging.Filter):
    """urllib3 logs each request line (path and query: the webhook's secret) at DEBUG; blank it."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _secrets_lock:
            secrets = sorted(_secrets, key=len, reverse=True)
        if not secrets:
            return True
        message = record.getMessage()
        redacted_message = message
        for secret in secrets:
            redacted_message = redacted_message.replace(secret, "<redacted>")
        if redacted_message != message:
            record.msg, record.args = redacted_message, None
        return True


_FILTER = _RedactWebhooks()
for _name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
    logging.getLogger(_name).addFilter(_FILTER)


@contextmanager
def redacted(url: str) -> Iterator[None]:
    """While sending, a library log line holding the URL's path or query shows `<redacted>` instead."""
    parts = urlsplit(url)
    # Longest first, so the path-and-query form is replaced whole before its pieces are.
    pieces = [parts.path + "?" + parts.query if parts.query else "", parts.path, parts.query]
    secrets = sorted({piece for piece in pieces if len(piece) >= 8}, key=len, reverse=True)
    with _secrets_lock:
        for secret in secrets:
            _secrets[secret] = _secrets.get(secret, 0) + 1
    try:
        yield
    finally:
        with _secrets_lock:
            for secret in secrets:
                _secrets[secret] -= 1
                if not _secrets[secret]:
                    del _secrets[secret]


class WebhookChannel:
    """What the Teams and Slack notifiers share: a webhook URL (a secret) and posting messages in order."""

    channel: str
    # Statuses that mean the webhook took the message.
    accepted_statuses: frozenset[int]

    def __init__(
        self, portal_url: str, max_messages: int, url: str | None = None, report_url: str | None = None
    ) -> None:
        self.portal_url = portal_url
        self.max_messages = max_messages
        self._url = url  # a secret: kept out of repr and messages
        # Where people read the full report; every message links it.
        self.report_url = report_url

    def render_messages(self, batch: AlertBatch) -> list[Message]:
        raise NotImplementedError

    def render(self, batch: AlertBatch) -> list[Payload]:
        return [message.payload for message in self.render_messages(batch)]

    def pacing_seconds(self, policy: DeliveryPolicy) -> float:
        """The pause between two messages of one run."""
        return 0.0

    def send(self, messages: Sequence[Message], policy: DeliveryPolicy = DEFAULT_POLICY) -> DeliveryResult:
        if not self._url:
            raise ValueError(f"no webhook URL is configured for {self.channel}")
        return post_all(
            self.channel,
            self._url,
            messages,
            policy,
            lambda response: response.status_code in self.accepted_statuses,
            interval_seconds=self.pacing_seconds(policy),
        )
