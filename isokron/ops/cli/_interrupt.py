"""Ctrl-C in the isokron command: one line on stderr, exit status 130, never a traceback.

For any subcommand, a long-running one (a server in the foreground) included:

- :func:`handling_sigint` wraps the whole command (``entry.main`` does it). The first
  Ctrl-C cancels the main task of the :func:`run` in progress, if any, else raises
  KeyboardInterrupt where the main thread is; a second one always raises at once. From
  the first Ctrl-C on, what the interrupted work logs on its way out (asyncio's and
  asyncpg's shutdown complaints about cancelled queries) is dropped: it is the
  interruption's echo, not news (``ISOKRON_DEBUG=1`` keeps it).
- :func:`run` replaces ``asyncio.run``: a cancelled main task runs its ``finally`` blocks
  and ``async with`` exits (pools close, an embedded server stops) while the server is
  still there, then KeyboardInterrupt is raised. Used outside :func:`handling_sigint`
  (library code), it installs the handler for its own duration.
- :func:`interrupted` is what to do with the KeyboardInterrupt at the top: the line
  ``isokron <command>: interrupted`` on stderr and the status :data:`INTERRUPTED`.

Sync code needs nothing more: KeyboardInterrupt unwinds through its ``with`` blocks. The
embedded server's tools (initdb, pg_ctl) run in a session of their own and are waited for
before the interrupt is raised, so no half-made cluster or unrecorded server is left.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["INTERRUPTED", "handling_sigint", "interrupted", "run"]

T = TypeVar("T")

#: the exit status of a command ended by Ctrl-C (128 + SIGINT, as shells report it)
INTERRUPTED = 130

#: loggers whose records after a Ctrl-C are the interruption's echo
_NOISY = ("asyncio", "asyncpg", "isokron")


class _State(logging.Filter):
    """The Ctrl-Cs seen, the run whose task a Ctrl-C cancels, and the log filter."""

    def __init__(self) -> None:
        super().__init__()
        self.hits = 0
        self.runs: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []
        self.cancelled: set[asyncio.Task[Any]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return self.hits == 0 or bool(os.environ.get("ISOKRON_DEBUG"))


_STATE = _State()


def _on_sigint(signum: int, frame: Any) -> None:
    _STATE.hits += 1
    if _STATE.hits == 1 and _STATE.runs:
        loop, task = _STATE.runs[-1]
        if not task.done():
            _STATE.cancelled.add(task)
            loop.call_soon_threadsafe(task.cancel)
            return
    raise KeyboardInterrupt


@contextmanager
def handling_sigint() -> Iterator[None]:
    """Handle Ctrl-C as the module's docstring says until the block ends (main thread
    only; a SIGINT the process was started ignoring stays ignored)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) in (_on_sigint, signal.SIG_IGN)):
        yield
        return
    loggers = [logging.getLogger(name) for name in _NOISY]
    _STATE.hits = 0
    previous = signal.signal(signal.SIGINT, _on_sigint)
    for logger in loggers:
        logger.addFilter(_STATE)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        for logger in loggers:
            logger.removeFilter(_STATE)


def interrupted(command: str) -> int:
    """Print the one line a Ctrl-C gets and return :data:`INTERRUPTED`."""
    print(f"isokron {command}: interrupted", file=sys.stderr, flush=True)
    return INTERRUPTED


def _quiet_once_interrupted(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if _STATE.hits == 0 or os.environ.get("ISOKRON_DEBUG"):
        loop.default_exception_handler(context)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` like ``asyncio.run``; a Ctrl-C cancels it, lets its cleanups run, then
    raises KeyboardInterrupt."""
    with handling_sigint(), asyncio.Runner() as runner:
        loop = runner.get_loop()
        loop.set_exception_handler(_quiet_once_interrupted)
        task = loop.create_task(main)
        _STATE.runs.append((loop, task))
        try:
            result = runner.run(_wait(task))
        except BaseException:
            if task in _STATE.cancelled:  # whatever the cancelled work raised on its way out
                raise KeyboardInterrupt from None
            raise
        finally:
            _STATE.runs.remove((loop, task))
            interrupted_here = task in _STATE.cancelled
            _STATE.cancelled.discard(task)
        if interrupted_here:  # the task caught its cancellation and returned: still a Ctrl-C
            raise KeyboardInterrupt
        return result


async def _wait(task: asyncio.Task[T]) -> T:
    return await task
