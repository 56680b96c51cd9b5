"""The package's one exception hierarchy: everything the monitor raises on purpose is a MonitorError."""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor raises deliberately; its message is safe to show (no secrets)."""


class ConfigError(MonitorError, ValueError):
    """One or more settings are invalid; `problems` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class RunFailed(MonitorError, RuntimeError):
    """The run could not produce a trustworthy report; the CLI exits 2."""
