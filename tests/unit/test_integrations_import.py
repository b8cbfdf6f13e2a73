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
