"""Slack: Block Kit blocks plus a plain `text` fallback, posted to an incoming webhook.

Every piece of text that did not come from this module is escaped (`&`, `<`, `>`), so a
subscription named `<!channel>` or `<https://evil|click>` is shown, not obeyed.
"""

from __future__ import annotations

from typing import Any

from ..models import AlertBatch
from .base import Message
from .delivery import DeliveryPolicy, WebhookChannel
from .digest import SECTION_HINTS, SECTION_TITLES, Digest, Entry, Page, build_digest, paginate
from .text import slack_escape

CHANNEL = "slack"
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000

Payload = dict[str, Any]


class SlackNotifier(WebhookChannel):
    channel = CHANNEL
    accepted_statuses = frozenset({200})

    def pacing_seconds(self, policy: DeliveryPolicy) -> float:
        # Incoming webhooks take about one message a second.
        return policy.slack_interval_seconds

    def render_messages(self, batch: AlertBatch) -> list[Message]:
        digest = build_digest(batch, self.portal_url)

        def fits(page: Page) -> bool:
            return len(_message(digest, page, self.max_messages)["blocks"]) <= MAX_BLOCKS

        pages = paginate(digest.entries, fits, self.max_messages)
        messages = [Message(_message(digest, page, len(pages)), page.names) for page in pages]
        for payload in (message.payload for message in messages):
            problems = limit_problems(payload)
            if problems:  # the pieces are clipped below their limits, so this cannot happen
                raise ValueError("Slack message over its limits: " + "; ".join(problems))
        return messages

    def render_notice(self, title: str, text: str) -> Payload:
        return {
            "text": _cut(slack_escape(f"{title}: {text}"), MAX_FALLBACK_TEXT),
            "blocks": [_header(title), _section(slack_escape(text))],
        }


def limit_problems(payload: Payload) -> list[str]:
    """Block Kit limits this module relies on; the test receiver applies the same check."""
    problems = []
    blocks = payload.get("blocks", [])
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        problems.append("no text fallback")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (limit {MAX_BLOCKS})")
    for index, block in enumerate(blocks):
        text = block.get("text", {}).get("text", "") if isinstance(block.get("text"), dict) else ""
        if block.get("type") == "header" and len(text) > MAX_HEADER_TEXT:
            problems.append(f"block {index}: header of {len(text)} characters (limit {MAX_HEADER_TEXT})")
        if block.get("type") == "section" and len(text) > MAX_SECTION_TEXT:
            problems.append(f"block {index}: section text of {len(text)} characters (limit {MAX_SECTION_TEXT})")
        for element in block.get("elements", []):
            if len(element.get("text", "")) > MAX_SECTION_TEXT:
                problems.append(f"block {index}: context text over {MAX_SECTION_TEXT} characters")
    return problems


def _message(digest: Digest, page: Page, total_pages: int) -> Payload:
    title = digest.title if total_pages == 1 else f"{digest.title} (part {page.number} of {total_pages})"
    blocks: list[dict[str, Any]] = [
        _header(title),
        _section(f"*{slack_escape(digest.counts)}*\nScope: {slack_escape(digest.scope)}"),
    ]
    if not digest.entries:
        blocks.append(_section("Every checked subscription passes. Nothing needs attention."))
    totals = dict(digest.section_totals)
    previous: Entry | None = None
    for entry in page.entries:
        if previous is None or entry.section is not previous.section:
            continued = " (continued)" if previous is None and page.continues_section else ""
            blocks.append({"type": "divider"})
            blocks.append(
                _section(
                    f"*{SECTION_TITLES[entry.section]} ({totals[entry.section]:,}){continued}*\n"
                    f"_{SECTION_HINTS[entry.section]}_"
                )
            )
        if previous is None or entry.section is not previous.section or entry.group != previous.group:
            blocks.append(_context(f":file_folder: *{slack_escape(entry.group)}*"))
        blocks.append(_section(_entry_text(entry)))
        previous = entry
    fixes = [fix for fix in digest.fixes if fix.label in page.fixes_needed]
    if fixes:
        share = (MAX_SECTION_TEXT - 20) // len(fixes) - 10
        lines = [f"• `{slack_escape(fix.label)}`: {_cut(slack_escape(fix.text), share)}" for fix in fixes]
        blocks.append({"type": "divider"})
        blocks.append(_section("*How to fix*\n" + "\n".join(lines)))
    if page.overflow:
        blocks.append({"type": "divider"})
        blocks.append(_section("*Not shown here*\n" + "\n".join(slack_escape(line) for line in page.overflow)))
    blocks.append(_context(f"Checked {slack_escape(digest.generated_at)} by Defender Contact Monitor"))
    return {"text": _cut(slack_escape(f"{title}. {digest.counts}"), MAX_FALLBACK_TEXT), "blocks": blocks}


def _entry_text(entry: Entry) -> str:
    heading = f"*{slack_escape(entry.name)}*  `{slack_escape(entry.subscription_id)}`"
    if entry.link:
        heading += f"  <{entry.link}|Email notifications>"
    lines = [heading]
    for detail in entry.details:
        if detail.label == "reason":
            lines.append(f"Reason: {slack_escape(detail.text)}")
        else:
            lines.append(f"• `{slack_escape(detail.label)}`: {slack_escape(detail.text)}")
    return _cut("\n".join(lines), MAX_SECTION_TEXT)


def _header(text: str) -> dict[str, Any]:
    # plain_text: Slack shows it verbatim, so it is not escaped.
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, MAX_HEADER_TEXT), "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION_TEXT)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, MAX_SECTION_TEXT)}]}


def _cut(text: str, limit: int) -> str:
    """Cut already-escaped text without splitting an entity such as `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"
