"""Coalesce memory commits issued in the same event-loop tick into one statement.

``asyncio.gather`` over many ``commit`` calls (or many agents' tool calls at once) would
otherwise cost one round trip each. Every commit joins the pending batch of its
workspace; the batch is written by one ``memory_commit_many_v3`` call scheduled with
``call_soon``, so it runs after every commit of the current tick has joined (a batch of
more than ``MAX_BATCH`` is split by id into statements that run side by side on the
pool). A lone commit still takes the single-commit function. Results, and errors per item, go back
to each caller.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..db.tenancy import WORKSPACE_SETTING, lean_token, signed_call
from ..errors import QuotaExceededError
from ..pool import DB, acquire, error_for, translate_errors
from ._json import timestamps

__all__ = ["COMMIT_ONE", "MAX_BATCH", "CommitBatcher"]

#: Commits per statement (about). A bigger burst is split, and its statements run on
#: several pooled connections at once (measured: 2,000 commits as one statement 55 ms, as
#: four of 500 on a pool of 4, 38 ms, on 2 cores).
MAX_BATCH = 500

COMMIT_ONE = signed_call(
    "SELECT isokron.memory_commit_v3($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)::text")
_MANY = signed_call(
    "SELECT isokron.memory_commit_many_v3($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
    "$12)::text")

#: (id, namespace, namespace kind, content, kind, source, pin, expires_at, valid_from,
#: valid_to, user_id)
Item = tuple[Any, ...]


class CommitBatcher:
    """Write the commits of one tick per workspace in one round trip."""

    def __init__(self, pool: DB) -> None:
        self.pool = pool
        self._pending: dict[str, list[tuple[Item, asyncio.Future[dict[str, Any]]]]] = {}
        self._flushing: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def commit(self, workspace_id: str, item: Item) -> dict[str, Any]:
        """Queue one commit and wait for its stored row.

        The first commit of a tick opens the workspace's batch and yields once, so that the
        tick's other commits join it. Alone (a loop committing one memory at a time) it
        writes itself, on its own task: no flush task and no future in between.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        batch = self._pending.get(workspace_id)
        if batch is not None:
            batch.append((item, future))
            return await future
        batch = self._pending[workspace_id] = [(item, future)]
        try:
            await asyncio.sleep(0)  # the tick's other commits join the batch
        except asyncio.CancelledError:
            loop.call_soon(self._start, workspace_id)  # the batch is written all the same
            raise
        if len(batch) > 1:
            self._start(workspace_id)
            return await future
        del self._pending[workspace_id]
        (result,) = await self._write(workspace_id, [item])
        if isinstance(result, Exception):
            raise result
        return result

    def _start(self, workspace_id: str) -> None:
        batch = self._pending.pop(workspace_id)
        # A burst bigger than MAX_BATCH is split by id, so every write of one id lands in the
        # same statement, in order (the last one wins, as within one statement).
        parts = -(-len(batch) // MAX_BATCH)
        chunks: list[list[tuple[Item, asyncio.Future[dict[str, Any]]]]] = [
            [] for _ in range(parts)]
        for entry in batch:
            chunks[hash(entry[0][0]) % parts if parts > 1 else 0].append(entry)
        for chunk in chunks:
            if chunk:
                task = asyncio.ensure_future(self._flush(workspace_id, chunk))
                self._flushing.add(task)
                task.add_done_callback(self._flushing.discard)

    async def _flush(self, workspace_id: str,
                     batch: list[tuple[Item, asyncio.Future[dict[str, Any]]]]) -> None:
        try:
            results = await self._write(workspace_id, [item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except QuotaExceededError as exc:
            if len(batch) == 1:
                if not batch[0][1].done():
                    batch[0][1].set_exception(exc)
                return
            # one statement past a quota refuses all its commits: write them one by one, in
            # order, so those that fit land and only the rest are refused
            for entry in batch:
                await self._flush(workspace_id, [entry])
            return
        except Exception as exc:  # the whole call failed: every caller gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _write(self, workspace_id: str,
                     items: list[Item]) -> list[dict[str, Any] | Exception]:
        async with translate_errors("committing a memory"), acquire(self.pool) as conn:
            token = lean_token(conn, {WORKSPACE_SETTING: workspace_id})
            if len(items) == 1:
                text = await conn.fetchval(COMMIT_ONE, workspace_id, *items[0], token)
                return [timestamps(json.loads(text))]
            columns = [list(column) for column in zip(*items, strict=True)]
            text = await conn.fetchval(_MANY, workspace_id, *columns, token)
        self.batches += 1
        out: list[dict[str, Any] | Exception] = []
        for entry in json.loads(text):
            if "error" in entry:
                out.append(error_for(entry["error"]["code"],
                                     f"committing a memory: {entry['error']['message']}"))
            else:
                out.append(timestamps(entry["row"]))
        return out
