"""Render a SessionContext as the system prompt block (a pure function; no I/O).

Every stored value the block prints goes through :func:`_field` (one line, escaped by
:func:`isokron.guard.sanitize.escape_line`), so no stored value can start a line: the
block's headings and bullets are always the ones this module writes.
"""

from __future__ import annotations

import json
from typing import Any

from ..guard.sanitize import escape_line
from ..models import SessionContext

__all__ = ["HONEST_LABEL", "RENDERED_POLICY_PATHS", "format_policy_value", "render_prompt_block"]

HONEST_LABEL = (
    "This identity block was assembled by IsoKronMemoryProvider on session start. "
    "The substrate is the source of truth; if anything below conflicts with a fresh "
    "substrate query, the substrate query wins."
)

#: The five policy paths shown in §4, in this order.
RENDERED_POLICY_PATHS: tuple[str, ...] = (
    "policy.kora_disabled",
    "policy.kora_max_nonsecurity_overrides_per_24h",
    "policy.kora_output_size_cap_pull",
    "policy.kora_rate_limit_per_minute",
    "policy.kora_context_assembler_token_ceiling.opus",
)
_SHOWN_EVENTS = 5
_NOT_SEEDED = "<not seeded>"


def format_policy_value(value: Any) -> str:
    """Render a decoded JSON value: true/false, compact sorted JSON for containers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _field(value: object) -> str:
    """Render one stored value on one line: escaped, runs of white space folded."""
    return " ".join(escape_line(str(value)).split())


def _bullet(text: str) -> str:
    return "  - " + _field(text)


def _sections(ctx: SessionContext) -> list[tuple[str, list[str], list[str]]]:
    """Return (heading, bullets, trailer lines) per section, in order."""
    charter = ctx.role_charter
    policies = {p.path: p.value for p in ctx.policies}
    caps = ctx.capability_row
    events = ctx.recent_events
    shown = events[:_SHOWN_EVENTS]
    older = len(events) - len(shown)
    if events:
        event_bullets = [
            _bullet(f"{e.occurred_at.isoformat(timespec='seconds')} {e.event_type}")
            for e in shown
        ]
        event_trailer = [f"  …{older} older event(s) in event_log"] if older else []
    else:
        event_bullets, event_trailer = [], ["  <no recent chain events>"]
    if ctx.constitution is None:
        constitution = "§7 Constitution: no active revision"
    else:
        c = ctx.constitution
        constitution = (
            f"§7 Constitution: revision {_field(c.revision_number)} "
            f"(rules hash {_field(c.rules_hash[:12])})"
        )
    return [
        (f"§1 Identity (Kora Role Charter v{_field(charter.charter_version)})",
         [], ["  > " + _field(charter.sections.identity)]),
        ("§2 You CAN:", [_bullet(t) for t in charter.sections.authority_can_do], []),
        ("§3 You CANNOT:", [_bullet(t) for t in charter.sections.authority_cannot_do], []),
        ("§4 Active policy values",
         [f"  - {path} = " + (_field(format_policy_value(policies[path])) if path in policies
                             else _NOT_SEEDED) for path in RENDERED_POLICY_PATHS], []),
        (f"§5 Granted capabilities ({len(caps.granted)} of {caps.total}):",
         [_bullet(cap) for cap in sorted(caps.granted)], []),
        (f"§6 Recent {_field(caps.actor_kind)}.* activity ({len(events)} cached):",
         event_bullets, event_trailer),
        (constitution, [], []),
    ]


def _join(sections: list[tuple[str, list[str], list[str]]], trimmed: list[int]) -> str:
    lines: list[str] = []
    for (heading, bullets, trailer), cut in zip(sections, trimmed, strict=True):
        lines.append(heading)
        lines.extend(bullets)
        if cut:
            lines.append(f"  …[{cut} more trimmed to fit the prompt size limit]")
        lines.extend(trailer)
    lines.append(HONEST_LABEL)
    return "\n".join(lines)


def render_prompt_block(ctx: SessionContext, *, max_chars: int = 12000) -> str:
    """Render the identity block; trim bullets (with a marker) to stay within ``max_chars``."""
    sections = _sections(ctx)
    trimmed = [0] * len(sections)
    text = _join(sections, trimmed)
    while len(text) > max_chars:
        # Trim from the section with the most bullets left (later sections first on ties).
        candidates = [i for i, (_, bullets, _t) in enumerate(sections) if bullets]
        if not candidates:
            break
        index = max(candidates, key=lambda i: (len(sections[i][1]), i))
        sections[index][1].pop()
        trimmed[index] += 1
        text = _join(sections, trimmed)
    if len(text) > max_chars:
        # Only the identity paragraph is left to shorten: cut it at a word boundary.
        heading, bullets, trailer = sections[0]
        identity = trailer[0]
        excess = len(text) - max_chars + len(" …[identity trimmed]")
        keep = identity[: max(0, len(identity) - excess)].rsplit(" ", 1)[0]
        sections[0] = (heading, bullets, [keep + " …[identity trimmed]"])
        text = _join(sections, trimmed)
    return text
