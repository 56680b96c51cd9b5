"""Progress on stderr: drawn in place on a terminal, logged under -v, silent otherwise, wiped before the report."""

import asyncio
import io
import logging

import pytest

from shared import progress as progress_module
from shared.progress import Progress, shown


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def at_once(monkeypatch):
    # The pauses are the module's; here they are shrunk so the test waits on events, not on the clock.
    monkeypatch.setattr(progress_module, "SHOW_AFTER_SECONDS", 0)
    monkeypatch.setattr(progress_module, "REDRAW_SECONDS", 0.01)
    monkeypatch.setattr(progress_module, "LOG_EVERY_SECONDS", 0)


async def run_until(stream, verbose, condition, ticks=500):
    async with shown(Progress(), stream, verbose) as progress:
        progress.update(3, 10)
        for _ in range(ticks):
            if condition():
                break
            await asyncio.sleep(0.01)


def test_a_terminal_sees_the_count_redrawn_in_place_and_wiped_at_the_end():
    stream = Terminal()

    asyncio.run(run_until(stream, False, lambda: "checked 3 of 10" in stream.getvalue()))

    assert "\r\x1b[Kchecked 3 of 10 subscriptions" in stream.getvalue()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_a_redirected_stderr_gets_nothing():
    stream = io.StringIO()

    asyncio.run(run_until(stream, False, lambda: False, ticks=20))

    assert stream.getvalue() == ""


def test_verbose_logs_the_count_instead_of_drawing(caplog):
    caplog.set_level(logging.INFO, logger="shared.progress")
    stream = Terminal()

    asyncio.run(run_until(stream, True, lambda: "checked 3 of 10" in caplog.text))

    assert "checked 3 of 10 subscriptions" in caplog.text
    assert stream.getvalue() == ""


def test_before_the_subscriptions_are_known_it_says_it_is_finding_them():
    assert Progress().line().startswith("finding subscriptions")
