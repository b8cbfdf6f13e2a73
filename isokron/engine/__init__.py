"""The engine: :class:`~isokron.engine.core.AsyncIsoKron` and the parts it composes (the
context cache and warm-up, the outbox and its write jobs, the tools, the prompt and
recall renderers, the breaker, the shared event-loop thread). Public names are
re-exported by :mod:`isokron`."""

__all__: list[str] = []
