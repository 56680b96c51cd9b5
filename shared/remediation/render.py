"""A fix plan or result as text for the operator, or as JSON.

The text fits the terminal the way the check's table does: every line is wrapped to the width, its
continuation indented under it, except an `az rest` command, which is one unbreakable line of its own
(a reviewer copies it whole). Names from the tenant pass through `one_line`.
"""

from __future__ import annotations

import json
from typing import Any

from ..display_text import one_line
from ..report_format import DEFAULT_WIDTH, MIN_WIDTH, wrap
from .outcome import FixReport, Outcome, SubscriptionFix

_HEADLINES = {
    Outcome.PLANNED: "would change",
    Outcome.FIXED: "fixed",
    Outcome.STILL_FAILING: "written, still failing",
    Outcome.CANNOT_FIX: "cannot be fixed by this command",
    Outcome.ALREADY_PASSES: "already passes",
    Outcome.FAILED: "not fixed",
    Outcome.CHANGED: "changed since planned, not written",
    Outcome.NOT_CHECKED: "not checked, never written",
}
# Problems last, next to the summary, where the eye ends up.
_ORDER = {
    Outcome.FIXED: 0,
    Outcome.PLANNED: 0,
    Outcome.ALREADY_PASSES: 1,
    Outcome.STILL_FAILING: 2,
    Outcome.CANNOT_FIX: 3,
    Outcome.FAILED: 4,
    Outcome.CHANGED: 4,
    Outcome.NOT_CHECKED: 5,
}


def to_json(report: FixReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)


DRY_RUN_INTRO = "Dry run: nothing was written. Review the changes, then add --apply to write them."
NOTHING_WRITTEN_INTRO = "Nothing was written: no subscription has a change this command can write."


_COMMAND = "az rest "
# Continuation lines sit this much further in than the line they continue.
_HANGING = "    "


def to_text(report: FixReport, intro: str | None = None, show_requests: bool = True, width: int = DEFAULT_WIDTH) -> str:
    """Per subscription what changes (old -> new) and, before writing, the `az rest` line that would send it.

    Lines are at most `width` (at least MIN_WIDTH) cells wide, except the `az rest` command lines.
    """
    width = max(width, MIN_WIDTH)
    return "\n".join(_fitted(line, width) for line in _lines(report, intro, show_requests, width))


def _fitted(line: str, width: int) -> str:
    body = line.lstrip(" ")
    indent = line[: len(line) - len(body)]
    if not body or body.startswith(_COMMAND):
        return line
    return "\n".join(wrap(body, width, indent, indent + _HANGING))


def _lines(report: FixReport, intro: str | None, show_requests: bool, width: int) -> list[str]:
    show_requests = show_requests and not report.applied
    lines: list[str] = []
    if intro is None:
        intro = DRY_RUN_INTRO if not report.applied else (NOTHING_WRITTEN_INTRO if report.nothing_to_write else "")
    if intro:
        lines += [intro, ""]
    for fix in sorted(report.fixes, key=lambda f: _ORDER[f.outcome]):
        lines += _subscription_lines(fix, report.arm_endpoint, show_requests, width)
        lines.append("")
    if not report.fixes:
        lines += ["Nothing to fix: no subscription fails a rule.", ""]
    lines.append(summary_line(report))
    return lines


def summary_line(report: FixReport) -> str:
    counts = report.summary
    parts = [f"{counts[outcome.value]} {_HEADLINES[outcome]}" for outcome in Outcome if counts[outcome.value]]
    checked = f"{counts['pass']} passed the check, {counts['skipped']} skipped"
    return f"{'; '.join(parts) or 'nothing to change'} ({checked})"


def _subscription_lines(fix: SubscriptionFix, arm_endpoint: str, show_request: bool, width: int) -> list[str]:
    sub = fix.result.subscription
    plan = fix.plan
    headline = _HEADLINES[fix.outcome]
    if plan is not None and plan.creates and fix.outcome in (Outcome.PLANNED, Outcome.FIXED):
        headline += " (creates the security contact)"
    where = " / ".join(one_line(name) for name in sub.management_group_path)
    version = f", {plan.api_version}" if plan else ""
    lines = _headline(f"{one_line(sub.display_name) or '?'} ({sub.subscription_id}{version})", where, headline, width)
    if fix.result.findings:
        lines.append(f"  fails: {', '.join(dict.fromkeys(f.rule for f in fix.result.findings))}")
    if plan is not None:
        lines += [f"  {change.field}: {_show(change.old)} -> {_show(change.new)}" for change in plan.changes]
        if fix.outcome is not Outcome.CANNOT_FIX:
            lines += [f"  still needed: {item}" for item in plan.unresolved]
    if fix.reason and fix.outcome is not Outcome.PLANNED:
        lines.append(f"  {one_line(fix.reason)}")
    request = fix.request
    if show_request and request is not None:
        lines.append(f"  {request.az_rest(arm_endpoint)}")
    return lines


def _headline(subscription: str, where: str, headline: str, width: int) -> list[str]:
    """One line where it fits; else the group path, then the outcome too, move to lines of their own."""
    whole = f"{subscription} [{where}]: {headline}"
    if len(whole) <= width:
        return [whole]
    first = f"{subscription}: {headline}"
    if len(first) <= width:
        return [first, f"  in {where}"]
    return [subscription, f"  {headline}", f"  in {where}"]


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    return json.dumps(value, ensure_ascii=False)
