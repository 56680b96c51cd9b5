"""Text from ARM shown to people (terminal, HTML, chat): one line, no control or bidi characters.

A display name is data from the tenant: an ESC sequence could rewrite a terminal, a line break fake
a row, and a bidi override (U+202E) reorder what a reader sees. Every renderer passes names through
`one_line` before it formats them.
"""

from __future__ import annotations

import re
import unicodedata

# Breaks and other control characters become a space; invisible format characters go (except the
# zero-width joiners that emoji sequences need).
_BREAKS = re.compile(r"\s+")
_KEEP_FORMAT = {"\u200c", "\u200d"}


def one_line(text: str) -> str:
    if text.isprintable():  # no control, format or separator characters besides the space: the common case
        return " ".join(text.split()) if "  " in text else text.strip()
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category != "Cf" or ch in _KEEP_FORMAT:
            kept.append(ch)
    return _BREAKS.sub(" ", "".join(kept)).strip()
