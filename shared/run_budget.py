"""One timer run inside the host's timeout: the check's deadline, chat delivery's budget, and room for alert state.

host.json's `functionTimeout` ends the worker without a report, so settings whose worst case does
not fit are refused when they are loaded, rather than discovered when the host kills a run.
"""

from __future__ import annotations

from .alerts.settings import STATE_OPERATION_SECONDS
from .notify.delivery import DEFAULT_POLICY, delivery_budget_seconds

# host.json `functionTimeout` (00:15:00); a test holds the two equal.
FUNCTION_TIMEOUT_SECONDS = 900
# Reading and writing alert state, then startup, the token and the summary.
RESERVED_SECONDS = 2 * STATE_OPERATION_SECONDS + 60


def run_budget_seconds(run_timeout_seconds: int, max_messages: int) -> float:
    """The longest one monitored run can take with these settings."""
    return run_timeout_seconds + delivery_budget_seconds(max_messages, DEFAULT_POLICY) + RESERVED_SECONDS


def fit_problems(run_timeout_seconds: int, max_messages: int) -> list[str]:
    """Empty when the run, its delivery and the state writes fit inside `functionTimeout`."""
    total = run_budget_seconds(run_timeout_seconds, max_messages)
    if total <= FUNCTION_TIMEOUT_SECONDS:
        return []
    delivery = delivery_budget_seconds(max_messages, DEFAULT_POLICY)
    longest = int(FUNCTION_TIMEOUT_SECONDS - delivery - RESERVED_SECONDS)
    return [
        f"RUN_TIMEOUT_SECONDS={run_timeout_seconds} with NOTIFY_MAX_MESSAGES={max_messages} does not fit host.json's "
        f"functionTimeout of {FUNCTION_TIMEOUT_SECONDS} s: the check may take {run_timeout_seconds} s, chat delivery "
        f"up to {delivery:g} s and alert state up to {RESERVED_SECONDS} s; set RUN_TIMEOUT_SECONDS to at most "
        f"{longest} (or send fewer messages)"
    ]
