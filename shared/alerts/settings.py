"""Where alert state lives and how often an unchanged problem is repeated (app settings STATE_*, REMIND_AFTER_HOURS)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from ..setting_values import bare_https_endpoint, whole_number

DEFAULT_TABLE_NAME = "contactmonitorstate"
DEFAULT_REMIND_AFTER_HOURS = 168
MAX_REMIND_AFTER_HOURS = 8760
# Table names: 3-63 characters, alphanumeric, not starting with a digit.
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")

STATE_APP_SETTINGS = ("STATE_TABLE_ENDPOINT", "STATE_CONNECTION_STRING", "STATE_TABLE_NAME", "REMIND_AFTER_HOURS")


@dataclass(frozen=True)
class StateSettings:
    # https://<account>.table.core.windows.net, reached with the managed identity.
    table_endpoint: str | None = None
    # For local runs and Azurite; holds an account key, so it never appears in a repr or a log.
    connection_string: str | None = field(default=None, repr=False)
    table_name: str = DEFAULT_TABLE_NAME
    remind_after: timedelta = timedelta(hours=DEFAULT_REMIND_AFTER_HOURS)

    @property
    def enabled(self) -> bool:
        return bool(self.table_endpoint or self.connection_string)

    @property
    def location(self) -> str:
        """Where the state is, safe to log."""
        if self.table_endpoint:
            return f"{self.table_endpoint} table {self.table_name}"
        if self.connection_string:
            return f"table {self.table_name} (connection string)"
        return "nowhere (state off)"


def load_state_settings(environ: Mapping[str, str], problems: list[str]) -> StateSettings:
    """Appends every problem to `problems` (never echoing the connection string) and returns usable defaults."""

    def text(name: str) -> str:
        return environ.get(name, "").strip()

    endpoint: str | None = None
    if text("STATE_TABLE_ENDPOINT"):
        # A bearer token travels to this endpoint, so plain HTTP is never acceptable; a connection string or
        # SAS URL pasted here is named, never repeated (it reaches the log, the chat and the HTTP 503 body).
        endpoint = bare_https_endpoint(
            text("STATE_TABLE_ENDPOINT"),
            "STATE_TABLE_ENDPOINT",
            "https://<account>.table.core.windows.net",
            problems,
            hint="; a connection string belongs in STATE_CONNECTION_STRING",
        )
    connection_string = text("STATE_CONNECTION_STRING") or None
    if connection_string and "=" not in connection_string:
        problems.append("STATE_CONNECTION_STRING is not a storage connection string (value not shown)")
        connection_string = None
    if endpoint and connection_string:
        problems.append("set STATE_TABLE_ENDPOINT (managed identity) or STATE_CONNECTION_STRING, not both")

    table_name = text("STATE_TABLE_NAME") or DEFAULT_TABLE_NAME
    if not _TABLE_NAME.match(table_name):
        problems.append(f"STATE_TABLE_NAME={table_name!r} must be 3-63 letters and digits, starting with a letter")
        table_name = DEFAULT_TABLE_NAME

    return StateSettings(
        table_endpoint=endpoint,
        connection_string=connection_string,
        table_name=table_name,
        remind_after=timedelta(
            hours=whole_number(
                text("REMIND_AFTER_HOURS"),
                "REMIND_AFTER_HOURS",
                1,
                MAX_REMIND_AFTER_HOURS,
                DEFAULT_REMIND_AFTER_HOURS,
                problems,
                unit="hours",
            )
        ),
    )
