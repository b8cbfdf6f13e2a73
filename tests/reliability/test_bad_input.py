"""Bad input at every public entry point: only isokron's typed errors, data untouched.

Hypothesis draws text and JSON that broke things before (NUL, lone surrogates, LIKE
wildcards, 10 MB strings, deep nesting, wrong types); each call either succeeds or
raises an IsoKronError, and after each rejected call the tables are as they were. The
tool entry points (the async core and the sync facade) answer everything with an
envelope and never raise.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isokron import AsyncIsoKron, IsoKronMemoryProvider
from isokron.engine.tools import TOOL_NAMES
from isokron.errors import InvalidInputError, IsoKronError, NotOwnedError
from isokron.stores import (
    AgentSessionStore,
    DelegationLedger,
    EpisodicEventStore,
    NamespaceMemory,
    RequestContext,
    import_memory,
)
from isokron.testing.seed import seed_demo_workspace

TEN_MB = "y" * 10_000_000  # shared: drawn a few times, never built per example
NASTY_TEXT = st.one_of(
    st.text(max_size=50),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "%", "_", "\\", "%_\\%",
                     "'; DROP TABLE x; --", " ", "", "x" * 40_000, TEN_MB]),
)


class _Deep(dict):
    def __repr__(self) -> str:  # hypothesis prints failing examples
        return "<a dict nested 100,000 levels deep>"


class _DeepList(list):
    def __repr__(self) -> str:
        return "<a list nested 100,000 levels deep>"


def _deep_dict(levels: int) -> dict:
    value: dict = {"a": None}
    for _ in range(levels):
        value = {"a": value}
    return value


def _deep_list(levels: int) -> list:
    value: list = [1]
    for _ in range(levels):
        value = [value]
    return value


DEEP = _Deep(_deep_dict(100_000))
DEEP_LIST = _DeepList(_deep_list(100_000))
NASTY_JSON = st.one_of(
    st.just(DEEP), st.just(DEEP_LIST), st.just(_deep_list(40)), st.just({"a": _deep_dict(40)}),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.just({"k": "\x00"}), st.just({"k": "\ud800"}), st.just({"\ud800": 1}),
    st.just({1: "mixed", "b": 2}), st.just({("t",): 1}), st.just({"k": TEN_MB}),
    st.just({"k": float("nan")}), st.just({"k": object()}), st.integers(), st.text(max_size=5),
)
WRONG = st.one_of(st.none(), st.integers(), st.just(10**5000), st.floats(allow_nan=True),
                  st.booleans(), st.lists(st.integers(), max_size=2), st.just(b"bytes"),
                  st.just(DEEP), st.just(DEEP_LIST), NASTY_TEXT)
SETTINGS = settings(max_examples=40, suppress_health_check=list(HealthCheck),
                    deadline=None, derandomize=True, database=None)
TABLES = ("isokron.memory_records", "isokron.memory_namespaces", "isokron.agent_sessions",
          "isokron.agent_messages", "isokron.agent_episodic_events", "isokron.delegations")
TRIED = {"calls": 0}


async def _snapshot(owner) -> dict[str, str]:
    return {t: await owner.fetchval(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY "
                                    f"t::text), '')) FROM {t} t") for t in TABLES}


async def _only_typed(owner, call) -> None:
    """Await ``call``: success, or an IsoKronError with every table as it was."""
    before = await _snapshot(owner)
    TRIED["calls"] += 1
    try:
        await call
    except IsoKronError:
        assert await _snapshot(owner) == before


@pytest.fixture
async def world(owner, runtime_pool):
    summary = await seed_demo_workspace(owner, "org_demo")
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("org_demo", "u1")
    session = await store.create_session(ctx, agent_name="kora")
    return {"memory": NamespaceMemory(runtime_pool), "sessions": store, "ctx": ctx,
            "session": session.id, "episodic": EpisodicEventStore(runtime_pool),
            "ledger": DelegationLedger(runtime_pool), "agent": summary.actors["kora"],
            "pool": runtime_pool}


@SETTINGS
@given(text=NASTY_TEXT, other=WRONG)
async def test_memory_entry_points(world, owner, text, other):
    """Commit, search, forget and the namespace calls: typed errors only, tables unchanged."""
    memory = world["memory"]
    await _only_typed(owner, memory.commit("org_demo", text))
    await _only_typed(owner, memory.commit("org_demo", "fine", namespace=text))
    await _only_typed(owner, memory.commit(text, "fine"))
    await _only_typed(owner, memory.commit(other, "fine"))
    await _only_typed(owner, memory.commit("org_demo", "fine", pin=other))
    await _only_typed(owner, memory.commit("org_demo", "fine", kind=other))
    await _only_typed(owner, memory.search("org_demo", text))
    await _only_typed(owner, memory.search("org_demo", other))
    await _only_typed(owner, memory.search("org_demo", "x", namespaces=other))
    await _only_typed(owner, memory.search("org_demo", "x", namespaces=[text]))
    await _only_typed(owner, memory.search("org_demo", "x", limit=other))
    await _only_typed(owner, memory.forget("org_demo", text))
    await _only_typed(owner, memory.forget("org_demo", other))
    await _only_typed(owner, memory.forget("org_demo", uuid.uuid4(), namespace=text))
    await _only_typed(owner, memory.readable_namespaces(other))
    await _only_typed(owner, memory.patch_namespace("org_demo", text, metadata={}))
    await _only_typed(owner, memory.patch_namespace("org_demo", "workspace:org_demo",
                                                    metadata=other))
    await _only_typed(owner, memory.delete_namespace("org_demo", text))
    await _only_typed(owner, import_memory(owner, other, workspace_id="org_demo"))
    await _only_typed(owner, import_memory(owner, [], workspace_id=other))


@SETTINGS
@given(text=NASTY_TEXT, blob=NASTY_JSON, other=WRONG)
async def test_session_episodic_and_ledger_entry_points(world, owner, text, blob, other):
    """Sessions, messages, episodes and delegations: typed errors only, tables unchanged."""
    store, ctx, session = world["sessions"], world["ctx"], world["session"]
    await _only_typed(owner, store.append_messages(ctx, session, [{"role": "user",
                                                                   "content": text}]))
    await _only_typed(owner, store.append_messages(ctx, session, [{"role": "assistant",
                                                                   "tool_calls": blob}]))
    await _only_typed(owner, store.append_messages(ctx, session, [{"role": other}]))
    await _only_typed(owner, store.append_messages(ctx, session, other))
    await _only_typed(owner, store.append_messages(ctx, session, [blob]))
    await _only_typed(owner, store.create_session(ctx, agent_name="kora", title=text))
    await _only_typed(owner, store.create_session(ctx, agent_name="kora", state=blob))
    await _only_typed(owner, store.update_session(ctx, session, title=text, state=blob))
    await _only_typed(owner, store.list_messages(ctx, session, after_seq=other))
    await _only_typed(owner, store.list_messages(ctx, other))
    try:  # ids are checked when the context is built
        RequestContext(text, other)
    except InvalidInputError:
        TRIED["calls"] += 1
    episodic = world["episodic"]
    await _only_typed(owner, episodic.append("org_demo", world["agent"], event_type=text))
    await _only_typed(owner, episodic.append("org_demo", world["agent"], event_type="t",
                                             body=blob))
    await _only_typed(owner, episodic.append_many("org_demo", world["agent"], other))
    await _only_typed(owner, episodic.list(text, world["agent"], event_type=text))
    ledger = world["ledger"]
    await _only_typed(owner, ledger.insert(
        f"d-{uuid.uuid4()}", workspace_id="org_demo", caller_id=world["agent"],
        callee_id=uuid.uuid4(), task_preview=text))
    await _only_typed(owner, ledger.set_status("org_demo", "d-1", other, result_preview=text))
    await _only_typed(owner, ledger.get(other, text))


TOOL_NAME = st.one_of(st.sampled_from(TOOL_NAMES), NASTY_TEXT, WRONG)
TOOL_ARGS = st.one_of(NASTY_JSON, WRONG,
                      st.fixed_dictionaries({"content": NASTY_TEXT}),
                      st.fixed_dictionaries({"content": st.just("x"), "namespace": NASTY_TEXT}),
                      st.fixed_dictionaries({"query": WRONG}),
                      st.fixed_dictionaries({"query": NASTY_TEXT, "namespaces": WRONG}),
                      st.fixed_dictionaries({"limit": WRONG}),
                      st.fixed_dictionaries({"memory_id": NASTY_TEXT}),
                      st.fixed_dictionaries({"content": st.just("x"), "pin": WRONG}),
                      st.fixed_dictionaries({"event_type": NASTY_TEXT}))


def _is_envelope(out: str) -> dict:
    envelope = json.loads(out)
    assert isinstance(envelope["ok"], bool)
    if not envelope["ok"]:
        assert set(envelope["error"]) == {"type", "message"}
        assert len(envelope["error"]["message"]) <= 2_100  # bounded, however big the input
    return envelope


@SETTINGS
@given(workspace=st.one_of(st.just("org_demo"), NASTY_TEXT, WRONG), name=TOOL_NAME,
       args=TOOL_ARGS)
async def test_the_async_tool_envelope_answers_everything(world, db, owner, workspace, name,
                                                          args):
    """AsyncIsoKron.handle_tool: an envelope for every input, tables unchanged on errors."""
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    try:
        before = await _snapshot(owner)
        out = _is_envelope(await kron.handle_tool(workspace, name, args))
        TRIED["calls"] += 1
        if not out["ok"]:
            assert await _snapshot(owner) == before
    finally:
        await kron.close()


@pytest.fixture
def facade(world, db):
    provider = IsoKronMemoryProvider({"dsn": db.runtime_dsn, "workspace_id": "org_demo"})
    provider.initialize("s1")
    yield provider
    provider.shutdown()


@SETTINGS
@given(name=TOOL_NAME, args=TOOL_ARGS, workspace=st.one_of(st.none(), NASTY_TEXT, WRONG))
async def test_the_sync_facade_envelope_answers_everything(facade, owner, name, args,
                                                           workspace):
    """IsoKronMemoryProvider.handle_tool_call: an envelope for every input, never a raise."""
    before = await _snapshot(owner)
    out = _is_envelope(await asyncio.to_thread(facade.handle_tool_call, name, args,
                                               workspace_id=workspace))
    TRIED["calls"] += 1
    if not out["ok"]:
        assert await _snapshot(owner) == before


def test_report_how_many_calls_were_tried():
    """Print the figure: how many hostile calls the suite made."""
    assert TRIED["calls"] > 0
    print(f"\n[bad input] {TRIED['calls']} calls with hostile input: typed errors only, "
          "tables unchanged after each rejection")


# The specific leaks and oddities -------------------------------------------------------------
async def _tool(db, name: str, args, workspace: str = "org_demo") -> dict:
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    try:
        return json.loads(await kron.handle_tool(workspace, name, args))
    finally:
        await kron.close()


async def test_pin_false_is_false_and_a_string_pin_is_refused(world, db):
    """pin=False stores False; "false", 0 and None-like strings are refused, not stored."""
    ok = await _tool(db, "isokron_memory_commit", {"content": "unpinned", "pin": False})
    assert ok["ok"] and ok["memory"]["pin"] is False
    ok = await _tool(db, "isokron_memory_commit", {"content": "pinned", "pin": True})
    assert ok["ok"] and ok["memory"]["pin"] is True
    for bad in ("false", "true", 0, 1, [], {}):
        out = await _tool(db, "isokron_memory_commit", {"content": "x", "pin": bad})
        assert not out["ok"] and "pin must be a boolean" in out["error"]["message"], bad


async def test_limits_are_named_and_schema_minimums_hold(world, db, owner):
    """Blank content is 'non-blank', not 'missing'; limit 0 and oversize text are refused."""
    before = await _snapshot(owner)
    for args, fragment in (
            ({"content": ""}, "content must be a non-blank string"),
            ({"content": "x" * 40_000}, "the limit is 32,768"),
            ({"content": TEN_MB}, "the limit is 32,768"),
    ):
        out = await _tool(db, "isokron_memory_commit", args)
        assert not out["ok"] and fragment in out["error"]["message"], out
        assert "missing" not in out["error"]["message"]
    for args, fragment in (({"query": "x", "limit": 0}, "limit must be 1..100"),
                           ({"query": "x", "limit": 101}, "limit must be 1..100"),
                           ({"query": "q" * 2_001}, "the limit is 2,000")):
        out = await _tool(db, "isokron_memory_search", args)
        assert not out["ok"] and fragment in out["error"]["message"], out
    out = await _tool(db, "isokron_episodes_recent", {"limit": 0})
    assert not out["ok"] and "limit must be 1..500" in out["error"]["message"]
    assert await _snapshot(owner) == before
    with pytest.raises(InvalidInputError, match="the limit is 32,768"):
        await world["memory"].commit("org_demo", TEN_MB)
    with pytest.raises(InvalidInputError, match="nested more than 32 levels"):
        await world["episodic"].append("org_demo", world["agent"], event_type="t", body=DEEP)
    assert await _snapshot(owner) == before


async def test_forgetting_a_memory_one_cannot_write_names_no_namespace(owner, runtime_pool, db):
    """A child workspace forgetting its root's org memory learns nothing of the namespace."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) VALUES "
                        "('org_root', NULL), ('ws_child', 'org_root')")
    memory = NamespaceMemory(runtime_pool)
    rule = await memory.commit("org_root", "org rule", namespace="org:org_root")
    with pytest.raises(NotOwnedError) as caught:
        await memory.forget("ws_child", rule.id)
    assert "org:org_root" not in str(caught.value)
    out = await _tool(db, "isokron_memory_forget", {"memory_id": str(rule.id)}, "ws_child")
    assert not out["ok"] and "org:org_root" not in out["error"]["message"]
    assert [r.id for r in await memory.search("org_root", "rule")] == [rule.id]


async def test_nul_surrogates_and_deep_nesting_are_typed_at_both_tool_entry_points(world, db):
    """The issue's raw errors (CharacterNotInRepertoire, DataError, RecursionError) are now
    InvalidInputError envelopes, from the async core and from the sync facade."""
    cases = [("org\x00demo", "isokron_memory_search", {"query": "x"}),
             ("org_demo", "isokron_memory_search", {"query": "a\x00b"}),
             ("org_demo", "isokron_memory_search", {"query": "a\ud800b"}),
             ("org_demo", "isokron_memory_commit", {"content": "a\udfffb"}),
             ("org_demo", "isokron_memory_search", DEEP),
             ("org_demo", "isokron_memory_search", {"namespaces": DEEP_LIST}),
             ("org_demo", "isokron_memory_search", "[" * 100_000),
             (DEEP, "isokron_memory_search", {}),
             ("org_demo", DEEP, {})]
    kron = AsyncIsoKron({"dsn": db.runtime_dsn})
    provider = IsoKronMemoryProvider({"dsn": db.runtime_dsn, "workspace_id": "org_demo"})
    provider.initialize("s1")
    try:
        for workspace, name, args in cases:
            for out in (await kron.handle_tool(workspace, name, args),
                        await asyncio.to_thread(provider.handle_tool_call, name, args,
                                                workspace_id=workspace)):
                envelope = _is_envelope(out)
                assert not envelope["ok"]
                assert envelope["error"]["type"] in ("InvalidInputError", "UnknownTool")
    finally:
        provider.shutdown()
        await kron.close()
