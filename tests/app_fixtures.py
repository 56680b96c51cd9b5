"""The Functions app's test environment as a pytest plugin: emulated ARM, Azurite state, both chat channels."""

from __future__ import annotations

import pytest

from emulator.webhooks import WebhookReceivers
from shared.notify.settings import NOTIFY_SETTINGS

SCHEDULE = "0 0 7 * * *"


@pytest.fixture(scope="module")
def receivers(emulator_server):
    # One CA for ARM and the webhooks: REQUESTS_CA_BUNDLE (set by the emulator fixture) trusts both.
    with WebhookReceivers(certificates=emulator_server.certificates) as hooks:
        yield hooks


@pytest.fixture
def hooks(receivers):
    receivers.reset()
    yield receivers
    receivers.reset()


@pytest.fixture
def app_settings(emulator, hooks, state_environment, monkeypatch):
    """The app's environment: emulated ARM and identity, Azurite state, both chat channels."""
    for name in NOTIFY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    settings = {**hooks.environment(), **state_environment, "CHECK_SCHEDULE": SCHEDULE}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return settings
