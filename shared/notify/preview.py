"""A short plain-text rendering of what a chat channel received (for the demo and dry runs)."""

from __future__ import annotations

import html
from typing import Any

Payload = dict[str, Any]


def teams_text(payload: Payload) -> list[str]:
    """The card's text, one line per block, roughly as Teams lays it out."""
    lines: list[str] = []
    for attachment in payload.get("attachments", []):
        _card_lines(attachment.get("content", {}).get("body", []), lines)
    return lines


def slack_text(payload: Payload) -> list[str]:
    """The blocks' text with Slack's escapes and link syntax resolved, as a reader sees it."""
    lines: list[str] = []
    for block in payload.get("blocks", []):
        kind = block.get("type")
        if kind == "divider":
            lines.append("---")
        elif kind in ("header", "section"):
            lines.extend(_slack_visible(block["text"]["text"]).splitlines())
        elif kind == "context":
            lines.extend(_slack_visible(element.get("text", "")) for element in block.get("elements", []))
    return lines


def _card_lines(elements: list[dict[str, Any]], lines: list[str]) -> None:
    for element in elements:
        kind = element.get("type")
        if kind == "TextBlock":
            lines.append(element.get("text", ""))
        elif kind == "RichTextBlock":
            lines.append("".join(run.get("text", "") for run in element.get("inlines", [])))
        elif kind == "Container":
            _card_lines(element.get("items", []), lines)


def _slack_visible(text: str) -> str:
    # Links are written <url|label>; a reader sees the label. Escaped text never contains a raw "<".
    out = []
    rest = text
    while "<" in rest:
        before, _, after = rest.partition("<")
        target, _, rest = after.partition(">")
        out.append(before + target.rpartition("|")[2])
    out.append(rest)
    return html.unescape("".join(out))
