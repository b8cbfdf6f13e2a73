"""``isokron context-key set|list|remove``: the keys that verify signed tenant contexts."""

from __future__ import annotations

import argparse
import os

from ...errors import ConfigError
from ._args import dsn
from ._interrupt import run

__all__ = ["cmd_context_key"]

#: where ``set`` reads the key: never from the command line (it would show in ps and history)
KEY_ENV = "ISOKRON_CONTEXT_KEY"


async def _run(args: argparse.Namespace) -> int:
    from ...db.context_keys import install_context_key, list_context_keys, remove_context_key
    from ...pool import create_pool

    key = None
    if args.context_key_command == "set":
        key = os.environ.get(KEY_ENV)
        if not key:
            raise ConfigError(f"${KEY_ENV} is not set: export the signing key there (the "
                              f"same value the applications' context_signing_key reads)")
    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        if key is not None:
            fingerprint, added = await install_context_key(pool, key)
            print(f"context key {fingerprint} " + ("installed" if added else
                                                   "was already installed"))
            print("signed contexts are required from now on: applications need "
                  "signed_context: true and this key as context_signing_key")
        elif args.context_key_command == "list":
            keys = await list_context_keys(pool)
            for fingerprint, created in keys:
                print(f"{fingerprint}  installed {created.isoformat(timespec='seconds')}")
            if not keys:
                print("no context key installed: the plain settings are trusted")
        else:
            if await remove_context_key(pool, args.fingerprint):
                print(f"context key {args.fingerprint} removed")
            else:
                print(f"no context key {args.fingerprint} is installed")
                return 1
    finally:
        await pool.close()
    return 0


def cmd_context_key(args: argparse.Namespace) -> int:
    """Install (from ``$ISOKRON_CONTEXT_KEY``), list or remove context keys."""
    return run(_run(args))
