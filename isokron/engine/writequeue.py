"""Put hook writes on the outbox, each run in its workspace's slot, then note the write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .fairness import WorkspaceGate
from .outbox import Outbox, WriteJob

__all__ = ["WriteQueue", "WrittenNote"]

Run = Callable[[], Awaitable[object]]
Merge = Callable[[list[Any]], Awaitable[object]]


class WrittenNote(Protocol):
    """Called after a workspace's write landed (read-your-writes on replicas)."""

    async def __call__(self, workspace_id: str) -> None: ...


class WriteQueue:
    """Queue writes on ``outbox``: in ``gate``'s workspace slots, ``noted`` after each."""

    def __init__(self, outbox: Outbox, gate: WorkspaceGate, noted: WrittenNote) -> None:
        self.outbox = outbox
        self._gate = gate
        self._noted = noted
        self._slotted_merges: dict[tuple[str, Merge], Merge] = {}

    def submit(self, name: str, run: Run, *, size: int = 0, lane: str = "", item: Any = None,
               merge: Merge | None = None, workspace_id: str | None = None) -> bool:
        """Queue one write (call on the core's loop); ``size`` is its payload in bytes.

        ``lane``, ``item`` and ``merge``: see :class:`isokron.engine.outbox.WriteJob`. With
        ``workspace_id`` the write runs in one of that workspace's slots.
        """
        if workspace_id is not None:
            run = self._in_slot(workspace_id, run)
            merge = None if merge is None else self._merge_in_slot(workspace_id, merge)
        return self.outbox.submit(WriteJob(name=name, run=run, size=size, lane=lane,
                                           item=item, merge=merge, workspace=workspace_id))

    def _in_slot(self, workspace_id: str, run: Run) -> Run:
        async def slotted() -> object:
            async with self._gate.slot(workspace_id):
                result = await run()
            await self._noted(workspace_id)
            return result

        return slotted

    def _merge_in_slot(self, workspace_id: str, merge: Merge) -> Merge:
        # One wrapper per (workspace, merge function): consecutive jobs still compare equal.
        key = (workspace_id, merge)
        wrapped = self._slotted_merges.get(key)
        if wrapped is None:
            async def slotted(items: list[Any]) -> object:
                async with self._gate.slot(workspace_id):
                    result = await merge(items)
                await self._noted(workspace_id)
                return result

            wrapped = self._slotted_merges[key] = slotted
        return wrapped
