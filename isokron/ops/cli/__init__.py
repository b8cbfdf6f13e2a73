"""Run the isokron command: up, setup, workspace, charter, policy, migrate, schema, doctor,
prompt, sweep, embed, bench, eval, memory, context-key, quota, mcp, hermes-install, demo.

One module per subcommand (or small group: ``memory`` holds export, import and purge),
``_args`` for the shared argument types, ``parser`` for the wiring and ``entry`` for
:func:`main`, the console script.
"""

from __future__ import annotations

from .entry import main
from .parser import build_parser

__all__ = ["build_parser", "main"]
