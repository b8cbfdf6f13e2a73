"""OpenTelemetry spans and metrics, read back with the SDK's in-memory exporters.

The SDK (opentelemetry-sdk 1.45.2, in ``integrations-test``) is set as the global provider
once for the session; every test clears what was exported. Real PostgreSQL, the real
provider lifecycle.
"""

from __future__ import annotations

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from isokron import telemetry
from isokron.engine.core import AsyncIsoKron
from isokron.provider import IsoKronMemoryProvider
from isokron.stores import AgentSessionStore, NamespaceMemory, RequestContext

SECRET_TEXT = "the launch code is tangerine"
_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()


@pytest.fixture(scope="session", autouse=True)
def _providers():
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))


@pytest.fixture
def spans():
    _EXPORTER.clear()
    telemetry.set_capture_content(False)
    yield _EXPORTER
    telemetry.set_capture_content(False)


def _named(exporter, name):
    return [s for s in exporter.get_finished_spans() if s.name == name]


def _metric(name):
    data = _READER.get_metrics_data()
    points = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
              if m.name == name for p in m.data.data_points]
    return points


def _all_text(exporter):
    return " ".join(str(dict(s.attributes)) for s in exporter.get_finished_spans())


async def test_store_calls_are_spans_with_the_semantic_attributes(spans, runtime_pool, seeded):
    """commit / search / forget spans carry the workspace, round trips, rows and the GenAI
    memory attributes; no content by default."""
    memory = NamespaceMemory(runtime_pool)
    record = await memory.commit("org_demo", SECRET_TEXT)
    found = await memory.search("org_demo", "launch code")
    await memory.forget("org_demo", record.id)
    (commit,) = _named(spans, "isokron.memory.commit")
    assert commit.attributes["isokron.workspace.id"] == "org_demo"
    assert commit.attributes["gen_ai.operation.name"] == "upsert_memory"
    assert commit.attributes["gen_ai.memory.store.id"] == "workspace:org_demo"
    assert commit.attributes["gen_ai.memory.record.id"] == record.id
    assert commit.attributes["isokron.db.round_trips"] == 1
    (search,) = _named(spans, "isokron.memory.search")
    assert search.attributes["gen_ai.operation.name"] == "search_memory"
    assert search.attributes["isokron.rows"] == len(found) == 1
    assert search.attributes["gen_ai.memory.record.count"] == 1
    assert search.attributes["isokron.db.round_trips"] == 1
    (forget,) = _named(spans, "isokron.memory.forget")
    assert forget.attributes["gen_ai.operation.name"] == "delete_memory"
    assert forget.attributes["isokron.db.round_trips"] == 1  # one call of memory_forget_v1
    assert "tangerine" not in _all_text(spans) and "launch code" not in _all_text(spans)


async def test_content_only_with_capture_content(spans, db, seeded):
    """otel_capture_content: true in the config: memory content and the query appear on
    the spans."""
    async with AsyncIsoKron({"dsn": db.runtime_dsn, "otel_capture_content": True}) as kron:
        memory = await kron.memory()
        await memory.commit("org_demo", SECRET_TEXT)
        await memory.search("org_demo", "launch code")
    (search,) = _named(spans, "isokron.memory.search")
    assert search.attributes["gen_ai.memory.query.text"] == "launch code"
    assert "tangerine" in search.attributes["gen_ai.memory.records"]
    (commit,) = _named(spans, "isokron.memory.commit")
    assert "tangerine" in commit.attributes["gen_ai.memory.records"]


async def test_sessions_and_errors(spans, runtime_pool):
    """Session store calls are spans with the tenant; a failing call sets the status and
    error.type, never the message (which may quote input)."""
    store = AgentSessionStore(runtime_pool)
    ctx = RequestContext("tenant_o", "u")
    session = await store.create_session(ctx, agent_name="kora")
    await store.append_messages(ctx, session.id, [{"role": "user", "content": SECRET_TEXT}])
    (append,) = _named(spans, "isokron.sessions.append_messages")
    assert append.attributes["isokron.tenant.id"] == "tenant_o"
    assert append.attributes["isokron.rows"] == 1
    with pytest.raises(Exception, match="not found"):
        await store.list_messages(RequestContext("other", "u"), session.id)
    (failed,) = _named(spans, "isokron.sessions.list_messages")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "NotFoundError"
    assert not failed.events  # no exception event (its message could quote input)
    assert "tangerine" not in _all_text(spans)


async def test_the_provider_lifecycle_nests_its_spans_and_counts_the_cache(
        spans, db, seeded):
    """A turn through the real provider: hook spans with the session; the warm-up under
    initialize's turn is a cache miss with the warm-up histogram, the next a hit; tool
    spans name the tool; the core's spans are children of the hook that caused them, across
    the provider's loop thread; outbox and breaker metrics are reported."""
    provider = IsoKronMemoryProvider({"dsn": db.runtime_dsn, "workspace_id": "org_demo"})
    provider.initialize("sess-otel")
    try:
        provider.on_turn_start(1, "hello")
        assert provider.system_prompt_block()
        provider.system_prompt_block()
        answer = provider.handle_tool_call("isokron_memory_commit", {"content": SECRET_TEXT})
        assert '"ok": true' in answer
        provider.handle_tool_call("isokron_memory_search", {"query": "launch"})
        provider.sync_turn("hi", "hello there", session_id="sess-otel")
    finally:
        provider.shutdown()
    finished = spans.get_finished_spans()
    hooks = {s.name for s in finished if s.name.startswith("isokron.hook.")}
    assert {"isokron.hook.initialize", "isokron.hook.on_turn_start",
            "isokron.hook.handle_tool_call", "isokron.hook.sync_turn",
            "isokron.hook.shutdown"} <= hooks
    assert "isokron.hook.system_prompt_block" not in hooks  # the no-I/O path: counted only
    tools = _named(spans, "isokron.tool")
    assert [t.attributes["gen_ai.tool.name"] for t in tools] == [
        "isokron_memory_commit", "isokron_memory_search"]
    assert all(t.attributes["gen_ai.operation.name"] == "execute_tool" for t in tools)
    by_id = {s.context.span_id: s for s in finished}
    commit = _named(spans, "isokron.memory.commit")[0]
    assert by_id[commit.parent.span_id].name == "isokron.tool"
    tool_parent = by_id[tools[0].parent.span_id]
    assert tool_parent.name == "isokron.hook.handle_tool_call"
    assert tool_parent.attributes["gen_ai.conversation.id"] == "sess-otel"
    warm = _named(spans, "isokron.warm")
    assert warm and warm[0].attributes["isokron.cache.hit"] is False
    assert warm[0].attributes["isokron.db.round_trips"] >= 1
    requests = {p.attributes["isokron.cache.hit"]: p.value
                for p in _metric("isokron.cache.requests")}
    assert requests[False] >= 1 and requests[True] >= 1
    assert sum(p.count for p in _metric("isokron.warm.duration")) >= 1
    assert 0 < _metric("isokron.cache.hit_ratio")[0].value < 1
    assert "tangerine" not in _all_text(spans)


async def test_outbox_and_breaker_metrics(db, seeded):
    """The observable metrics read every live core's outbox and breaker."""
    async with AsyncIsoKron({"dsn": db.runtime_dsn}) as kron:
        await kron.sync_turn("org_demo", "a", "b", session_id="s")
        await kron.flush()
        depth = _metric("isokron.outbox.depth")
        breaker = _metric("isokron.breaker.state")
        dropped = _metric("isokron.outbox.dropped")
        dead = _metric("isokron.outbox.dead_lettered")
        lost = _metric("isokron.outbox.lost")
    assert lost and all(p.value == 0 for p in lost)
    assert any(p.value == 0 for p in depth)
    assert any(p.value == 0 for p in breaker)
    assert dropped and dead and all(p.value == 0 for p in dead)


def test_no_spans_are_made_until_a_tracer_provider_is_installed():
    """With the API importable but no provider installed (the proxy), stores make no span
    (each would cost time and go nowhere); once one is installed, they do."""
    import subprocess
    import sys

    program = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from isokron import telemetry\n"
        "assert telemetry.enabled() and not telemetry.tracing()\n"
        "assert telemetry._start('x', {}) == (None, None)\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "assert telemetry.tracing() and telemetry._start('x', {})[0] is not None\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
