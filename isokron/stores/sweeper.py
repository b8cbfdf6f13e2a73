"""Sweep the delegation ledger: fail rows past their deadline, mark silent ones stuck.

The sweep crosses workspaces, which row-level security denies the runtime role; it runs
as ``isokron.sweep_delegations_v1``, a SECURITY DEFINER function that performs exactly
the two statements below (a test keeps them and the function's body in step).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import attrs

from ..pool import DB, acquire, translate_errors

__all__ = [
    "DEFAULT_INTERVAL_S",
    "DEFAULT_STUCK_THRESHOLD_S",
    "SWEEP_SQL",
    "DelegationSweeper",
    "SweepResult",
    "env_seconds",
]

log = logging.getLogger("isokron.stores.sweeper")

DEFAULT_INTERVAL_S = 300.0
DEFAULT_STUCK_THRESHOLD_S = 600.0
GRACE_ENV = "ISOKRON_MEMORY_EXPIRY_GRACE_S"
DEFAULT_GRACE_S = 86_400.0
EXPIRY_SQL = "SELECT * FROM isokron.sweep_memory_expiry_v1($1)"
RECALL_STATS_SQL = "SELECT isokron.refresh_stale_recall_stats_v1()"
INTERVAL_ENV = "ISOKRON_DELEGATION_SWEEPER_INTERVAL_S"
THRESHOLD_ENV = "ISOKRON_DELEGATION_STUCK_THRESHOLD_S"
#: the original ledger's names, read when the ISOKRON_ ones are unset
LEGACY_ENV = {INTERVAL_ENV: "DELEGATION_SWEEPER_INTERVAL_S",
              THRESHOLD_ENV: "DELEGATION_STUCK_THRESHOLD_S"}

SWEEP_SQL = "SELECT deadline_failures, stuck_marked FROM isokron.sweep_delegations_v1($1)"

@attrs.frozen(kw_only=True)
class SweepResult:
    """Count what one pass changed; ``errors`` holds messages of failed statements."""

    deadline_failures: int
    stuck_marked: int
    memories_expired: int = 0
    namespaces_expired: int = 0
    #: recall corpora whose ranking statistics were recomputed (new rows since the last)
    recall_stats_refreshed: int = 0
    errors: tuple[str, ...] = ()


def env_seconds(name: str, default: float) -> float:
    """Read a positive number of seconds from ``name`` (or, when unset, the original
    ledger's name for it); fall back (logged) on anything else."""
    raw = os.environ.get(name)
    if raw is None and name in LEGACY_ENV:
        name = LEGACY_ENV[name]
        raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        log.warning("%s=%r is not a positive number of seconds; using %g", name, raw, default)
        return default
    return value


class DelegationSweeper:
    """Run :meth:`sweep` every ``interval_s`` in an asyncio task; stop it with :meth:`stop`."""

    def __init__(
        self, pool: DB, *, interval_s: float | None = None, stuck_threshold_s: float | None = None
    ) -> None:
        self.pool = pool
        self.interval_s = (
            interval_s if interval_s is not None and interval_s > 0
            else env_seconds(INTERVAL_ENV, DEFAULT_INTERVAL_S)
        )
        self.stuck_threshold_s = (
            stuck_threshold_s if stuck_threshold_s is not None and stuck_threshold_s > 0
            else env_seconds(THRESHOLD_ENV, DEFAULT_STUCK_THRESHOLD_S)
        )
        #: memories and namespaces are deleted this long after they expire
        self.expiry_grace_s = env_seconds(GRACE_ENV, DEFAULT_GRACE_S)
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        self.passes = 0

    async def sweep(self) -> SweepResult:
        """Run one set-based pass over every workspace: deadline failures, then stuck marking;
        then memory expiry and the recall statistics of corpora with new rows.

        Both transitions commit together; a failed pass changes nothing and is reported in
        ``errors``.
        """
        try:
            async with translate_errors("sweeping delegations"), acquire(self.pool) as conn:
                row = await conn.fetchrow(SWEEP_SQL, self.stuck_threshold_s)
        except Exception as exc:
            self.passes += 1
            return SweepResult(deadline_failures=0, stuck_marked=0,
                               errors=(f"sweep: {type(exc).__name__}: {exc}",))
        assert row is not None
        self.passes += 1
        errors: tuple[str, ...] = ()
        expired = None
        try:
            async with translate_errors("expiring memories"), acquire(self.pool) as conn:
                expired = await conn.fetchrow(EXPIRY_SQL, self.expiry_grace_s)
        except Exception as exc:  # the delegation pass stands; report this one
            errors = (f"memory expiry: {type(exc).__name__}: {exc}",)
        refreshed = 0
        try:
            async with translate_errors("refreshing recall statistics"), acquire(
                    self.pool) as conn:
                refreshed = int(await conn.fetchval(RECALL_STATS_SQL) or 0)
        except Exception as exc:
            errors += (f"recall statistics: {type(exc).__name__}: {exc}",)
        return SweepResult(deadline_failures=row["deadline_failures"],
                           stuck_marked=row["stuck_marked"],
                           memories_expired=expired["memories_deleted"] if expired else 0,
                           namespaces_expired=expired["namespaces_deleted"] if expired else 0,
                           recall_stats_refreshed=refreshed, errors=errors)

    def start(self) -> asyncio.Task[None]:
        """Start the background loop (idempotent) and return its task."""
        if self._task is not None and not self._task.done():
            return self._task
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="isokron-sweeper")
        return self._task

    async def _run(self) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            try:
                result = await self.sweep()
                if result.errors:
                    log.error("delegation sweep had errors: %s", "; ".join(result.errors))
                elif result.deadline_failures or result.stuck_marked:
                    log.info("delegation sweep: %d failed by deadline, %d marked stuck",
                             result.deadline_failures, result.stuck_marked)
            except Exception:  # one failed pass never ends the loop
                log.exception("delegation sweep pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)

    async def stop(self, timeout: float = 10.0) -> bool:
        """Ask the loop to stop; return True when it ended within ``timeout``."""
        task = self._task
        if task is None or task.done():
            return True
        assert self._stopping is not None
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            return False
        return True
