"""Slack: Block Kit blocks plus a plain `text` fallback, posted to an incoming webhook.

Every piece of text that did not come from this module is escaped (`&`, `<`, `>`), so a
subscription named `<!channel>` or `<https://evil|click>` is shown, not obeyed.
"""

from __future__ import annotations

from typing import Any

from ..models import AlertBatch
from .base import Message
from .delivery import DeliveryPolicy, WebhookChannel
from .digest import (
    FIX_WHERE,
    MAX_ENTRIES_PER_MESSAGE,
    SECTION_HINTS,
    SECTION_TITLES,
    Digest,
    Entry,
    Page,
    build_digest,
    paginate,
    stories,
)
from .text import plural, slack_escape

CHANNEL = "slack"
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000
# Slack refuses blocks with too much text in total (`msg_blocks_too_long`), a limit it does not
# document: 11,341 characters were refused, 9,597 accepted (slackapi/bolt-js#2509, #2867).
MAX_BLOCKS_TEXT = 9_000

Payload = dict[str, Any]


class SlackNotifier(WebhookChannel):
    channel = CHANNEL
    accepted_statuses = frozenset({200})

    def pacing_seconds(self, policy: DeliveryPolicy) -> float:
        # Incoming webhooks take about one message a second.
        return policy.slack_interval_seconds

    def render_messages(self, batch: AlertBatch) -> list[Message]:
        digest = build_digest(batch, self.portal_url, self.report_url)
        budget = digest.message_budget(self.max_messages)

        def fits(page: Page) -> bool:
            if len(page.entries) > MAX_ENTRIES_PER_MESSAGE:
                return False
            blocks = _message(digest, page, budget)["blocks"]
            return len(blocks) <= MAX_BLOCKS and blocks_text_length(blocks) <= MAX_BLOCKS_TEXT

        pages = paginate(digest.entries, fits, budget)
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
    total = blocks_text_length(blocks)
    if total > MAX_BLOCKS_TEXT:
        problems.append(f"{total} characters of block text (limit {MAX_BLOCKS_TEXT})")
    return problems


def blocks_text_length(blocks: list[dict[str, Any]]) -> int:
    """The text this module puts in blocks: header and section texts and context elements."""
    total = 0
    for block in blocks:
        if isinstance(block.get("text"), dict):
            total += len(block["text"].get("text", ""))
        total += sum(len(element.get("text", "")) for element in block.get("elements", []))
    return total


def _message(digest: Digest, page: Page, total_pages: int) -> Payload:
    title = digest.title if total_pages == 1 else f"{digest.title} (part {page.number} of {total_pages})"
    blocks: list[dict[str, Any]] = [
        _header(title),
        _section(
            f"*{slack_escape(digest.counts)}*\n"
            f"Scope: {slack_escape(digest.scope)} · checked {slack_escape(digest.generated_at)}"
        ),
    ]
    if page.number == 1:
        blocks.extend(_overview(digest))
    totals = dict(digest.section_totals)
    previous: Entry | None = None
    lines: list[str] = []

    def flush() -> None:
        if lines:
            blocks.append(_section("\n".join(lines)))
            lines.clear()

    for story in stories(page.entries):
        entry = story[0]
        if previous is None or entry.section is not previous.section:
            flush()
            continued = " (continued)" if previous is None and page.continues_section else ""
            blocks.append({"type": "divider"})
            blocks.append(
                _section(
                    f"*{SECTION_TITLES[entry.section]} ({totals[entry.section]:,}){continued}*\n"
                    f"_{SECTION_HINTS[entry.section]}_"
                )
            )
        # Groups and their stories share section blocks (up to the text limit): blocks are the scarce resource.
        texts = _story_texts(story)
        if previous is None or entry.section is not previous.section or entry.group != previous.group:
            texts[0] = f":file_folder: *{slack_escape(entry.group)}*\n{texts[0]}"
        for text in texts:
            if lines and len("\n".join(lines)) + 1 + len(text) > MAX_SECTION_TEXT:
                flush()
            lines.append(text)
        previous = entry
    flush()
    if page.overflow:
        overflow = "*Not named here*\n" + "\n".join(slack_escape(line) for line in page.overflow)
        if digest.report_url:
            overflow += f"\n{_link(digest.report_url, 'Every subscription is in the full report')}"
        blocks.append({"type": "divider"})
        blocks.append(_section(overflow))
    blocks.append(_context("Defender Contact Monitor"))
    return {"text": _cut(slack_escape(f"{title}. {digest.counts}"), MAX_FALLBACK_TEXT), "blocks": blocks}


def _overview(digest: Digest) -> list[dict[str, Any]]:
    """The first message's lead: what this alert holds, what fails most and where, and how to fix it."""
    if not digest.entries:
        lines = ["Every checked subscription passes. Nothing needs attention."]
    else:
        lines = [f"In this alert: *{slack_escape(digest.in_this_alert)}*"]
    if digest.by_rule:
        rules = " · ".join(f"`{slack_escape(rule)}` *{count:,}*" for rule, count in digest.by_rule)
        lines.append(f"Failing by rule: {rules}")
    if digest.top_groups:
        lines.append("Most failures:")
        lines.extend(f"• {slack_escape(group)}: *{count:,}*" for group, count in digest.top_groups)
        failing, groups = digest.other_groups
        if groups:
            lines.append(f"• … and {failing:,} in {plural(groups, 'other group')}")
    if digest.report_url:
        lines.append(_link(digest.report_url, "Open the full report"))
    blocks = [_section("\n".join(lines))]
    if digest.fixes:
        fixes = [f"_{slack_escape(FIX_WHERE)}_"]
        fixes.extend(
            f"• `{slack_escape(fix.rule)}`: {slack_escape(fix.text)} {_link(fix.link, 'Learn more')}"
            for fix in digest.fixes
        )
        blocks.append({"type": "divider"})
        blocks.append(_section("*How to fix*\n" + "\n".join(fixes)))
    return blocks


def _story_texts(story: list[Entry]) -> list[str]:
    """Subscriptions with the same findings: their names (each the portal link), then the findings once.

    A long story is split into texts that each fit a section block; the findings close the last one.
    """
    first = story[0]
    tail = f" · _{slack_escape(first.age)}_" if first.age else ""
    for detail in first.details:
        if detail.label == "reason":
            tail += f"\n      Reason: {slack_escape(detail.text)}"
        else:
            tail += f"\n      • `{slack_escape(detail.label)}`: {slack_escape(detail.text)}"
    texts: list[str] = []
    current = ""
    for entry in story:
        name = f"*{_link(entry.link, entry.name)}*" if entry.link else f"*{slack_escape(entry.name)}*"
        if not entry.link:  # no portal link for a malformed id: the id itself is how to find it
            name += f" `{slack_escape(entry.subscription_id)}`"
        joined = f"{current} · {name}" if current else name
        if current and len(joined) + len(tail) > MAX_SECTION_TEXT:
            texts.append(current)
            joined = name
        current = joined
    texts.append(current + tail)
    return [_cut(text, MAX_SECTION_TEXT) for text in texts]


def _link(url: str, label: str) -> str:
    """`<url|label>`; a `|` in the URL would end it early, so it is percent-encoded."""
    return f"<{slack_escape(url).replace('|', '%7C')}|{slack_escape(label)}>"


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
