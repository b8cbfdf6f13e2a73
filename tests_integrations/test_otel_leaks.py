"""Telemetry never exports what content capture off promises to keep (issue 24, item 2).

Each test is the attack: what a model or a caller can put into a tool name, a user id, a
query or tool arguments, read back from the SDK's in-memory span exporter.
"""

from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from isokron import telemetry
from isokron.engine.core import AsyncIsoKron
from isokron.stores import AgentSessionStore, RequestContext

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
E_MAIL = "alice.example@example.com"
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def _exporter():
    """Our exporter on the SDK provider test_otel.py installed (or on one of our own when
    this module runs alone: the API refuses a second global provider)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def spans():
    _EXPORTER.clear()
    telemetry.set_capture_content(False)
    yield _EXPORTER
    telemetry.set_capture_content(False)


def _named(exporter, name):
    return [s for s in exporter.get_finished_spans() if s.name == name]


def _all_text(exporter):
    return " ".join(str(dict(s.attributes)) for s in exporter.get_finished_spans())


async def test_a_100_kb_tool_name_with_a_key_is_exported_as_unknown(spans, db, seeded):
    """A model-sent tool name of 100 KB holding an AWS key: the call is refused and its span
    names the tool ``unknown``; neither the key nor the name reaches any span."""
    name = "x" * 50_000 + AWS_KEY + "y" * 50_000
    async with AsyncIsoKron({"dsn": db.runtime_dsn}) as kron:
        answer = await kron.handle_tool("org_demo", name, {"query": "launch"})
        await kron.handle_tool("org_demo", ["not", "a", "name"], {})
        await kron.handle_tool("org_demo", "isokron_memory_search", {"query": "launch"})
    assert json.loads(answer)["ok"] is False
    names = [t.attributes["gen_ai.tool.name"] for t in _named(spans, "isokron.tool")]
    assert names == ["unknown", "unknown", "isokron_memory_search"]
    text = _all_text(spans)
    assert AWS_KEY not in text and "x" * 100 not in text


async def test_an_e_mail_user_id_is_not_exported_in_clear(spans, runtime_pool):
    """Capture off: ``isokron.user.id`` is a short stable hash, never the e-mail address;
    with capture on it is the id itself."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("tenant_o", E_MAIL)
    await store.create_session(ctx, agent_name="kora")
    await store.create_session(ctx, agent_name="kora")
    first, second = _named(spans, "isokron.sessions.create_session")
    exported = first.attributes["isokron.user.id"]
    assert exported.startswith("sha256:") and len(exported) == len("sha256:") + 16
    assert second.attributes["isokron.user.id"] == exported  # stable: traces still join up
    assert E_MAIL not in _all_text(spans) and "alice" not in _all_text(spans)
    assert telemetry.pseudonym("bob@example.com") != exported
    telemetry.set_capture_content(True)
    await store.create_session(ctx, agent_name="kora")
    assert _named(spans, "isokron.sessions.create_session")[-1].attributes[
        "isokron.user.id"] == E_MAIL


async def test_captured_arguments_and_query_are_redacted(spans, db, seeded):
    """Capture on: tool arguments, the query text, the result and the memory content are on
    the spans, each after the redactor; the AWS key never is."""
    async with AsyncIsoKron({"dsn": db.runtime_dsn, "otel_capture_content": True}) as kron:
        commit = await kron.handle_tool(
            "org_demo", "isokron_memory_commit",
            {"content": f"the deploy key is {AWS_KEY} for launch"})
        assert json.loads(commit)["ok"] is True
        await kron.handle_tool("org_demo", "isokron_memory_search",
                               {"query": f"launch {AWS_KEY}"})
        memory = await kron.memory()
        await memory.search("org_demo", f"deploy {AWS_KEY}")
    tools = _named(spans, "isokron.tool")
    arguments = [t.attributes["gen_ai.tool.call.arguments"] for t in tools]
    assert len(arguments) == 2 and all("[REDACTED:" in a for a in arguments)
    assert "the deploy key is" in arguments[0]  # captured, not dropped
    queries = [s.attributes["gen_ai.memory.query.text"]
               for s in _named(spans, "isokron.memory.search")]
    assert queries and all(q.startswith(("launch ", "deploy ")) and "[REDACTED:" in q
                           for q in queries)
    (stored,) = _named(spans, "isokron.memory.commit")
    assert "the deploy key is" in stored.attributes["gen_ai.memory.records"]
    assert AWS_KEY not in _all_text(spans)


def test_content_on_a_span_goes_through_the_redactor():
    """The span helper itself: strings and JSON values scrubbed, numbers untouched,
    nothing at all with capture off."""
    class Recorder:
        def __init__(self):
            self.attributes = {}

        def set_attribute(self, key, value):
            self.attributes[key] = value

    otel_span = Recorder()
    handle = telemetry.Span(otel_span, [0])
    telemetry.set_capture_content(False)
    handle.content("a", AWS_KEY)
    assert otel_span.attributes == {}
    telemetry.set_capture_content(True)
    try:
        handle.content("text", f"key {AWS_KEY}")
        handle.content("json", {"nested": [f"key {AWS_KEY}"], "password": "hunter2hunter2"})
        handle.content("n", 3)
    finally:
        telemetry.set_capture_content(False)
    assert AWS_KEY not in str(otel_span.attributes)
    assert "hunter2" not in otel_span.attributes["json"]
    assert otel_span.attributes["text"].startswith("key [REDACTED:")
    assert otel_span.attributes["n"] == 3
