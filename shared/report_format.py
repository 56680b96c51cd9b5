"""Rendering a report for people (a table that fits the terminal) and for machines (JSON, CSV).

The table puts what needs attention first (fail, then error), one line per subscription with its
details on indented lines beneath, and folds passing and skipped subscriptions into a count line
unless asked for all. Every name and message from the tenant passes through `one_line`, so no
control, escape or bidi character reaches a terminal or a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import textwrap
import unicodedata
from dataclasses import dataclass

from .display_text import one_line
from .models import Report, Status, SubscriptionResult

# The reader came for the problems: failures first, then what could not be checked.
_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.SKIPPED: 2, Status.PASS: 3}
_FOLDED = (Status.PASS, Status.SKIPPED)
DEFAULT_WIDTH = 100
# Below this the columns cannot be kept apart; wider lines are better than an unreadable table.
MIN_WIDTH = 60
_GAP = "  "
_STATUS_WIDTH = len("SKIPPED")
_ID_WIDTH = 36
_MIN_NAME = 12
_MIN_GROUP = 10
_INDENT = " " * (_STATUS_WIDTH + len(_GAP))
_PATH_SEPARATOR = " / "
# How a group path cut at its start begins: "… / Corp".
_CUT = "…" + _PATH_SEPARATOR


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def to_table(report: Report, width: int = DEFAULT_WIDTH, show_all: bool = True) -> str:
    """The report as lines no wider than `width` (at least MIN_WIDTH) display cells.

    Without `show_all` (the terminal's default) passing and skipped subscriptions are a count line;
    the HTTP check's plain-text answer, which has no --all to ask with, lists them all.
    """
    width = max(width, MIN_WIDTH)
    rows = [_Row.of(result) for result in _ordered(report.results)]
    listed = [row for row in rows if show_all or row.status not in _FOLDED]
    layout = _Layout.fit(listed, width)
    lines = [layout.header()]
    for row in listed:
        lines.extend(layout.lines(row))
    if not listed:
        lines.append(_INDENT + "nothing needs attention")
    lines.append("")
    lines.extend(wrap(_summary_line(report), width))
    folded = [status for status in _FOLDED if not show_all and report.count(status)]
    if folded:
        counts = " and ".join(f"{report.count(status)} {status.value}" for status in folded)
        lines.extend(wrap(f"Not listed: {counts} (--all lists them).", width))
    fixes = _fixes(report.results)
    if fixes:
        lines.append("")
        lines.append("How to fix:")
        for rule, fix in fixes.items():
            lines.extend(wrap(f"{rule}: {one_line(fix)}", width, "  ", "    "))
    return "\n".join(lines)


CSV_COLUMNS = (
    "status",
    "subscriptionId",
    "displayName",
    "managementGroupPath",
    "state",
    "tenantId",
    "rules",
    "details",
    "contactsApiVersion",
)


def to_csv(report: Report) -> str:
    """One row per subscription, problems first; cells that a spreadsheet would run as a formula are quoted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for result in _ordered(report.results):
        sub = result.subscription
        writer.writerow(
            [
                result.status.value,
                sub.subscription_id,
                _cell(sub.display_name),
                _cell(" / ".join(one_line(group) for group in sub.management_group_path)),
                _cell(sub.state),
                sub.tenant_id,
                " ".join(finding.rule for finding in result.findings),
                _cell(_details(result, " | ")),
                result.api_version or "",
            ]
        )
    return out.getvalue()


def _ordered(results: tuple[SubscriptionResult, ...]) -> list[SubscriptionResult]:
    return sorted(
        results,
        key=lambda r: (
            _ORDER[r.status],
            [group.lower() for group in r.subscription.management_group_path],
            r.subscription.display_name.lower(),
            r.subscription.subscription_id,
        ),
    )


def _summary_line(report: Report) -> str:
    summary = report.summary
    return (
        f"{summary['total']} subscriptions: {summary['pass']} pass, {summary['fail']} fail, "
        f"{summary['error']} error, {summary['skipped']} skipped (scope: {_scope(report)})"
    )


def _scope(report: Report) -> str:
    """The scope groups by display name ("Tenant Root Group"), the id where the name is unknown."""
    return ", ".join(one_line(report.scope_name(index)) for index in range(len(report.scope))) or "none"


def _details(result: SubscriptionResult, separator: str) -> str:
    if result.findings:
        return separator.join(f"{finding.rule}: {one_line(finding.message)}" for finding in result.findings)
    return one_line(result.reason or "")


def _cell(text: str) -> str:
    # A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection).
    text = one_line(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _fixes(results: tuple[SubscriptionResult, ...]) -> dict[str, str]:
    # Most fixes are the same for every subscription; print each rule's once, in rule order.
    fixes: dict[str, str] = {}
    for result in results:
        for finding in result.findings:
            fixes.setdefault(finding.rule, finding.fix)
    return dict(sorted(fixes.items()))


@dataclass(frozen=True)
class _Row:
    status: Status
    name: str
    subscription_id: str
    group_path: str
    groups: tuple[str, ...]
    details: tuple[str, ...]

    @classmethod
    def of(cls, result: SubscriptionResult) -> _Row:
        sub = result.subscription
        if result.findings:
            details = tuple(f"{finding.rule}: {one_line(finding.message)}" for finding in result.findings)
        else:
            details = (one_line(result.reason),) if result.reason else ()
        groups = tuple(one_line(group) for group in sub.management_group_path)
        return cls(
            status=result.status,
            name=one_line(sub.display_name) or "?",
            subscription_id=one_line(sub.subscription_id),
            group_path=_PATH_SEPARATOR.join(groups),
            groups=groups,
            details=details,
        )


@dataclass(frozen=True)
class _Layout:
    width: int
    name_width: int
    # 0: no group column (too narrow); the path goes on a detail line instead.
    group_width: int
    # Whether a cut path starts "… / ": only when every cut path in the column can, so the column reads alike.
    marked_cuts: bool = True

    @classmethod
    def fit(cls, rows: list[_Row], width: int) -> _Layout:
        fixed = _STATUS_WIDTH + len(_GAP) + _ID_WIDTH + len(_GAP)
        natural_name = max([_cells(row.name) for row in rows] + [len("SUBSCRIPTION")])
        natural_group = max([_cells(row.group_path) for row in rows] + [len("MANAGEMENT GROUP")])
        room = width - fixed
        # The name is what people recognise; the group column takes what is left, or goes.
        name_width = min(natural_name, max(_MIN_NAME, room - len(_GAP) - _MIN_GROUP))
        group_width = min(natural_group, room - name_width - len(_GAP))
        if group_width < _MIN_GROUP:
            return cls(width, min(natural_name, room), 0)
        marked_cuts = all(
            _cells(_CUT + row.groups[-1]) <= group_width for row in rows if _cells(row.group_path) > group_width
        )
        return cls(width, name_width, group_width, marked_cuts)

    def header(self) -> str:
        cells = ["STATUS".ljust(_STATUS_WIDTH), _pad("SUBSCRIPTION", self.name_width), "ID".ljust(_ID_WIDTH)]
        if self.group_width:
            cells.append("MANAGEMENT GROUP" if self.group_width >= len("MANAGEMENT GROUP") else "GROUP")
        return _GAP.join(cells).rstrip()

    def lines(self, row: _Row) -> list[str]:
        name = _fit_right(row.name, self.name_width)
        cells = [row.status.value.upper().ljust(_STATUS_WIDTH), _pad(name, self.name_width)]
        if self.group_width:
            cells += [_pad(row.subscription_id, _ID_WIDTH), _fit_path(row.groups, self.group_width, self.marked_cuts)]
        else:
            cells.append(row.subscription_id)
        lines = [_GAP.join(cells).rstrip()]
        extra: list[str] = []
        if name != row.name:
            extra.append(f"name: {row.name}")
        if row.group_path and not self.group_width and row.status not in _FOLDED:
            extra.append(f"in: {row.group_path}")
        for detail in (*extra, *row.details):
            lines.extend(wrap(detail, self.width, _INDENT, _INDENT + "  "))
        return lines


def terminal_width() -> int:
    """The terminal's width (COLUMNS first), DEFAULT_WIDTH when it cannot be told."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """`text` in lines of at most `width` cells, the first led by `first`, the others by `rest`."""
    # textwrap counts characters; wide (East Asian, emoji) text is rare in names, so cut it by cells after.
    wrapped = textwrap.wrap(
        text, width=width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    ) or [first.rstrip()]
    return [line if _cells(line) <= width else _fit_right(line, width) for line in wrapped]


def _cells(text: str) -> int:
    """How many terminal columns `text` takes: wide characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text
    )


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _cells(text))


def _fit_right(text: str, width: int) -> str:
    """`text` cut at the end to `width` cells, with an ellipsis when cut."""
    if _cells(text) <= width:
        return text
    kept = ""
    for ch in text:
        if _cells(kept + ch) > width - 1:
            break
        kept += ch
    return kept + "…"


def _fit_path(groups: tuple[str, ...], width: int, marked: bool = True) -> str:
    """A group path in `width` cells: cut at the start, only ever between whole group names.

    The innermost groups are what a reader needs, so a cut path is "… / Landing Zones / Corp" or
    "… / Corp"; unmarked (some "… / <innermost>" in the column does not fit), the innermost name alone,
    clipped at its end where even that is too wide.
    """
    path = _PATH_SEPARATOR.join(groups)
    if _cells(path) <= width:
        return path
    for start in range(1, len(groups) if marked else 0):
        cut = _CUT + _PATH_SEPARATOR.join(groups[start:])
        if _cells(cut) <= width:
            return cut
    return _fit_right(groups[-1], width)
