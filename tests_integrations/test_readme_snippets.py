"""The README snippets that import a framework (OpenTelemetry, MCP, LangGraph, the OpenAI
Agents SDK) run as written and print what the README shows after them (the others run
in tests/integration/test_readme_snippets.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.readme_snippets import Snippet, run, seed_demo, snippets

_EXTRA = [s for s in snippets() if s.needs_extra]


@pytest.fixture
def seeded(db):
    seed_demo(db.dsn)
    return db


def test_every_framework_has_its_snippet():
    found = {m for s in _EXTRA for m in ("opentelemetry", "mcp", "langgraph", "agents")
             if f"{m}" in s.code}
    assert found == {"opentelemetry", "mcp", "langgraph", "agents"}


@pytest.mark.parametrize("snippet", _EXTRA, ids=[s.id for s in _EXTRA])
def test_the_snippet_prints_its_documented_output(snippet: Snippet, seeded, tmp_path):
    # `isokron mcp` is started by the MCP snippet: this interpreter's console script.
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    out = run(snippet, tmp_path, {"ISOKRON_DSN": seeded.runtime_dsn,
                                  "ISOKRON_WORKSPACE": "org_demo", "PATH": path})
    assert out == snippet.prints
