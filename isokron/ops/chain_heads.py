"""Record and read chain heads: the known ends that make a truncated event log detectable.

A hash chain proves that no event was changed, but not that none was cut off the end.
Writing each workspace's head ``(seq, this_event_hash)`` somewhere the database cannot
rewrite (a file kept by the operator, a ticket, an external log) and checking against it
later closes that gap: ``isokron doctor --record-chain-heads FILE`` writes the file,
``isokron doctor --chain-heads FILE`` checks it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = ["FORMAT", "load_chain_heads", "write_chain_heads"]

FORMAT = "isokron-chain-heads/1"


def write_chain_heads(path: str | os.PathLike[str], heads: dict[str, tuple[int, str]]) -> None:
    """Write ``heads`` (``{workspace: (seq, hash)}``) to ``path`` as JSON, atomically."""
    target = Path(path)
    document = {"format": FORMAT,
                "heads": {ws: {"seq": seq, "hash": digest} for ws, (seq, digest) in
                          sorted(heads.items())}}
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temporary.replace(target)


def load_chain_heads(path: str | os.PathLike[str]) -> dict[str, tuple[int, str]]:
    """Read a file written by :func:`write_chain_heads`; InvalidInputError names what is wrong."""
    try:
        document: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"cannot read chain heads from {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidInputError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidInputError(f"{path} is not an {FORMAT} file")
    heads: dict[str, tuple[int, str]] = {}
    for ws, head in (document.get("heads") or {}).items():
        seq = head.get("seq") if isinstance(head, dict) else None
        digest = head.get("hash") if isinstance(head, dict) else None
        if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(digest, str):
            raise InvalidInputError(f"{path}: head of {ws!r} must have an integer seq and a hash")
        heads[ws] = (seq, digest)
    return heads
