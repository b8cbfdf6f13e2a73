"""IsoKronSession inside the OpenAI Agents SDK (openai-agents 0.24.0, the extra).

Protocol behaviours against real PostgreSQL, side by side with the SDK's own
SQLiteSession; then ``Runner.run`` of a real ``Agent`` whose model is a scripted
OpenAI-compatible stub on 127.0.0.1, over two runs continuing one conversation.
"""

from __future__ import annotations

import copy
import json

import pytest
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    Runner,
    SQLiteSession,
    function_tool,
    set_tracing_disabled,
)
from agents.memory import Session
from openai import AsyncOpenAI

from isokron.errors import InvalidInputError
from isokron.integrations.openai_agents import IsoKronSession, session_uuid
from isokron.stores import RequestContext
from tests_hermes.stub import Stub

A = RequestContext("tenant_a", "alice")
B = RequestContext("tenant_b", "alice")

CALL = {"arguments": '{"city": "Oslo"}', "call_id": "call_1", "name": "weather",
        "type": "function_call", "id": "fc_1", "status": "completed"}
OUTPUT = {"call_id": "call_1", "output": "4°C, clear", "type": "function_call_output"}
ASSISTANT = {"id": "msg_1", "content": [{"annotations": [], "text": "It is 4°C.",
                                         "type": "output_text", "logprobs": []}],
             "role": "assistant", "status": "completed", "type": "message"}
ITEMS = [{"role": "user", "content": "weather in Oslo?"}, CALL, OUTPUT, ASSISTANT,
         {"role": "developer", "content": "be brief"},
         {"type": "reasoning", "id": "rs_1", "summary": [{"text": "n=1.0", "type": "x"}]}]


@pytest.fixture(autouse=True)
def _no_tracing():
    set_tracing_disabled(True)


def test_it_is_a_session():
    """The SDK's runtime-checkable protocol accepts it."""
    assert isinstance(IsoKronSession("s", None, A), Session)  # type: ignore[arg-type]


async def test_the_protocol_matches_sqlite_session(runtime_pool):
    """The same calls on IsoKronSession and the SDK's SQLiteSession give the same results,
    and tool calls and outputs come back exactly as added."""
    ours, theirs = IsoKronSession("conv-1", runtime_pool, A), SQLiteSession("conv-1")
    for session in (ours, theirs):
        await session.add_items(copy.deepcopy(ITEMS[:3]))
        await session.add_items(copy.deepcopy(ITEMS[3:]))
    for limit in (None, 1, 2, 6, 50, 0):
        assert await ours.get_items(limit) == await theirs.get_items(limit), limit
    assert await ours.get_items() == ITEMS
    assert await ours.pop_item() == await theirs.pop_item() == ITEMS[-1]
    assert await ours.get_items() == await theirs.get_items() == ITEMS[:-1]
    for session in (ours, theirs):
        await session.clear_session()
    assert await ours.get_items() == await theirs.get_items() == []
    assert await ours.pop_item() is None and await theirs.pop_item() is None


async def test_another_tenant_sees_and_takes_nothing(runtime_pool, owner):
    """B with the same session id has a separate, empty session; B's pop and clear leave
    A's items; A's session id as a UUID does not reach A's rows either."""
    a = IsoKronSession("shared-id", runtime_pool, A)
    await a.add_items([{"role": "user", "content": "A's secret plan"}])
    b = IsoKronSession("shared-id", runtime_pool, B)
    assert await b.get_items() == []
    assert await b.pop_item() is None
    await b.clear_session()
    b_by_uuid = IsoKronSession(str(session_uuid(A, "shared-id")), runtime_pool, B)
    assert await b_by_uuid.get_items() == []
    await b_by_uuid.clear_session()
    assert await a.get_items() == [{"role": "user", "content": "A's secret plan"}]
    rows = await owner.fetch("SELECT tenant_id FROM isokron.agent_messages")
    assert [r["tenant_id"] for r in rows] == ["tenant_a"]


async def test_secrets_are_redacted_in_storage(runtime_pool, owner):
    """A key in a tool output is redacted before it is stored; what comes back is the
    stored (redacted) item."""
    session = IsoKronSession("s", runtime_pool, A)
    await session.add_items([{"call_id": "c", "type": "function_call_output",
                              "output": "use AKIAIOSFODNN7EXAMPLE"}])
    stored = await owner.fetchval("SELECT tool_calls::text FROM isokron.agent_messages")
    assert "AKIAIOSFODNN7EXAMPLE" not in stored
    (item,) = await session.get_items()
    assert "AKIAIOSFODNN7EXAMPLE" not in item["output"] and item["call_id"] == "c"


async def test_bad_input_is_refused_and_nothing_is_stored(runtime_pool, owner):
    """Typed errors naming the bad value; an add with one bad item writes none."""
    session = IsoKronSession("s", runtime_pool, A)
    with pytest.raises(InvalidInputError, match="items\\[1\\] must be a dict"):
        await session.add_items([{"role": "user", "content": "ok"}, "not an item"])
    with pytest.raises(InvalidInputError, match="limit"):
        await session.get_items("3")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="session_id"):
        IsoKronSession("", runtime_pool, A)
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_messages") == 0


@function_tool
def weather(city: str) -> str:
    """Tell the weather in a city."""
    return f"{city}: 4°C, clear"


async def test_two_runs_of_a_real_agent_continue_one_conversation(runtime_pool):
    """Runner.run twice with one IsoKronSession: the first run calls a tool; the second
    run sends the whole first run (question, tool call, tool output, answer) to the model."""
    stub = Stub([{"tool_calls": [("weather", {"city": "Oslo"})]},
                 {"content": "It is 4°C in Oslo."},
                 {"content": "You asked about Oslo."}])
    try:
        client = AsyncOpenAI(base_url=stub.url, api_key="x", max_retries=0)
        agent = Agent(name="kora", instructions="Answer briefly.", tools=[weather],
                      model=OpenAIChatCompletionsModel(model="stub-model", openai_client=client))
        session = IsoKronSession("chat-42", runtime_pool, A)
        first = await Runner.run(agent, "What is the weather in Oslo?", session=session)
        assert first.final_output == "It is 4°C in Oslo."
        second = await Runner.run(agent, "What did I ask about?", session=session)
        assert second.final_output == "You asked about Oslo."
        await client.close()
    finally:
        stub.close()
    sent = stub.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant",
                                         "user"]
    assert sent[1]["content"] == "What is the weather in Oslo?"
    assert json.loads(sent[2]["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}
    assert sent[3]["content"] == "Oslo: 4°C, clear"
    stored = await session.get_items()
    types = [i.get("type", "message") for i in stored]
    assert types.count("function_call") == 1 and types.count("function_call_output") == 1
    assert stored == await IsoKronSession("chat-42", runtime_pool, A).get_items()


async def test_what_the_user_said_in_a_session_is_recalled_for_that_user_only(runtime_pool,
                                                                            owner):
    """Conversation history is memory: an SDK session's user text comes back from recall
    for the same tenant and user, never for another user or tenant."""
    from isokron.stores import Recall

    for ws in ("tenant_a", "tenant_b"):
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ($1)", ws)
    session = IsoKronSession("trip", runtime_pool, A)
    await session.add_items([{"role": "user", "content": "My passport expires in June"},
                             CALL, OUTPUT])
    recall = Recall(runtime_pool)
    found = await recall.items("tenant_a", "when does my passport expire?", user_id="alice")
    assert [(f.source, f.content) for f in found] == [("message",
                                                       "My passport expires in June")]
    assert await recall.items("tenant_a", "passport", user_id="bob") == []
    assert await recall.items("tenant_b", "passport", user_id="alice") == []


async def test_a_session_past_its_quota_refuses_items_and_keeps_what_it_had(owner, runtime_pool):
    """quota_messages_per_session 3 (tenant_a): add_items that would make 5 raises
    QuotaExceededError naming the quota; the stored items are unchanged; tenant_b is not
    limited by it."""
    from isokron import QuotaExceededError
    from isokron.stores.quotas import apply_quotas

    await apply_quotas(owner, {"quota_messages_per_session": 3}, A.tenant_id)
    session = IsoKronSession("quota", runtime_pool, A)
    await session.add_items(ITEMS[:2])
    with pytest.raises(QuotaExceededError, match="quota_messages_per_session exceeded: limit 3"):
        await session.add_items(ITEMS[2:5])
    assert len(await session.get_items()) == 2
    other = IsoKronSession("quota", runtime_pool, B)
    await other.add_items(ITEMS)
    assert len(await other.get_items()) == len(ITEMS)
