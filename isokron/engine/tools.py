"""Offer the agent's memory tools (OpenAI function format) and run them into JSON envelopes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import attrs

from .. import telemetry
from ..errors import InvalidInputError, IsoKronError, NotOwnedError
from ..guard.limits import (
    MAX_JSON_BYTES,
    MAX_MEMORY_CHARS,
    MAX_QUERY_CHARS,
    check_depth,
    check_free_text,
)
from ..guard.validate import MAX_NAME_CHARS, MAX_SEARCH_NAMESPACES, check_uuid, shown
from ..stores.episodic import EpisodicEventStore
from ..stores.memory import NamespaceMemory
from ..stores.memory_items import ITEM_FIELDS, claims_item
from .recall import UNTRUSTED_NOTE

__all__ = ["TOOL_NAMES", "TOOL_SCHEMAS", "WRITING_TOOLS", "ToolHost", "annotate_tool_span",
           "capped_envelope", "envelope_for", "error_envelope", "ok_envelope", "run_tool",
           "unknown_tool"]

T = TypeVar("T")


class ToolHost(Protocol):
    """What the tools use of their host (:class:`isokron.AsyncIsoKron`)."""

    async def memory(self) -> NamespaceMemory: ...

    async def read_memory(self, workspace_id: str,
                          read: Callable[[NamespaceMemory], Awaitable[T]]) -> T:
        """Run ``read`` on the memory store of the workspace's read pool (a fresh replica,
        else the primary; the primary again when the replica's connection fails)."""
        ...

    async def read_episodic(self, workspace_id: str,
                            read: Callable[[EpisodicEventStore], Awaitable[T]]) -> T:
        """Run ``read`` on the episodic store of the workspace's read pool."""
        ...

    async def actor_id(self, workspace_id: str) -> uuid.UUID | None: ...


def _fn(name: str, description: str, properties: dict[str, Any],
        required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties,
                           "required": required or [], "additionalProperties": False},
        },
    }


#: a committed summary expires after this many days unless the call says otherwise
SUMMARY_TTL_DAYS = 30

# Every string has a maxLength and every array a maxItems: _check_value enforces the schema
# itself, so what the model is told and what is checked cannot drift apart.
_NS = {"type": "string", "maxLength": MAX_NAME_CHARS,
       "description": "namespace, e.g. workspace:org_2abc or team:org_root"}
_WHEN = {"type": "string", "maxLength": 64, "description": "ISO 8601 time with a timezone"}
_KINDS = ["fact", "summary", "checkpoint"]
TOOL_SCHEMAS: list[dict[str, Any]] = [
    _fn("isokron_memory_commit", "Store a durable memory (secrets are redacted before storage).",
        {"content": {"type": "string", "maxLength": MAX_MEMORY_CHARS,
                     "description": "what to remember"},
         "namespace": _NS,
         "kind": {"type": "string", "enum": _KINDS},
         "expires_at": _WHEN,
         "pin": {"type": "boolean", "description": "rank above unpinned memories"}},
        ["content"]),
    _fn("isokron_memory_commit_summary",
        "Store a summary of the conversation so far (kind=summary; expires after 30 days "
        "unless expires_at says otherwise).",
        {"content": {"type": "string", "maxLength": MAX_MEMORY_CHARS,
                     "description": "the summary"},
         "namespace": _NS,
         "expires_at": _WHEN},
        ["content"]),
    _fn("isokron_memory_search", "Search memories in the namespaces this workspace can read.",
        {"query": {"type": "string", "maxLength": MAX_QUERY_CHARS},
         "namespaces": {"type": "array", "items": _NS, "maxItems": MAX_SEARCH_NAMESPACES},
         "kinds": {"type": "array", "items": {"type": "string", "enum": _KINDS},
                   "maxItems": len(_KINDS)},
         "limit": {"type": "integer", "minimum": 1, "maximum": 100}}),
    _fn("isokron_memory_update",
        "Replace a memory that is no longer true with what is true now (the old one is kept "
        "as history, superseded; secrets are redacted before storage).",
        {"memory_id": {"type": "string", "maxLength": 64,
                       "description": "the memory that is no longer true"},
         "content": {"type": "string", "maxLength": MAX_MEMORY_CHARS,
                     "description": "what is true now"},
         "valid_from": {**_WHEN, "description": "since when it is true (ISO 8601 time with "
                        "a timezone; default: now)"}},
        ["memory_id", "content"]),
    _fn("isokron_memory_forget", "Forget a memory in a namespace this workspace can write "
        "(team and org memories are retracted: kept as history, never recalled).",
        {"memory_id": {"type": "string", "maxLength": 64}, "namespace": _NS}, ["memory_id"]),
    _fn("isokron_memory_namespaces",
        "List the namespaces this workspace can read and write, and whether vector search "
        "is available.", {}),
    _fn("isokron_episodes_recent", "List this agent's recent episodic events, newest first.",
        {"event_type": {"type": "string", "maxLength": 64},
         "limit": {"type": "integer", "minimum": 1, "maximum": 500}}),
]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOL_SCHEMAS)
#: the tools that write (refused in read-only contexts; read-your-writes after them)
WRITING_TOOLS = frozenset({"isokron_memory_commit", "isokron_memory_commit_summary",
                           "isokron_memory_update", "isokron_memory_forget"})
_KNOWN_TOOLS = frozenset(TOOL_NAMES)
_PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOL_SCHEMAS}


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k: _plain(v) for k, v in attrs.asdict(value, recurse=False).items()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def ok_envelope(**data: Any) -> str:
    """Return ``{"ok": true, ...data}`` as JSON."""
    return json.dumps({"ok": True, **_plain(data)}, ensure_ascii=False)


#: an error envelope's message is cut to this many characters
MAX_ERROR_CHARS = 2_000


def error_envelope(kind: str, message: str) -> str:
    """Return ``{"ok": false, "error": {"type", "message"}}`` as JSON."""
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + "..."
    message = message.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    return json.dumps({"ok": False, "error": {"type": kind, "message": message}},
                      ensure_ascii=False)


def _size(doc: Any) -> int:
    return len(json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def capped_envelope(envelope: str, max_bytes: int) -> str:
    """Return ``envelope`` if its UTF-8 is at most ``max_bytes`` (``quota_result_bytes``),
    else the same envelope with its lists' last items cut so it fits, saying so in
    ``"truncated": {"omitted", "max_bytes", "note"}``; an envelope that cannot fit even
    with every list empty becomes an error envelope naming the quota."""
    if len(envelope.encode("utf-8")) <= max_bytes:
        return envelope
    doc = json.loads(envelope)
    lists = [k for k, v in doc.items() if isinstance(v, list)] if isinstance(doc, dict) else []
    full = {k: doc[k] for k in lists}
    doc["truncated"] = {"omitted": 0, "max_bytes": max_bytes,
                        "note": "the result was cut to fit quota_result_bytes: ask for fewer "
                                "or narrower items"}
    for key in sorted(lists, key=lambda k: -len(full[k])):  # the longest list is cut first
        low, high = 0, len(full[key])  # the most items of it that fit: binary search
        while low < high:
            mid = (low + high + 1) // 2
            doc[key] = full[key][:mid]
            doc["truncated"]["omitted"] = sum(len(full[k]) - len(doc[k]) for k in lists)
            low, high = (mid, high) if _size(doc) <= max_bytes else (low, mid - 1)
        doc[key] = full[key][:low]
        doc["truncated"]["omitted"] = sum(len(full[k]) - len(doc[k]) for k in lists)
        if _size(doc) <= max_bytes:
            return json.dumps(doc, ensure_ascii=False)
    return error_envelope("QuotaExceededError", f"quota_result_bytes exceeded: limit "
                                                f"{max_bytes} (the result cannot be cut to fit)")


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "boolean": (bool,), "integer": (int,), "array": (list, tuple)}


def _check_value(tool: str, key: str, value: Any, schema: dict[str, Any]) -> None:
    """Check one argument against its JSON schema entry (type, enum, range, items)."""
    kind = schema.get("type")
    expected = _JSON_TYPES.get(kind or "")
    if expected is not None and (not isinstance(value, expected)
                                 or (kind == "integer" and isinstance(value, bool))):
        raise InvalidInputError(
            f"{tool}: {key} must be a{'n' if kind in ('integer', 'array') else ''} {kind}, "
            f"got {type(value).__name__} {shown(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise InvalidInputError(f"{tool}: {key} must be one of {schema['enum']}, "
                                f"got {shown(value)}")
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InvalidInputError(f"{tool}: {key} must be {low}..{high}, got {shown(value)}")
    if kind == "string":
        check_free_text(value, f"{tool}: {key}", max_chars=schema.get("maxLength", MAX_JSON_BYTES),
                        blank_ok=True)
    if kind == "array":
        most = schema.get("maxItems")
        if most is not None and len(value) > most:
            raise InvalidInputError(
                f"{tool}: {key} has {len(value):,} items; the limit is {most}")
        for index, item in enumerate(value):
            _check_value(tool, f"{key}[{index}]", item, schema.get("items", {}))


def _check_args(name: str, args: Any) -> dict[str, Any]:
    if args is None:
        args = {}
    if isinstance(args, str):  # loops that pass OpenAI's raw "arguments" string
        check_free_text(args, f"{name}: arguments", max_chars=MAX_JSON_BYTES, blank_ok=True)
        try:
            args = json.loads(args) if args.strip() else {}
        except (ValueError, RecursionError):
            raise InvalidInputError(f"{name}: arguments are not valid JSON") from None
    if not isinstance(args, dict):
        raise InvalidInputError(f"{name}: arguments must be a JSON object, "
                                f"got {type(args).__name__}")
    check_depth(args, f"{name}: arguments")
    params = _PARAMS[name]
    unknown = sorted(shown(k) for k in set(args) - set(params["properties"]))
    if unknown:
        raise InvalidInputError(f"{name}: unknown argument(s) {', '.join(unknown[:5])}")
    missing = [key for key in params["required"] if args.get(key) is None]
    if missing:
        raise InvalidInputError(f"{name}: missing required argument(s) {missing}")
    for key, value in args.items():
        if value is not None:
            _check_value(name, key, value, params["properties"][key])
    for key in params["required"]:
        if isinstance(args[key], str) and not args[key].strip():
            raise InvalidInputError(f"{name}: {key} must be a non-blank string")
    return args


def _when(value: Any, name: str = "expires_at") -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError(f"{name} is not an ISO 8601 time: {shown(value)}") from None


def _refuse_item_content(name: str, workspace_id: str, args: dict[str, Any]) -> None:
    """Adapters own their items (the LangGraph store's ``{"namespace", "key", "value"}``
    JSON): a tool may not write content shaped like one, in any namespace."""
    if claims_item(args["content"]):
        target = args.get("namespace") or f"workspace:{workspace_id}"
        raise NotOwnedError(
            f"{name}: namespace {target!r}: content shaped like a LangGraph store item (a "
            f"JSON object with {', '.join(ITEM_FIELDS)}) is refused; store items are written "
            "only by the store")


async def _refuse_item_forget(store: NamespaceMemory, workspace_id: str,
                              args: dict[str, Any],
                              name: str = "isokron_memory_forget") -> None:
    """A tool may not delete an adapter's item either (the memory is read first)."""
    memory_id = check_uuid(args["memory_id"], "memory_id")
    namespace = args.get("namespace")
    names = [namespace] if namespace else list((await store.access(workspace_id)).writable)
    for space in names:
        found = await store.items(workspace_id, space, ids=[memory_id], limit=1)
        if found and claims_item(found[0].content):
            raise NotOwnedError(
                f"{name}: memory {memory_id} in namespace {space!r} is a "
                "LangGraph store item; store items are changed only by the store")


def unknown_tool(name: Any) -> str | None:
    """Return the error envelope for a name that is not one of the tools, else None."""
    if isinstance(name, str) and name in TOOL_NAMES:
        return None
    return error_envelope("UnknownTool", f"no tool named {shown(name)}; known: {list(TOOL_NAMES)}")


def envelope_for(exc: BaseException, name: str) -> str:
    """Return the typed error envelope for any exception a tool call raised (bad input that
    escaped a check is an InvalidInputError; anything else is reported by type only)."""
    if isinstance(exc, RecursionError):
        return error_envelope("InvalidInputError", f"{name}: the arguments are nested too deeply")
    try:
        message = str(exc)
    except Exception:  # a __str__ that fails must not break the envelope
        message = ""
    if isinstance(exc, IsoKronError):
        return error_envelope(type(exc).__name__, message)
    if isinstance(exc, ValueError | TypeError):
        return error_envelope("InvalidInputError", f"{name}: {message}")
    return error_envelope("IsoKronError", f"{name} failed: {type(exc).__name__}")


async def run_tool(host: ToolHost, workspace_id: str, name: str, args: Any, *,
                   actor_kind: str, user_id: str | None = None) -> str:
    """Run the known tool ``name`` and return its ok envelope; raise on bad input or a
    store error (the caller, :meth:`isokron.AsyncIsoKron.handle_tool`, turns every
    exception into the error envelope, in one place)."""
    args = _check_args(name, args)
    if name == "isokron_memory_commit":
        _refuse_item_content(name, workspace_id, args)
        memory = await (await host.memory()).commit(
            workspace_id, args["content"], namespace=args.get("namespace"),
            kind=args.get("kind", "fact"), source="agent",
            expires_at=_when(args.get("expires_at")), pin=args.get("pin") is True,
            user_id=user_id)
        return ok_envelope(memory=memory)
    if name == "isokron_memory_update":
        _refuse_item_content(name, workspace_id, args)
        store = await host.memory()
        await _refuse_item_forget(store, workspace_id, args, name)
        update = await store.supersede(
            workspace_id, args["memory_id"], args["content"],
            valid_from=_when(args.get("valid_from"), "valid_from"), source="agent",
            user_id=user_id)
        return ok_envelope(memory=update.new, superseded=update.old)
    if name == "isokron_memory_commit_summary":
        _refuse_item_content(name, workspace_id, args)
        expires = _when(args.get("expires_at")) or (
            datetime.now(UTC) + timedelta(days=SUMMARY_TTL_DAYS))
        memory = await (await host.memory()).commit(
            workspace_id, args["content"], namespace=args.get("namespace"), kind="summary",
            source="agent", expires_at=expires, user_id=user_id)
        return ok_envelope(memory=memory)
    if name == "isokron_memory_search":
        found = await host.read_memory(workspace_id, lambda memory: memory.search(
            workspace_id, args.get("query"), namespaces=args.get("namespaces"),
            kinds=args.get("kinds"), limit=args.get("limit", 20)))
        return ok_envelope(memories=found, untrusted=True, note=UNTRUSTED_NOTE)
    if name == "isokron_memory_forget":
        store = await host.memory()
        await _refuse_item_forget(store, workspace_id, args)
        done = await store.forget(workspace_id, args["memory_id"],
                                  namespace=args.get("namespace"))
        return ok_envelope(forgotten=args["memory_id"], action=done.action)
    if name == "isokron_memory_namespaces":
        store = await host.memory()
        access = await store.access(workspace_id)
        return ok_envelope(readable=access.readable, writable=access.writable,
                           vector_search=await store.supports_vectors())
    agent = await host.actor_id(workspace_id)
    if agent is None:
        raise InvalidInputError(
            f"no {actor_kind} actor is registered in workspace {workspace_id!r}")
    episodes = await host.read_episodic(workspace_id, lambda episodic: episodic.list(
        workspace_id, agent, event_type=args.get("event_type"), limit=args.get("limit", 20)))
    return ok_envelope(episodes=episodes, untrusted=True, note=UNTRUSTED_NOTE)


def annotate_tool_span(span: telemetry.Span, args: tuple[Any, ...], kwargs: dict[str, Any],
             result: Any) -> None:
    """Record a tool call on its span: the tool's name only when it is one of isokron's
    (anything else the model sent is ``unknown``); arguments and result only with content
    capture, redacted."""
    name = args[2] if len(args) > 2 else kwargs.get("name")
    span.set("gen_ai.tool.name", telemetry.known_name(name, _KNOWN_TOOLS))
    span.set("isokron.tool.ok", isinstance(result, str) and result.startswith('{"ok": true'))
    span.content("gen_ai.tool.call.arguments", args[3] if len(args) > 3 else kwargs.get("args"))
    span.content("gen_ai.tool.call.result", result)
