"""How far a replica's replay is behind the primary, measured on the primary.

A replica's own clock and its ``pg_last_xact_replay_timestamp()`` say nothing about the
primary: a copy that is not replaying, or a standby whose WAL receiver stopped, reports
no lag at all. So the primary's WAL position is sampled *on the primary*, with the
primary's clock (``pg_current_wal_lsn()``, ``clock_timestamp()``), and a replica's
replayed position is placed on that history: the primary was last known at or before the
replayed position at sample time ``t``, so everything the replica lacks was written after
``t`` and the replica is at most ``newest sample time - t`` behind (an upper bound: the
primary passed the position somewhere between that sample and the next one).

A position older than every sample kept is "unknown" (``None``): a router treats it as
not fresh. Pure logic, no I/O: :class:`isokron.db.replicas.ReplicaRouter` feeds it.
"""

from __future__ import annotations

from collections import deque

__all__ = ["PrimaryHistory", "lsn_value"]


def lsn_value(text: str | None) -> int:
    """A WAL position ``X/Y`` as a number (0 for None)."""
    if not text:
        return 0
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


class PrimaryHistory:
    """A short history of (primary WAL position, primary time) samples.

    ``keep_s``: how much primary time the history spans (one sample older than that is
    kept as the boundary, so a position behind the window is known to be at least
    ``keep_s`` behind). ``maxlen`` bounds memory whatever the sampling rate.
    """

    def __init__(self, keep_s: float, *, maxlen: int = 512) -> None:
        self.keep_s = keep_s
        self.samples: deque[tuple[int, float]] = deque(maxlen=maxlen)

    def add(self, lsn: int, at: float) -> None:
        """Record that the primary was at ``lsn`` at its time ``at`` (epoch seconds)."""
        samples = self.samples
        if samples and lsn < samples[-1][0]:
            samples.clear()  # the position went back: another primary (failover, restore)
        if samples:
            at = max(at, samples[-1][1])  # the primary's clock stepped back: keep order
            if samples[-1][0] == lsn:
                samples.pop()  # same position: only its newest time matters
        samples.append((lsn, at))
        newest = samples[-1][1]
        while len(samples) >= 2 and samples[1][1] <= newest - self.keep_s:
            samples.popleft()

    def lag(self, replayed: int) -> float | None:
        """Seconds (primary time) ``replayed`` is at most behind the newest sample: 0 at or
        past it; None with no sample, or when ``replayed`` is older than every sample."""
        if not self.samples:
            return None
        newest_lsn, newest_at = self.samples[-1]
        if replayed >= newest_lsn:
            return 0.0
        for lsn, at in reversed(self.samples):
            if lsn <= replayed:
                return newest_at - at
        return None

    def span(self) -> float:
        """Primary time between the oldest and the newest sample (0 without two)."""
        if len(self.samples) < 2:
            return 0.0
        return self.samples[-1][1] - self.samples[0][1]
