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
from .digest import SECTION_HINTS, SECTION_TITLES, Detail, Digest, Entry, Page, Section, build_digest, paginate
from .text import card_text

CHANNEL = "teams"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
# Teams rejects messages over 28,672 bytes (MessageSizeExceeded) after accepting them with 202;
# the margin leaves room for what the flow adds around the card.
MAX_PAYLOAD_BYTES = 27_000

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
        digest = build_digest(batch, self.portal_url)

        def fits(page: Page) -> bool:
            return len(encode(_message(digest, page, self.max_messages))) <= MAX_PAYLOAD_BYTES

        pages = paginate(digest.entries, fits, self.max_messages)
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
        _rich([_run("Scope: ", is_subtle=True), _run(digest.scope, is_subtle=True)], spacing="None"),
    ]
    if not digest.entries:
        body.append(_rich([_run("Every checked subscription passes. Nothing needs attention.")]))
    previous: Entry | None = None
    totals = dict(digest.section_totals)
    for entry in page.entries:
        if previous is None or entry.section is not previous.section:
            continued = " (continued)" if previous is None and page.continues_section else ""
            body.append(
                {
                    "type": "TextBlock",
                    "text": f"{SECTION_TITLES[entry.section]} ({totals[entry.section]:,}){continued}",
                    "size": "Medium",
                    "weight": "Bolder",
                    "color": _SECTION_COLORS[entry.section],
                    "separator": True,
                    "spacing": "Large",
                    "wrap": True,
                }
            )
            body.append(_rich([_run(SECTION_HINTS[entry.section], is_subtle=True, italic=True)], spacing="None"))
        if previous is None or entry.section is not previous.section or entry.group != previous.group:
            body.append(_rich([_run(entry.group, weight="Bolder", color="Accent")], spacing="Medium"))
        body.extend(_entry(entry))
        previous = entry
    fixes = [fix for fix in digest.fixes if fix.label in page.fixes_needed]
    if fixes:
        body.append(
            {
                "type": "TextBlock",
                "text": "How to fix",
                "size": "Medium",
                "weight": "Bolder",
                "separator": True,
                "spacing": "Large",
                "wrap": True,
            }
        )
        body.extend(
            _rich([_run(fix.label, weight="Bolder", font_type="Monospace"), _run(": " + fix.text)], spacing="Small")
            for fix in fixes
        )
    if page.overflow:
        body.append(
            {
                "type": "TextBlock",
                "text": "Not shown here",
                "size": "Medium",
                "weight": "Bolder",
                "separator": True,
                "spacing": "Large",
                "wrap": True,
            }
        )
        body.extend(_rich([_run(line)], spacing="None") for line in page.overflow)
    body.append(
        _rich(
            [_run(f"Checked {digest.generated_at} by Defender Contact Monitor", is_subtle=True, size="Small")],
            spacing="Medium",
        )
    )
    return _wrap(body)


def _entry(entry: Entry) -> list[dict[str, Any]]:
    # Few runs and no wrapping Container: an entry's bytes decide how many fit in a card.
    heading = [
        _run(entry.name, weight="Bolder"),
        _run("  " + entry.subscription_id, font_type="Monospace", is_subtle=True),
    ]
    if entry.link:
        heading.append(_run("  Email notifications", select_url=entry.link, color="Accent"))
    return [_rich(heading, spacing="Small"), *(_detail(detail) for detail in entry.details)]


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
