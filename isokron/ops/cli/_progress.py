"""Progress of long work, always on stderr (stdout keeps the command's JSON clean).

On a terminal, with the ``progress`` extra installed (tqdm), a bar. Otherwise (a log, a
pipe, no tqdm) plain lines: one when a step starts, one every ``every`` seconds while it
runs, one when the work is done. Nothing with ``--quiet``.

The work reports through a plain callable, ``progress(done, total, note)``, so the layers
below the command know nothing of bars: ``done`` of ``total`` units so far (``total`` 0
when unknown yet), ``note`` what is under way (a new note is a new step).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress", "ProgressFn"]

ProgressFn = Callable[[int, int, str], None]


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """Show one command's progress; call it as ``progress(done, total, note)``."""

    def __init__(self, command: str, *, unit: str = "steps", rate: bool = False,
                 quiet: bool = False, every: float = 10.0, stream: TextIO | None = None,
                 bar: bool | None = None) -> None:
        self._command = command
        self._unit = unit
        self._rate = rate
        self._quiet = quiet
        self._every = every
        self._stream = stream if stream is not None else sys.stderr
        tqdm = _tqdm()
        wants_bar = self._stream.isatty() if bar is None else bar
        self._tqdm = tqdm if wants_bar and tqdm is not None else None
        self._bar: Any = None
        self._note = ""
        self._last_line = 0.0
        self._started = time.monotonic()
        self._done = 0
        self._total = 0

    def __call__(self, done: int, total: int, note: str = "") -> None:
        if self._quiet:
            return
        new_step = note != self._note
        self._done, self._total, self._note = done, total, note
        if self._tqdm is not None:
            self._draw(self._tqdm, done, total, note, new_step)
            return
        now = time.monotonic()
        if new_step or now - self._last_line >= self._every or (total and done >= total):
            self._last_line = now
            print(self._line(done, total, note), file=self._stream, flush=True)

    def _draw(self, tqdm: Any, done: int, total: int, note: str, new_step: bool) -> None:
        if self._bar is None:
            self._bar = tqdm(total=total or None, desc=f"isokron {self._command}",
                                   unit=f" {self._unit}", file=self._stream, leave=False,
                                   dynamic_ncols=True, mininterval=0.2)
        if (total or None) != self._bar.total:
            self._bar.total = total or None
        if new_step:
            self._bar.set_postfix_str(note)
        self._bar.update(done - self._bar.n)

    def _line(self, done: int, total: int, note: str) -> str:
        elapsed = time.monotonic() - self._started
        count = f"{done:,}/{total:,} {self._unit}" if total else f"{done:,} {self._unit}"
        share = f" ({done / total:.0%})" if total else ""
        per_s = done / elapsed if elapsed > 0 else 0.0
        rate = f", {per_s:,.{0 if per_s >= 10 else 1}f} {self._unit}/s" if (
            self._rate and done and elapsed >= 1) else ""
        what = f"{note}: " if note else ""
        return f"isokron {self._command}: {what}{count}{share}{rate}, {elapsed:.0f}s"

    def close(self) -> None:
        """Take the bar off the terminal (plain lines stay as they are)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
