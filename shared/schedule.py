"""CHECK_SCHEDULE as the missed-run alert can watch it.

The Functions host reads CHECK_SCHEDULE (six NCRONTAB fields: second minute hour day month
day-of-week, UTC), not this code. The "monitor did not run" log alert looks back at most two days
(a log search alert's longest window), so it can watch only a schedule that runs every day. The
preprovision hook refuses any other; the settings listing and the run summary warn about it.
"""

from __future__ import annotations

from collections.abc import Mapping

SETTING = "CHECK_SCHEDULE"
FIELDS = ("second", "minute", "hour", "day", "month", "day-of-week")
# Values of the day, month and day-of-week fields that leave every day in.
_EVERY = {
    "day": {"*", "*/1", "1-31"},
    "month": {"*", "*/1", "1-12"},
    "day-of-week": {"*", "*/1", "0-6"},
}


def schedule_problem(expression: str) -> str | None:
    """Why the missed-run alert cannot watch this schedule, or None when it runs every day."""
    fields = expression.split()
    if len(fields) != len(FIELDS):
        return (
            f"{SETTING} has {len(fields)} field{'' if len(fields) == 1 else 's'}; the Functions timer takes six "
            "NCRONTAB fields (second minute hour day month day-of-week, UTC), e.g. '0 0 7 * * *'"
        )
    for name, value in zip(FIELDS, fields, strict=True):
        if name in _EVERY and value not in _EVERY[name]:
            return (
                f"{SETTING} does not run every day (its {name} field is {value!r}): the missed-run alert looks "
                "back at most two days, so it watches only schedules that run at least daily; keep the day, "
                "month and day-of-week fields at '*'"
            )
    return None


def schedule_warnings(environ: Mapping[str, str]) -> list[str]:
    value = environ.get(SETTING, "").strip()
    problem = schedule_problem(value) if value else None
    return [problem] if problem else []
