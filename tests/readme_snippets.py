"""Every ```python block of the README, with the ```text block after it: what it prints.

The core suite (tests/integration/test_readme_snippets.py) runs the snippets that need
no extra; tests_integrations/test_readme_snippets.py runs those that import a framework
(OpenTelemetry, MCP, LangGraph, the OpenAI Agents SDK). Each runs as written, in a
fresh interpreter, with ``ISOKRON_DSN`` (a runtime login) and ``ISOKRON_WORKSPACE``
(a seeded ``org_demo``) set, and its standard output must equal the text block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs

README = Path(__file__).resolve().parents[1] / "README.md"
#: importing one of these puts a snippet in tests_integrations (their extras)
EXTRA_MODULES = ("opentelemetry", "mcp", "langgraph", "agents")

_FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```\n", re.S | re.M)


@attrs.frozen
class Snippet:
    """One python block: where it is, its code, and the output block after it."""

    line: int
    code: str
    prints: str | None

    @property
    def id(self) -> str:
        return f"README-line-{self.line}"

    @property
    def needs_extra(self) -> bool:
        return any(re.search(rf"^\s*(from|import) ({m}|isokron\.integrations\.\w*{m})\b",
                             self.code, re.M) for m in EXTRA_MODULES)


def snippets(text: str | None = None) -> list[Snippet]:
    """Every python block of the README, paired with the text block right after it."""
    text = README.read_text(encoding="utf-8") if text is None else text
    fences = list(_FENCE.finditer(text))
    found = []
    for fence, after in zip(fences, [*fences[1:], None], strict=True):
        if fence.group(1) != "python":
            continue
        between = text[fence.end():after.start()] if after is not None else ""
        prints = (after.group(2) if after is not None and after.group(1) == "text"
                  and len(between.strip().splitlines()) <= 2 else None)
        found.append(Snippet(line=text.count("\n", 0, fence.start()) + 1,
                             code=fence.group(2), prints=prints))
    return found


def seed_demo(dsn: str) -> None:
    """Write the demo workspace ``org_demo`` into the database at ``dsn`` (from sync code)."""
    import asyncpg

    from isokron.embedded import run_coro_sync
    from isokron.testing.seed import seed_demo_workspace

    async def seed() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await seed_demo_workspace(conn, "org_demo")
        finally:
            await conn.close()

    run_coro_sync(seed())


def run(snippet: Snippet, tmp_path: Path, env: dict[str, str]) -> str:
    """Run ``snippet`` in a fresh interpreter in ``tmp_path``; return its stdout."""
    script = tmp_path / "snippet.py"
    script.write_text(snippet.code, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env={**os.environ, **env})
    assert result.returncode == 0, f"{snippet.id} failed:\n{result.stderr}"
    return result.stdout
