"""Choose the memory provider named by ``memory.provider`` (entry points ``isokron.providers``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from .base import MemoryProvider
from .config import config_document, provider_name
from .errors import ConfigError
from .guard.settings import suggest_key

__all__ = ["ENTRY_POINT_GROUP", "available_providers", "load_provider"]

ENTRY_POINT_GROUP = "isokron.providers"


def available_providers() -> list[str]:
    """Return the names registered in the ``isokron.providers`` entry-point group."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_provider(source: str | os.PathLike[str] | Mapping[str, Any]) -> MemoryProvider:
    """Instantiate the provider that ``memory.provider`` names, passing it the config."""
    document = config_document(source)
    name = provider_name(document)
    if name is None:
        raise ConfigError("memory.provider is not set", key="memory.provider")
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        near = suggest_key(name, available_providers())
        raise ConfigError(
            f"unknown memory provider {name!r}"
            + (f" (did you mean {near!r}?)" if near else "")
            + f"; known: {', '.join(available_providers())}",
            key="memory.provider",
        )
    factory = matches[0].load()
    provider = factory(document)
    if not isinstance(provider, MemoryProvider):
        raise ConfigError(f"provider {name!r} is not a MemoryProvider", key="memory.provider")
    return provider
