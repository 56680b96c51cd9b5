"""Text hygiene for chat messages: bounded lengths and no way for a name to format, mention or link."""

from __future__ import annotations

import functools

from ..display_text import one_line

ELLIPSIS = "…"


@functools.lru_cache(maxsize=4096)
def clip(text: str, limit: int) -> str:
    """`text` on one line, cut to at most `limit` characters (an ellipsis marks the cut)."""
    # Cleaning only removes characters, so a generous prefix is all that needs cleaning.
    line = one_line(text[: limit * 4 + 64])
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters: `<!channel>`, `<@U123>` and `<url|label>` become plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def card_text(text: str) -> str:
    """Text for an Adaptive Card TextRun: no markdown there, but `{{DATE(...)}}` macros still expand."""
    return text.replace("{{", "{\u200b{")


def thousands(number: int) -> str:
    return f"{number:,}"


def plural(number: int, word: str, plural_word: str | None = None) -> str:
    return f"{thousands(number)} {word if number == 1 else (plural_word or word + 's')}"
