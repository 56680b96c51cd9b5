"""What an alert says, independent of the chat channel, and how it is split into bounded messages.

An AlertBatch becomes a Digest, read top-down at 9 am: a headline with counts; counts by rule and
the management groups with most failures; "how to fix" once per run, one short line and one link
per rule; then one entry per subscription (new failures, could not be checked, still failing "for
N days", resolved), grouped by management-group path, each with its portal link. The overview and
the fixes lead the first message only; `paginate` fills messages greedily in a stable order and
counts whatever does not fit per management group.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ..access import READER_ROLE
from ..models import AlertBatch, AlertItem, AlertKind, Report, Status
from ..portal import portal_link
from .text import clip, plural, thousands

NAME_LIMIT = 120
GROUP_PART_LIMIT = 60
GROUP_LIMIT = 200
DETAIL_LIMIT = 400
RULE_LIMIT = 60
FIX_LIMIT = 200
SCOPE_LIMIT = 300
SUMMARY_GROUP_LINES = 8
TOP_GROUPS = 5
# How much chat one run is worth: one message, and one more for every further 200 subscriptions
# in the alert (up to NOTIFY_MAX_MESSAGES); a message names at most 100. The rest are counted per
# management group and are all in the full report.
ENTRIES_PER_MESSAGE_BUDGET = 200
MAX_ENTRIES_PER_MESSAGE = 100

LEARN_EMAIL_NOTIFICATIONS = "https://learn.microsoft.com/azure/defender-for-cloud/configure-email-notifications"
FIX_WHERE = (
    "All are in Defender for Cloud > Environment settings > <subscription> > Email notifications; "
    "each subscription's name below opens that page."
)
# One line a person can act on per rule; a rule missing here falls back to its own (longer) fix text.
FIX_LINES = {
    "contact-email": "Add a monitored mailbox under 'Additional email addresses'.",
    "alert-notifications": "Tick 'Notify about alerts with the following severity' at the required severity.",
    "owner-notifications": "Tick 'All users with the following roles' and include Owner.",
    "attack-path-notifications": "Tick 'Notify about attack paths' at the required risk level (Defender CSPM).",
}


class Section(StrEnum):
    # Declaration order is message order: what broke first, then what nobody could check
    # (it needs a different person: access, not a contact), then old news.
    NEW_FAILURES = "new-failures"
    ERRORS = "errors"
    REMINDERS = "reminders"
    RESOLVED = "resolved"


SECTION_TITLES = {
    Section.NEW_FAILURES: "New failures",
    Section.ERRORS: "Could not be checked",
    Section.REMINDERS: "Still failing",
    Section.RESOLVED: "Resolved (now passing)",
}
SECTION_HINTS = {
    Section.NEW_FAILURES: "Alerts from these subscriptions reach nobody, or not everyone they should.",
    Section.ERRORS: f"The monitor's identity could not read these; they need {READER_ROLE}, not a contact.",
    Section.REMINDERS: "Reported before and still not fixed.",
    Section.RESOLVED: "Fixed since the last alert.",
}
# How the headline's "in this alert" line names each section's count.
SECTION_COUNTS = {
    Section.NEW_FAILURES: "new",
    Section.ERRORS: "could not be checked",
    Section.REMINDERS: "still failing",
    Section.RESOLVED: "resolved",
}
_ORDER = {section: index for index, section in enumerate(Section)}


@dataclass(frozen=True)
class Detail:
    label: str  # the rule ids that say `text` ("a, b" when two rules find the same thing), or "reason"
    text: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fix:
    rule: str
    text: str
    link: str


@dataclass(frozen=True)
class Entry:
    section: Section
    group: str
    name: str
    subscription_id: str
    details: tuple[Detail, ...]
    # Deep link to the subscription's Defender for Cloud email notifications; None for a malformed id.
    link: str | None
    # "failing for 3 days", "fixed after 2 days": from the stored first-seen time; "" when not known.
    age: str = ""

    @property
    def same_story(self) -> tuple[object, ...]:
        """Entries of one group that agree on this are told together: their names, then what is wrong once."""
        return (self.section, self.group, self.details, self.age)


@dataclass(frozen=True)
class Digest:
    title: str
    counts: str
    scope: str
    generated_at: str
    entries: tuple[Entry, ...]
    section_totals: tuple[tuple[Section, int], ...]
    fixes: tuple[Fix, ...]
    # Failing subscriptions per rule and per management group (most first) across the whole report.
    by_rule: tuple[tuple[str, int], ...] = ()
    top_groups: tuple[tuple[str, int], ...] = ()
    # Failing subscriptions in groups beyond `top_groups`, and how many such groups.
    other_groups: tuple[int, int] = (0, 0)
    report_url: str | None = None

    @property
    def in_this_alert(self) -> str:
        """'3 new · 1 could not be checked · 2 still failing'; empty for an all-clear."""
        return " · ".join(f"{thousands(count)} {SECTION_COUNTS[section]}" for section, count in self.section_totals)

    def message_budget(self, max_messages: int) -> int:
        """How many messages this alert may take: grows with its size, never over `max_messages`."""
        return max(1, min(max_messages, math.ceil(len(self.entries) / ENTRIES_PER_MESSAGE_BUDGET)))


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    entries: tuple[Entry, ...]
    # Lines that summarise the entries no page had room for; empty when everything is shown.
    overflow: tuple[str, ...]
    # The first entry's section began on an earlier page.
    continues_section: bool = False

    @property
    def names(self) -> frozenset[str]:
        """The subscriptions this page names (lower-case ids): only these count as told when it is delivered."""
        return frozenset(entry.subscription_id.lower() for entry in self.entries)


def section_of(item: AlertItem) -> Section | None:
    if item.kind is AlertKind.RESOLVED:
        return Section.RESOLVED
    if item.result.status is Status.ERROR:
        return Section.ERRORS
    if item.result.status is Status.FAIL:
        return Section.NEW_FAILURES if item.kind is AlertKind.NEW else Section.REMINDERS
    return None


def waiting_rank(item: AlertItem) -> tuple[int, float]:
    """Within a section, alerts an earlier run could not name come first, the longest-waiting first."""
    if item.pending_since is None:
        return (1, 0.0)
    return (0, item.pending_since.timestamp())


def readable_time(timestamp: str) -> str:
    """'2026-11-25 02:00 UTC' from the report's ISO time; the text itself when it is not one."""
    moment = _parse_time(timestamp)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else clip(timestamp, 40)


def days_since(first_seen: datetime | None, now: datetime | None) -> int | None:
    if first_seen is None or now is None:
        return None
    if first_seen.tzinfo is None:
        first_seen = first_seen.replace(tzinfo=UTC)
    return max((now - first_seen).days, 0)


def age_of(section: Section, days: int | None) -> str:
    if days is None or section is Section.NEW_FAILURES:
        return ""
    if section is Section.RESOLVED:
        return f"fixed after {plural(days, 'day')}" if days else "fixed within a day"
    if section is Section.ERRORS:
        return f"unreadable for {plural(days, 'day')}" if days else ""
    return f"failing for {plural(days, 'day')}" if days else "failing for less than a day"


def details_of(item: AlertItem, section: Section) -> tuple[Detail, ...]:
    """What is wrong, each distinct message once: two rules finding 'all emails are off' say it together."""
    result = item.result
    if section is Section.ERRORS:
        return (Detail("reason", clip(result.reason or "unknown error", DETAIL_LIMIT)),)
    if section is Section.RESOLVED:
        return ()
    by_text: dict[str, list[str]] = {}
    for finding in result.findings:
        rules = by_text.setdefault(clip(finding.message, DETAIL_LIMIT), [])
        rule = clip(finding.rule, RULE_LIMIT)
        if rule not in rules:
            rules.append(rule)
    # In rule order, so subscriptions whose findings came in another order still tell the same story.
    return tuple(
        sorted((Detail(", ".join(rules), text, tuple(rules)) for text, rules in by_text.items()), key=_by_rule)
    )


def _by_rule(detail: Detail) -> tuple[str, str]:
    return (detail.label, detail.text)


def build_digest(batch: AlertBatch, portal_url: str, report_url: str | None = None) -> Digest:
    report = batch.report
    now = _parse_time(report.generated_at)
    keyed: list[tuple[tuple[object, ...], Entry]] = []
    fixes: dict[str, Fix] = {}
    for item in batch.items:
        section = section_of(item)
        if section is None:
            continue
        sub = item.result.subscription
        path = tuple(clip(part, GROUP_PART_LIMIT) for part in sub.management_group_path)
        details = details_of(item, section)
        days = days_since(item.first_seen, now)
        if section is not Section.ERRORS:
            for finding in item.result.findings:
                rule = clip(finding.rule, RULE_LIMIT)
                text = FIX_LINES.get(finding.rule) or clip(finding.fix, FIX_LIMIT)
                fixes.setdefault(rule, Fix(rule, text, LEARN_EMAIL_NOTIFICATIONS))
        entry = Entry(
            section=section,
            group=group_label(sub.management_group_path),
            name=clip(sub.display_name, NAME_LIMIT) or "(unnamed)",
            subscription_id=clip(sub.subscription_id, 64),
            details=details,
            link=portal_link(portal_url, sub.subscription_id),
            age=age_of(section, days),
        )
        # Owed alerts first in their section (every one is named eventually); within a group:
        # longest-failing first, then those with the same findings together, then by name.
        key = (
            _ORDER[section],
            waiting_rank(item),
            tuple(p.casefold() for p in path),
            -(days or 0) if entry.age else 0,
            tuple((d.label, d.text) for d in details),
            entry.name.casefold(),
            entry.subscription_id,
        )
        keyed.append((key, entry))
    keyed.sort(key=lambda pair: pair[0])
    entries = tuple(entry for _, entry in keyed)
    totals = Counter(entry.section for entry in entries)
    summary = report.summary
    attention = totals[Section.NEW_FAILURES] + totals[Section.REMINDERS] + totals[Section.ERRORS]
    if attention:
        verb = "needs" if attention == 1 else "need"
        title = f"Defender for Cloud contacts: {plural(attention, 'subscription')} {verb} attention"
    elif totals[Section.RESOLVED]:
        title = f"Defender for Cloud contacts: {plural(totals[Section.RESOLVED], 'subscription')} fixed"
    else:
        title = "Defender for Cloud contacts: nothing needs attention"
    counts = (
        f"{thousands(summary['pass'])} pass · {thousands(summary['fail'])} fail · "
        f"{thousands(summary['error'])} error · {thousands(summary['skipped'])} skipped "
        f"({plural(summary['total'], 'subscription')})"
    )
    groups = _failing_groups(report)
    if not groups or groups[0][1] < 2:
        groups = []  # one failure per group: the list below says it all, a ranking would be noise
    rest = groups[TOP_GROUPS:]
    return Digest(
        title=title,
        counts=counts,
        scope=_scope(report),
        generated_at=readable_time(report.generated_at),
        entries=entries,
        section_totals=tuple((section, totals[section]) for section in Section if totals[section]),
        fixes=tuple(fix for _, fix in sorted(fixes.items())),
        by_rule=tuple(
            sorted(
                ((clip(rule, RULE_LIMIT), count) for rule, count in report.failures_by_rule().items()),
                key=lambda pair: (-pair[1], pair[0]),
            )
        ),
        top_groups=tuple(groups[:TOP_GROUPS]),
        other_groups=(sum(count for _, count in rest), len(rest)),
        report_url=report_url,
    )


def group_label(path: Sequence[str]) -> str:
    return clip(" / ".join(clip(part, GROUP_PART_LIMIT) for part in path), GROUP_LIMIT) or "(no management group)"


def _scope(report: Report) -> str:
    names = [clip(report.scope_name(index), GROUP_PART_LIMIT) for index in range(len(report.scope))]
    scope = ", ".join(names[:10]) or "Tenant Root Group"
    if len(names) > 10:
        scope += f" and {len(names) - 10} more"
    return clip(scope, SCOPE_LIMIT)


def _failing_groups(report: Report) -> list[tuple[str, int]]:
    counts = Counter(
        group_label(result.subscription.management_group_path)
        for result in report.results
        if result.status is Status.FAIL
    )
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0].casefold()))


def _parse_time(timestamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stories(entries: Sequence[Entry]) -> list[list[Entry]]:
    """Consecutive entries that tell the same story (same section, group, findings and age), in order."""
    told: list[list[Entry]] = []
    for entry in entries:
        if told and told[-1][-1].same_story == entry.same_story:
            told[-1].append(entry)
        else:
            told.append([entry])
    return told


def overflow_lines(entries: Sequence[Entry]) -> tuple[str, ...]:
    """The entries left out, counted per section and per management group (largest first), bounded."""
    if not entries:
        return ()
    per_section = Counter(entry.section for entry in entries)
    split = " · ".join(f"{thousands(per_section[s])} {SECTION_COUNTS[s]}" for s in Section if per_section[s])
    lines = [f"{plural(len(entries), 'more subscription')} not named here ({split}), by management group:"]
    ranked = sorted(Counter(entry.group for entry in entries).items(), key=lambda pair: (-pair[1], pair[0].casefold()))
    lines.extend(f"{group}: {thousands(count)}" for group, count in ranked[:SUMMARY_GROUP_LINES])
    if len(ranked) > SUMMARY_GROUP_LINES:
        rest = sum(count for _, count in ranked[SUMMARY_GROUP_LINES:])
        lines.append(f"… and {thousands(rest)} in {plural(len(ranked) - SUMMARY_GROUP_LINES, 'other group')}")
    return tuple(lines)


def paginate(entries: Sequence[Entry], fits: Callable[[Page], bool], max_pages: int) -> list[Page]:
    """Fill at most `max_pages` pages in order; the last page summarises whatever did not fit.

    `fits` renders a candidate page and says whether it is within the channel's limits. Each page
    takes the longest run of the remaining entries that fits (found by doubling, then bisecting,
    as a page only grows with more entries), so the split depends only on the entries and limits.
    """
    pages: list[Page] = []
    start = 0
    while True:
        number = len(pages) + 1
        last = number == max_pages
        available = len(entries) - start

        def page(count: int, number: int = number, start: int = start, last: bool = last) -> Page:
            rest = entries[start + count :]
            continues = 0 < start < len(entries) and entries[start - 1].section is entries[start].section
            return Page(number, tuple(entries[start : start + count]), overflow_lines(rest) if last else (), continues)

        fitting, trying = 0, 1
        while trying <= available and fits(page(trying)):
            fitting, trying = trying, trying * 2
        too_many = min(trying, available + 1)
        while too_many - fitting > 1:
            middle = (fitting + too_many) // 2
            if fits(page(middle)):
                fitting = middle
            else:
                too_many = middle
        if fitting == 0 and available and not last:
            raise ValueError("one alert entry does not fit an empty message; the entry limits are too large")
        pages.append(page(fitting))
        start += fitting
        if start >= len(entries) or last:
            return pages
