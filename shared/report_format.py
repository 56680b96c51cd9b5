"""Rendering a report for people (a table) and for machines (JSON)."""

from __future__ import annotations

import json

from .models import Report, Status, SubscriptionResult

_ORDER = {Status.ERROR: 0, Status.FAIL: 1, Status.SKIPPED: 2, Status.PASS: 3}


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def to_table(report: Report) -> str:
    # Problems first: the reader came for them.
    rows = sorted(report.results, key=lambda r: _ORDER[r.status])
    headers = ("STATUS", "SUBSCRIPTION", "ID", "MANAGEMENT GROUPS", "DETAILS")
    table = [headers, *(_row(result) for result in rows)]
    widths = [max(len(row[column]) for row in table) for column in range(len(headers) - 1)]
    lines = []
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    summary = report.summary
    lines.append("")
    lines.append(
        f"{summary['total']} subscriptions: {summary['pass']} pass, {summary['fail']} fail, "
        f"{summary['error']} error, {summary['skipped']} skipped "
        f"(scope: {', '.join(report.scope)})"
    )
    fixes = _fixes(rows)
    if fixes:
        lines.append("")
        lines.append("How to fix:")
        lines.extend(f"  {rule}: {fix}" for rule, fix in fixes.items())
    return "\n".join(lines)


def _row(result: SubscriptionResult) -> tuple[str, str, str, str, str]:
    sub = result.subscription
    details = " | ".join(f"[{f.rule}] {f.message}" for f in result.findings) if result.findings else result.reason or ""
    return (
        result.status.value.upper(),
        sub.display_name or "?",
        sub.subscription_id,
        " / ".join(sub.management_group_path),
        details,
    )


def _fixes(results: list[SubscriptionResult]) -> dict[str, str]:
    # Most fixes are the same for every subscription; print each rule's once.
    fixes: dict[str, str] = {}
    for result in results:
        for finding in result.findings:
            fixes.setdefault(finding.rule, finding.fix)
    return fixes
