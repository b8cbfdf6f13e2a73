"""OpenTelemetry spans and metrics (extra ``otel``: ``opentelemetry-api`` only).

Without ``opentelemetry`` installed nothing here imports it and every helper is a no-op.
With it, isokron asks the global tracer and meter providers (whatever the application
configured; the API's defaults record nothing) for:

- a span per hook (``isokron.warm``, ``isokron.prefetch``, ``isokron.sync_turn``, …), per
  tool call (``isokron.tool``) and per store call (``isokron.memory.search``,
  ``isokron.sessions.append_messages``, …) with the workspace (``isokron.workspace.id``),
  the round trips the call made (``isokron.db.round_trips``), the rows it returned
  (``isokron.rows``) and, for warm-ups, ``isokron.cache.hit``; memory calls carry the
  GenAI semantic conventions' memory attributes (``gen_ai.operation.name`` such as
  ``search_memory``, ``gen_ai.memory.store.id``, ``gen_ai.memory.record.id``,
  ``gen_ai.memory.record.count``), tool calls ``execute_tool`` and ``gen_ai.tool.name``;
- metrics: ``isokron.warm.duration`` (histogram, s), ``isokron.cache.requests`` (counter,
  ``isokron.cache.hit`` true/false) and ``isokron.cache.hit_ratio`` (gauge),
  ``isokron.outbox.depth`` (gauge), ``isokron.outbox.dropped``,
  ``isokron.outbox.dead_lettered`` and ``isokron.outbox.lost`` (counters; lost = every
  write that did not land), ``isokron.breaker.state`` (gauge: 0 closed, 1 half-open, 2
  open).

Memory content, message text, queries and tool arguments are never recorded unless
``otel_capture_content: true`` (then ``gen_ai.memory.query.text``,
``gen_ai.memory.records``, ``gen_ai.tool.call.arguments``/``result``), and even then
every captured value passes through the one redactor (:mod:`isokron.guard.redact`) first.
``isokron.user.id`` is a short SHA-256 prefix (``sha256:…``) unless content capture is on;
``gen_ai.tool.name`` is one of isokron's own tool names or ``unknown``. An error sets the
span's status and ``error.type`` (the exception's class), never its message, which may
quote input.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import importlib.util
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, ParamSpec, Protocol, TypeVar

from .guard.redact import scrub_json, scrub_text

__all__ = ["UNKNOWN", "Annotate", "Observed", "Span", "carried", "count_query", "enabled", "hook",
           "known_name", "pseudonym", "register", "set_capture_content", "span", "sync_span",
           "traced", "tracing"]

#: what a name outside the known set is exported as
UNKNOWN = "unknown"



class Observed(Protocol):
    """What the metrics read from a registered core (its outbox and breaker)."""

    def observed(self) -> dict[str, Any]:
        """Return ``dsn`` (redacted), ``depth``, ``dropped``, ``dead_lettered`` and
        ``breaker`` (``closed``, ``half_open`` or ``open``)."""
        ...


P = ParamSpec("P")
T = TypeVar("T")

#: one counter per open span of this task: a query adds one to each
_TRIPS: contextvars.ContextVar[tuple[list[int], ...]] = contextvars.ContextVar(
    "isokron_round_trips", default=())
_capture = False
_state: _Telemetry | None = None
_lock = threading.Lock()
_available: bool | None = None


def enabled() -> bool:
    """True when ``opentelemetry`` is importable (checked once, nothing imported)."""
    global _available
    if _available is None:
        try:
            _available = importlib.util.find_spec("opentelemetry") is not None
        except (ImportError, ValueError):  # blocked (sys.modules entry None) or broken
            _available = False
    return _available


def set_capture_content(capture: bool) -> None:
    """Record memory content, queries and tool arguments on spans (process-wide)."""
    global _capture
    _capture = bool(capture)


def known_name(value: Any, known: Collection[str]) -> str:
    """``value`` when it is one of ``known``, else ``unknown`` (a span never carries
    whatever a caller or a model sent as a name)."""
    return value if isinstance(value, str) and value in known else UNKNOWN


def pseudonym(value: Any) -> str | None:
    """An id as a span may carry it: in clear with content capture on, else a short stable
    SHA-256 prefix (``sha256:`` and 16 hex digits), so an e-mail address is never exported."""
    if value is None:
        return None
    text = str(value)
    if _capture:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class _Telemetry:
    """The tracer, the meter and the instruments (made on first use)."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        from ._version import __version__

        self.trace = trace
        self.tracer = trace.get_tracer("isokron", __version__)
        meter = metrics.get_meter("isokron", __version__)
        self.warm_duration = meter.create_histogram(
            "isokron.warm.duration", unit="s",
            description="time to read and verify a workspace's identity (cache misses)")
        self.kernels: weakref.WeakSet[Observed] = weakref.WeakSet()
        self.hits = 0
        self.misses = 0
        # Hits are the no-I/O hot path: counted as plain integers, reported when read.
        meter.create_observable_counter(
            "isokron.cache.requests", callbacks=[self._requests],
            description="identity requests, by isokron.cache.hit")
        meter.create_observable_gauge(
            "isokron.cache.hit_ratio", callbacks=[self._hit_ratio],
            description="share of identity requests served from the cache")
        meter.create_observable_gauge(
            "isokron.outbox.depth", callbacks=[self._observe("depth")],
            description="writes queued and not yet delivered")
        meter.create_observable_counter(
            "isokron.outbox.dropped", callbacks=[self._observe("dropped")],
            description="writes dropped (outbox full, or after their last attempt)")
        meter.create_observable_counter(
            "isokron.outbox.dead_lettered", callbacks=[self._observe("dead_lettered")],
            description="writes moved to the dead-letter list")
        meter.create_observable_counter(
            "isokron.outbox.lost", callbacks=[self._observe("lost")],
            description="writes that did not land: dead-lettered, dropped when full, or "
                        "still queued at shutdown (what close() reports)")
        meter.create_observable_gauge(
            "isokron.breaker.state", callbacks=[self._observe("breaker")],
            description="the circuit breaker: 0 closed, 1 half-open, 2 open")

    def _requests(self, options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        yield Observation(self.hits, {"isokron.cache.hit": True})
        yield Observation(self.misses, {"isokron.cache.hit": False})

    def _hit_ratio(self, options: Any) -> Iterator[Any]:
        from opentelemetry.metrics import Observation

        total = self.hits + self.misses
        if total:
            yield Observation(self.hits / total)

    def _observe(self, what: str) -> Callable[[Any], Iterator[Any]]:
        from opentelemetry.metrics import Observation

        states = {"closed": 0, "half_open": 1, "open": 2}

        def observe(options: Any) -> Iterator[Any]:
            for kron in list(self.kernels):
                seen = kron.observed()
                value = states.get(seen["breaker"], 2) if what == "breaker" else seen[what]
                yield Observation(value, {"isokron.dsn": seen["dsn"]})

        return observe


def _telemetry() -> _Telemetry | None:
    global _state
    if not enabled():
        return None
    if _state is None:
        with _lock:
            if _state is None:
                _state = _Telemetry()
    return _state


def register(kron: Observed) -> None:
    """Report ``kron``'s outbox and breaker in the observable metrics."""
    tel = _telemetry()
    if tel is not None:
        tel.kernels.add(kron)


def record_warm(hit: bool, seconds: float | None = None) -> None:
    """Count an identity request (and time a miss)."""
    tel = _state if _state is not None else _telemetry()
    if tel is None:
        return
    if hit:
        tel.hits += 1
    else:
        tel.misses += 1
    if seconds is not None:
        tel.warm_duration.record(seconds)


def count_query(record: Any) -> None:
    """An asyncpg query logger: one round trip for every span open in the query's task."""
    for counter in _TRIPS.get():
        counter[0] += 1


class Span:
    """What instrumented code may add to its span."""

    __slots__ = ("_span", "trips")

    def __init__(self, span: Any, trips: list[int]) -> None:
        self._span = span
        self.trips = trips

    def set(self, key: str, value: Any) -> None:
        """Set an attribute (never content: use :meth:`content`)."""
        if self._span is not None and value is not None:
            self._span.set_attribute(key, value)

    def content(self, key: str, value: Any) -> None:
        """Set a content attribute, only when ``otel_capture_content`` is on, and only
        after the one redactor has scrubbed it (a string, or every string of a JSON value)."""
        if self._span is None or not _capture or value is None:
            return
        where = f"the span attribute {key}"
        if isinstance(value, str):
            value = scrub_text(value, where)
        elif not isinstance(value, int | float | bool):
            value = json.dumps(scrub_json(value, where), default=str, ensure_ascii=False)
            value = scrub_text(value, where)  # default=str may have rendered an object
        self._span.set_attribute(key, value)

    def rows(self, result: Any) -> None:
        """Record how many rows a result holds (a list's length)."""
        if self._span is not None and isinstance(result, list | tuple):
            self._span.set_attribute("isokron.rows", len(result))


_NOOP = Span(None, [0])


def tracing() -> bool:
    """True when spans go somewhere: OpenTelemetry is importable and a tracer provider is
    installed (not the API's proxy or no-op one, whose spans would only cost time)."""
    tel = _telemetry()
    if tel is None:
        return False
    provider = tel.trace.get_tracer_provider()
    return not isinstance(provider, tel.trace.ProxyTracerProvider
                          | tel.trace.NoOpTracerProvider)


def _start(name: str, attributes: dict[str, Any]) -> tuple[Any, Any]:
    tel = _telemetry()
    if tel is None or not tracing():
        return None, None
    manager = tel.tracer.start_as_current_span(
        name, attributes={k: v for k, v in attributes.items() if v is not None},
        record_exception=False, set_status_on_exception=False)
    return manager, manager.__enter__()


def _fail(otel_span: Any, exc: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    otel_span.set_attribute("error.type", type(exc).__name__)
    otel_span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


@asynccontextmanager
async def span(name: str, **attributes: Any) -> AsyncIterator[Span]:
    """An async span (round trips counted); a no-op without OpenTelemetry."""
    manager, otel_span = _start(name, attributes)
    if manager is None:
        yield _NOOP
        return
    trips = [0]
    token = _TRIPS.set((*_TRIPS.get(), trips))
    handle = Span(otel_span, trips)
    try:
        yield handle
        if otel_span.is_recording():
            await asyncio.sleep(0)  # asyncpg reports a query with call_soon: let it land
    except BaseException as exc:
        _fail(otel_span, exc)
        raise
    finally:
        if otel_span.is_recording():
            otel_span.set_attribute("isokron.db.round_trips", trips[0])
        _TRIPS.reset(token)
        manager.__exit__(None, None, None)


@contextmanager
def sync_span(name: str, **attributes: Any) -> Iterator[Span]:
    """A span for sync code (the provider's hooks); a no-op without OpenTelemetry."""
    manager, otel_span = _start(name, attributes)
    if manager is None:
        yield _NOOP
        return
    try:
        yield Span(otel_span, [0])
    except BaseException as exc:
        _fail(otel_span, exc)
        raise
    finally:
        manager.__exit__(None, None, None)


Annotate = Callable[[Span, tuple[Any, ...], dict[str, Any], Any], None]


def traced(name: str, *, operation: str | None = None, annotate: Annotate | None = None,
           ) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Decorate a store method: a span named ``name`` with the workspace (its first
    argument, or a RequestContext's tenant and user) and the rows it returns;
    ``annotate(span, args, kwargs, result)`` adds the call's own attributes."""

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            if not tracing():
                return await fn(*args, **kwargs)
            first = args[1] if len(args) > 1 else None
            attributes: dict[str, Any] = {}
            if isinstance(first, str):
                attributes["isokron.workspace.id"] = first
            elif hasattr(first, "tenant_id"):
                attributes["isokron.tenant.id"] = first.tenant_id
                attributes["isokron.user.id"] = pseudonym(getattr(first, "user_id", None))
            if operation is not None:
                attributes["gen_ai.operation.name"] = operation
            async with span(name, **attributes) as handle:
                result = await fn(*args, **kwargs)
                handle.rows(result)
                if annotate is not None:
                    annotate(handle, args, kwargs, result)
                return result

        return wrapper

    return decorate


def hook(name: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a provider hook (sync): a span ``isokron.hook.<name>`` with the session
    (``gen_ai.conversation.id``) and the workspace the provider is bound to."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            if not tracing():
                return fn(*args, **kwargs)
            provider = args[0] if args else None
            with sync_span(f"isokron.hook.{name}", **{
                    "gen_ai.conversation.id": getattr(provider, "session_id", None) or None,
                    "isokron.workspace.id": getattr(provider, "_workspace_id", None)}):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


def carried(coro: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
    """Run ``coro`` (on another thread's loop) under the caller's span context."""
    if not tracing():
        return coro
    from opentelemetry import context as otel_context

    captured = otel_context.get_current()

    async def run() -> T:
        token = otel_context.attach(captured)
        try:
            return await coro
        finally:
            otel_context.detach(token)

    return run()


def now() -> float:
    """A monotonic clock for durations."""
    return time.perf_counter()
