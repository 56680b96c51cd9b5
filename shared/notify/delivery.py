"""Posting payloads to a webhook: timeouts, bounded retries, pacing, and answers without secrets.

429 and 5xx are retried, honouring Retry-After, within a total time budget per channel; any
other 4xx is final (the payload or the URL is wrong, and retrying would not change that).
Redirects are not followed: a webhook that redirects is misconfigured, and following would
send the payload somewhere nobody vetted. Exceptions from `requests` carry the URL in their
text, so only their kind is reported.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from .base import DeliveryResult, Payload

log = logging.getLogger(__name__)

USER_AGENT = "defender-contact-monitor"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class DeliveryPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # Total time one channel may spend on retries and waits in one run.
    channel_budget_seconds: float = 60.0
    # Backoff when a retryable answer carries no Retry-After: first wait, doubled, capped.
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 16.0
    max_attempts: int = 6
    # Slack allows about one message per second per webhook.
    slack_interval_seconds: float = 1.0


DEFAULT_POLICY = DeliveryPolicy()


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
    payloads: Sequence[Payload],
    session: requests.Session,
    policy: DeliveryPolicy,
    accepted: Callable[[requests.Response], bool],
    interval_seconds: float = 0.0,
) -> DeliveryResult:
    """Send `payloads` in order; stop at the first that cannot be delivered."""
    host = host_of(url)
    deadline = time.monotonic() + policy.channel_budget_seconds
    sent = 0
    detail = "nothing to send"
    last_post = None
    with redacted(url):
        for payload in payloads:
            if last_post is not None and interval_seconds:
                time.sleep(max(0.0, last_post + interval_seconds - time.monotonic()))
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            answer = _post_with_retries(url, body, session, policy, accepted, deadline)
            last_post = time.monotonic()
            detail = answer.detail
            if not answer.ok:
                log.warning(
                    "%s (%s): message %d of %d not delivered: %s", channel, host, sent + 1, len(payloads), detail
                )
                return DeliveryResult(channel, host, False, sent, detail)
            sent += 1
    log.info("%s (%s): delivered %d message(s), %s", channel, host, sent, detail)
    return DeliveryResult(channel, host, True, sent, detail)


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
            return _Answer(False, False, f"not sent: the channel's {policy.channel_budget_seconds:g} s budget is spent")
        # No single request may outlast the channel's budget either.
        timeout = (min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining))
        answer = _post_once(url, body, session, timeout, accepted)
        if answer.ok or not answer.retryable:
            return answer
        wait = answer.retry_after if answer.retry_after is not None else backoff
        backoff = min(backoff * 2, policy.max_backoff_seconds)
        if attempt >= policy.max_attempts:
            return _Answer(False, True, f"{answer.detail} (gave up after {attempt} attempts)")
        if time.monotonic() + wait > deadline:
            return _Answer(
                False, True, f"{answer.detail} (gave up: retrying would exceed {policy.channel_budget_seconds:g} s)"
            )
        log.info("webhook answered %s; retrying in %.1f s", answer.detail, wait)
        time.sleep(wait)


def _post_once(
    url: str,
    body: bytes,
    session: requests.Session,
    timeout: tuple[float, float],
    accepted: Callable[[requests.Response], bool],
) -> _Answer:
    try:
        response = session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        # The message may have arrived; a duplicate is better than silence.
        return _Answer(False, True, "timed out")
    except requests.exceptions.SSLError:
        return _Answer(False, False, "TLS error (certificate not trusted?)")
    except requests.ConnectionError:
        return _Answer(False, True, "connection failed")
    except requests.RequestException as error:
        return _Answer(False, False, f"request failed ({type(error).__name__})")
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
    """What the Teams and Slack notifiers share: a webhook URL (a secret) and posting payloads in order."""

    channel: str
    # Statuses that mean the webhook took the message.
    accepted_statuses: frozenset[int]

    def __init__(self, portal_url: str, max_messages: int, url: str | None = None) -> None:
        self.portal_url = portal_url
        self.max_messages = max_messages
        self._url = url  # a secret: kept out of repr and messages

    def pacing_seconds(self, policy: DeliveryPolicy) -> float:
        """The pause between two messages of one run."""
        return 0.0

    def send(
        self, payloads: list[Payload], session: requests.Session, policy: DeliveryPolicy = DEFAULT_POLICY
    ) -> DeliveryResult:
        if not self._url:
            raise ValueError(f"no webhook URL is configured for {self.channel}")
        return post_all(
            self.channel,
            self._url,
            payloads,
            session,
            policy,
            lambda response: response.status_code in self.accepted_statuses,
            interval_seconds=self.pacing_seconds(policy),
        )
