"""The integration modules that need no framework at import time load without their extra."""

from __future__ import annotations

import subprocess
import sys


def test_openai_agents_session_imports_without_the_sdk():
    """isokron.integrations.openai_agents satisfies the SDK's protocol structurally: it
    imports (and never imports `agents`) even where the SDK is blocked."""
    code = ("import sys; sys.modules['agents'] = None; "
            "import isokron.integrations.openai_agents as m; "
            "assert m.IsoKronSession and 'openai' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_opentelemetry_nothing_imports_it_and_spans_are_no_ops():
    """With opentelemetry blocked, isokron imports, its traced calls run, and no
    opentelemetry module is ever imported."""
    code = """
import asyncio, sys
sys.modules['opentelemetry'] = None
import isokron, isokron.engine.core, isokron.provider, isokron.stores
from isokron import telemetry
assert telemetry.enabled() is False

@telemetry.traced("isokron.test")
async def call(self, workspace_id):
    async with telemetry.span("isokron.inner") as span:
        span.set("x", 1)
        span.content("y", "secret")
    return [1, 2]

assert asyncio.run(call(None, "ws")) == [1, 2]
with telemetry.sync_span("isokron.sync"):
    pass
telemetry.record_warm(True)
assert not [m for m in sys.modules if m.startswith('opentelemetry') and sys.modules[m]]
"""
    subprocess.run([sys.executable, "-c", code], check=True)
