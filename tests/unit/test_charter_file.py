"""`isokron charter set`'s file reader: what it stores is what the reader verifies."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from isokron.errors import InvalidInputError
from isokron.ops.charter_file import read_charter_file
from isokron.ops.cli._args import Refused
from isokron.ops.cli.policy import policy_path, policy_value
from isokron.readers.charter import verify_charter
from isokron.testing.seed import DEMO_CHARTER_SECTIONS, render_charter_md


def _row(doc):
    return {"id": "x", "workspace_id": "org_t", "schema_version": "kora-charter/2",
            "content_md": doc.content_md, "content_jsonb": doc.content,
            "content_hash": doc.content_hash, "created_at": None}


def test_the_seed_charter_as_markdown_and_as_yaml_hash_like_the_seed(tmp_path):
    """The demo charter, as markdown or as YAML, gives the seed's content_md and hash."""
    md = render_charter_md(DEMO_CHARTER_SECTIONS, "2.1.0")
    (tmp_path / "c.md").write_text(md, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(
        {"charter_version": "2.1.0", "sections": DEMO_CHARTER_SECTIONS}), encoding="utf-8")
    for name in ("c.md", "c.yaml"):
        doc = read_charter_file(str(tmp_path / name))
        assert doc.content_md == md
        assert doc.content_hash == hashlib.sha256(md.encode()).hexdigest()
        assert doc.content["sections"] == DEMO_CHARTER_SECTIONS
        charter = verify_charter("org_t", _row(doc))
        assert charter.charter_version == "2.1.0"


def test_markdown_is_stored_as_written_crlf_made_lf(tmp_path):
    """Extra headings are kept (hashed, reported); CRLF line endings become LF."""
    text = "# Acme v3\r\n\r\n## Identity\r\nKora.\r\n\r\n## Notes\r\nfree text\r\n"
    (tmp_path / "c.md").write_bytes(text.encode())
    doc = read_charter_file(str(tmp_path / "c.md"))
    assert doc.content_md == text.replace("\r\n", "\n")
    assert doc.ignored_headings == ("Notes",)
    verify_charter("org_t", _row(doc))


@pytest.mark.parametrize("content", [
    "# Acme v1 2\n\n## Identity\nK\n",      # a version with a space: the title is unparsable
    "# Acme v1\n\n## Identity\n\n",          # no identity
    "# Acme v!\n\n## Identity\nK\n",          # not a version
])
def test_bad_markdown_is_refused(tmp_path, content):
    (tmp_path / "c.md").write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError, match="charter file"):
        read_charter_file(str(tmp_path / "c.md"))


def test_policy_paths_and_values():
    """PATH: the registry's or the short form; VALUE: JSON, else text."""
    assert policy_path("kora.disabled") == "policy.kora_disabled"
    assert policy_path("policy.kora_disabled") == "policy.kora_disabled"
    assert (policy_path("kora.context_assembler_token_ceiling.opus")
            == "policy.kora_context_assembler_token_ceiling.opus")
    for bad in ("disabled", "kora.", ".x", "policy.Kora", "policy.a..b", "kora.dis abled"):
        with pytest.raises(Refused, match="neither"):
            policy_path(bad)
    assert policy_value("false") is False and policy_value("30") == 30
    assert policy_value('["en", "de"]') == ["en", "de"] and policy_value("strict") == "strict"
    assert policy_value('"30"') == "30" and policy_value("NaN") == "NaN"
    with pytest.raises(Refused, match="NUL"):
        policy_value('"a\\u0000b"')
