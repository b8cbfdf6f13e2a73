"""``isokron quota apply|show``: the quotas PostgreSQL enforces per workspace.

``apply`` writes the ``quota_*`` keys of an isokron config file (``--config``, default
``$ISOKRON_CONFIG`` or ``~/.hermes/config.yaml``; keys left out keep their defaults) as
the limits of ``--workspace`` (or, without it, as the defaults of every workspace). Only
the schema's owner may: connect with the owner's DSN. ``show`` prints the limits in force.
"""

from __future__ import annotations

import argparse
from typing import Any

from ...config import config_document, default_config_path, load_config, settings_of
from ...guard.quotas import QUOTA_KEYS
from ._args import dsn
from ._interrupt import run

__all__ = ["cmd_quota"]


def _configured(path: str | None) -> dict[str, Any]:
    """The quota keys of the config file, validated (every key, defaults filled in)."""
    settings = settings_of(config_document(path or default_config_path()))
    picked = {k: v for k, v in settings.items() if k in QUOTA_KEYS}
    # only the quota keys are read: the file's own DSN (a runtime login) is not used
    return load_config({**picked, "dsn": "postgresql://unused"}).quotas()


async def _run(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores.quotas import apply_quotas, quota_limits

    limits = _configured(args.config) if args.quota_command == "apply" else None
    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        if limits is not None:
            shown = await apply_quotas(pool, limits, args.workspace)
        else:
            shown = await quota_limits(pool, args.workspace)
    finally:
        await pool.close()
    scope = f"workspace {args.workspace}" if args.workspace else "defaults (every workspace)"
    print(f"quotas in force for {scope}:")
    for key in QUOTA_KEYS:
        value = shown[key]
        print(f"  {key}: {'no limit' if value is None else value}")
    return 0


def cmd_quota(args: argparse.Namespace) -> int:
    """Apply the configured quotas (as the schema owner) or show the ones in force."""
    return run(_run(args))
