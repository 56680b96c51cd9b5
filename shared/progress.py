"""How far a terminal run has got: a line on stderr when it is a terminal, log lines under -v.

Quiet for the first couple of seconds (a small tenant finishes before anyone looks), then
"checked 120 of 300 subscriptions" redrawn in place. The log line repeats every few seconds, so a
slow run under -v never looks hung.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TextIO

log = logging.getLogger(__name__)

SHOW_AFTER_SECONDS = 2.0
REDRAW_SECONDS = 0.5
LOG_EVERY_SECONDS = 3.0


@dataclass
class Progress:
    """Counts what the checker reports; `line` says it in words."""

    total: int | None = None
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def line(self) -> str:
        elapsed = f"{time.monotonic() - self.started:.0f} s"
        if self.total is None:
            return f"finding subscriptions… ({elapsed})"
        return f"checked {self.done} of {self.total} subscriptions ({elapsed})"


@contextlib.asynccontextmanager
async def shown(progress: Progress, stream: TextIO = sys.stderr, verbose: bool = False) -> AsyncIterator[Progress]:
    """Show `progress` while the block runs; the terminal line is wiped before the block's output."""
    # Under -v the log lines are the progress; a redrawn line would tear them.
    draw = stream.isatty() and not verbose
    if not draw and not verbose:
        yield progress
        return
    task = asyncio.create_task(_tick(progress, stream, draw, verbose))
    try:
        yield progress
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if draw and time.monotonic() - progress.started >= SHOW_AFTER_SECONDS:
            stream.write("\r\x1b[K")
            stream.flush()


async def _tick(progress: Progress, stream: TextIO, draw: bool, verbose: bool) -> None:
    await asyncio.sleep(SHOW_AFTER_SECONDS)
    logged = 0.0
    while True:
        now = time.monotonic()
        if verbose and now - logged >= LOG_EVERY_SECONDS:
            log.info("%s", progress.line())
            logged = now
        if draw:
            stream.write("\r\x1b[K" + progress.line())
            stream.flush()
        await asyncio.sleep(REDRAW_SECONDS)
