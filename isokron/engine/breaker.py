"""A circuit breaker per DSN: fail fast while the database is unreachable.

``failures`` consecutive connection-level failures (see
:func:`isokron.pool.is_connection_failure`; client errors and statement timeouts do not
count) open the breaker for ``open_seconds``. While it is open, callers are refused at
once; after that one caller is let through as a probe (half-open): its success closes
the breaker, its failure opens it again for another ``open_seconds``.

Breakers are shared per DSN within a process (:func:`breaker_for`), so every provider on
one database sees the same state. Thread-safe: the sync facade reads it from the agent
loop's thread while the core updates it on the loop thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from ..errors import SubstrateUnavailableError

__all__ = ["CircuitBreaker", "breaker_for"]

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Count consecutive connection failures; refuse calls while open."""

    def __init__(self, *, failures: int = 3, open_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, name: str = "") -> None:
        if failures < 0:
            raise ValueError(f"failures must be >= 0 (0 disables the breaker), got {failures!r}")
        if open_seconds < 0:
            raise ValueError(f"open_seconds must be >= 0, got {open_seconds!r}")
        self.failures = failures
        self.open_seconds = open_seconds
        self.clock = clock
        self.name = name
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened = 0  # how many times it opened

    @property
    def state(self) -> State:
        """The state now (an open breaker past its time reports half_open)."""
        with self._lock:
            if self._state == "open" and self.clock() - self._opened_at >= self.open_seconds:
                return "half_open"
            return self._state

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        with self._lock:
            if self._state != "open":
                return 0.0
            return max(0.0, self.open_seconds - (self.clock() - self._opened_at))

    def allow(self) -> bool:
        """Tell whether a call may go to the database now (claims the probe when half-open)."""
        if self.failures == 0:
            return True
        with self._lock:
            if self._state == "closed":
                return True
            if self._state == "open":
                if self.clock() - self._opened_at < self.open_seconds:
                    return False
                self._state = "half_open"
                self._probing = False
            if self._probing:
                return False
            self._probing = True
            return True

    def check(self, what: str) -> None:
        """Raise SubstrateUnavailableError at once unless :meth:`allow` lets the call through."""
        if not self.allow():
            raise SubstrateUnavailableError(
                f"{what}: the database at {self.name or 'this DSN'} failed {self.failures} "
                f"times in a row; not trying again for {self.retry_in():.1f}s (circuit open)")

    def record_success(self) -> None:
        """A call reached the database: close the breaker."""
        with self._lock:
            self._consecutive = 0
            self._state = "closed"
            self._probing = False

    def record_failure(self) -> None:
        """A call failed at the connection level: count it; open at the threshold."""
        if self.failures == 0:
            return
        with self._lock:
            self._consecutive += 1
            if self._state == "half_open" or self._consecutive >= self.failures:
                if self._state != "open":
                    self.opened += 1
                self._state = "open"
                self._opened_at = self.clock()
                self._probing = False

    def release_probe(self) -> None:
        """A probe ended without telling (a client error): let the next caller probe."""
        with self._lock:
            self._probing = False

    def snapshot(self) -> dict[str, Any]:
        """The state for ``stats()``."""
        state = self.state
        return {"state": state, "consecutive_failures": self._consecutive,
                "retry_in_s": round(self.retry_in(), 3), "opened": self.opened}


_BREAKERS: dict[tuple[str, int, float], CircuitBreaker] = {}
_REGISTRY_LOCK = threading.Lock()


def breaker_for(dsn: str, *, failures: int, open_seconds: float,
                display: str = "") -> CircuitBreaker:
    """Return the process-wide breaker for ``dsn`` with these settings."""
    key = (dsn, failures, open_seconds)
    with _REGISTRY_LOCK:
        breaker = _BREAKERS.get(key)
        if breaker is None:
            breaker = _BREAKERS[key] = CircuitBreaker(
                failures=failures, open_seconds=open_seconds, name=display)
        return breaker
