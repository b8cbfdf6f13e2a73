"""Plug isokron into agent frameworks: one module per framework, each behind its extra."""

__all__: list[str] = []
