"""``isokron erase``: erase one user of one workspace with a receipt, or verify a receipt."""

from __future__ import annotations

import argparse
import json

from ...errors import NotFoundError, NotOwnedError
from ._args import Refused, dsn
from ._interrupt import run

__all__ = ["cmd_erase"]

_OPERATOR = ("a login in isokron_sweeper, the operator role ($ISOKRON_OPERATOR_DSN from "
             "isokron up or isokron setup), not the runtime login")


async def _erase(args: argparse.Namespace) -> int:
    from ...pool import create_pool
    from ...stores import erase_user, verify_erasure

    pool = await create_pool(dsn(args), min_size=1, max_size=1)
    try:
        if args.verify is not None:
            try:
                check = await verify_erasure(pool, args.verify)
            except NotFoundError as exc:  # status 2, apart from 1 (something remains)
                raise Refused(str(exc)) from None
            print(json.dumps(check.as_json(), indent=2))
            return 0 if check.clean else 1
        receipt = await erase_user(pool, args.workspace, args.user)
    finally:
        await pool.close()
    print(json.dumps(receipt.as_json(), indent=2))
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase (``--workspace W --user U``) and print the receipt, or check one (``--verify
    RECEIPT``: status 0 when the chain holds and nothing of the user remains, 1 when not,
    2 for a receipt that does not exist)."""
    if args.verify is None and (args.workspace is None or args.user is None):
        raise Refused("give --workspace and --user (or --verify RECEIPT)")
    if args.verify is not None and (args.workspace is not None or args.user is not None):
        raise Refused("--verify takes a receipt alone (no --workspace or "
                                         "--user)")
    try:
        return run(_erase(args))
    except NotOwnedError as exc:
        if "permission denied" not in str(exc):
            raise
        raise NotOwnedError(f"{exc} (isokron erase needs {_OPERATOR})") from exc
