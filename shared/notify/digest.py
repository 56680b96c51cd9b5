"""What an alert says, independent of the chat channel, and how it is split into bounded messages.

An AlertBatch becomes a Digest: a headline, ordered entries (one per subscription, grouped by
section and management-group path) and one "how to fix" per rule. Channels render pages of
entries; `paginate` fills pages greedily in a stable order and summarises what does not fit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..models import AlertBatch, AlertItem, AlertKind, Status
from .text import clip, plural, thousands

NAME_LIMIT = 120
GROUP_PART_LIMIT = 60
GROUP_LIMIT = 200
DETAIL_LIMIT = 400
RULE_LIMIT = 60
FIX_LIMIT = 600
SUMMARY_GROUP_LINES = 12

# Defender for Cloud > Environment settings > (subscription) > Email notifications.
_EMAIL_NOTIFICATIONS_BLADE = "#view/Microsoft_Azure_Security/PolicyMenuBlade/~/emailNotifications/subscriptionId"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


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
    Section.ERRORS: "The monitor's identity could not read these; they need access (Security Reader), not a contact.",
    Section.REMINDERS: "Reported before and still not fixed.",
    Section.RESOLVED: "Fixed since the last alert.",
}
_ORDER = {section: index for index, section in enumerate(Section)}


@dataclass(frozen=True)
class Detail:
    label: str  # a rule id, or "reason"
    text: str


@dataclass(frozen=True)
class Entry:
    section: Section
    group: str
    name: str
    subscription_id: str
    details: tuple[Detail, ...]
    # Deep link to the subscription's Defender for Cloud email notifications; None for a malformed id.
    link: str | None


@dataclass(frozen=True)
class Digest:
    title: str
    counts: str
    scope: str
    generated_at: str
    entries: tuple[Entry, ...]
    section_totals: tuple[tuple[Section, int], ...]
    fixes: tuple[Detail, ...]


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

    @property
    def fixes_needed(self) -> frozenset[str]:
        return frozenset(
            detail.label for entry in self.entries if entry.section is not Section.ERRORS for detail in entry.details
        )


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


def portal_link(portal_url: str, subscription_id: str) -> str | None:
    if not _GUID.fullmatch(subscription_id):
        return None
    return f"{portal_url}/{_EMAIL_NOTIFICATIONS_BLADE}/{subscription_id}"


def build_digest(batch: AlertBatch, portal_url: str) -> Digest:
    keyed: list[tuple[tuple[object, ...], Entry]] = []
    fixes: dict[str, str] = {}
    for item in batch.items:
        section = section_of(item)
        if section is None:
            continue
        result = item.result
        sub = result.subscription
        path = tuple(clip(part, GROUP_PART_LIMIT) for part in sub.management_group_path)
        if section is Section.ERRORS:
            details = (Detail("reason", clip(result.reason or "unknown error", DETAIL_LIMIT)),)
        elif section is Section.RESOLVED:
            details = ()
        else:
            details = tuple(
                Detail(clip(finding.rule, RULE_LIMIT), clip(finding.message, DETAIL_LIMIT))
                for finding in result.findings
            )
            for finding in result.findings:
                fixes.setdefault(clip(finding.rule, RULE_LIMIT), clip(finding.fix, FIX_LIMIT))
        entry = Entry(
            section=section,
            group=clip(" / ".join(path), GROUP_LIMIT) or "(no management group)",
            name=clip(sub.display_name, NAME_LIMIT) or "(unnamed)",
            subscription_id=clip(sub.subscription_id, 64),
            details=details,
            link=portal_link(portal_url, sub.subscription_id),
        )
        key = (
            _ORDER[section],
            waiting_rank(item),
            tuple(p.casefold() for p in path),
            entry.name.casefold(),
            entry.subscription_id,
        )
        keyed.append((key, entry))
    keyed.sort(key=lambda pair: pair[0])
    entries = tuple(entry for _, entry in keyed)
    totals = Counter(entry.section for entry in entries)
    summary = batch.report.summary
    scope = ", ".join(clip(group, GROUP_PART_LIMIT) for group in batch.report.scope[:10]) or "tenant root group"
    if len(batch.report.scope) > 10:
        scope += f" and {len(batch.report.scope) - 10} more"
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
    return Digest(
        title=title,
        counts=counts,
        scope=scope,
        generated_at=clip(batch.report.generated_at, 40),
        entries=entries,
        section_totals=tuple((section, totals[section]) for section in Section if totals[section]),
        fixes=tuple(Detail(rule, fix) for rule, fix in sorted(fixes.items())),
    )


def overflow_lines(entries: Sequence[Entry]) -> tuple[str, ...]:
    """Counts per section and management group for entries left out, bounded in length."""
    if not entries:
        return ()
    lines = [f"And {plural(len(entries), 'more subscription')}; see the report for every one."]
    per_section = Counter(entry.section for entry in entries)
    per_group = Counter((entry.section, entry.group) for entry in entries)
    lines.extend(f"{SECTION_TITLES[s]}: {thousands(per_section[s])} more" for s in Section if per_section[s])
    ranked = sorted(per_group.items(), key=lambda pair: (-pair[1], _ORDER[pair[0][0]], pair[0][1].casefold()))
    for (section, group), count in ranked[:SUMMARY_GROUP_LINES]:
        lines.append(f"{group} ({SECTION_TITLES[section].lower()}): {thousands(count)}")
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
