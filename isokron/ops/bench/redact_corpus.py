"""Measure the redactor on the secret corpus, beside Yelp's detect-secrets when installed.

``isokron bench --suite redact-corpus`` (or ``python -m isokron.ops.bench.redact_corpus``)
prints one JSON document: for isokron and for detect-secrets (all its default plugins and
filters, each text scanned as a file of its own, as it scans a repository), the corpus
formats caught of the total, per obfuscation kind; the near-misses touched; the false
positives on ordinary text (the standard library's docstrings, about 1 MB, each docstring
a text: findings per MB); and the time per KB (the same docstrings joined into 10 KB
texts). detect-secrets only finds (it does not redact), so a case counts as caught by it
when it reports anything on the case's text; isokron's counts only when nothing in
``leaks`` survives. detect-secrets is a measuring stick, not a dependency.
"""

from __future__ import annotations

import ast
import json
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .secret_corpus import NEAR_MISSES, SECRET_CASES

__all__ = ["ordinary_docstrings", "run_redact_corpus"]

_SKIP = ("test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "turtledemo",
         "ensurepip", "pydoc_data")


def _docstrings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                yield doc


def ordinary_docstrings(max_chars: int = 1_000_000) -> list[str]:
    """The standard library's docstrings, module by module in name order, up to
    ``max_chars`` characters: ordinary prose and code examples with no secret in them."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    total = 0
    for path in sorted(root.rglob("*.py")):
        if any(part in _SKIP for part in path.relative_to(root).parts):
            continue
        for doc in _docstrings(path):
            out.append(doc)
            total += len(doc)
            if total >= max_chars:
                return out
    return out


Finder = Callable[[str], int]  # text -> number of findings


def _ours() -> tuple[Finder, Callable[[str, tuple[str, ...]], bool]]:
    from ...guard.redact import redact_secrets

    def count(text: str) -> int:
        return len(redact_secrets(text)[1])

    def caught(text: str, leaks: tuple[str, ...]) -> bool:
        out, labels = redact_secrets(text)
        return bool(labels) and not any(leak in out for leak in leaks)

    return count, caught


def _detect_secrets(scratch: Path) -> tuple[Finder, Callable[[str, tuple[str, ...]], bool]] | None:
    """detect-secrets as it scans a repository: each text a file of its own, every default
    plugin and filter (``scan_line`` is its ad-hoc mode, which drops the entropy limits)."""
    try:
        from detect_secrets.core.secrets_collection import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    path = scratch / "text.txt"

    def count(text: str) -> int:
        path.write_text(text, encoding="utf-8")
        found = SecretsCollection()
        with default_settings():
            found.scan_file(str(path))
        return sum(len(v) for v in found.data.values())

    def caught(text: str, leaks: tuple[str, ...]) -> bool:
        return count(text) > 0

    return count, caught


def _chunks(docs: list[str], size: int) -> list[str]:
    """The docstrings joined into texts of about ``size`` characters (10 KB messages)."""
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for doc in docs:
        current.append(doc)
        length += len(doc) + 2
        if length >= size:
            chunks.append("\n\n".join(current))
            current, length = [], 0
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _measure(count: Finder, caught: Callable[[str, tuple[str, ...]], bool],
             docs: list[str]) -> dict[str, Any]:
    kinds: dict[str, list[int]] = {}
    missed = []
    for case in SECRET_CASES:
        hit = caught(case.text, case.leaks)
        tally = kinds.setdefault(case.kind, [0, 0])
        tally[0] += hit
        tally[1] += 1
        if not hit:
            missed.append(case.name)
    touched = [text for text in NEAR_MISSES if count(text)]
    chars = sum(len(d) for d in docs)
    findings = sum(count(doc) for doc in docs)
    chunks = _chunks(docs, 10_000)
    started = time.perf_counter()
    for chunk in chunks:
        count(chunk)
    elapsed = time.perf_counter() - started
    return {
        "caught": sum(k[0] for k in kinds.values()), "total": len(SECRET_CASES),
        "by_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(kinds.items())},
        "missed": missed,
        "near_misses_touched": len(touched), "near_misses": len(NEAR_MISSES),
        "false_positives": findings,
        "false_positives_per_mb": round(findings / (chars / 1_000_000), 2),
        "us_per_kb": round(elapsed * 1e6 / (chars / 1000), 1),
    }


def run_redact_corpus(*, max_chars: int = 1_000_000) -> dict[str, Any]:
    """isokron's redactor and (when installed) detect-secrets on the same corpus."""
    docs = ordinary_docstrings(max_chars)
    result: dict[str, Any] = {"benchmark": "redact-corpus",
                              "ordinary_chars": sum(len(d) for d in docs),
                              "ours": _measure(*_ours(), docs)}
    with tempfile.TemporaryDirectory() as scratch:
        theirs = _detect_secrets(Path(scratch))
        if theirs is not None:
            from importlib.metadata import version

            result["detect_secrets"] = {"version": version("detect-secrets"),
                                        **_measure(*theirs, docs)}
        else:
            result["detect_secrets"] = None  # not installed: pip install detect-secrets
    return result


if __name__ == "__main__":
    print(json.dumps(run_redact_corpus(), indent=2))
