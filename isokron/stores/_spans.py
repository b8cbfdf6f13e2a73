"""What the memory store's spans record (OpenTelemetry's GenAI memory attributes)."""

from __future__ import annotations

from typing import Any

from .. import telemetry

__all__ = ["on_commit", "on_forget", "on_search"]


def on_commit(span: telemetry.Span, args: tuple[Any, ...], kwargs: dict[str, Any],
               result: Any) -> None:
    span.set("gen_ai.memory.store.id", result.namespace)
    span.set("gen_ai.memory.record.id", result.id)
    span.set("gen_ai.memory.record.count", 1)
    span.content("gen_ai.memory.records", [{"id": result.id, "content": result.content}])


def on_search(span: telemetry.Span, args: tuple[Any, ...], kwargs: dict[str, Any],
               result: Any) -> None:
    span.set("gen_ai.memory.record.count", len(result))
    span.content("gen_ai.memory.query.text", args[2] if len(args) > 2 else kwargs.get("query"))
    span.content("gen_ai.memory.records", [{"id": m.id, "content": m.content} for m in result])


def on_forget(span: telemetry.Span, args: tuple[Any, ...], kwargs: dict[str, Any],
               result: Any) -> None:
    span.set("gen_ai.memory.record.id", str(args[2] if len(args) > 2 else kwargs["memory_id"]))
    span.set("gen_ai.memory.store.id", kwargs.get("namespace"))
