"""Microsoft Teams: an Adaptive Card 1.5 posted to a Workflows webhook.

A Workflows webhook answers 202 before the flow runs, also for a card it will then fail to post
(invalid, or over the size limit), so every card is built from a small set of known elements and
measured here before it is sent. Names and findings go into TextRuns, which Teams never reads as
Markdown, so `[click](https://evil)` or `**` in a name stays literal text.
"""

from __future__ import annotations

import json
from typing import Any

from ..models import AlertBatch
from .base import Message
from .delivery import WebhookChannel
from .digest import (
    FIX_WHERE,
    MAX_ENTRIES_PER_MESSAGE,
    SECTION_HINTS,
    SECTION_TITLES,
    Detail,
    Digest,
    Entry,
    Page,
    Section,
    build_digest,
    paginate,
    stories,
)
from .text import card_text, plural

CHANNEL = "teams"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
# Teams rejects messages over 28,672 bytes (MessageSizeExceeded) after accepting them with 202.
# Cards stay under 20 KB: well inside that limit, and about as much as a person reads in one go.
MAX_PAYLOAD_BYTES = 19_500

_SECTION_COLORS = {
    Section.NEW_FAILURES: "Attention",
    Section.ERRORS: "Warning",
    Section.REMINDERS: "Attention",
    Section.RESOLVED: "Good",
}

Payload = dict[str, Any]


def encode(payload: Payload) -> bytes:
    """The exact bytes sent, so sizes measured here are the sizes Teams sees."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class TeamsNotifier(WebhookChannel):
    channel = CHANNEL
    # Workflows answer 202; the legacy Office 365 connector answered 200.
    accepted_statuses = frozenset({200, 202})

    def render_messages(self, batch: AlertBatch) -> list[Message]:
        digest = build_digest(batch, self.portal_url, self.report_url)
        budget = digest.message_budget(self.max_messages)

        def fits(page: Page) -> bool:
            if len(page.entries) > MAX_ENTRIES_PER_MESSAGE:
                return False
            return len(encode(_message(digest, page, budget))) <= MAX_PAYLOAD_BYTES

        pages = paginate(digest.entries, fits, budget)
        messages = [Message(_message(digest, page, len(pages)), page.names) for page in pages]
        for payload in (message.payload for message in messages):
            size = len(encode(payload))
            if size > MAX_PAYLOAD_BYTES:  # the page count only shrinks, so this cannot happen
                raise ValueError(f"Teams card of {size} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
        return messages

    def render_notice(self, title: str, text: str) -> Payload:
        body = [
            {"type": "TextBlock", "text": card_text(title), "size": "Large", "weight": "Bolder", "wrap": True},
            _rich([_run(text)]),
        ]
        return _wrap(body)


def _message(digest: Digest, page: Page, total_pages: int) -> Payload:
    title = digest.title if total_pages == 1 else f"{digest.title} (part {page.number} of {total_pages})"
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": card_text(title), "size": "Large", "weight": "Bolder", "wrap": True},
        _rich([_run(digest.counts, weight="Bolder")]),
        _rich(
            [_run(f"Scope: {digest.scope} · checked {digest.generated_at}", is_subtle=True)],
            spacing="None",
        ),
    ]
    if page.number == 1:
        body.extend(_overview(digest))
    previous: Entry | None = None
    totals = dict(digest.section_totals)
    for story in stories(page.entries):
        entry = story[0]
        if previous is None or entry.section is not previous.section:
            continued = " (continued)" if previous is None and page.continues_section else ""
            body.append(_heading(f"{SECTION_TITLES[entry.section]} ({totals[entry.section]:,}){continued}"))
            body[-1]["color"] = _SECTION_COLORS[entry.section]
            body.append(_rich([_run(SECTION_HINTS[entry.section], is_subtle=True, italic=True)], spacing="None"))
        if previous is None or entry.section is not previous.section or entry.group != previous.group:
            # Plain bold: in Accent the path would look like one more link.
            body.append(_rich([_run(entry.group, weight="Bolder")], spacing="Medium"))
        body.extend(_story(story))
        previous = entry
    if page.overflow:
        body.append(_heading("Not named here"))
        body.extend(_rich([_run(line)], spacing="None") for line in page.overflow)
        if digest.report_url:
            body.append(_report_link(digest.report_url, "Every subscription is in the full report"))
    body.append(_rich([_run("Defender Contact Monitor", is_subtle=True, size="Small")], spacing="Medium"))
    return _wrap(body)


def _overview(digest: Digest) -> list[dict[str, Any]]:
    """The first message's lead: what this alert holds, what fails most and where, and how to fix it."""
    blocks: list[dict[str, Any]] = []
    if not digest.entries:
        blocks.append(_rich([_run("Every checked subscription passes. Nothing needs attention.")]))
    else:
        blocks.append(_rich([_run("In this alert: ", is_subtle=True), _run(digest.in_this_alert, weight="Bolder")]))
    if digest.by_rule:
        runs = [_run("Failing by rule: ", is_subtle=True)]
        for index, (rule, count) in enumerate(digest.by_rule):
            runs.append(_run(("" if index == 0 else " · ") + rule, font_type="Monospace"))
            runs.append(_run(f" {count:,}", weight="Bolder"))
        blocks.append(_rich(runs, spacing="Small"))
    if digest.top_groups:
        blocks.append(_rich([_run("Most failures:", is_subtle=True)], spacing="Small"))
        blocks.extend(
            _rich([_run(f"{group}: "), _run(f"{count:,}", weight="Bolder")], spacing="None")
            for group, count in digest.top_groups
        )
        failing, groups = digest.other_groups
        if groups:
            blocks.append(
                _rich([_run(f"… and {failing:,} in {plural(groups, 'other group')}", is_subtle=True)], spacing="None")
            )
    if digest.report_url:
        blocks.append(_report_link(digest.report_url, "Open the full report"))
    if digest.fixes:
        blocks.append(_heading("How to fix"))
        blocks.append(_rich([_run(FIX_WHERE, is_subtle=True, italic=True)], spacing="None"))
        blocks.extend(
            _rich(
                [
                    _run(fix.rule, weight="Bolder", font_type="Monospace"),
                    _run(": " + fix.text + " "),
                    _run("Learn more", select_url=fix.link, color="Accent"),
                ],
                spacing="Small",
            )
            for fix in digest.fixes
        )
    return blocks


def _heading(text: str) -> dict[str, Any]:
    return {
        "type": "TextBlock",
        "text": card_text(text),
        "size": "Medium",
        "weight": "Bolder",
        "separator": True,
        "spacing": "Large",
        "wrap": True,
    }


def _report_link(url: str, text: str) -> dict[str, Any]:
    return _rich([_run(text, select_url=url, color="Accent", weight="Bolder")], spacing="Medium")


def _story(story: list[Entry]) -> list[dict[str, Any]]:
    """Subscriptions with the same findings: their names (each the portal link), then the findings once."""
    # Few runs and no wrapping Container: an entry's bytes decide how many fit in a card.
    names: list[dict[str, Any]] = []
    for entry in story:
        if names:
            names.append(_run(" · ", is_subtle=True))
        names.append(_run(entry.name, weight="Bolder", select_url=entry.link))
        if not entry.link:  # no portal link for a malformed id: the id itself is how to find it
            names.append(_run(f" ({entry.subscription_id})", font_type="Monospace", is_subtle=True))
    if story[0].age:
        names.append(_run(" · " + story[0].age, is_subtle=True))
    return [_rich(names, spacing="Small"), *(_detail(detail) for detail in story[0].details)]


def _detail(detail: Detail) -> dict[str, Any]:
    if detail.label == "reason":
        runs = [_run("Reason: ", is_subtle=True), _run(detail.text)]
    else:
        runs = [_run("• " + detail.label, font_type="Monospace", color="Attention"), _run(": " + detail.text)]
    return _rich(runs, spacing="None")


def _rich(inlines: list[dict[str, Any]], spacing: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "RichTextBlock", "inlines": inlines}
    if spacing:
        block["spacing"] = spacing
    return block


def _run(
    text: str,
    *,
    weight: str | None = None,
    color: str | None = None,
    is_subtle: bool = False,
    italic: bool = False,
    font_type: str | None = None,
    size: str | None = None,
    select_url: str | None = None,
) -> dict[str, Any]:
    run: dict[str, Any] = {"type": "TextRun", "text": card_text(text)}
    if weight:
        run["weight"] = weight
    if color:
        run["color"] = color
    if is_subtle:
        run["isSubtle"] = True
    if italic:
        run["italic"] = True
    if font_type:
        run["fontType"] = font_type
    if size:
        run["size"] = size
    if select_url:
        run["selectAction"] = {"type": "Action.OpenUrl", "url": select_url}
    return run


def _wrap(body: list[dict[str, Any]]) -> Payload:
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }
