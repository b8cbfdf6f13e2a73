"""isokron's memory and episodes tools as an MCP server over stdio (extra ``mcp``).

``isokron mcp --workspace W`` serves the same tools, with the same JSON schemas and the
same JSON envelopes, as :meth:`isokron.engine.core.AsyncIsoKron.handle_tool`. The workspace is
the server's, fixed when it starts: no tool takes a workspace argument, and an argument a
schema does not declare is refused (the schemas say ``additionalProperties: false``).
Writes are flushed before the process exits. Standard output carries only the protocol;
logs go to standard error. No result is larger than ``quota_result_bytes`` (default
256 KiB): a longer listing loses its last items and says so (``"truncated"``).
"""

from __future__ import annotations

import json
from typing import Any

from ..engine.core import AsyncIsoKron
from ..engine.tools import TOOL_SCHEMAS, capped_envelope
from ..errors import NotFoundError
from ..stores.quotas import quota_limits

__all__ = ["build_server", "serve_stdio"]


def build_server(kron: AsyncIsoKron, workspace_id: str, *,
                 result_bytes: int | None = None) -> Any:
    """An ``mcp`` low-level ``Server`` whose tools run for ``workspace_id`` only; no result
    is larger than ``result_bytes`` (default: the config's ``quota_result_bytes``)."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    cap = kron.config.quota_result_bytes if result_bytes is None else result_bytes
    tools = [types.Tool(name=t["function"]["name"], description=t["function"]["description"],
                        input_schema=t["function"]["parameters"]) for t in TOOL_SCHEMAS]

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: Any) -> Any:
        envelope = capped_envelope(
            await kron.handle_tool(workspace_id, params.name,
                                   params.arguments if params.arguments is not None else {}),
            cap)
        failed = not json.loads(envelope).get("ok", False)
        return types.CallToolResult(content=[types.TextContent(type="text", text=envelope)],
                                    is_error=failed)

    return Server("isokron", version=_version(),
                  instructions=f"Governed memory of workspace {workspace_id} (isokron).",
                  on_list_tools=list_tools, on_call_tool=call_tool)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("isokron")
    except PackageNotFoundError:
        return "0"


async def serve_stdio(workspace_id: str, dsn: str, *, actor_kind: str = "kora",
                      quota_result_bytes: int | None = None) -> None:
    """Serve until the client closes standard input; flush writes; close the pool.

    Raises NotFoundError before serving when the workspace is not registered.
    """
    from mcp.server.stdio import stdio_server

    settings: dict[str, object] = {"dsn": dsn, "actor_kind": actor_kind}
    if quota_result_bytes is not None:
        settings["quota_result_bytes"] = quota_result_bytes
    async with AsyncIsoKron(settings) as kron:
        memory = await kron.memory()
        try:
            await memory.access(workspace_id)
        except NotFoundError:
            raise NotFoundError(f"unknown workspace {workspace_id!r} "
                                "(not in isokron.workspaces)") from None
        # the workspace's limit in PostgreSQL (set by the owner) wins when it is lower
        limits = await quota_limits(memory.pool, workspace_id)
        stored = limits["quota_result_bytes"]
        cap = kron.config.quota_result_bytes
        server = build_server(kron, workspace_id,
                              result_bytes=cap if stored is None else max(1024, min(cap, stored)))
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
        await kron.flush()
