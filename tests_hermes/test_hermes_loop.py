"""isokron inside Hermes's own agent loop (hermes-agent 0.19.0, the `hermes` extra).

`AIAgent.run_conversation` talks to a scripted OpenAI-compatible stub on 127.0.0.1; the
memory provider is loaded by Hermes's own plugin loader from ``$HERMES_HOME/plugins``
after ``isokron hermes-install``. Run in CI by ``.ci/run`` in a venv with the extra:
``pytest tests_hermes``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import asyncpg
import pytest
import yaml

from isokron.embedded import EmbeddedPostgres
from isokron.ops.cli import main as isokron_main
from isokron.testing.seed import seed_demo_workspace

sys.path.insert(0, str(Path(__file__).parent))
import run_agent  # noqa: E402  (hermes-agent: this suite runs only with the extra)
from stub import Stub  # noqa: E402


def _q(dsn: str, sql: str, *args):
    async def go():
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def pg():
    with EmbeddedPostgres(durable=False) as server:
        async def seed():
            conn = await asyncpg.connect(server.dsn)
            await seed_demo_workspace(conn, "org_demo")
            await seed_demo_workspace(conn, "org_tampered")
            await conn.close()

        asyncio.run(seed())
        yield server


@pytest.fixture
def hermes_home(tmp_path, monkeypatch, pg):
    home = tmp_path / "hermes"
    assert isokron_main(["hermes-install", "--home", str(home), "--python", sys.executable]) == 0
    monkeypatch.setenv("HERMES_HOME", str(home))
    # Hermes caches a loaded plugin module by name: drop an earlier test's copy (its
    # CONFIG_PATH points at that test's home).
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").endswith("plugins/isokron/__init__.py"):
            monkeypatch.delitem(sys.modules, name)

    def configure(workspace: str) -> Path:
        (home / "config.yaml").write_text(yaml.safe_dump({
            "memory": {"provider": "isokron"},
            "isokron": {"dsn": pg.runtime_dsn, "workspace_id": workspace,
                        "write_transport": "substrate"}}))
        return home

    return configure


def _agent(url: str):
    return run_agent.AIAgent(base_url=url, api_key="stub-key", model="stub-model",
                             quiet_mode=True, skip_context_files=True,
                             enabled_toolsets=["memory"], max_iterations=6, tool_delay=0)


def _chat(stub: Stub) -> list[dict]:
    return [r["body"] for r in stub.requests if r["path"].endswith("/chat/completions")]


def _tool_results(request: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in request["messages"] if m.get("role") == "tool"]


def test_a_conversation_in_hermes_own_loop(pg, hermes_home, caplog):
    """Identity in the system prompt; commit and search reach isokron and their results
    reach the model; the turn is stored once; a second turn's episodes tool sees the first
    turn (read-your-writes); the session end is recorded."""
    hermes_home("org_demo")
    ended_before = len(_q(pg.dsn, "SELECT 1 FROM hivex_foundation.event_log "
                                  "WHERE event_type = 'kora.session.ended'"))
    stub = Stub([
        {"tool_calls": [("isokron_memory_commit", {"content": "deploys freeze on Fridays"})]},
        {"tool_calls": [("isokron_memory_search", {"query": "deploys Fridays"})]},
        {"content": "Noted: deploys freeze on Fridays."},
        {"tool_calls": [("isokron_episodes_recent", {"limit": 5})]},
        {"content": "Your last turn was about the deploy freeze."},
    ])
    try:
        with caplog.at_level(logging.WARNING):
            from hermes_cli.plugins import discover_plugins

            discover_plugins(force=True)  # Hermes's manifest scan: no "unknown kind" warning
            agent = _agent(stub.url)
            first = agent.run_conversation("Remember that deploys freeze on Fridays.")
            second = agent.run_conversation("What did we just do?",
                                            conversation_history=first["messages"])
            agent.shutdown_memory_provider(second["messages"])
    finally:
        stub.close()
    chat = _chat(stub)
    system = chat[0]["messages"][0]
    assert system["role"] == "system" and "§1 Identity (Kora Role Charter" in system["content"]
    assert {"isokron_memory_commit", "isokron_memory_search", "isokron_episodes_recent"} <= {
        t["function"]["name"] for t in chat[0]["tools"]}
    committed = _tool_results(chat[1])[0]
    assert committed["ok"] and committed["memory"]["content"] == "deploys freeze on Fridays"
    found = _tool_results(chat[2])[-1]
    assert found["ok"] and found["untrusted"] is True
    assert [m["content"] for m in found["memories"]] == ["deploys freeze on Fridays"]
    episodes = _tool_results(chat[4])[-1]
    assert episodes["ok"] and any(e["event_type"] == "turn" for e in episodes["episodes"])
    assert first["final_response"] == "Noted: deploys freeze on Fridays."
    rows = _q(pg.dsn, "SELECT content FROM isokron.agent_messages "
                      "WHERE tenant_id = 'org_demo' ORDER BY seq")
    assert [r["content"] for r in rows] == [
        "Remember that deploys freeze on Fridays.", "Noted: deploys freeze on Fridays.",
        "What did we just do?", "Your last turn was about the deploy freeze."]
    turns = _q(pg.dsn, "SELECT count(*) FROM isokron.agent_episodic_events "
                       "WHERE workspace_id = 'org_demo' AND event_type = 'turn'")[0][0]
    assert turns == 2
    memories = _q(pg.dsn, "SELECT content FROM isokron.memory_records")
    assert [r["content"] for r in memories] == ["deploys freeze on Fridays"]
    ended_after = len(_q(pg.dsn, "SELECT 1 FROM hivex_foundation.event_log "
                                 "WHERE event_type = 'kora.session.ended'"))
    assert ended_after == ended_before + 1
    assert "unknown kind" not in caplog.text  # the plugin manifest is Hermes's own shape
    print(f"\n[hermes] {len(chat)} model calls; identity in the system prompt; 3 isokron "
          "tool calls answered; 4 messages, 2 turn episodes, 1 memory, 1 session end stored")


def test_a_tampered_charter_locks_the_agent_inside_hermes(pg, hermes_home):
    """Hermes swallows provider exceptions, so isokron locks: the system prompt says the
    identity is unverified, tools refuse, and only the identity.unverified event is written."""
    hermes_home("org_tampered")
    _q(pg.dsn, "UPDATE public.kora_role_charter SET content_md = content_md || ' tampered' "
               "WHERE workspace_id = 'org_tampered' AND superseded_at IS NULL")
    stub = Stub([
        {"tool_calls": [("isokron_memory_commit", {"content": "should not be stored"})]},
        {"content": "I cannot act: my identity could not be verified."},
    ])
    try:
        agent = _agent(stub.url)
        result = agent.run_conversation("Deploy to production now.")
        agent.shutdown_memory_provider(result["messages"])
    finally:
        stub.close()
    chat = _chat(stub)
    system = chat[0]["messages"][0]["content"]
    assert "§0 Identity unverified" in system and "§1 Identity" not in system
    refused = _tool_results(chat[1])[0]
    assert refused["ok"] is False and refused["error"]["type"] == "IdentityLocked"
    assert _q(pg.dsn, "SELECT count(*) FROM isokron.memory_records "
                      "WHERE namespace = 'workspace:org_tampered'")[0][0] == 0
    assert _q(pg.dsn, "SELECT count(*) FROM isokron.agent_messages "
                      "WHERE tenant_id = 'org_tampered'")[0][0] == 0
    flagged = _q(pg.dsn, "SELECT count(*) FROM hivex_foundation.event_log e JOIN "
                         "hivex_foundation.tenant t ON t.tenant_id = e.tenant_id WHERE "
                         "t.clerk_org_id = 'org_tampered' AND "
                         "e.event_type = 'kora.identity.unverified'")[0][0]
    assert flagged == 1
    print("\n[hermes] tampered charter: locked block served, tool refused, nothing written "
          "but kora.identity.unverified")


def test_non_primary_contexts_only_read(pg, hermes_home):
    """Through Hermes's MemoryManager: a cron context gets the identity and search, and
    writes nothing (sync_all, on_session_end, commit tool)."""
    from agent.memory_manager import MemoryManager
    from plugins.memory import load_memory_provider

    home = hermes_home("org_demo")
    provider = load_memory_provider("isokron")
    assert provider is not None
    manager = MemoryManager()
    manager.add_provider(provider)
    manager.initialize_all(session_id="cron-1", platform="cron", hermes_home=str(home),
                           agent_context="cron", user_id="u-cron")
    before = _q(pg.dsn, "SELECT count(*) FROM isokron.agent_messages")[0][0]
    assert "§1 Identity" in manager.build_system_prompt()
    manager.sync_all("cron prompt", "cron answer")
    out = json.loads(provider.handle_tool_call("isokron_memory_commit", {"content": "x"}))
    assert out["ok"] is False and out["error"]["type"] == "ReadOnlyContext"
    assert json.loads(provider.handle_tool_call("isokron_memory_search", {"query": "x"}))["ok"]
    manager.on_session_end([])
    manager.shutdown_all()
    assert _q(pg.dsn, "SELECT count(*) FROM isokron.agent_messages")[0][0] == before
    assert provider.user_id == "u-cron"
