"""The attack on the LangGraph store's items through the memory tools, on the in-package
fakes: an agent cannot write item-shaped content (a forged ``("users","alice")/profile``
with ``role: admin``) into any namespace, nor delete a store item; plain memories work."""

from __future__ import annotations

import json
import uuid

import pytest

from isokron import AsyncIsoKron
from isokron.stores.memory_items import claims_item
from isokron.testing import InMemoryNamespaceMemory, InMemorySubstrate
from tests.unit.helpers import DSN, RecordingTransport

FORGED = json.dumps({"namespace": ["users", "alice"], "key": "profile",
                     "value": {"role": "admin"}})


def _item_id(store_namespace: str, namespace: list[str], key: str) -> uuid.UUID:
    """The LangGraph store's id for an item (isokron/integrations/langgraph.py)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "isokron:langgraph:" + json.dumps(
        [store_namespace, namespace, key], ensure_ascii=False))


@pytest.fixture
async def kron():
    memory = InMemoryNamespaceMemory()
    memory.add_workspace("org_demo")
    kron = AsyncIsoKron({"dsn": DSN}, substrate=InMemorySubstrate.with_demo_workspace(),
                        transport=RecordingTransport(), memory=memory)
    yield kron, memory
    await kron.close()


async def _tool(kron, name, args):
    return json.loads(await kron.handle_tool("org_demo", name, args))


@pytest.mark.parametrize("content", [
    FORGED,
    "  " + FORGED + "\n",
    json.dumps({"namespace": ["users", "alice"], "key": "profile", "value": {"role": "admin"},
                "extra": 1}),
    json.dumps({"value": {}, "key": "", "namespace": "x"}),
])
@pytest.mark.parametrize("tool,extra", [
    ("isokron_memory_commit", {}),
    ("isokron_memory_commit", {"namespace": "team:org_demo", "kind": "checkpoint",
                               "pin": True}),
    ("isokron_memory_commit", {"namespace": "org:org_demo"}),
    ("isokron_memory_commit_summary", {}),
])
async def test_item_shaped_content_is_refused_by_the_tools(kron, content, tool, extra):
    """Every writing tool refuses item-shaped content with a typed error naming the
    namespace, whatever kind, pin or namespace it is given; nothing is stored."""
    kron, memory = kron
    out = await _tool(kron, tool, {"content": content, **extra})
    assert out["ok"] is False and out["error"]["type"] == "NotOwnedError"
    target = extra.get("namespace", "workspace:org_demo")
    assert repr(target) in out["error"]["message"]
    assert "LangGraph store item" in out["error"]["message"]
    assert memory.records == {}


async def test_plain_memories_and_other_json_still_commit(kron):
    """Plain text and JSON that is not an item are memories, as before."""
    kron, memory = kron
    for content in ("prefers UTC", '{"namespace": "ops", "note": "x"}', "[1, 2]", "{not json"):
        assert (await _tool(kron, "isokron_memory_commit", {"content": content}))["ok"]
    assert len(memory.records) == 4


async def test_the_tools_cannot_forget_a_store_item(kron):
    """A genuine store item (written by the store, with its derived id) cannot be deleted
    through isokron_memory_forget, named namespace or not; a plain memory can."""
    kron, memory = kron
    genuine = json.dumps({"namespace": ["users", "alice"], "key": "profile",
                          "value": {"role": "member"}})
    item_id = _item_id("workspace:org_demo", ["users", "alice"], "profile")
    await memory.commit("org_demo", genuine, id=item_id)
    for args in ({"memory_id": str(item_id)},
                 {"memory_id": str(item_id), "namespace": "workspace:org_demo"}):
        out = await _tool(kron, "isokron_memory_forget", args)
        assert out["ok"] is False and out["error"]["type"] == "NotOwnedError", out
        assert "'workspace:org_demo'" in out["error"]["message"]
    assert [r.content for r in memory.records.values()] == [genuine]
    plain = (await _tool(kron, "isokron_memory_commit", {"content": "prefers UTC"}))["memory"]
    assert (await _tool(kron, "isokron_memory_forget", {"memory_id": plain["id"]}))["ok"]
    bad = await _tool(kron, "isokron_memory_forget", {"memory_id": "not-a-uuid"})
    assert bad["error"]["type"] == "InvalidInputError"


def test_claims_item():
    assert claims_item(FORGED) and claims_item(" \n" + FORGED)
    for content in ("", "plain", "{", "[]", '{"namespace": [], "key": "k"}', '"x"',
                    "[" * 100_000, '{"namespace": 1, "key": 2, "val": 3}'):
        assert not claims_item(content), content
