"""The shared pieces of the ``isokron`` command line: the parser class, the argument
types, the DSN lookup and the one-line failure report."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ...errors import IsoKronError
from ...guard.dsn import dsn_secrets, redact_dsn
from ...guard.limits import MAX_ID_CHARS, check_free_text

__all__ = [
    "Parser",
    "Refused",
    "directory_type",
    "dsn",
    "dsn_type",
    "embedder_spec",
    "fail",
    "fingerprint_type",
    "positive_float",
    "positive_int",
    "program_type",
    "readable_file",
    "receipt_type",
    "user_type",
    "workspace_type",
    "writable_file",
]


class Parser(argparse.ArgumentParser):
    """Report a bad argument in one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class Refused(Exception):
    """Stop a command with one line on stderr (a usage problem found after parsing)."""


def _dsn_problem(value: str) -> str | None:
    """Say what is wrong with ``value`` as a PostgreSQL URL, or None."""
    if not value.startswith(("postgres://", "postgresql://")):
        return "must start with postgres:// or postgresql://"
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    for host in parts.netloc.rpartition("@")[2].split(","):  # asyncpg allows h1:p1,h2:p2
        _, colon, port = host.rpartition("]")[2].rpartition(":")
        if colon and port and not (port.isdigit() and 0 < int(port) < 65536):
            return f"has a bad port {port!r}"
    return None


def dsn_type(value: str) -> str:
    """Accept a PostgreSQL URL (the ``--dsn`` option)."""
    problem = _dsn_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {redact_dsn(value)!r}")
    return value


def positive_int(value: str) -> int:
    """Accept a whole number >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def positive_float(value: str) -> float:
    """Accept a finite number > 0."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}")
    return number


def workspace_type(value: str) -> str:
    """Accept a workspace id (free text within the id limits)."""
    try:
        return check_free_text(value, "the workspace id", max_chars=MAX_ID_CHARS)
    except IsoKronError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def user_type(value: str) -> str:
    """Accept a user id (free text within the id limits)."""
    try:
        return check_free_text(value, "the user id", max_chars=MAX_ID_CHARS)
    except IsoKronError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def receipt_type(value: str) -> str:
    """Accept an erasure receipt's id (a UUID, as ``isokron erase`` printed it)."""
    if re.fullmatch(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}", value) is None:
        raise argparse.ArgumentTypeError(f"{value[:80]!r} is not a receipt id (the UUID "
                                         f"isokron erase printed as \"id\")")
    return value


def fingerprint_type(value: str) -> str:
    """Accept a context key's fingerprint (16 hex digits, as ``context-key list`` shows)."""
    if re.fullmatch(r"[0-9a-f]{16}", value) is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a context key fingerprint (16 "
                                         f"lower-case hex digits, see isokron context-key list)")
    return value


def readable_file(value: str) -> str:
    """Accept the name of an existing, readable file."""
    path = Path(value).expanduser()
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise argparse.ArgumentTypeError(f"{what}: {value!r}")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {value!r}")
    return value


def program_type(value: str) -> str:
    """Accept the name of an executable file."""
    path = Path(value).expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        what = "not an executable file" if path.exists() else "no such file"
        raise argparse.ArgumentTypeError(f"{what}: {value!r}")
    return value


def writable_file(value: str) -> str:
    """Accept a file name that can be written (in an existing directory)."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a directory, expected a file name")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no such directory {str(folder)!r} for {value!r}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {value!r}")
    return value


def directory_type(value: str) -> str:
    """Accept a directory name (it need not exist yet)."""
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} exists and is not a directory")
    return value


def dsn(args: argparse.Namespace) -> str:
    """Return ``--dsn`` or ``$ISOKRON_DSN``; Refused when neither is a usable URL."""
    value: str | None = args.dsn or os.environ.get("ISOKRON_DSN")
    if not value:
        raise Refused("no DSN given (use --dsn or set ISOKRON_DSN)")
    problem = _dsn_problem(value)
    if problem:
        raise Refused(f"$ISOKRON_DSN {problem}, got {redact_dsn(value)!r}")
    return value


def fail(command: str, message: str, dsn: str | None) -> int:
    """Print ``isokron <command>: <message>`` as one line, no password in it; return 1."""
    line = " ".join(message.split()) or "failed (no detail)"
    for secret in dsn_secrets(dsn):
        line = line.replace(secret, "***")
    print(f"isokron {command}: {line}", file=sys.stderr)
    return 1


def embedder_spec(value: str) -> Any:
    """``module:attr``, or a config file (YAML) whose isokron settings name the embedder."""
    path = Path(value).expanduser()
    if not path.is_file():
        return value
    from ...config import config_document, settings_of

    spec = settings_of(config_document(path)).get("embedder")
    if spec is None:
        raise Refused(f"{value}: the isokron settings have no embedder key")
    return spec
