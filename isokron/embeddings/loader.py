"""The :class:`Embedder` protocol and :func:`load_embedder`.

An embedder turns texts into vectors: ``dims`` and ``model_id`` describe it (vectors of
different models are never compared), ``embed_documents`` embeds stored texts in batches
and ``embed_query`` a question (asymmetric models such as e5 embed the two differently).

``load_embedder`` takes an import path ``"module:attr"`` (an embedder, or a zero-argument
factory returning one) or a mapping for any OpenAI-compatible ``/v1/embeddings`` server:
``{provider: openai, model, base_url, dims, api_key_env}`` (and optionally
``batch_size``, ``timeout_s``, ``query_input_type``, ``document_input_type``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigError
from ..guard.settings import unknown_keys_error
from .openai import OpenAICompatibleEmbedder

__all__ = ["Embedder", "load_embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Embed texts as ``dims``-dimensional vectors of model ``model_id``."""

    dims: int
    model_id: str

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one vector per text, in order."""
        ...

    async def embed_query(self, text: str) -> list[float]:
        """Return the vector of a query."""
        ...


def _checked(found: Any, where: str) -> Embedder:
    problems = []
    dims = getattr(found, "dims", None)
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        problems.append(f"dims must be a positive integer (got {dims!r})")
    model_id = getattr(found, "model_id", None)
    if not isinstance(model_id, str) or not model_id:
        problems.append(f"model_id must be a non-empty string (got {model_id!r})")
    for method in ("embed_documents", "embed_query"):
        if not inspect.iscoroutinefunction(getattr(found, method, None)):
            problems.append(f"{method} must be an async method")
    if problems:
        raise ConfigError(f"embedder {where}: " + "; ".join(problems), key="embedder")
    return found  # type: ignore[no-any-return]


def _from_path(path: str) -> Embedder:
    module_name, colon, attr = path.partition(":")
    if not colon or not module_name or not attr:
        raise ConfigError(f"embedder must be 'module:attr', got {path!r}", key="embedder")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"embedder {path!r}: cannot import {module_name!r} ({exc})",
                          key="embedder") from None
    try:
        found = getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"embedder {path!r}: {module_name} has no {attr!r}",
                          key="embedder") from None
    if isinstance(found, type) or (not hasattr(found, "embed_documents") and callable(found)):
        try:
            found = found()
        except Exception as exc:
            raise ConfigError(f"embedder {path!r}: the factory failed: "
                              f"{type(exc).__name__}: {exc}", key="embedder") from None
    return _checked(found, repr(path))


def load_embedder(spec: str | Mapping[str, Any] | Embedder) -> Embedder:
    """Return the embedder ``spec`` names; a :class:`ConfigError` naming the problem else."""
    if isinstance(spec, str):
        return _from_path(spec)
    if isinstance(spec, Mapping):
        provider = spec.get("provider")
        if provider != "openai":
            raise ConfigError(f"embedder provider must be 'openai', got {provider!r}",
                              key="embedder")
        known = {"provider", "model", "base_url", "dims", "api_key_env", "batch_size",
                 "timeout_s", "query_input_type", "document_input_type"}
        if set(spec) - known:
            raise unknown_keys_error(set(spec) - known, known, what="embedder key",
                                     key_prefix="embedder.")
        return OpenAICompatibleEmbedder(
            model=spec.get("model"), base_url=spec.get("base_url"), dims=spec.get("dims"),
            api_key_env=spec.get("api_key_env"), batch_size=spec.get("batch_size", 64),
            timeout_s=spec.get("timeout_s", 10.0),
            query_input_type=spec.get("query_input_type"),
            document_input_type=spec.get("document_input_type"))
    return _checked(spec, type(spec).__name__)
