"""Measure redaction of a 10 KB message: plain prose, and prose with secrets."""

from __future__ import annotations

import statistics
import time
from typing import Any

from ._measure import percentile

__all__ = ["run_redact_bench"]


def run_redact_bench(*, size: int = 10_000, rounds: int = 2_000) -> dict[str, Any]:
    """Time redaction of a ``size``-character message: plain prose, and prose with secrets."""
    from ...guard.redact import redact_secrets

    prose = ("The deploy freezes on Fridays; ask the on-call engineer before merging. "
             "PR 312 fixed the flaky billing test and the key rotation runbook. ")
    plain = (prose * (size // len(prose) + 1))[:size]
    secrets_line = (" sk-live-4eC39HqLyjWDarjtT1zdp7dc DB_PASS=s3cr3t password: hunter2 "
                    "xoxb-123456789012-1234567890123-AbCdEfGhIjKl ")
    mixed = (plain[: size // 2] + secrets_line + plain)[:size]
    result: dict[str, Any] = {"benchmark": "redact", "chars": size, "target_ms": 1.0}
    passed = True
    for name, text in (("prose", plain), ("with_secrets", mixed)):
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            redact_secrets(text)
            timings.append((time.perf_counter() - started) * 1000)
        p50, p99 = statistics.median(timings), percentile(timings, 0.99)
        passed = passed and p50 < 1.0
        result[name] = {"p50_ms": round(p50, 4), "p99_ms": round(p99, 4),
                        "labels": sorted(set(redact_secrets(text)[1]))}
    result["pass"] = passed
    return result
