"""``isokron policy set W PATH VALUE``: set one policy of W (as the owner).

PATH is the registry's path (``policy.kora_disabled``) or its short form
(``kora.disabled``: the actor kind, a dot, the rest; stored as ``policy.kora_disabled``).
VALUE is JSON when it parses as JSON (``false``, ``30``, ``["en", "de"]``,
``{"tz": "UTC"}``), else the text itself (``strict``); quote a JSON string to keep
``"30"`` a string.
"""

from __future__ import annotations

import argparse
import difflib
import json
from typing import Any

from ...errors import InvalidInputError
from ...guard.limits import check_depth
from ...guard.validate import check_policy_path, shown
from ._args import Refused
from ._owner import as_owner

__all__ = ["MAX_VALUE_BYTES", "cmd_policy", "policy_path", "policy_value"]

#: the largest policy value, as JSON text
MAX_VALUE_BYTES = 64 * 1024


def policy_path(text: str) -> str:
    """The registry path ``text`` names (the short form expanded); Refused when it is none."""
    path = text
    if not text.startswith("policy."):
        kind, dot, rest = text.partition(".")
        path = f"policy.{kind}_{rest}" if dot and kind and rest else text
    try:
        return check_policy_path(path)
    except InvalidInputError:
        raise Refused(f"policy path {shown(text)} is neither policy.<name> (policy."
                      f"kora_disabled) nor <kind>.<name> (kora.disabled): lower-case words "
                      f"a-z, 0-9, _ joined by dots") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def policy_value(text: str) -> Any:
    """``text`` as JSON when it is JSON, else as a string; Refused when unusable."""
    if not text.strip():
        raise Refused("policy value is empty (pass '\"\"' for an empty string)")
    try:
        value: Any = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        value = text
    try:
        check_depth(value, "the policy value")
    except InvalidInputError as exc:
        raise Refused(str(exc)) from None
    encoded = json.dumps(value)
    if "\x00" in text or "\\u0000" in encoded:
        raise Refused(f"policy value {shown(text)} contains a NUL character")
    if len(encoded.encode("utf-8")) > MAX_VALUE_BYTES:
        raise Refused(f"policy value is {len(encoded):,} bytes as JSON; the limit is "
                      f"{MAX_VALUE_BYTES:,}")
    return value


def cmd_policy(args: argparse.Namespace) -> int:
    """Parse, check and store the policy; say what changed."""
    from ...stores.identity import set_policy
    from ...testing.seed import DEMO_POLICIES

    path, value = policy_path(args.path), policy_value(args.value)
    if path not in DEMO_POLICIES and not args.custom:
        near = difflib.get_close_matches(path, list(DEMO_POLICIES), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise Refused(f"unknown policy {shown(path)}{hint}: not one of the "
                      f"{len(DEMO_POLICIES)} known policies; pass --custom to store it anyway")
    done = as_owner(args, lambda pool: set_policy(pool, args.workspace, path, value))
    print(f"policy {path} of {args.workspace} = {json.dumps(value)}: {done}")
    return 0
