"""Pin the input limits without a database: the tool schemas and their checks agree, the
error text is bounded and never recursive, and both tool entry points always answer."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from isokron import AsyncIsoKron, IsoKronMemoryProvider
from isokron.engine.tools import MAX_ERROR_CHARS, TOOL_SCHEMAS, envelope_for, error_envelope
from isokron.errors import InvalidInputError, NotOwnedError
from isokron.guard import limits
from isokron.guard.validate import (
    MAX_NAME_CHARS,
    MAX_SEARCH_NAMESPACES,
    check_items,
    check_uuid,
    check_workspace,
    shown,
)
from isokron.stores import RequestContext
from isokron.testing import (
    InMemoryDelegationLedger,
    InMemoryEpisodicStore,
    InMemoryNamespaceMemory,
    InMemorySessionStore,
    InMemorySubstrate,
)
from tests.unit.helpers import DSN, RecordingTransport

CHECKED = {"cases": 0}


def _deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


DEEP = _deep(100_000)


def _kron() -> AsyncIsoKron:
    memory = InMemoryNamespaceMemory()
    memory.add_workspace("org_demo")
    episodic = InMemoryEpisodicStore()
    episodic.register_agent("org_demo", uuid.uuid4(), "kora")
    return AsyncIsoKron({"dsn": DSN}, substrate=InMemorySubstrate.with_demo_workspace(),
                        transport=RecordingTransport(), memory=memory,
                        sessions=InMemorySessionStore(), episodic=episodic,
                        ledger=InMemoryDelegationLedger())


async def _run(kron: AsyncIsoKron, name, args, workspace="org_demo") -> dict:
    CHECKED["cases"] += 1
    out = json.loads(await kron.handle_tool(workspace, name, args))
    if not out["ok"]:
        assert set(out["error"]) == {"type", "message"}
    return out


def _properties():
    for tool in TOOL_SCHEMAS:
        function = tool["function"]
        for key, schema in function["parameters"]["properties"].items():
            yield function["name"], key, schema


def test_every_tool_string_and_array_is_bounded_in_the_schema():
    """Each string argument has a maxLength and each array a maxItems: the model is told."""
    for name, key, schema in _properties():
        if schema["type"] == "string" and "enum" not in schema:
            assert schema.get("maxLength"), (name, key)
        if schema["type"] == "array":
            assert schema.get("maxItems"), (name, key)
            items = schema["items"]
            assert items.get("maxLength") or items.get("enum"), (name, key)


async def test_the_tool_checks_enforce_exactly_what_the_schemas_say():
    """maxLength, maxItems, minimum and maximum: the edge passes the check, one past fails."""
    kron = _kron()
    try:
        for name, key, schema in _properties():
            required = {"content": "x"} if name.startswith("isokron_memory_commit") else {}
            if name == "isokron_memory_forget":
                required = {"memory_id": str(uuid.uuid4())}
            if name == "isokron_memory_update":  # a real memory to supersede
                required = {"memory_id": (await _run(kron, "isokron_memory_commit", {
                    "content": f"old {uuid.uuid4()}"}))["memory"]["id"], "content": "x"}
            over: list[object] = []
            if schema["type"] == "string" and "maxLength" in schema:
                over.append("q" * (schema["maxLength"] + 1))
            if schema["type"] == "integer":
                over += [schema["minimum"] - 1, schema["maximum"] + 1]
                edge = await _run(kron, name, {**required, key: schema["minimum"]})
                assert edge["ok"], (name, key, edge)
            if schema["type"] == "array":
                over.append(["workspace:org_demo"] * (schema["maxItems"] + 1))
            for value in over:
                out = await _run(kron, name, {**required, key: value})
                assert not out["ok"] and out["error"]["type"] == "InvalidInputError", (
                    name, key, out)
                assert key in out["error"]["message"]
    finally:
        await kron.close()


async def test_the_issue_oddities_are_fixed_at_the_tool():
    """pin="false" is refused (not stored as true), "" is non-blank (not missing), limit 0
    and a 10 MB content are refused naming the limit."""
    kron = _kron()
    try:
        out = await _run(kron, "isokron_memory_commit", {"content": "x", "pin": "false"})
        assert not out["ok"] and "pin must be a boolean" in out["error"]["message"]
        out = await _run(kron, "isokron_memory_commit", {"content": "kept", "pin": False})
        assert out["ok"] and out["memory"]["pin"] is False
        out = await _run(kron, "isokron_memory_commit", {"content": ""})
        assert not out["ok"] and "content must be a non-blank string" in out["error"]["message"]
        out = await _run(kron, "isokron_memory_search", {"query": "x", "limit": 0})
        assert not out["ok"] and "limit must be 1..100, got 0" in out["error"]["message"]
        out = await _run(kron, "isokron_memory_commit", {"content": "c" * 10_000_000})
        assert not out["ok"] and "the limit is 32,768" in out["error"]["message"]
    finally:
        await kron.close()


@pytest.mark.parametrize(("workspace", "name", "args"), [
    ("org_demo", DEEP, {}), ("org_demo", ["isokron_memory_search"], {}),
    ("org_demo", None, None), ("org_demo", "n" * 10_000_000, {}),
    ("org_demo", "isokron_memory_search", DEEP), ("org_demo", "isokron_memory_search", [1]),
    ("org_demo", "isokron_memory_search", "[" * 100_000),
    ("org_demo", "isokron_memory_search", {("t",): 1}),
    ("org_demo", "isokron_memory_search", {"limit": 10**5000}),
    ("org_demo", "isokron_memory_search", {"query": "a\x00"}),
    ("org_demo", "isokron_memory_search", {"query": "\ud800"}),
    (DEEP, "isokron_memory_search", {}), (7, "isokron_memory_search", {}),
    ("w" * 10_000_000, "isokron_memory_search", {}),
])
async def test_the_async_core_answers_every_input_with_a_bounded_envelope(workspace, name,
                                                                         args):
    """AsyncIsoKron.handle_tool never raises, and its message stays short."""
    kron = _kron()
    try:
        out = await _run(kron, name, args, workspace)
        assert not out["ok"]
        assert out["error"]["type"] in ("InvalidInputError", "UnknownTool")
        assert len(out["error"]["message"]) <= MAX_ERROR_CHARS + 3
    finally:
        await kron.close()


def test_the_sync_facade_answers_every_input_with_an_envelope():
    """IsoKronMemoryProvider.handle_tool_call never raises, whatever the name, args or
    workspace_id keyword hold."""
    provider = IsoKronMemoryProvider({"dsn": DSN}, substrate=InMemorySubstrate.with_demo_workspace(),
                                     transport=RecordingTransport())
    provider.initialize("s1", workspace_id="org_demo")
    try:
        for name, args, kwargs in [(DEEP, {}, {}), (["x"], {}, {}), (None, None, {}),
                                   ("isokron_memory_search", DEEP, {}),
                                   ("isokron_memory_search", {}, {"workspace_id": DEEP}),
                                   ("isokron_memory_search", {}, {"workspace_id": ["a"]}),
                                   ("isokron_memory_search", {}, {"workspace_id": "a\x00"}),
                                   ("isokron_memory_commit", {"content": "x", "pin": "false"},
                                    {})]:
            CHECKED["cases"] += 1
            out = json.loads(provider.handle_tool_call(name, args, **kwargs))
            assert out["ok"] is False and set(out["error"]) == {"type", "message"}, out
    finally:
        provider.shutdown()


def test_shown_is_bounded_and_never_recursive():
    """Error text describes a value without repr: no RecursionError, no 10 MB message."""
    assert shown("abc") == "'abc'"
    assert shown("x" * 10_000_000).endswith("... (10,000,000 characters)")
    assert len(shown("x" * 10_000_000)) < 80
    assert shown(DEEP) == "a dict of 1 items"
    assert shown(10**5000).startswith("an integer of")
    assert shown(None) == "None" and shown(True) == "True" and shown(object()) == "a object"


def test_ids_and_lists_are_checked_without_recursion():
    """check_workspace, check_uuid and check_items name the type of a wrong value."""
    for value in (DEEP, 5, None, b"x"):
        with pytest.raises(InvalidInputError, match="workspace_id must be a string"):
            check_workspace(value)
        with pytest.raises(InvalidInputError, match="must be a UUID"):
            check_uuid(value, "id")
    with pytest.raises(InvalidInputError, match="the limit is 128"):
        check_workspace("w" * 129)
    for value in ("abc", b"abc", {"a": 1}, 5):
        with pytest.raises(InvalidInputError, match="must be a list"):
            check_items(value, "messages")
    assert check_items((x for x in (1, 2)), "messages") == [1, 2]
    with pytest.raises(InvalidInputError, match=r"user_id must be 1\.\.128 characters"):
        RequestContext("org_demo", "u" * 129)


def test_depth_is_measured_iteratively():
    """32 levels pass; 33 and 100,000 are refused with InvalidInputError, not RecursionError."""
    limits.check_depth(_deep(31), "body")  # 31 wrappers around {} = 32 levels
    with pytest.raises(InvalidInputError, match="nested more than 32 levels"):
        limits.check_depth(_deep(32), "body")
    with pytest.raises(InvalidInputError, match="nested more than 32 levels"):
        limits.check_depth(DEEP, "body")


def test_envelopes_are_typed_and_bounded():
    """Any exception becomes a typed envelope; a long message is cut; surrogates replaced."""
    assert json.loads(envelope_for(NotOwnedError("no"), "t"))["error"]["type"] == "NotOwnedError"
    assert json.loads(envelope_for(TypeError("bad"), "t"))["error"]["type"] == "InvalidInputError"
    recursion = json.loads(envelope_for(RecursionError(), "t"))["error"]
    assert recursion["type"] == "InvalidInputError" and "nested too deeply" in recursion["message"]
    other = json.loads(envelope_for(KeyError("secret detail"), "t"))["error"]
    assert other == {"type": "IsoKronError", "message": "t failed: KeyError"}
    long = json.loads(error_envelope("X", "m" * 100_000 + "\ud800"))["error"]["message"]
    assert len(long) <= MAX_ERROR_CHARS + 3


def test_the_readme_limits_table_states_the_enforced_limits():
    """README's Limits section quotes the same numbers the code enforces."""
    readme = Path(__file__).resolve().parents[2] / "README.md"
    section = readme.read_text().split("## Limits", 1)[1].split("\n## ", 1)[0]
    for number in (limits.MAX_QUERY_CHARS, limits.MAX_MEMORY_CHARS, limits.MAX_MESSAGE_CHARS,
                   limits.MAX_TITLE_CHARS, limits.MAX_TASK_CHARS, limits.MAX_ID_CHARS,
                   limits.MAX_JSON_DEPTH, MAX_NAME_CHARS, MAX_SEARCH_NAMESPACES):
        assert re.search(rf"\b{number:,}\b", section), number


def test_report_how_many_cases_were_checked():
    """Print the figure: tool inputs checked against their limits in this file."""
    assert CHECKED["cases"] > 0
    print(f"\n[limits] {CHECKED['cases']} tool inputs checked: schema and check agree, "
          "every answer an envelope")

