"""Run isokron's benchmark suite side by side with the stores users would pick instead.

One run, one JSON document: per benchmark the raw figures (p50, p95, p99, ops/s, rows,
round trips), the ratio that the performance issue sets a target for, and
``"pass": true|false``. Peers (extra ``bench``): LangGraph's ``AsyncPostgresStore``
(psycopg pool of 4, no index; for hybrid recall, with a pgvector HNSW index) and the
OpenAI Agents SDK's ``SQLAlchemySession`` (asyncpg engine, pool of 4). Ours and theirs
run interleaved on the same server, warmed up first, so machine drift hits both. Round
trips are counted with asyncpg's query logger, never guessed.
"""

from __future__ import annotations

import gc
from typing import Any

from ..._version import install_command
from ...embedded import EmbeddedPostgres
from ..cli._interrupt import run as run_interruptible
from ._measure import Progress
from .episodic import bench_episodic
from .fixtures import prepare_suite
from .hybrid import bench_hybrid
from .memory import bench_memory
from .recall import bench_recall
from .sessions import bench_sessions
from .signed import bench_signed
from .soak import soak
from .sweeper import bench_sweeper
from .truth import bench_truth
from .warmup import bench_warmup, bench_warmup_growth, warm_block

__all__ = ["STEPS", "Progress", "run_suite"]

#: the suite's steps, in order (the last two run outside the event loop)
STEPS = ("starting", "memory", "warmup", "warmup_growth", "sessions", "episodic", "sweeper",
         "recall", "truth", "hybrid", "signed", "warm_block", "soak")


def _step(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(STEPS.index(name), len(STEPS), name)


async def _suite(dsn: str, runtime_dsn: str, sweeper_dsn: str, quick: bool,
                 progress: Progress | None) -> list[dict[str, Any]]:
    await prepare_suite(dsn)  # nothing shown before it connects: a bad DSN gets one line
    results: list[dict[str, Any]] = []
    # Writes first, on a quiet server; the bulk fills of the growth benchmarks come later.
    _step(progress, "memory")
    results += await bench_memory(dsn, runtime_dsn, quick)
    _step(progress, "warmup")
    results += await bench_warmup(dsn, runtime_dsn, quick)
    _step(progress, "warmup_growth")
    results.append(await bench_warmup_growth(dsn, runtime_dsn, quick))
    _step(progress, "sessions")
    results += await bench_sessions(runtime_dsn, dsn, quick)
    _step(progress, "episodic")
    results += await bench_episodic(dsn, runtime_dsn, quick)
    _step(progress, "sweeper")
    results.append(await bench_sweeper(dsn, sweeper_dsn, quick))
    _step(progress, "recall")
    results += await bench_recall(dsn, runtime_dsn, quick)
    _step(progress, "truth")
    results += await bench_truth(runtime_dsn, quick)
    _step(progress, "hybrid")
    results += await bench_hybrid(dsn, runtime_dsn, quick)
    _step(progress, "signed")
    results += await bench_signed(dsn, runtime_dsn, quick)
    return results


def _run(dsn: str, runtime_dsn: str, sweeper_dsn: str, quick: bool,
         progress: Progress | None) -> dict[str, Any]:
    # The peers' imports leave ~200,000 objects for the cyclic GC to walk: a full collection
    # landing inside a timed burst cost 8x on a 500-write burst, for whichever side it hit.
    # Move them out of the collector's way, as long-running services do.
    gc.collect()
    gc.freeze()
    results = run_interruptible(_suite(dsn, runtime_dsn, sweeper_dsn, quick, progress))
    # The sync facade runs its own loop thread: measured outside the event loop.
    cold = next(r for r in results if r["benchmark"] == "cold_warmup")["isokron"]["p50_ms"]
    _step(progress, "warm_block")
    results.append(warm_block(runtime_dsn, cold, quick))
    _step(progress, "soak")
    results.append(soak(runtime_dsn, quick))
    if progress is not None:
        progress(len(STEPS), len(STEPS), "done")
    return {"suite": "isokron", "quick": quick, "gc": "frozen after imports",
            "benchmarks": results, "pass": all(r["pass"] for r in results)}


def run_suite(*, quick: bool = False, dsn: str | None = None, runtime_dsn: str | None = None,
              sweeper_dsn: str | None = None, progress: Progress | None = None
              ) -> dict[str, Any]:
    """Run the side-by-side suite on an embedded server (or ``dsn``) and return its JSON;
    ``progress(done, total, step)`` as each of :data:`STEPS` starts."""
    try:
        import agents  # noqa: F401
        import langgraph.store.postgres  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            f"the benchmark suite needs its peers: {install_command('bench')} ({exc.name} "
            "is missing)") from None
    if dsn is not None:
        return _run(dsn, runtime_dsn or dsn, sweeper_dsn or dsn, quick, progress)
    if progress is not None:
        progress(0, len(STEPS), "starting the embedded server, filling it")
    with EmbeddedPostgres(durable=True) as pg:
        return _run(pg.dsn, pg.runtime_dsn, pg.sweeper_dsn, quick, progress)
