"""``isokron hermes-install``: install the Hermes-style plugin."""

from __future__ import annotations

import argparse

__all__ = ["cmd_hermes_install"]


def cmd_hermes_install(args: argparse.Namespace) -> int:
    """Install the plugin and say how to enable it."""
    from ...integrations.hermes import install_plugin

    folder = install_plugin(args.home, python=args.python)
    print(f"installed the isokron plugin in {folder}")
    print("enable it with `memory: {provider: isokron}` and an `isokron:` section "
          f"(dsn, workspace_id) in {folder.parent.parent / 'config.yaml'}")
    return 0
