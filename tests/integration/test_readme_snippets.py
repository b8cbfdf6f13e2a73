"""Every README snippet runs as written and prints what the README shows after it."""

from __future__ import annotations

import pytest

from tests.readme_snippets import Snippet, run, seed_demo, snippets

_CORE = [s for s in snippets() if not s.needs_extra]


def test_every_snippet_shows_what_it_prints():
    """No snippet is left unchecked: each has its output block, and each runs in this
    suite or in tests_integrations (the framework snippets)."""
    missing = [s.id for s in snippets() if s.prints is None]
    assert missing == [], f"python blocks without a ```text output block: {missing}"
    assert _CORE and len(_CORE) < len(snippets())


@pytest.fixture
def seeded(db):
    seed_demo(db.dsn)
    return db


@pytest.mark.parametrize("snippet", _CORE, ids=[s.id for s in _CORE])
def test_the_snippet_prints_its_documented_output(snippet: Snippet, seeded, tmp_path):
    out = run(snippet, tmp_path, {"ISOKRON_DSN": seeded.runtime_dsn,
                                  "ISOKRON_WORKSPACE": "org_demo"})
    assert out == snippet.prints
