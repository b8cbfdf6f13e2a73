"""The README's Recall snippet runs as written and prints what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


@pytest.mark.parametrize("index", [0, 1], ids=["lexical", "hybrid"])
def test_the_recall_snippets_print_their_documented_output(tmp_path, index):
    """Run each snippet in a fresh interpreter; its stdout is the block after "prints"."""
    section = _section("Recall")
    blocks = re.findall(r"```(python|)\n(.*?)```", section, re.S)
    pairs = [(code, shown) for (kind, code), (_, shown) in zip(blocks, blocks[1:], strict=False)
             if kind == "python"]
    assert len(pairs) == 2
    code, shown = pairs[index]
    script = tmp_path / "recall_snippet.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown
