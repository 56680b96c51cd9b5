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


class NotInScope(MonitorError):
    """Subscriptions a caller named (command line, HTTP check) are not in the scope the run can see.

    The caller's mistake, not a failed run: answered (CLI exit 2, HTTP 404), never posted to chat nor kept
    as alert state, where a made-up id would linger as "could not be checked" with no run to clear it.
    """

    def __init__(self, subscription_ids: tuple[str, ...], scope: tuple[str, ...]) -> None:
        self.subscription_ids = subscription_ids
        self.scope = scope
        if len(subscription_ids) == 1:
            named = f"subscription {subscription_ids[0]} is"
        else:
            named = f"subscriptions {', '.join(subscription_ids)} are"
        groups = f"management group{'s' if len(scope) != 1 else ''} {', '.join(scope)}"
        super().__init__(
            f"not found in scope: {named} not under {groups} (a wrong id, a subscription of another tenant, "
            "or one the identity cannot read)"
        )
