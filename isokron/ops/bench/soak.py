"""The memory soak: RSS growth and outbox size over many turns through the sync facade."""

from __future__ import annotations

import contextlib
import gc
import os
from typing import Any

from ._measure import result

__all__ = ["soak"]


def _rss_bytes() -> int:
    with contextlib.suppress(OSError), open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    import resource  # not Linux: the peak is the best there is

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def soak(runtime_dsn: str, quick: bool) -> dict[str, Any]:
    """Turns through the sync facade: RSS after the first 1,000 vs the end; outbox bytes."""
    from ...provider import IsoKronMemoryProvider

    turns = 3_000 if quick else 10_000
    provider = IsoKronMemoryProvider({"dsn": runtime_dsn, "workspace_id": "org_bench"})
    provider.initialize("soak")
    peak_bytes = baseline = 0
    try:
        outbox = provider.core.outbox
        for n in range(1, turns + 1):
            provider.on_turn_start(n, f"question {n}")
            provider.system_prompt_block()
            provider.sync_turn(f"question {n} " + "q" * 500, f"answer {n} " + "a" * 1500,
                               session_id=f"soak-{n // 100}")
            peak_bytes = max(peak_bytes, outbox.queued_bytes)
            if n == 1000:
                gc.collect()
                baseline = _rss_bytes()
        from ...engine import loop

        loop.submit_and_wait(provider.core.flush(120), 130)
        gc.collect()
        grown = _rss_bytes() - baseline
        stats = outbox.stats
        figures = {"turns": turns, "rss_growth_mb": round(grown / 2**20, 2),
                   "outbox_peak_bytes": peak_bytes, "outbox_max_bytes": outbox.max_bytes,
                   "delivered": stats.delivered, "overflowed": stats.overflowed,
                   "failed": stats.failed}
    finally:
        provider.shutdown()
    ok = grown <= 20 * 2**20 and peak_bytes <= figures["outbox_max_bytes"]
    return result("memory_soak", figures, None, round(grown / 2**20, 2),
                  "RSS growth after the first 1,000 turns <= 20 MB; outbox <= outbox_max_bytes",
                  ok)
