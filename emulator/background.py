"""Serving the emulator behind `eval "$(python -m emulator --env)"`.

A command substitution returns only when the command has exited and its stdout is closed, so the
servers cannot live in the process the shell waits for. `detach` forks before any thread exists:
the child starts the servers in a session of its own with stdout pointed away from the shell, and
tells the parent over a pipe once they listen (or why they could not start). The parent prints
that and exits; the child serves until it is signalled or its lifetime ends.
"""

from __future__ import annotations

import json
import os
import select
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping

# Starting means writing certificates and binding two or three ports: seconds even on a loaded machine.
READY_TIMEOUT_SECONDS = 60.0


class StartFailed(RuntimeError):
    """The background emulator did not report ready; the message says why."""


def export_lines(environment: Mapping[str, str]) -> str:
    """POSIX shell `export` lines, each value quoted (webhook URLs hold `&` and `?`)."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in environment.items())


def stop_event() -> threading.Event:
    """An event set by SIGTERM, SIGINT or SIGHUP, so every way of stopping ends in the same clean shutdown."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if number is not None:
            signal.signal(number, lambda *_: stop.set())
    return stop


def detach(serve: Callable[[Callable[[dict[str, str]], None]], None], log_path: str) -> dict[str, str]:
    """Run `serve` in a detached child; return the environment it reports once its servers listen.

    `serve(ready)` starts the servers, calls `ready(environment)` and then serves until stopped.
    Raises StartFailed when the child reports an error, dies, or says nothing in time.
    """
    if not hasattr(os, "fork"):
        raise StartFailed("--env runs the emulator in the background, which needs fork (Linux, macOS, WSL)")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _run_child(serve, write_end, log_path)
    os.close(write_end)
    try:
        message = _read_until_closed(read_end, READY_TIMEOUT_SECONDS)
    except StartFailed:
        _stop(pid)
        raise
    finally:
        os.close(read_end)
    try:
        report = json.loads(message) if message else {"error": "the background emulator exited without a word"}
    except ValueError:
        report = {"error": f"the background emulator answered {message[:200]!r}"}
    if "error" in report:
        _stop(pid)
        raise StartFailed(report["error"])
    return {**report["environment"], "EMULATOR_PID": str(pid)}


def _run_child(serve: Callable[[Callable[[dict[str, str]], None]], None], pipe: int, log_path: str) -> None:
    status = 0
    try:
        os.setsid()  # no terminal: closing the shell or its Ctrl-C does not reach the emulator
        _redirect_standard_streams(log_path)

        def ready(environment: dict[str, str]) -> None:
            os.write(pipe, json.dumps({"environment": environment}).encode())
            os.close(pipe)

        serve(ready)
    except BaseException as error:  # noqa: BLE001 - whatever it was, the parent must hear it
        status = 1
        try:
            os.write(pipe, json.dumps({"error": f"{type(error).__name__}: {error}"}).encode())
            os.close(pipe)
        except OSError:
            pass  # already reported ready; the log has the rest
        print(f"emulator stopped: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _redirect_standard_streams(log_path: str) -> None:
    # The shell reads stdout until every copy of it is closed: none may stay in this process.
    stdin = os.open(os.devnull, os.O_RDONLY)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(stdin, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(stdin)
    os.close(log)


def _read_until_closed(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks).decode("utf-8", "replace")
        chunks.append(chunk)
    raise StartFailed(f"the background emulator was not ready within {timeout:.0f} s")


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
