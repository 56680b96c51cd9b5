"""Azurite's Table service on a free loopback port, started and stopped by the tests.

Azurite is pinned in package.json and installed by .ci/tools/10-node-packages.sh. The account
name and key below are Azurite's well-known development credentials, published in its docs.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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
