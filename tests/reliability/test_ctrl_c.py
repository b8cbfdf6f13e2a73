"""Ctrl-C while a command's work is in flight: one line, status 130, no traceback, and no
server left running (issue 25, item 4).

Each command runs in a session of its own; the test waits for a line the command prints
once its work is under way (a progress line, or a sweep's JSON), then sends SIGINT to
the whole process group, as a terminal's Ctrl-C does. No sleeps: the line is the cue.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from isokron.stores import import_memory

DATA = Path(__file__).resolve().parents[1] / "data"


class Interrupted:
    """What a command did after Ctrl-C: status, stdout, stderr lines."""

    def __init__(self, code: int, out: str, err: list[str]) -> None:
        self.code, self.out, self.err = code, out, err


def interrupt_when(argv: list[str], cue: str, *, tmp: Path, on_stdout: bool = False,
                   timeout: float = 180.0) -> Interrupted:
    """Run ``isokron argv`` (temporary files under ``tmp``); at the first line holding
    ``cue`` send SIGINT to its process group; return what it did."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop("ISOKRON_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "isokron.ops.cli", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    seen = threading.Event()
    lines: dict[str, list[str]] = {"out": [], "err": []}

    def pump(stream: object, name: str) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines[name].append(line)
            if cue in line and (name == "out") == on_stdout:
                seen.set()
        if (name == "out") == on_stdout:
            seen.set()  # ended without the cue: the assertion below says so

    threads = [threading.Thread(target=pump, args=(proc.stdout, "out"), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, "err"), daemon=True)]
    for thread in threads:
        thread.start()
    try:
        assert seen.wait(timeout), f"no {cue!r} within {timeout}s: {''.join(lines['err'])}"
        assert proc.poll() is None, f"ended before the cue was acted on: {lines}"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for thread in threads:
            thread.join(10)
        proc.stdout.close()
        proc.stderr.close()
    return Interrupted(proc.returncode, "".join(lines["out"]),
                       "".join(lines["err"]).splitlines())


def assert_one_line(result: Interrupted, command: str) -> None:
    """Status 130; stderr is progress lines and then exactly ``isokron CMD: interrupted``."""
    err = "\n".join(result.err)
    assert result.code == 130, err
    assert "Traceback" not in err and "Exception" not in err, err
    assert result.err[-1] == f"isokron {command}: interrupted", err
    assert all(line.startswith(f"isokron {command}: ") for line in result.err), err


def assert_no_server_left(tmp: Path) -> None:
    """No cluster under ``tmp`` is running, and no process names a path under it."""
    assert not list(tmp.rglob("postmaster.pid")), "a server under the test's TMPDIR runs"
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            assert str(tmp) not in cmdline, f"left behind: {cmdline!r}"


@pytest.fixture
def tmp(server_dir: Path) -> Path:
    """The command's TMPDIR: its embedded server's directories go there (outside pytest's
    base temp, see ``server_dir_factory``)."""
    return server_dir


def test_bench_rls_mid_search(tmp):
    """Interrupted among the timed searches: the pool and the embedded server close."""
    result = interrupt_when(["bench", "--suite", "rls", "--records", "2000"], "searching",
                            tmp=tmp)
    assert_one_line(result, "bench")
    assert result.out == ""  # no half a JSON document
    assert_no_server_left(tmp)


def test_bench_suite_mid_benchmark(tmp):
    """Interrupted inside the suite's first benchmark (writes in flight on both sides)."""
    pytest.importorskip("langgraph.store.postgres")
    pytest.importorskip("agents")
    result = interrupt_when(["bench", "--quick"], "bench: memory:", tmp=tmp)
    assert_one_line(result, "bench")
    assert_no_server_left(tmp)


def test_eval_while_the_server_starts(tmp):
    """Interrupted while the embedded server is being made: initdb and pg_ctl finish (they
    run in a session of their own), then the server is stopped and removed."""
    pytest.importorskip("bm25s")
    result = interrupt_when(["eval", "recall", str(DATA / "mini_locomo.json")],
                            "starting the embedded server", tmp=tmp)
    assert_one_line(result, "eval recall")
    assert_no_server_left(tmp)


def _memories(count: int) -> list[dict[str, object]]:
    items: list[dict[str, object]] = [
        {"type": "namespace", "name": "org:org_a", "kind": "org"}]
    items += [{"type": "memory", "id": str(uuid.uuid4()), "namespace": "org:org_a",
               "content": f"fact number {n} about the invoices rota", "kind": "fact",
               "source": "user"} for n in range(count)]
    return items


async def test_import_export_and_backfill_mid_work(db, owner, tmp):
    """A 40,000-memory tree: import, export and embed --backfill each interrupted after
    their first progress line, with the database's work in flight."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('org_a')")
    items = _memories(40_000)
    await import_memory(owner, items, workspace_id="org_a")
    path = tmp / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    runs = [
        (["memory", "import", str(path), "--dsn", db.dsn, "--workspace", "org_a"],
         "memory import", "reading and writing"),
        (["memory", "export", "--dsn", db.sweeper_dsn, "--workspace", "org_a",
          "--out", str(tmp / "out.jsonl")], "memory export", "reading the tree"),
        (["embed", "--backfill", "--dsn", db.dsn, "--embedder",
          "isokron.testing:HashingEmbedder", "--batch-size", "16"], "embed", "embedding"),
    ]
    for argv, command, cue in runs:
        result = await asyncio.to_thread(interrupt_when, argv, cue, tmp=tmp)
        assert_one_line(result, command)
    assert not (tmp / "out.jsonl").exists()  # no half an export
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 40_000


async def test_sweep_between_passes(db, tmp):
    """The sweeper, interrupted after its first pass: status 130 like every command."""
    result = await asyncio.to_thread(
        interrupt_when, ["sweep", "--dsn", db.sweeper_dsn, "--interval", "30"],
        '"deadline_failures"', tmp=tmp, on_stdout=True)
    assert_one_line(result, "sweep")
    assert json.loads(result.out.splitlines()[0])["errors"] == []
