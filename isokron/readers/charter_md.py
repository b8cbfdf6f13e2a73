"""The role charter's markdown format: the bytes ``content_hash`` covers.

``content_md`` is the hashed form of a charter. Everything the identity block shows
of the charter (version, identity, CAN, CANNOT) must therefore come from, or agree
with, ``content_md``. The format, as :func:`render_charter_md` writes it::

    # <title> v<charter_version>

    ## Identity
    <text>

    ## Authority: can do
    - <item>
    ...

List sections (``- `` items, one per line): Authority: can do, Authority: cannot
do, Override preconditions, Escalation triggers, Per-session discipline. Text
sections (the lines up to the next heading, stripped): Identity, Audit
attribution, Charter modification, Effective date. Other ``## `` headings are
allowed and ignored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = [
    "LIST_SECTIONS",
    "TEXT_SECTIONS",
    "CharterFormatError",
    "ParsedCharter",
    "parse_charter_md",
    "render_charter_md",
]

#: section key -> its ``## `` heading, in document order.
TEXT_SECTIONS: dict[str, str] = {
    "identity": "Identity",
    "audit_attribution": "Audit attribution",
    "charter_modification": "Charter modification",
    "effective_date_clause": "Effective date",
}
LIST_SECTIONS: dict[str, str] = {
    "authority_can_do": "Authority: can do",
    "authority_cannot_do": "Authority: cannot do",
    "override_preconditions": "Override preconditions",
    "escalation_triggers": "Escalation triggers",
    "per_session_discipline": "Per-session discipline",
}
_BY_HEADING = {title: key for key, title in (TEXT_SECTIONS | LIST_SECTIONS).items()}
_TITLE = re.compile(r"^# .* v(\S+)$")


class CharterFormatError(ValueError):
    """Report ``content_md`` that does not follow the charter format; ``section`` names where."""

    def __init__(self, section: str, message: str) -> None:
        super().__init__(f"{section}: {message}")
        self.section = section


@attrs.frozen(kw_only=True)
class ParsedCharter:
    """Hold what ``content_md`` says: its version and its sections."""

    charter_version: str
    sections: dict[str, Any]


def render_charter_md(sections: Mapping[str, Any], charter_version: str) -> str:
    """Render charter sections as the markdown whose SHA-256 is ``content_hash``."""
    lines = [f"# Kora Role Charter v{charter_version}", "", "## Identity",
             str(sections.get("identity", ""))]
    for key in LIST_SECTIONS:
        lines += ["", f"## {LIST_SECTIONS[key]}", *(f"- {item}" for item in sections.get(key, ()))]
    for key in ("audit_attribution", "charter_modification", "effective_date_clause"):
        lines += ["", f"## {TEXT_SECTIONS[key]}", str(sections.get(key, ""))]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=256)
def parse_charter_md(content_md: str) -> ParsedCharter:
    """Parse ``content_md``; raise CharterFormatError naming the part that breaks the format.

    Pure, so results are cached by text (every cold warm-up parses the same charter); the
    hash check is still made on every read. Treat the returned sections as read-only.
    """
    lines = content_md.split("\n")
    title = _TITLE.match(lines[0]) if lines else None
    if title is None:
        raise CharterFormatError("charter_version", "the first line is not '# <title> v<version>'")
    bodies: dict[str | None, list[str]] = {}
    current: str | None = None
    for line in lines[1:]:
        if line.startswith("## "):
            heading = line[3:].strip()
            current = _BY_HEADING.get(heading)
            if current is not None and current in bodies:
                raise CharterFormatError(current, f"heading '## {heading}' appears twice")
            bodies.setdefault(current, [])
            continue
        bodies.setdefault(current, []).append(line)
    sections: dict[str, Any] = {}
    for key in TEXT_SECTIONS:
        sections[key] = "\n".join(bodies.get(key, [])).strip()
    for key in LIST_SECTIONS:
        items = []
        for line in bodies.get(key, []):
            if line.startswith("- "):
                items.append(line[2:])
            elif line.strip():
                raise CharterFormatError(key, f"line {line[:40]!r} is not a '- ' item")
        sections[key] = items
    return ParsedCharter(charter_version=title.group(1), sections=sections)
