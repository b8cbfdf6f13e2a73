"""Read a role charter file for ``isokron charter set``: markdown or YAML.

Markdown (any name but ``*.yaml`` / ``*.yml``) is the hashed format itself
(:mod:`isokron.readers.charter_md`): ``# <title> v<version>``, then ``## Identity``,
``## Authority: can do`` with ``- `` items, and so on. It is stored as written (line
endings made ``\\n``), so ``content_hash`` is the SHA-256 of exactly those bytes.

YAML holds the same parts as data and is rendered to that markdown with
:func:`~isokron.readers.charter_md.render_charter_md`::

    charter_version: "1.0.0"
    sections:
      identity: You are Kora, the operations coordinator of Acme.
      authority_can_do: [Delegate engineering work to SEA]
      authority_cannot_do: [Change policies, the charter or the constitution]
      # override_preconditions, escalation_triggers, per_session_discipline (lists);
      # audit_attribution, charter_modification, effective_date_clause (text)

Either way the stored ``content_jsonb`` is built from the markdown as the reader parses it,
so the two always agree; the CLI then runs the reader's own check on the row before it is
written.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import attrs
import yaml

from ..errors import InvalidInputError
from ..guard.limits import check_clean_text
from ..readers.charter_md import (
    LIST_SECTIONS,
    TEXT_SECTIONS,
    CharterFormatError,
    parse_charter_md,
    render_charter_md,
)

__all__ = ["CHARTER_SCHEMA", "MAX_CHARTER_BYTES", "CharterFile", "read_charter_file"]

CHARTER_SCHEMA = "kora-charter/2"
MAX_CHARTER_BYTES = 256 * 1024
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")
_HEADING = re.compile(r"^## (.*)$", re.M)


@attrs.frozen(kw_only=True)
class CharterFile:
    """A charter ready to store: the hashed markdown, its digest, the content object."""

    content_md: str
    content_hash: str
    content: dict[str, Any]
    #: ``## `` headings of the markdown the reader ignores (not charter sections)
    ignored_headings: tuple[str, ...]


def _bad(path: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"charter file {path!r}: {message}")


def _from_yaml(path: str, text: str) -> str:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _bad(path, f"not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(doc, dict):
        raise _bad(path, "YAML must be a mapping with charter_version and sections")
    unknown = sorted(str(k) for k in doc if k not in ("charter_version", "sections",
                                                      "schema_version"))
    if unknown:
        raise _bad(path, f"unknown key {unknown[0]!r} (expected charter_version, sections)")
    if doc.get("schema_version", CHARTER_SCHEMA) != CHARTER_SCHEMA:
        raise _bad(path, f"schema_version must be {CHARTER_SCHEMA!r}, got "
                         f"{doc['schema_version']!r}")
    version = doc.get("charter_version")
    if isinstance(version, bool) or not isinstance(version, str | int | float):
        raise _bad(path, "charter_version is missing (a string such as \"1.0.0\")")
    sections = doc.get("sections")
    if not isinstance(sections, dict):
        raise _bad(path, "sections is missing or not a mapping")
    known = (*TEXT_SECTIONS, *LIST_SECTIONS)
    for key, value in sections.items():
        if key not in known:
            raise _bad(path, f"unknown section {str(key)!r} (known: {', '.join(known)})")
        if key in TEXT_SECTIONS:
            if not isinstance(value, str):
                raise _bad(path, f"section {key} must be text, got {type(value).__name__}")
            if any(line.startswith("#") for line in value.split("\n")):
                raise _bad(path, f"section {key}: a line may not start with '#'")
        else:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise _bad(path, f"section {key} must be a list of strings")
            for item in items:
                if not item.strip() or "\n" in item or "\r" in item:
                    raise _bad(path, f"section {key}: item {item[:40]!r} must be one "
                                     f"non-blank line")
            sections[key] = items
    return render_charter_md(sections, str(version))


def read_charter_file(path: str) -> CharterFile:
    """Read and check ``path``; raise InvalidInputError naming the file and what is wrong."""
    raw = Path(path).expanduser().read_bytes()
    if len(raw) > MAX_CHARTER_BYTES:
        raise _bad(path, f"{len(raw):,} bytes; the limit is {MAX_CHARTER_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(path, f"not UTF-8 (byte {exc.start})") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    try:
        check_clean_text(text, "the charter")
    except InvalidInputError as exc:
        raise _bad(path, str(exc)) from None
    if not text.strip():
        raise _bad(path, "the file is empty")
    is_yaml = Path(path).suffix.lower() in (".yaml", ".yml")
    content_md = _from_yaml(path, text) if is_yaml else text
    try:
        parsed = parse_charter_md(content_md)
    except CharterFormatError as exc:
        raise _bad(path, f"{exc} (the format: see isokron/readers/charter_md.py)") from None
    if _VERSION.fullmatch(parsed.charter_version) is None:
        raise _bad(path, f"charter version {parsed.charter_version[:40]!r} is not like 1.0.0")
    if not parsed.sections["identity"]:
        raise _bad(path, "the Identity section is missing or empty")
    headings = tuple(h.strip() for h in _HEADING.findall(content_md))
    titles = set(TEXT_SECTIONS.values()) | set(LIST_SECTIONS.values())
    content = {"schema_version": CHARTER_SCHEMA, "charter_version": parsed.charter_version,
               "sections": {k: (list(v) if isinstance(v, list) else v)
                            for k, v in parsed.sections.items()}}
    return CharterFile(content_md=content_md,
                       content_hash=hashlib.sha256(content_md.encode("utf-8")).hexdigest(),
                       content=content,
                       ignored_headings=tuple(h for h in headings if h not in titles))
