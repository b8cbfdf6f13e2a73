"""Issue 25: what ``isokron --help`` and the README say about the CLI is true."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from isokron._version import __version__
from isokron.engine.tools import TOOL_NAMES
from isokron.ops.cli import build_parser, main
from isokron.ops.cli.entry import NO_DSN_FALLBACK

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _parsers(parser: argparse.ArgumentParser, name: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _parsers(sub, f"{name} {sub_name}".strip())
    return found


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def test_the_description_names_every_subcommand_in_plain_text():
    description = build_parser().description or ""
    assert "`" not in description
    for name in _subcommands():
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", description), name


def test_every_option_has_help_and_no_help_shows_rst_markup():
    missing, markup = [], []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"isokron {name} {'/'.join(action.option_strings) or action.dest}")
            elif "``" in action.help:
                markup.append(f"isokron {name}: {action.help}")
        if "``" in (parser.description or ""):
            markup.append(f"isokron {name}: {parser.description}")
    assert missing == [] and markup == []


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"isokron {__version__}"


def test_the_dsn_fallback_sentence_is_true():
    """Each --dsn's help says whether $ISOKRON_DSN is its default; the README agrees."""
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if "--dsn" in action.option_strings:
                falls_back = name not in NO_DSN_FALLBACK
                assert ("(default: $ISOKRON_DSN)" in (action.help or "")) == falls_back, name
    sentence = README[README.index("Every `--dsn` falls back"):].split("\n\n", 1)[0]
    for name in NO_DSN_FALLBACK:
        assert f"`{name}`" in sentence


def test_the_readme_lists_every_memory_tool():
    start = README.index("`get_tool_schemas()` / `handle_tool_call()` offer")
    listing = README[start:README.index("JSON envelope", start)]
    assert [n for n in TOOL_NAMES if f"`{n}`" not in listing] == []
    assert f"offer {['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven'][len(TOOL_NAMES)]} tools" in listing


def test_no_text_points_at_a_file_the_repository_does_not_hold():
    """SUBSTRATE.md is a design document outside this repository (the applied migrations
    keep their comments: editing them would change their checksums)."""
    texts = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"),
             *(ROOT / "isokron").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    assert [str(p.relative_to(ROOT)) for p in texts if p.name != "test_cli_texts.py"
            and "SUBSTRATE.md" in p.read_text(encoding="utf-8")] == []
