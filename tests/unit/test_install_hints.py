"""Issue 25: isokron is not on a package index, so no text tells anyone to
``pip install isokron`` (or ``'isokron[extra]'``): every install line is the clone form."""

from __future__ import annotations

import re
from pathlib import Path

from isokron._version import install_command

ROOT = Path(__file__).resolve().parents[2]
#: pip install isokron, pip install 'isokron[otel]', pip install "isokron>=0.1", -m pip ...
_FROM_AN_INDEX = re.compile(r"pip install\s+(?:-\S+\s+)*['\"]?isokron\b")


def _texts() -> list[Path]:
    files = [ROOT / "README.md"]
    files += sorted(p for p in (ROOT / "isokron").rglob("*")
                    if p.is_file() and p.suffix in (".py", ".md", ".yaml", ".yml", ".txt", ".sql"))
    return files


def test_no_text_installs_isokron_from_a_package_index():
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in _texts()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if _FROM_AN_INDEX.search(line)]
    assert found == []


def test_the_check_above_can_fail():
    for line in ("pip install 'isokron[otel]'", "pip install isokron", "python3 -m pip install "
                 "isokron", 'pip install "isokron[bench]"', "pip install -U isokron"):
        assert _FROM_AN_INDEX.search(line), line
    assert not _FROM_AN_INDEX.search("pip install '.[otel]'")


def test_the_hint_names_this_clone():
    """Run from a clone (as the tests are), the hint names the clone's folder."""
    assert install_command("otel") == f"pip install '{ROOT}[otel]'"
    assert install_command(python="/opt/py") == f"/opt/py -m pip install '{ROOT}'"


def test_without_a_clone_the_hint_is_the_clone_form(tmp_path, monkeypatch):
    import isokron._version as version

    fake = tmp_path / "site-packages" / "isokron" / "_version.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("")
    monkeypatch.setattr(version, "__file__", str(fake))
    assert install_command("mcp") == "pip install '.[mcp]' (in a clone of the isokron repository)"
