"""Progress on stderr: plain lines off a terminal, a bar on one, nothing when quiet."""

from __future__ import annotations

import io

import pytest

from isokron.ops.cli import _progress
from isokron.ops.cli._interrupt import INTERRUPTED, interrupted
from isokron.ops.cli._progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_at_each_step_the_end_and_every_so_often():
    out = io.StringIO()
    progress = Progress("bench", unit="items", rate=True, stream=out, every=3600)
    progress(0, 10, "filling")
    for n in range(1, 10):
        progress(n, 10, "filling")  # same step, well within `every`: no line
    progress(10, 10, "filling")
    progress(10, 10, "searching")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("isokron bench: filling: 0/10 items (0%)")
    assert lines[1].startswith("isokron bench: filling: 10/10 items (100%)")
    assert lines[2].startswith("isokron bench: searching:")


def test_quiet_prints_nothing_and_an_unknown_total_is_a_count():
    out = io.StringIO()
    Progress("memory export", stream=out, quiet=True)(5, 10, "x")
    assert out.getvalue() == ""
    Progress("memory export", unit="items", stream=out)(0, 0, "reading")
    assert out.getvalue().startswith("isokron memory export: reading: 0 items, ")


def test_a_terminal_gets_a_bar_and_without_tqdm_plain_lines(monkeypatch):
    pytest.importorskip("tqdm")
    term = _Terminal()
    with Progress("embed", unit="texts", stream=term) as progress:
        progress(3, 10, "embedding")
        bar = progress._bar  # drawn as wide as the terminal: a StringIO has no width
        assert bar is not None and (bar.n, bar.total) == (3, 10)
    assert progress._bar is None  # closed with the block
    monkeypatch.setattr(_progress, "_tqdm", lambda: None)
    term = _Terminal()
    with Progress("embed", unit="texts", stream=term) as progress:
        progress(3, 10, "embedding")
    assert term.getvalue().startswith("isokron embed: embedding: 3/10 texts")


def test_an_interrupt_is_one_line_and_130(capsys):
    assert interrupted("bench") == INTERRUPTED == 130
    assert capsys.readouterr().err == "isokron bench: interrupted\n"
