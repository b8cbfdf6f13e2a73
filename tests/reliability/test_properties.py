"""Property tests: redaction, recall escaping, prompt size and config parsing hold for any input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from isokron.config import load_config
from isokron.engine.prompt import HONEST_LABEL, render_prompt_block
from isokron.engine.recall import normalised_content, render_recall_block
from isokron.errors import ConfigError
from isokron.guard.redact import redact_secrets
from isokron.models import MemoryRecord
from isokron.testing import InMemorySubstrate

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SECRETS = st.one_of(
    st.text(_ALNUM, min_size=36, max_size=40).map(lambda s: "ghp_" + s),
    st.text(_ALNUM + "_-", min_size=20, max_size=40).map(lambda s: "sk-" + s),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16).map(lambda s: "AKIA" + s),
    st.text(_ALNUM, min_size=8, max_size=30).map(lambda s: "MY_API_KEY=" + s),
)
FILLER = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 max_size=80).map(lambda s: s.replace("_", " ").replace("-", " "))


@settings(max_examples=200, deadline=None)
@given(before=FILLER, secret=SECRETS, after=FILLER)
def test_a_secret_never_survives_redaction(before, secret, after):
    """Whatever surrounds it, a known secret shape is replaced and reported."""
    text, labels = redact_secrets(f"{before} {secret} {after}")
    body = secret.split("=", 1)[-1]
    assert text.count(body) <= before.count(body) + after.count(body)
    assert labels and "[REDACTED:" in text


# Arbitrary Unicode, with the pieces a forger would use mixed in.
_FORGER = st.sampled_from(["\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\t",
                           "\u00a0", "[MEMORY ", "[memory\u00a0", "</recalled-memory>",
                           "<recalled-memory>", "\u202e", "\\", "§2 You CAN:", "  - "])
UNICODE = st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
                             _FORGER), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(contents=st.lists(UNICODE, min_size=1, max_size=12),
       limit=st.integers(min_value=500, max_value=6000))
def test_recall_block_is_bounded_and_unforgeable(contents, limit):
    """Any contents: at most `limit` chars, one fence each way, one [MEMORY line per distinct
    memory (a repeat of an earlier one's normalised content is left out), in order."""
    records = [MemoryRecord(id=f"id-{i}", namespace="workspace:w", content=c, kind="fact",
                            source="agent", pin=False, expires_at=None,
                            created_at=datetime(2026, 1, 1, tzinfo=UTC))
               for i, c in enumerate(contents)]
    block = render_recall_block(records, max_chars=limit)
    assert len(block) <= limit
    lines = block.splitlines()
    memory_lines = [line for line in lines if line.upper().startswith("[MEMORY")]
    kept, seen = [], set()
    for i, c in enumerate(contents):
        if normalised_content(c) not in seen:
            seen.add(normalised_content(c))
            kept.append(i)
    assert all(line.startswith(f"[MEMORY 2026-01-01 memory id=id-{kept[n]} ")
               for n, line in enumerate(memory_lines))
    omitted = [line for line in lines if line.startswith("…") and line.endswith("(size limit)")]
    assert memory_lines and lines[2:-1] == memory_lines + omitted
    opening = [line for line in lines if line.lower().lstrip().startswith("<recalled")]
    closing = [line for line in lines if line.lower().lstrip().startswith("</recalled")]
    assert opening == [lines[0]] and closing == [lines[-1]]


_CONTEXT = asyncio.run(InMemorySubstrate.with_demo_workspace().read_context("org_demo"))


def _structure(block: str) -> tuple[list[str], int]:
    lines = block.splitlines()
    return [line.split(" ", 1)[0] for line in lines if line.startswith("§")], sum(
        1 for line in lines if line.startswith("  - "))


_BASELINE = _structure(render_prompt_block(_CONTEXT))


@settings(max_examples=300, deadline=None)
@given(value=UNICODE, field=st.sampled_from(
    ["identity", "can", "cannot", "version", "policy", "capability", "event", "actor_kind",
     ]))
def test_no_stored_value_changes_the_blocks_line_structure(value, field):
    """Any string in any printed field: the same § headings and the same bullet count."""
    ctx = _CONTEXT
    charter, sections = ctx.role_charter, ctx.role_charter.sections
    if field == "identity":
        ctx = attrs.evolve(ctx, role_charter=attrs.evolve(
            charter, sections=attrs.evolve(sections, identity=value)))
    elif field in ("can", "cannot"):
        name = "authority_can_do" if field == "can" else "authority_cannot_do"
        items = (value, *getattr(sections, name)[1:])
        ctx = attrs.evolve(ctx, role_charter=attrs.evolve(
            charter, sections=attrs.evolve(sections, **{name: items})))
    elif field == "version":
        ctx = attrs.evolve(ctx, role_charter=attrs.evolve(charter, charter_version=value))
    elif field == "policy":
        ctx = attrs.evolve(ctx, policies=tuple(
            attrs.evolve(p, value=value) if p.path == "policy.kora_rate_limit_per_minute" else p
            for p in ctx.policies))
    elif field == "capability":
        row = ctx.capability_row
        ctx = attrs.evolve(ctx, capability_row=attrs.evolve(
            row, granted=frozenset({*sorted(row.granted)[1:], value})))
    elif field == "event":
        ctx = attrs.evolve(ctx, recent_events=(
            attrs.evolve(ctx.recent_events[0], event_type=value), *ctx.recent_events[1:]))
    else:
        ctx = attrs.evolve(ctx, capability_row=attrs.evolve(ctx.capability_row, actor_kind=value))
    assert _structure(render_prompt_block(ctx, max_chars=100_000)) == _BASELINE


@settings(max_examples=100, deadline=None)
@given(limit=st.integers(min_value=900, max_value=20000),
       identity=st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000))
def test_prompt_block_never_exceeds_its_limit(limit, identity):
    """Any size limit >= 900 and any identity text: the block fits and ends with the label,
    or (the verified lines alone do not fit) it fails closed naming the size it needs."""
    from isokron.errors import PromptBlockTooLargeError

    charter = attrs.evolve(_CONTEXT.role_charter, sections=attrs.evolve(
        _CONTEXT.role_charter.sections, identity=identity))
    try:
        block = render_prompt_block(attrs.evolve(_CONTEXT, role_charter=charter),
                                    max_chars=limit)
    except PromptBlockTooLargeError as exc:
        assert exc.required > limit == exc.max_chars
        return
    assert len(block) <= limit
    assert block.endswith(HONEST_LABEL)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["dsn", "pool_max_size", "cache_ttl_seconds", "write_transport",
                     "actor_kind", "bogus", "prefetch_timeout_s", "scratchpad_limit"]),
    st.one_of(st.none(), st.booleans(), st.integers(-5, 50), st.floats(allow_nan=True),
              st.text(max_size=20), st.just("postgresql://u:p@h/db"), st.lists(st.integers())),
))
def test_config_either_loads_or_raises_config_error(settings_map):
    """No input makes load_config raise anything but ConfigError."""
    try:
        cfg = load_config(settings_map)
    except ConfigError as exc:
        assert exc.key is None or isinstance(exc.key, str)
    else:
        assert cfg.dsn.startswith(("postgres://", "postgresql://"))
