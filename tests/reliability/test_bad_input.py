"""Bad input at every public entry point: only isokron's typed errors, data untouched.

Hypothesis draws text and JSON that broke things before (NUL, lone surrogates, LIKE
wildcards, very long strings, deep nesting, wrong types); each call either succeeds or
raises an IsoKronError, and after each rejected call the tables are as they were.
"""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isokron import AsyncIsoKron
from isokron.errors import InvalidInputError, IsoKronError
from isokron.stores import (
    AgentSessionStore,
    DelegationLedger,
    EpisodicEventStore,
    NamespaceMemory,
    RequestContext,
)
from isokron.testing.seed import seed_demo_workspace

NASTY_TEXT = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "%", "_", "\\", "%_\\%",
                     "'; DROP TABLE x; --", " ", "", "x" * 40_000, "y" * 3_000_000]),
)
class _Deep(dict):
    def __repr__(self) -> str:  # hypothesis prints failing examples
        return "<a dict nested 100,000 levels deep>"


DEEP = {"a": None}
for _ in range(100_000):
    DEEP = {"a": DEEP}
DEEP = _Deep(DEEP)
NESTED_LIST: list = [1]
for _ in range(40):
    NESTED_LIST = [NESTED_LIST]
NASTY_JSON = st.one_of(
    st.just(DEEP), st.just(NESTED_LIST),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.just({"k": "\x00"}), st.just({"k": "\ud800"}), st.just({"\ud800": 1}),
    st.just({"k": float("nan")}), st.just({"k": object()}), st.integers(), st.text(max_size=5),
)
WRONG = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.booleans(),
                  st.lists(st.integers(), max_size=2), st.just(b"bytes"), NASTY_TEXT)
SETTINGS = settings(max_examples=40, suppress_health_check=list(HealthCheck),
                    deadline=None, derandomize=True, database=None)
TABLES = ("isokron.memory_records", "isokron.agent_sessions", "isokron.agent_messages",
          "isokron.agent_episodic_events", "isokron.delegations")
TRIED = {"calls": 0}


async def _snapshot(owner) -> dict[str, str]:
    return {t: await owner.fetchval(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY "
                                    f"t::text), '')) FROM {t} t") for t in TABLES}


async def _only_typed(owner, call) -> None:
    before = await _snapshot(owner)
    TRIED["calls"] += 1
    try:
        await call
    except IsoKronError:
        assert await _snapshot(owner) == before
        return


@pytest.fixture
async def world(owner, runtime_pool):
    summary = await seed_demo_workspace(owner, "org_demo")
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("org_demo", "u1")
    session = await store.create_session(ctx, agent_name="kora")
    return {"memory": NamespaceMemory(runtime_pool), "sessions": store, "ctx": ctx,
            "session": session.id, "episodic": EpisodicEventStore(runtime_pool),
            "ledger": DelegationLedger(runtime_pool), "agent": summary.actors["kora"],
            "kron": AsyncIsoKron({"dsn": "postgresql://unused@localhost/x"})}


@SETTINGS
@given(text=NASTY_TEXT, other=WRONG)
async def test_memory_entry_points(world, owner, text, other):
    memory = world["memory"]
    await _only_typed(owner, memory.commit("org_demo", text))
    await _only_typed(owner, memory.commit("org_demo", "fine", namespace=text))
    await _only_typed(owner, memory.commit(text, "fine"))
    await _only_typed(owner, memory.search("org_demo", text))
    await _only_typed(owner, memory.search("org_demo", other))
    await _only_typed(owner, memory.search("org_demo", "x", namespaces=other))
    await _only_typed(owner, memory.search("org_demo", "x", limit=other))
    await _only_typed(owner, memory.forget("org_demo", text))
    await _only_typed(owner, memory.commit("org_demo", "fine", pin=other))


@SETTINGS
@given(text=NASTY_TEXT, blob=NASTY_JSON, other=WRONG)
async def test_session_episodic_and_ledger_entry_points(world, owner, text, blob, other):
    store, ctx, session = world["sessions"], world["ctx"], world["session"]
    await _only_typed(owner, store.append_messages(ctx, session, [{"role": "user",
                                                                   "content": text}]))
    await _only_typed(owner, store.append_messages(ctx, session, [{"role": "assistant",
                                                                   "tool_calls": blob}]))
    await _only_typed(owner, store.append_messages(ctx, session, [{"role": other}]))
    await _only_typed(owner, store.create_session(ctx, agent_name="kora", title=text))
    await _only_typed(owner, store.create_session(ctx, agent_name="kora", state=blob))
    await _only_typed(owner, world["episodic"].append("org_demo", world["agent"],
                                                      event_type=text))
    await _only_typed(owner, world["episodic"].append("org_demo", world["agent"],
                                                      event_type="t", body=blob))
    await _only_typed(owner, world["ledger"].insert(
        f"d-{uuid.uuid4()}", workspace_id="org_demo", caller_id=world["agent"],
        callee_id=uuid.uuid4(), task_preview=text))


@SETTINGS
@given(name=st.one_of(st.sampled_from(["isokron_memory_commit", "isokron_memory_search",
                                       "isokron_memory_forget", "isokron_episodes_recent"]),
                      NASTY_TEXT, WRONG),
       args=st.one_of(NASTY_JSON, WRONG,
                      st.fixed_dictionaries({"content": NASTY_TEXT}),
                      st.fixed_dictionaries({"query": WRONG}),
                      st.fixed_dictionaries({"limit": WRONG}),
                      st.fixed_dictionaries({"content": st.just("x"), "pin": WRONG})))
async def test_the_tool_envelope_answers_everything(world, db, owner, name, args):
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    try:
        before = await _snapshot(owner)
        out = json.loads(await kron.handle_tool("org_demo", name, args))
        TRIED["calls"] += 1
        assert isinstance(out["ok"], bool)
        if not out["ok"]:
            assert set(out["error"]) == {"type", "message"}
            assert await _snapshot(owner) == before
    finally:
        await kron.close()


def test_report_how_many_calls_were_tried():
    print(f"\n[bad input] {TRIED['calls']} calls with hostile input: typed errors only, "
          "tables unchanged after each rejection")


# The specific leaks and oddities -------------------------------------------------------------
async def test_pin_false_is_false_and_a_string_pin_is_refused(world, db):
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    try:
        ok = json.loads(await kron.handle_tool("org_demo", "isokron_memory_commit",
                                               {"content": "unpinned", "pin": False}))
        assert ok["ok"] and ok["memory"]["pin"] is False
        bad = json.loads(await kron.handle_tool("org_demo", "isokron_memory_commit",
                                                {"content": "x", "pin": "false"}))
        assert not bad["ok"] and "pin must be a boolean" in bad["error"]["message"]
    finally:
        await kron.close()


async def test_limits_are_named_and_schema_minimums_hold(world, db):
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    try:
        for args, fragment in (
                ({"content": ""}, "content must be a non-blank string"),
                ({"content": "x" * 40_000}, "the limit is 32,768"),
        ):
            out = json.loads(await kron.handle_tool("org_demo", "isokron_memory_commit", args))
            assert not out["ok"] and fragment in out["error"]["message"], out
        out = json.loads(await kron.handle_tool("org_demo", "isokron_memory_search",
                                                {"query": "x", "limit": 0}))
        assert not out["ok"] and "limit must be 1..100" in out["error"]["message"]
        out = json.loads(await kron.handle_tool("org_demo", "isokron_memory_search",
                                                {"query": "q" * 2_001}))
        assert not out["ok"] and "the limit is 2,000" in out["error"]["message"]
    finally:
        await kron.close()
    with pytest.raises(InvalidInputError, match="nested more than 32 levels"):
        await world["episodic"].append("org_demo", world["agent"], event_type="t", body=DEEP)


async def test_forgetting_a_memory_one_cannot_write_names_no_namespace(owner, runtime_pool):
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) VALUES "
                        "('org_root', NULL), ('ws_child', 'org_root')")
    memory = NamespaceMemory(runtime_pool)
    rule = await memory.commit("org_root", "org rule", namespace="org:org_root")
    with pytest.raises(IsoKronError) as caught:
        await memory.forget("ws_child", rule.id)
    assert "org:org_root" not in str(caught.value)
