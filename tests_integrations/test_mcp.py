"""`isokron mcp` through the official MCP SDK's own stdio client (mcp 2.3.0, the extra).

The server is the real console command in a subprocess, against real PostgreSQL as a
runtime login; the client lists the tools, commits, searches, forgets, and sends bad calls.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import asynccontextmanager

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from isokron._version import install_command
from isokron.engine.tools import TOOL_SCHEMAS

TREE = [("org_mcp", None), ("ws_mcp", "org_mcp"), ("org_b", None)]


@pytest.fixture
async def workspaces(owner):
    for ws, parent in TREE:
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                            "VALUES ($1, $2)", ws, parent)


@asynccontextmanager
async def _client(dsn: str, workspace: str, *extra: str):
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "isokron.ops.cli", "mcp", "--workspace", workspace,
                                      *extra],
        env={**os.environ, "ISOKRON_DSN": dsn})
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session


async def _call(session, name, arguments):
    result = await session.call_tool(name, arguments)
    envelope = json.loads(result.content[0].text)
    assert result.is_error is (not envelope["ok"]), envelope
    return envelope


async def test_tools_commit_search_forget_and_bad_calls(db, owner, workspaces):
    """The SDK client sees the provider's tools with their schemas; commit → search finds
    it → forget removes it (also as the database owner sees it); a secret is redacted in
    storage; an unknown tool and bad arguments get error envelopes and the server goes on."""
    async with _client(db.runtime_dsn, "ws_mcp") as session:
        listed = (await session.list_tools()).tools
        assert [(t.name, t.input_schema) for t in listed] == [
            (t["function"]["name"], t["function"]["parameters"]) for t in TOOL_SCHEMAS]
        committed = await _call(session, "isokron_memory_commit",
                                {"content": "deploys freeze on Fridays; key "
                                            "AKIAIOSFODNN7EXAMPLE", "pin": True})
        memory_id = committed["memory"]["id"]
        assert committed["memory"]["namespace"] == "workspace:ws_mcp"
        found = await _call(session, "isokron_memory_search", {"query": "deploys freeze"})
        assert [m["id"] for m in found["memories"]] == [memory_id] and found["untrusted"]
        stored = await owner.fetchval("SELECT content FROM isokron.memory_records")
        assert "freeze" in stored and "AKIAIOSFODNN7EXAMPLE" not in stored
        assert (await _call(session, "isokron_memory_forget",
                            {"memory_id": memory_id}))["forgotten"] == memory_id
        assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 0
        unknown = await _call(session, "isokron_drop_everything", {})
        assert unknown["ok"] is False and "isokron_drop_everything" in unknown["error"]["message"]
        bad = await _call(session, "isokron_memory_search", {"limit": "lots"})
        assert bad["error"]["type"] == "InvalidInputError"
        missing = await _call(session, "isokron_memory_commit", {})
        assert missing["error"]["type"] == "InvalidInputError"
        assert (await _call(session, "isokron_memory_namespaces", {}))["readable"][0] == (
            "workspace:ws_mcp")


async def test_the_client_cannot_choose_another_workspace(db, owner, workspaces):
    """A server for org_b cannot see ws_mcp's memory; a workspace argument is refused, and
    writing ws_mcp's namespace is refused by isokron's ACL."""
    async with _client(db.runtime_dsn, "ws_mcp") as session:
        await _call(session, "isokron_memory_commit", {"content": "ws_mcp private plan"})
    async with _client(db.runtime_dsn, "org_b") as session:
        assert (await _call(session, "isokron_memory_search", {"query": "plan"}))[
            "memories"] == []
        switched = await _call(session, "isokron_memory_search",
                               {"query": "plan", "workspace_id": "ws_mcp"})
        assert switched["ok"] is False and "workspace_id" in switched["error"]["message"]
        trespass = await _call(session, "isokron_memory_commit",
                               {"content": "planted", "namespace": "workspace:ws_mcp"})
        assert trespass["error"]["type"] == "NotOwnedError"
        other = await _call(session, "isokron_memory_search",
                            {"query": "plan", "namespaces": ["workspace:ws_mcp"]})
        assert other["memories"] == []
    rows = await owner.fetch("SELECT content FROM isokron.memory_records")
    assert [r["content"] for r in rows] == ["ws_mcp private plan"]


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "isokron.ops.cli", "mcp", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


async def test_the_command_refuses_bad_input_in_one_line(db, workspaces):
    """An unknown workspace, a bad DSN, no DSN, a missing --workspace: one line on stderr,
    a non-zero exit, nothing on stdout (the protocol channel)."""
    cases = [
        (["--workspace", "ws_ghost", "--dsn", db.runtime_dsn], None, "unknown workspace"),
        (["--workspace", "ws_mcp", "--dsn", "mysql://x"], None, "dsn"),
        (["--workspace", "ws_mcp"], {"ISOKRON_DSN": ""}, "no DSN given"),
        ([], None, "--workspace"),
    ]
    for args, env, expected in cases:
        done = _cli(*args, env=env)
        assert done.returncode != 0, args
        assert done.stdout == "", args
        lines = done.stderr.strip().splitlines()
        assert expected.lower() in done.stderr.lower(), (args, done.stderr)
        assert "Traceback" not in done.stderr and len(lines) <= 2, done.stderr


def test_a_missing_extra_is_one_line():
    """Without the mcp package the command says which extra to install."""
    code = ("import sys; sys.modules['mcp'] = None; from isokron.ops.cli import main; "
            "sys.exit(main(['mcp', '--workspace', 'w', '--dsn', 'postgresql://u@h/db']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("isokron mcp: the MCP server needs the mcp extra: "
                                   f"{install_command('mcp')}")
    assert "isokron[" not in done.stderr  # isokron is not on a package index


async def test_a_search_result_is_capped_at_quota_result_bytes(db, owner, workspaces):
    """Finding: one search sent a 3.2 MB result (100 memories of 32 KB). With
    --quota-result-bytes 40000 the envelope stays under it, keeps the best-ranked items
    whole and says how many it left out; with the default (256 KiB) the same search is
    cut too, never 3.2 MB; a lower limit the owner set for the workspace wins."""
    from isokron.pool import create_pool
    from isokron.stores import NamespaceMemory

    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=4)
    try:
        memory = NamespaceMemory(pool)
        for i in range(100):
            await memory.commit("ws_mcp", f"runbook {i:03d} " + "deploy steps " * 2500)
    finally:
        await pool.close()
    async with _client(db.runtime_dsn, "ws_mcp", "--quota-result-bytes", "40000") as session:
        result = await session.call_tool("isokron_memory_search",
                                         {"query": "runbook deploy", "limit": 100})
        text = result.content[0].text
        envelope = json.loads(text)
        assert envelope["ok"] and not result.is_error
        assert len(text.encode()) <= 40000
        kept = envelope["memories"]
        assert 0 < len(kept) < 100 and all(len(m["content"]) > 30000 for m in kept)
        assert envelope["truncated"]["omitted"] == 100 - len(kept)
        assert envelope["truncated"]["max_bytes"] == 40000
        assert "quota_result_bytes" in envelope["truncated"]["note"]
    async with _client(db.runtime_dsn, "ws_mcp") as session:
        result = await session.call_tool("isokron_memory_search",
                                         {"query": "runbook deploy", "limit": 100})
        assert len(result.content[0].text.encode()) <= 256 * 1024
        assert json.loads(result.content[0].text)["truncated"]["omitted"] > 0
    # the owner's limit for the workspace, in PostgreSQL, wins when it is lower
    from isokron.stores.quotas import apply_quotas

    await apply_quotas(owner, {"quota_result_bytes": 20000}, "ws_mcp")
    async with _client(db.runtime_dsn, "ws_mcp") as session:
        result = await session.call_tool("isokron_memory_search",
                                         {"query": "runbook deploy", "limit": 100})
        assert len(result.content[0].text.encode()) <= 20000
        assert json.loads(result.content[0].text)["truncated"]["max_bytes"] == 20000
