"""Render a SessionContext as the system prompt block (a pure function; no I/O).

Every stored value the block prints goes through :func:`_field` (one line, escaped by
:func:`isokron.guard.sanitize.escape_line`), so no stored value can start a line: the
block's headings and bullets are always the ones this module writes.

The size bound (``prompt_max_chars``) never costs a verified line. The verified parts are
the role charter's sections (§1 identity, §2 CAN, §3 CANNOT: their text is covered by the
charter's SHA-256 ``content_hash``) and the §7 constitution line. The trimmer first cuts
§4 policy values (longest first, with a marker), then drops whole unverified bullets
(§4 policies, §5 capabilities, §6 events, with a marker). A block whose verified parts
alone exceed the bound fails closed with :class:`~isokron.errors.PromptBlockTooLargeError`.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import PromptBlockTooLargeError
from ..guard.sanitize import escape_line
from ..models import SessionContext

__all__ = ["HONEST_LABEL", "RENDERED_POLICY_PATHS", "format_policy_value", "render_prompt_block"]

#: The block's last line: it speaks of "this block" (nothing follows it to be "below").
HONEST_LABEL = (
    "This identity block was assembled by IsoKronMemoryProvider on session start. "
    "The substrate is the source of truth; if anything in this block conflicts with a "
    "fresh substrate query, the substrate query wins."
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
#: Sections whose content isokron does not verify, by index: §4 policies, §5, §6.
_POLICY_SECTION = 3
_UNVERIFIED_SECTIONS = (3, 4, 5)


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


def _policy_values(ctx: SessionContext) -> list[str]:
    """Return the §4 values, rendered and escaped, in RENDERED_POLICY_PATHS order."""
    policies = {p.path: p.value for p in ctx.policies}
    return [_field(format_policy_value(policies[path])) if path in policies else _NOT_SEEDED
            for path in RENDERED_POLICY_PATHS]


def _policy_bullets(values: list[str]) -> list[str]:
    return [f"  - {path} = {value}" for path, value in zip(RENDERED_POLICY_PATHS, values,
                                                           strict=True)]


def _value_marker(cut: int) -> str:
    return f" …[{cut} chars trimmed to fit the prompt size limit]"


def _sections(ctx: SessionContext) -> list[tuple[str, list[str], list[str]]]:
    """Return (heading, bullets, trailer lines) per section, in order."""
    charter = ctx.role_charter
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
        ("§4 Active policy values", _policy_bullets(_policy_values(ctx)), []),
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


def _cut_policy_values(sections: list[tuple[str, list[str], list[str]]],
                       values: list[str], trimmed: list[int], max_chars: int) -> str:
    """Cut §4 values, longest first, each with a marker, until the block fits (or none can)."""
    shown = list(values)
    stuck: set[int] = set()
    text = _join(sections, trimmed)
    while len(text) > max_chars:
        open_ = [i for i in range(len(shown)) if i not in stuck]
        if not open_:
            break
        index = max(open_, key=lambda i: (len(shown[i]), i))
        original = values[index]
        target = len(shown[index]) - (len(text) - max_chars)
        keep = max(0, target - len(_value_marker(len(original))))
        candidate = original[:keep] + _value_marker(len(original) - keep)
        if keep >= len(original) or len(candidate) >= len(shown[index]):
            stuck.add(index)  # cutting this value would not make it shorter
            continue
        shown[index] = candidate
        if keep == 0:
            stuck.add(index)
        heading, _bullets, trailer = sections[_POLICY_SECTION]
        sections[_POLICY_SECTION] = (heading, _policy_bullets(shown), trailer)
        text = _join(sections, trimmed)
    return text


def render_prompt_block(ctx: SessionContext, *, max_chars: int = 12000) -> str:
    """Render the identity block within ``max_chars``, trimming only unverified content.

    Policy values are cut first, then whole unverified bullets go (each with a marker);
    the charter sections and the constitution line are never shortened. Raises
    :class:`~isokron.errors.PromptBlockTooLargeError` when they alone do not fit.
    """
    sections = _sections(ctx)
    trimmed = [0] * len(sections)
    text = _cut_policy_values(sections, _policy_values(ctx), trimmed, max_chars)
    while len(text) > max_chars:
        # Drop an unverified bullet from the section with the most left (later on ties).
        candidates = [i for i in _UNVERIFIED_SECTIONS if sections[i][1]]
        if not candidates:
            raise PromptBlockTooLargeError(required=len(text), max_chars=max_chars)
        index = max(candidates, key=lambda i: (len(sections[i][1]), i))
        sections[index][1].pop()
        trimmed[index] += 1
        text = _join(sections, trimmed)
    return text
