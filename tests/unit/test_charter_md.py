"""Pin the charter markdown format and the fail-closed comparison with content_jsonb."""

from __future__ import annotations

import hashlib

import pytest

from isokron.errors import RoleCharterIntegrityError
from isokron.readers.charter import verify_charter
from isokron.readers.charter_md import CharterFormatError, parse_charter_md, render_charter_md
from isokron.testing.seed import DEMO_CHARTER_SECTIONS


def _row(md: str, sections: dict, version: str = "2.1.0") -> dict:
    return {"id": "c1", "workspace_id": "ws", "schema_version": "kora-charter/2",
            "content_md": md, "content_hash": hashlib.sha256(md.encode()).hexdigest(),
            "content_jsonb": {"charter_version": version, "sections": sections},
            "created_at": None}


def test_render_and_parse_round_trip():
    """parse_charter_md(render_charter_md(s, v)) gives back v and every section."""
    parsed = parse_charter_md(render_charter_md(DEMO_CHARTER_SECTIONS, "2.1.0"))
    assert parsed.charter_version == "2.1.0"
    for key, value in DEMO_CHARTER_SECTIONS.items():
        assert parsed.sections[key] == value


@pytest.mark.parametrize(("md", "section"), [
    ("Kora Role Charter\n## Identity\nx\n", "charter_version"),
    ("# Kora Role Charter v1\n## Authority: can do\n- a\nnot an item\n", "authority_can_do"),
    ("# Kora Role Charter v1\n## Identity\nx\n## Identity\ny\n", "identity"),
])
def test_a_malformed_charter_names_the_part(md, section):
    """Missing title, a stray line in a list, a repeated heading: CharterFormatError(section)."""
    with pytest.raises(CharterFormatError) as raised:
        parse_charter_md(md)
    assert raised.value.section == section


def test_a_section_shown_from_jsonb_must_equal_the_hashed_one():
    """Same hash, different jsonb: RoleCharterIntegrityError naming the section."""
    md = render_charter_md(DEMO_CHARTER_SECTIONS, "2.1.0")
    assert verify_charter("ws", _row(md, DEMO_CHARTER_SECTIONS)).charter_version == "2.1.0"
    sections = {**DEMO_CHARTER_SECTIONS,
                "authority_cannot_do": DEMO_CHARTER_SECTIONS["authority_cannot_do"][:-1]}
    with pytest.raises(RoleCharterIntegrityError) as raised:
        verify_charter("ws", _row(md, sections))
    assert raised.value.section == "authority_cannot_do"
    with pytest.raises(RoleCharterIntegrityError) as raised:
        verify_charter("ws", _row(md, DEMO_CHARTER_SECTIONS, version="2.1.1"))
    assert raised.value.section == "charter_version"
