"""Mask the passwords in a PostgreSQL DSN (the one masker: logs, errors, the CLI)."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["dsn_secrets", "redact_dsn"]

_PASSWORD_PARAM = re.compile(r"(?i)(password\s*=\s*)('[^']*'|[^&\s]+)")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` with every password replaced by ``***`` (safe to log): in the URL's
    ``user:password@``, in a ``?password=`` parameter and in libpq ``key=value`` form."""
    with contextlib.suppress(ValueError):
        parts = urlsplit(dsn)
        if parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[-1]
            dsn = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    # Whatever urlsplit made of it (a malformed scheme leaves the netloc in the path or
    # the query), mask ``user:password@`` after any ``://`` by hand as well.
    dsn = _URL_PASSWORD.sub(r"\1:***@", dsn)
    return _PASSWORD_PARAM.sub(r"\1***", dsn)


def dsn_secrets(dsn: str | None) -> list[str]:
    """Return the passwords written in ``dsn`` (to scrub them from any message)."""
    if not dsn:
        return []
    found = [m.group(2).strip("'") for m in _PASSWORD_PARAM.finditer(dsn)]
    found += [m.group(0).split(":", 2)[-1][:-1] for m in _URL_PASSWORD.finditer(dsn)]
    with contextlib.suppress(ValueError):
        parts = urlsplit(dsn)
        if parts.password:
            found += [parts.password, unquote(parts.password)]
    return [secret for secret in found if secret]
