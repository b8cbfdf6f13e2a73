"""IsoKronStore as LangGraph's store (langgraph 1.2.22, the extra).

The same calls on LangGraph's own InMemoryStore and on IsoKronStore give the same results;
a real StateGraph compiled with ``store=IsoKronStore(...)`` puts, gets and searches through
the runtime's store (sync and async); the workspace boundary and redaction hold.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import TypedDict

import pytest
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.store.memory import InMemoryStore

from isokron.errors import InvalidInputError, NotOwnedError
from isokron.integrations.langgraph import IsoKronStore

TREE = [("org_lg", None), ("ws_lg", "org_lg"), ("org_other", None)]


@pytest.fixture
async def workspaces(owner):
    for ws, parent in TREE:
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                            "VALUES ($1, $2)", ws, parent)


@pytest.fixture
async def store(db, workspaces):
    store = IsoKronStore("ws_lg", db.runtime_dsn)
    yield store
    await store.aclose()


DATA = [
    (("users", "alice", "prefs"), "color", {"value": "blue", "n": 3, "tags": ["a", "b"]}),
    (("users", "alice", "prefs"), "food", {"value": "pizza", "n": 7, "meta": {"spicy": True}}),
    (("users", "bob", "prefs"), "color", {"value": "green", "n": 5}),
    (("users", "bob", "notes"), "n1", {"text": "deploy rota moved to Tuesday", "n": 1.5}),
    (("docs",), "readme", {"text": "ünïcode ✓ and \"quotes\"", "nested": {"x": [1, {"y": None}]}}),
]


def _plain(result):
    if isinstance(result, list):
        return [_plain(r) for r in result]
    if hasattr(result, "key"):
        return (result.namespace, result.key, result.value)
    return result


async def _same(ours, theirs, method, *args, **kwargs):
    mine = _plain(await getattr(ours, method)(*args, **kwargs))
    reference = _plain(await getattr(theirs, method)(*args, **kwargs))
    assert mine == reference, (method, args, kwargs)
    return mine


async def test_same_results_as_inmemorystore(store):
    """put / get / delete / list_namespaces / search with filters, limits and offsets:
    IsoKronStore answers exactly as LangGraph's InMemoryStore on the same data."""
    reference = InMemoryStore()
    for s in (store, reference):
        for namespace, key, value in DATA:
            await s.aput(namespace, key, value)
        await s.aput(("users", "alice", "prefs"), "color", {"value": "red", "n": 4})  # update
    for namespace, key, _ in DATA:
        await _same(store, reference, "aget", namespace, key)
    assert await store.aget(("users", "nobody"), "color") is None
    for kwargs in ({}, {"prefix": ("users",)}, {"suffix": ("prefs",)},
                   {"prefix": ("users", "*", "prefs")}, {"max_depth": 2}, {"max_depth": 1},
                   {"limit": 2}, {"offset": 1, "limit": 2}, {"prefix": ("nope",)}):
        await _same(store, reference, "alist_namespaces", **kwargs)
    for prefix, kwargs in [
            (("users",), {}), ((), {}), (("users", "alice"), {}),
            (("users",), {"filter": {"value": "green"}}),
            (("users",), {"filter": {"n": {"$gt": 3}}}),
            (("users",), {"filter": {"n": {"$gte": 4, "$lt": 7}}}),
            (("users",), {"filter": {"n": {"$ne": 5}}}),
            ((), {"filter": {"meta": {"spicy": True}}}),
            ((), {"filter": {"tags": ["a", "b"]}}),
            (("users",), {"limit": 2}), (("users",), {"limit": 2, "offset": 1}),
            (("users",), {"filter": {"value": "nothing"}})]:
        await _same(store, reference, "asearch", prefix, **kwargs)
    for s in (store, reference):
        await s.adelete(("users", "bob", "prefs"), "color")
        await s.adelete(("users", "bob", "prefs"), "never-there")
    await _same(store, reference, "aget", ("users", "bob", "prefs"), "color")
    await _same(store, reference, "asearch", ("users", "bob"))


async def test_values_round_trip_and_full_text_search(store):
    """Values come back exactly (unicode, nesting, nulls, floats); a query uses isokron's
    full-text search, ranked, within the prefix and the filter."""
    for namespace, key, value in DATA:
        await store.aput(namespace, key, value)
    for namespace, key, value in DATA:
        assert (await store.aget(namespace, key)).value == value
    found = await store.asearch(("users",), query="deploy rota")
    assert [(i.namespace, i.key) for i in found] == [(("users", "bob", "notes"), "n1")]
    assert found[0].score is not None
    assert await store.asearch(("docs",), query="deploy rota") == []
    assert await store.asearch(("users",), query="deploy", filter={"n": 2}) == []


async def test_ttl_becomes_the_memory_expiry(store, owner):
    """A put with ttl (minutes) stores expires_at; once past, the item is gone from get,
    search and list_namespaces."""
    await store.aput(("tmp",), "k", {"v": 1}, ttl=30)
    expires = await owner.fetchval("SELECT expires_at - now() FROM isokron.memory_records")
    assert 29 * 60 < expires.total_seconds() <= 30 * 60
    await owner.execute("UPDATE isokron.memory_records SET expires_at = now() - interval '1s'")
    assert await store.aget(("tmp",), "k") is None
    assert await store.asearch(("tmp",)) == []
    assert await store.alist_namespaces() == []


class State(TypedDict):
    user: str
    answer: str


def _graph(store):
    def remember(state: State) -> dict:
        get_store().put(("users", state["user"]), "fav", {"color": "teal", "why": "calm"})
        return {}

    def recall(state: State) -> dict:
        item = get_store().get(("users", state["user"]), "fav")
        hits = get_store().search(("users",), query="calm")
        return {"answer": f"{item.value['color']} ({len(hits)} hit)"}

    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_node("recall", recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    return builder.compile(store=store)


async def test_a_real_state_graph_uses_the_store(store, owner):
    """A compiled StateGraph whose nodes put, get and search through the runtime's store,
    run with ainvoke and (from a thread) with invoke."""
    graph = _graph(store)
    assert (await graph.ainvoke({"user": "alice", "answer": ""}))["answer"] == "teal (1 hit)"
    result = await asyncio.to_thread(graph.invoke, {"user": "bob", "answer": ""})
    assert result["answer"] == "teal (2 hit)"
    rows = await owner.fetch("SELECT namespace FROM isokron.memory_records")
    assert {r["namespace"] for r in rows} == {"workspace:ws_lg"}
    assert await store.alist_namespaces() == [("users", "alice"), ("users", "bob")]


def test_the_sync_api_works_with_and_without_a_running_loop(db, owner, workspaces):
    """batch from a plain thread, and from a thread whose event loop is running."""
    store = IsoKronStore("ws_lg", db.runtime_dsn)
    try:
        store.put(("a",), "k", {"v": 1})
        assert store.get(("a",), "k").value == {"v": 1}

        async def inside_a_loop():
            return store.get(("a",), "k").value  # a sync call from a loop's thread

        box = {}
        thread = threading.Thread(target=lambda: box.setdefault("v", asyncio.run(inside_a_loop())))
        thread.start()
        thread.join(30)
        assert box == {"v": {"v": 1}}
    finally:
        store.close()


async def test_another_tenant_is_out_of_reach(db, store, workspaces):
    """org_other's store cannot read ws_lg's items; a store pointed at a namespace its
    workspace may not write is refused by isokron's ACL."""
    await store.aput(("secret",), "plan", {"text": "merger"})
    other = IsoKronStore("org_other", db.runtime_dsn)
    trespass = IsoKronStore("org_other", db.runtime_dsn, namespace="workspace:ws_lg")
    try:
        assert await other.aget(("secret",), "plan") is None
        assert await other.asearch(("secret",), query="merger") == []
        assert await other.alist_namespaces() == []
        assert await trespass.aget(("secret",), "plan") is None  # RLS: not readable
        with pytest.raises(NotOwnedError):
            await trespass.aput(("secret",), "plan", {"text": "overwritten"})
    finally:
        await other.aclose()
        await trespass.aclose()
    assert (await store.aget(("secret",), "plan")).value == {"text": "merger"}


async def test_secrets_are_redacted_and_bad_input_refused(store, owner):
    """A secret in a value is redacted before storage; the JSON stays valid; non-dict
    values and non-JSON values are refused with nothing stored."""
    await store.aput(("cfg",), "aws", {"key": "AKIAIOSFODNN7EXAMPLE", "region": "eu"})
    stored = await owner.fetchval("SELECT content FROM isokron.memory_records")
    assert "AKIAIOSFODNN7EXAMPLE" not in stored
    value = (await store.aget(("cfg",), "aws")).value
    assert value["region"] == "eu" and "AKIA" not in value["key"]
    with pytest.raises(InvalidInputError, match="not JSON"):
        await store.aput(("cfg",), "bad", {"n": float("nan")})
    with pytest.raises(InvalidInputError, match="operator"):
        await store.asearch(("cfg",), filter={"region": {"$regex": "e"}})
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 1


async def test_the_readme_snippet_runs(db, workspaces, monkeypatch, capsys):
    """README "LangGraph": the snippet runs as written and finds its item: "Oslo" matches
    "Europe/Oslo" (a path-like token is split into its words, 0029)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### LangGraph"):]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.setenv("ISOKRON_DSN", db.runtime_dsn)
    monkeypatch.setenv("ISOKRON_WORKSPACE", "ws_lg")
    await asyncio.to_thread(exec, compile(snippet, "README", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out == "[{'tz': 'Europe/Oslo'}]\n"
