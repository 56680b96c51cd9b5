"""Local HTTPS stand-ins for a Teams Workflows webhook and a Slack incoming webhook.

Used by the tests and the demo. Each receiver listens on `/teams/<secret>` and `/slack/<secret>`
(the secret plays the part of a real webhook's signature, so tests can prove it never leaks),
records every request, checks payload shape, size and headers, and answers like the real
service: Teams 202 with an empty body (even for a bad card: the problem is only recorded, as
Teams only reports it in the flow's run history), Slack 200 `ok` or a plain-text error code.
Scripted replies (`expect`) produce 400/404/429 with Retry-After/500 and slow answers.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .certs import CertificateFiles, create_certificates

# Teams fails a flow whose message is larger than this (MessageSizeExceeded).
TEAMS_MAX_BYTES = 28_672
SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_TEXT = 3000
SLACK_MAX_HEADER_TEXT = 150
# Live Slack also refuses a message whose blocks hold too much text in total (`msg_blocks_too_long`),
# a cumulative limit it does not document: posts with 11,341 characters were refused, 9,597 accepted
# (slackapi/bolt-js#2509, #2867). The stand-in refuses from the lower of the two.
SLACK_MAX_BLOCKS_TEXT = 11_000
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CHANNELS = ("teams", "slack")


@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, body, optional Retry-After, and a delay before answering."""

    status: int
    body: str = ""
    retry_after: str | None = None
    delay_seconds: float = 0.0


@dataclass
class Received:
    channel: str
    path_ok: bool
    headers: dict[str, str]
    body: bytes
    payload: Any
    # What is wrong with the request (shape, size, headers); empty for a good one.
    problems: list[str]
    status: int
    at: float = field(default_factory=time.monotonic)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(30)
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:
        self.server.receivers.handle(self)

    def do_GET(self) -> None:
        self._answer(405, "method_not_allowed")

    def _answer(self, status: int, body: str, retry_after: str | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, receivers: WebhookReceivers) -> None:
        self.context = context
        self.receivers = receivers
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients giving up on a slow answer (timeout tests) is expected


class WebhookReceivers:
    """`with WebhookReceivers() as hooks:`; `hooks.teams_url`, `hooks.slack_url`, `hooks.received`."""

    def __init__(self, certificates: CertificateFiles | None = None, host: str = "127.0.0.1") -> None:
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        if certificates is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="dcm-webhooks-")
            certificates = create_certificates(Path(self._temp_dir.name))
        self.certificates = certificates
        self.secret = secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._script: dict[str, deque[Reply]] = {channel: deque() for channel in CHANNELS}
        self.received: list[Received] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificates.cert_path, certificates.key_path)
        self._server = _Server((host, 0), context, self)
        self._thread: threading.Thread | None = None

    # -- addresses ------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        return "localhost"

    @property
    def teams_url(self) -> str:
        # Shaped like a Workflows URL: the signature in the query is the secret part.
        return (
            f"https://{self.host}:{self.port}/teams/workflows/{self.secret[:8]}/triggers/manual/paths/invoke"
            f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.secret}"
        )

    @property
    def slack_url(self) -> str:
        return f"https://{self.host}:{self.port}/slack/services/T0000/B0000/{self.secret}"

    @property
    def ca_path(self) -> Path:
        return self.certificates.ca_path

    def environment(self) -> dict[str, str]:
        """App settings that point the monitor's notifications at these receivers."""
        return {
            "TEAMS_WEBHOOK_URL": self.teams_url,
            "SLACK_WEBHOOK_URL": self.slack_url,
            "NOTIFY_ALLOWED_HOSTS": self.host,
        }

    # -- control ----------------------------------------------------------------

    def expect(self, channel: str, *replies: Reply) -> None:
        """Answer the next requests on `channel` with `replies`, in order, then normally again."""
        with self._lock:
            self._script[channel].extend(replies)

    def messages(self, channel: str) -> list[Received]:
        """Requests on `channel` that were answered with success."""
        with self._lock:
            return [r for r in self.received if r.channel == channel and 200 <= r.status < 300]

    def reset(self) -> None:
        with self._lock:
            for queue in self._script.values():
                queue.clear()
            self.received.clear()

    def start(self) -> WebhookReceivers:
        self._thread = threading.Thread(
            # A short poll keeps stop() quick; tests start a receiver each.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhooks",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None

    def __enter__(self) -> WebhookReceivers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests ---------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        channel = next((c for c in CHANNELS if handler.path.startswith(f"/{c}/")), "")
        expected_path = {"teams": self.teams_url, "slack": self.slack_url}.get(channel, "")
        path_ok = bool(channel) and expected_path.endswith(handler.path)
        problems: list[str] = []
        if not path_ok:
            problems.append("unknown webhook path")
        if not handler.headers.get("Content-Type", "").startswith("application/json"):
            problems.append("Content-Type is not application/json")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
            problems.append("body is not JSON")
        if payload is not None and channel == "teams":
            problems.extend(teams_problems(payload, len(body)))
        elif payload is not None and channel == "slack":
            problems.extend(slack_problems(payload))
        with self._lock:
            scripted = self._script[channel].popleft() if channel and self._script[channel] else None
        reply = scripted or self._natural_reply(channel, path_ok, problems)
        record = Received(channel, path_ok, dict(handler.headers), body, payload, problems, reply.status)
        with self._lock:
            self.received.append(record)
        if reply.delay_seconds:
            time.sleep(reply.delay_seconds)
        with contextlib.suppress(OSError):  # the client may have stopped waiting
            handler._answer(reply.status, reply.body, reply.retry_after)

    @staticmethod
    def _natural_reply(channel: str, path_ok: bool, problems: list[str]) -> Reply:
        if not path_ok:
            return Reply(404, "no_service" if channel == "slack" else "")
        if channel == "teams":
            # The real Workflows trigger accepts first and fails later, whatever the card.
            return Reply(202)
        return Reply(400, "invalid_payload") if problems else Reply(200, "ok")


def teams_problems(payload: Any, size: int) -> list[str]:
    problems = []
    if size > TEAMS_MAX_BYTES:
        problems.append(f"message of {size} bytes is over {TEAMS_MAX_BYTES} (MessageSizeExceeded)")
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return [*problems, 'payload is not {"type": "message", ...}']
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return [*problems, "expected exactly one attachment"]
    attachment = attachments[0]
    if attachment.get("contentType") != CARD_CONTENT_TYPE:
        problems.append(f"attachment contentType is not {CARD_CONTENT_TYPE}")
    if "contentUrl" not in attachment or attachment["contentUrl"] is not None:
        problems.append("attachment contentUrl must be null")
    card = attachment.get("content")
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        problems.append("attachment content is not an AdaptiveCard")
    elif card.get("version") != "1.5":
        problems.append(f"card version {card.get('version')!r} is not 1.5")
    elif not isinstance(card.get("body"), list) or not card["body"]:
        problems.append("card has no body")
    return problems


def slack_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["payload is not an object"]
    problems = []
    if not isinstance(payload.get("text"), str) or not payload["text"].strip():
        problems.append("no text fallback")
    blocks = payload.get("blocks", [])
    if not isinstance(blocks, list):
        return [*problems, "blocks is not a list"]
    if len(blocks) > SLACK_MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (limit {SLACK_MAX_BLOCKS})")
    for index, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in ("header", "section", "context", "divider"):
            problems.append(f"block {index}: unexpected type {kind!r}")
            continue
        text = block.get("text")
        if kind == "header":
            if not isinstance(text, dict) or text.get("type") != "plain_text":
                problems.append(f"block {index}: header text must be plain_text")
            elif len(text.get("text", "")) > SLACK_MAX_HEADER_TEXT:
                problems.append(f"block {index}: header over {SLACK_MAX_HEADER_TEXT} characters")
        if kind == "section":
            if not isinstance(text, dict) or text.get("type") not in ("mrkdwn", "plain_text"):
                problems.append(f"block {index}: section without a text object")
            elif not text.get("text") or len(text["text"]) > SLACK_MAX_SECTION_TEXT:
                problems.append(f"block {index}: section text empty or over {SLACK_MAX_SECTION_TEXT} characters")
        if kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                problems.append(f"block {index}: context needs 1 to 10 elements")
    total = sum(len(text) for text in _block_texts(blocks))
    if total > SLACK_MAX_BLOCKS_TEXT:
        problems.append(f"msg_blocks_too_long: {total} characters of block text")
    return problems


def _block_texts(value: Any) -> list[str]:
    """Every "text" string anywhere in the blocks (header, section, context element, nested objects)."""
    if isinstance(value, list):
        return [text for item in value for text in _block_texts(item)]
    if isinstance(value, dict):
        own = [value["text"]] if isinstance(value.get("text"), str) else []
        return own + [
            text
            for key, item in value.items()
            if key != "text" or not isinstance(item, str)
            for text in _block_texts(item)
        ]
    return []
