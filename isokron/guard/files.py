"""Write files that may hold a secret (a DSN's password, tenant data) readable by their
owner only: created ``0600`` from the first byte, replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_MODE", "write_private_text"]

#: owner read and write, nobody else
PRIVATE_MODE = 0o600


def write_private_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file created ``0600`` in the
    same directory, then rename it over ``path``: never a moment with the content readable
    by others, never a half-written file. An existing file's looser mode is not kept."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # a umask can only narrow the mode; make it exact
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            fd = -1
            handle.write(text)
        os.replace(temporary, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    return target
