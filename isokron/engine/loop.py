"""Run one process-wide event-loop thread and share one asyncpg pool per DSN.

Every provider instance in a process submits its coroutines to the same
daemon thread, and instances with the same DSN and pool settings share one
pool (reference-counted, closed when the last user releases it). A
per-session loop would open a pool per session and exhaust the server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

from .. import telemetry
from ..pool import create_pool

__all__ = ["PoolRegistry", "get_loop", "loop_thread", "pools", "submit", "submit_and_wait"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the shared loop, starting its daemon thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name="isokron-loop", daemon=True)
            thread.start()
            ready.wait()
            _loop, _thread = loop, thread
        return _loop


def loop_thread() -> threading.Thread | None:
    """Return the loop thread (None before first use)."""
    return _thread


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule ``coro`` on the shared loop and return its future (never blocks)."""
    return asyncio.run_coroutine_threadsafe(telemetry.carried(coro), get_loop())


def submit_and_wait(coro: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run ``coro`` on the shared loop; raise TimeoutError after ``timeout`` seconds at most."""
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("submit_and_wait called from the isokron loop thread would deadlock")
    future = submit(coro)
    try:
        return future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"isokron call did not finish within {timeout:.3g}s") from None


class PoolRegistry:
    """Share one pool per (DSN, settings) among users on the loop thread."""

    def __init__(self) -> None:
        self._pools: dict[tuple[Any, ...], asyncpg.Pool] = {}
        self._users: dict[tuple[Any, ...], int] = {}
        self._opening: dict[tuple[Any, ...], asyncio.Lock] = {}

    def users(self, key: tuple[Any, ...]) -> int:
        """Return how many users hold the pool for ``key``."""
        return self._users.get(key, 0)

    def __len__(self) -> int:
        return len(self._pools)

    async def acquire(self, key: tuple[Any, ...], **options: Any) -> asyncpg.Pool:
        """Return the shared pool for ``key`` (``key[0]`` is the DSN), opening it if needed."""
        lock = self._opening.setdefault(key, asyncio.Lock())
        async with lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = await create_pool(key[0], **options)
                self._pools[key] = pool
            self._users[key] = self._users.get(key, 0) + 1
            return pool

    async def release(self, key: tuple[Any, ...]) -> None:
        """Drop one user of ``key``'s pool and close it when none remain."""
        count = self._users.get(key, 0) - 1
        if count > 0:
            self._users[key] = count
            return
        self._users.pop(key, None)
        pool = self._pools.pop(key, None)
        if pool is not None:
            await pool.close()


#: The process-wide registry used by IsoKronMemoryProvider (touched only on the loop thread).
pools = PoolRegistry()
