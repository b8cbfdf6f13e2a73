"""Docs a user can start from (issue 25): the README's overview, the LICENSE, the changelog,
and an API reference page for every public module."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

import isokron

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: sha256 of the Apache License 2.0's terms (everything before "END OF TERMS AND
#: CONDITIONS", whitespace collapsed), as published at apache.org/licenses/LICENSE-2.0.txt.
APACHE_2_TERMS_SHA256 = "09ae9bf1886f530f7338889ef805f37b288ec6adedd1e1e32058921acf05a782"

KEEP_A_CHANGELOG_KINDS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def sections(text: str, level: str = "## ") -> list[tuple[str, str]]:
    """(heading, body) of each section at ``level``, outside fenced code blocks."""
    out: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith(level):
            out.append((line[len(level):].strip(), []))
        elif out:
            out[-1][1].append(line)
    return [(h, "\n".join(body)) for h, body in out]


def readme_section(name: str) -> str:
    found = [body for heading, body in sections(README) if heading == name]
    assert len(found) == 1, f"README has {len(found)} '## {name}' sections"
    return found[0]


def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", text, flags=re.M | re.S)


def test_readme_opens_with_title_pitch_quick_start_then_the_overview() -> None:
    headings = [h for h, _ in sections(README)]
    assert README.startswith("# isokron\n")
    assert headings[:2] == ["Quick start", "Concepts"], headings[:4]
    quick = readme_section("Quick start")
    # .ci/run greps the second command and runs it: both stay exactly as they are.
    assert ("python3 -m venv .venv && .venv/bin/pip install '.[embedded]' && "
            ".venv/bin/isokron demo") in quick
    assert "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest" in quick


def test_the_overview_names_the_parts() -> None:
    overview = readme_section("Concepts")
    for concept in ("**The substrate**", "**Kora**", "`hivex_foundation`", "`kronicle`",
                    "0001_substrate.sql", "isokron_runtime", "outbox"):
        assert concept in overview, concept
    # docs/index.md includes exactly this part of the README (pymdownx.snippets).
    assert overview.count("--8<-- [start:overview]") == 1
    assert overview.count("--8<-- [end:overview]") == 1
    assert '--8<-- "README.md:overview"' in (ROOT / "docs" / "index.md").read_text()


def test_the_overview_has_both_mermaid_diagrams() -> None:
    overview = readme_section("Concepts")
    blocks = mermaid_blocks(overview)
    assert len(blocks) == 2, blocks
    parts, turn = blocks
    assert parts.startswith("flowchart")
    for part in ("substrate", "kronicle", "hivex_foundation", "AsyncIsoKron", "outbox"):
        assert part in parts, part
    assert turn.startswith("sequenceDiagram")
    steps = ["on_turn_start", "one round trip", "system_prompt_block", "no I/O", "prefetch",
             "sync_turn", "stores"]
    positions = [turn.index(step) for step in steps]
    assert positions == sorted(positions), dict(zip(steps, positions, strict=True))


def test_upgrading_and_versioning_sections() -> None:
    upgrading = readme_section("Upgrading")
    for needed in ("isokron migrate", "pg_dump", "--repair-checksum", "MigrationChecksumError",
                   "advisory lock", "_v1", "_v2", "isokron doctor"):
        assert needed in upgrading, needed
    versioning = readme_section("Versioning")
    for needed in ("Semantic Versioning", "`isokron.__all__`", "Configuration keys", "CLI",
                   "SQL function", "append-only", "CHANGELOG.md"):
        assert needed in versioning, needed


def test_license_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    terms = text[: text.index("END OF TERMS AND CONDITIONS")]
    digest = hashlib.sha256(" ".join(terms.split()).encode()).hexdigest()
    assert digest == APACHE_2_TERMS_SHA256, "LICENSE's terms differ from the Apache-2.0 text"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == {"text": "Apache-2.0"}


def test_changelog_follows_keep_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "keepachangelog.com" in text and "semver.org" in text
    headings = re.findall(r"^(#+) (.*)$", text, flags=re.M)
    assert [h for h in headings if len(h[0]) == 1] == [("#", "Changelog")]
    assert all(len(level) <= 3 for level, _ in headings), "only #, ## and ### headings"
    releases = sections(text)
    assert releases and releases[0][0] == "[Unreleased]", [h for h, _ in releases]
    versions: list[tuple[int, ...]] = []
    for heading, _body in releases[1:]:
        m = re.fullmatch(r"\[(\d+)\.(\d+)\.(\d+)\] - (\d{4}-\d{2}-\d{2})", heading)
        assert m, f"a release heading is '## [X.Y.Z] - YYYY-MM-DD', not {heading!r}"
        versions.append(tuple(int(g) for g in m.groups()[:3]))
    assert versions == sorted(versions, reverse=True), "newest release first"
    assert len(set(versions)) == len(versions)
    assert tuple(int(p) for p in isokron.__version__.split(".")[:3]) in versions
    for heading, body in releases:
        kinds = [k for k, _ in sections(body, "### ")]
        assert kinds, f"{heading} has no change kinds"
        assert set(kinds) <= KEEP_A_CHANGELOG_KINDS, (heading, kinds)
        assert len(kinds) == len(set(kinds)), (heading, kinds)
        for kind, entries in sections(body, "### "):
            assert re.search(r"^- \S", entries, flags=re.M), f"{heading} / {kind} is empty"


def test_every_public_module_has_an_api_page() -> None:
    api = ROOT / "docs" / "api"
    pages = {p: p.read_text() for p in api.rglob("*.md")}
    documented = {m for text in pages.values() for m in re.findall(r"^::: (\S+)$", text, re.M)}
    integrations = {f"isokron.integrations.{p.stem}"
                    for p in (ROOT / "isokron" / "integrations").glob("*.py")
                    if not p.name.startswith("_")}
    public = {"isokron", "isokron.stores", "isokron.embeddings", "isokron.testing"}
    assert public | integrations <= documented, sorted((public | integrations) - documented)
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in pages:
        assert str(page.relative_to(ROOT / "docs")) in nav, f"{page} is not in mkdocs.yml's nav"
    docs_extra = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]["docs"]
    assert {re.split(r"[=<>\[]", d)[0] for d in docs_extra} >= {
        "mkdocs", "mkdocstrings", "mkdocstrings-python"}
    assert all("==" in d for d in docs_extra), docs_extra
