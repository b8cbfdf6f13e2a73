"""Pin the house rules of docs/architecture.md: layers, no cycles, module sizes, SQL floors."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "isokron"
PYPROJECT = ROOT / "pyproject.toml"

#: where SQL may be written (besides the numbered migrations)
SQL_FLOORS = ("isokron/readers/", "isokron/stores/", "isokron/db/", "isokron/schema/",
              "isokron/pool.py", "isokron/ops/doctor_checks")
#: SQL outside the floors, each for a reason docs/architecture.md gives
SQL_EXCEPTIONS = {
    # the benchmark's peers are raw SQL by definition (a bare INSERT is the reference)
    "isokron/ops/bench/",
    # the test fixtures seed substrate tables that isokron only reads
    "isokron/testing/seed.py",
    # the embedded server creates its roles and databases before any schema exists
    "isokron/embedded.py",
    # dumping a schema reads pg_dump's server version and makes a scratch database
    "isokron/ops/schema_dump.py",
}
_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|GRANT|REVOKE|"
                  r"TRUNCATE|COPY|EXPLAIN|ANALYZE|SET LOCAL|SET ROLE|RESET)\b")


def _lint_imports(pythonpath: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(lint), "--config", str(PYPROJECT), "--no-cache"],
                          capture_output=True, text=True, env=env, cwd=pythonpath, timeout=120)


def test_every_arrow_points_down():
    """import-linter's layers contract (lazy and TYPE_CHECKING imports count) is kept."""
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract can fail: a copy of the package whose guard imports the engine."""
    shutil.copytree(PACKAGE, tmp_path / "isokron",
                    ignore=shutil.ignore_patterns("__pycache__", "*.sql"))
    limits = tmp_path / "isokron" / "guard" / "limits.py"
    limits.write_text(limits.read_text() + "\n\ndef _up() -> None:\n"
                      "    from ..engine import core  # noqa: F401\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "isokron.guard.limits -> isokron.engine.core" in result.stdout


def strongly_connected(edges: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """Return the import cycles of a graph: components of more than one module, or one
    module importing itself (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[set[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges.get(start, ())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    cycles.append(component)
    return cycles


def _import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("isokron", cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def test_no_import_cycle_of_any_kind():
    """No module reaches itself through imports (top level, lazy or TYPE_CHECKING)."""
    assert strongly_connected(_import_graph()) == []


def test_the_cycle_finder_finds_cycles():
    """The check above can fail: a two-module and a three-module cycle are reported."""
    found = strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"},
                                "f": {"a"}})
    assert sorted(sorted(c) for c in found) == [["a", "b"], ["c", "d", "e"]]


def test_nothing_inside_imports_the_facade_package():
    """No module imports the root ``isokron`` package (its ``__init__`` imports everything)."""
    importers = {m for m, targets in _import_graph().items() if "isokron" in targets}
    assert importers == set()


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_is_under_400_lines():
    """A module past 400 lines is two concepts."""
    long = {str(p.relative_to(ROOT)): n for p in _modules()
            if (n := len(p.read_text().splitlines())) >= 400}
    assert long == {}


def test_at_most_twelve_modules_at_the_top():
    """The top of the package holds the facade and the shared vocabulary, nothing more."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


def _sql_literals(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(
                node.values[0], ast.Constant) and isinstance(node.values[0].value, str):
            text = node.values[0].value
        if text and _SQL.match(text) and (" FROM " in text or " INTO " in text
                                          or "isokron." in text or "(" in text
                                          or text.lstrip().startswith(("SET ", "RESET"))):
            lines.append(node.lineno)
    return lines


def _allowed(rel: str) -> bool:
    return rel.startswith(SQL_FLOORS) or any(rel.startswith(e) for e in SQL_EXCEPTIONS)


def test_sql_only_on_its_floor():
    """SQL is written only in readers/, stores/, db/, schema/, the pool and the doctor's
    catalog checks (and the documented exceptions)."""
    found = {}
    for path in _modules():
        rel = str(path.relative_to(ROOT))
        if not _allowed(rel) and (lines := _sql_literals(path)):
            found[rel] = lines
    assert found == {}


def test_the_sql_check_sees_sql(tmp_path):
    """The check above can fail: a literal query in an engine-like module is found."""
    module = tmp_path / "m.py"
    module.write_text('Q = "SELECT actor_id FROM public.actor_registry WHERE x = $1"\n'
                      'DOC = "Select the best one."\n')
    assert _sql_literals(module) == [1]
    assert not _allowed("isokron/engine/core.py")


@pytest.mark.parametrize("package", ["isokron", "isokron.stores", "isokron.readers",
                                     "isokron.testing", "isokron.integrations",
                                     "isokron.guard", "isokron.db", "isokron.engine",
                                     "isokron.facade", "isokron.ops", "isokron.embeddings"])
def test_every_package_declares_what_it_exports(package):
    """Each package's ``__all__`` lists exactly the public names it imports or defines."""
    module = __import__(package, fromlist=["__all__"])
    declared = set(module.__all__)
    public = {n for n, v in vars(module).items()
              if not n.startswith("_") and not isinstance(v, type(sys))
              and n != "annotations"}
    assert declared == public | ({"__version__"} & declared)
