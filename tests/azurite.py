"""Azurite's Table service on a free loopback port, started and stopped by the tests.

Azurite is pinned in package.json and installed by .ci/tools/10-node-packages.sh. The account
name and key below are Azurite's well-known development credentials, published in its docs.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
AZURITE_TABLE = ROOT / "node_modules" / ".bin" / "azurite-table"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AzuriteTable:
    """`with AzuriteTable() as azurite:`; in memory, so every start is an empty account."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        # In memory, but run from a scratch folder so nothing Azurite writes lands in the repository.
        self._workspace = tempfile.TemporaryDirectory(prefix="dcm-azurite-")

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )

    def start(self) -> AzuriteTable:
        if not AZURITE_TABLE.exists():
            pytest.fail(f"{AZURITE_TABLE} is missing: run .ci/install-tools (npm ci installs the pinned Azurite)")
        command = [
            str(AZURITE_TABLE),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--silent",
            "--skipApiVersionCheck",
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(self.port),
        ]
        self._process = subprocess.Popen(  # noqa: S603 - a fixed local tool
            command, cwd=self._workspace.name, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                pytest.fail(f"azurite-table exited at start: {error}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"azurite-table did not listen on port {self.port} within {START_TIMEOUT_SECONDS} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def close(self) -> None:
        self.stop()
        self._workspace.cleanup()

    def __enter__(self) -> AzuriteTable:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def unique_table_name() -> str:
    """Tests share one Azurite; a table each keeps their state apart."""
    return "state" + uuid.uuid4().hex[:16]


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteTable]:
    with AzuriteTable() as server:
        yield server


@pytest.fixture
def state_environment(azurite_server: AzuriteTable) -> dict[str, str]:
    """App settings pointing alert state at a fresh table in the shared Azurite."""
    return {"STATE_CONNECTION_STRING": azurite_server.connection_string, "STATE_TABLE_NAME": unique_table_name()}


@pytest.fixture
def unreachable_state_environment() -> dict[str, str]:
    """App settings pointing alert state at a port nothing listens on."""
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{free_port()}/{ACCOUNT};"
    )
    return {"STATE_CONNECTION_STRING": connection_string, "STATE_TABLE_NAME": unique_table_name()}


@pytest.fixture
def private_azurite() -> Iterator[AzuriteTable]:
    """An Azurite of the test's own, for tests that stop it."""
    with AzuriteTable() as server:
        yield server


# Azure Storage's answer to a data-plane call the caller's role does not cover (e.g. POST /Tables with
# Storage Table Data Contributor granted on one table only).
PERMISSION_MISMATCH_BODY = json.dumps(
    {
        "odata.error": {
            "code": "AuthorizationPermissionMismatch",
            "message": {
                "lang": "en-US",
                "value": "This request is not authorized to perform this operation using this permission.\n"
                "RequestId:00000000-0000-0000-0000-000000000000\nTime:2026-11-30T07:00:00.0000000Z",
            },
        }
    }
)


class RefusingProxy:
    """A plain HTTP proxy in front of Azurite that answers what `refuses(method, path)` names with 403
    AuthorizationPermissionMismatch, as Azure Storage does for a role that does not cover the call, and
    forwards everything else. `requests` records (method, path) of every call that reached it."""

    def __init__(self, azurite: AzuriteTable, refuses: Callable[[str, str], bool]) -> None:
        self.requests: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append((self.command, self.path))
                if refuses(self.command, urlsplit(self.path).path):
                    self._send(
                        403,
                        {
                            "x-ms-error-code": "AuthorizationPermissionMismatch",
                            "Content-Type": "application/json;odata=minimalmetadata;charset=utf-8",
                        },
                        PERMISSION_MISMATCH_BODY.encode(),
                    )
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", azurite.port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=dict(self.headers.items()))
                    answer = upstream.getresponse()
                    payload = answer.read()
                    headers = {
                        name: value
                        for name, value in answer.getheaders()
                        if name.lower() not in ("transfer-encoding", "connection", "content-length")
                    }
                    self._send(answer.status, headers, payload)
                finally:
                    upstream.close()

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_MERGE = do_DELETE = _handle  # noqa: N815 - http.server names

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint=http://127.0.0.1:{self._server.server_address[1]}/{ACCOUNT};"
        )

    def __enter__(self) -> RefusingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def refusing_proxy(azurite_server: AzuriteTable) -> Callable[[Callable[[str, str], bool]], RefusingProxy]:
    """`with refusing_proxy(refuses) as proxy:` a RefusingProxy in front of the shared Azurite."""
    return lambda refuses: RefusingProxy(azurite_server, refuses)
