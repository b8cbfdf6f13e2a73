"""Pluggable embedders: :class:`Embedder` (the protocol), :func:`load_embedder` (an import
path ``"module:attr"`` or OpenAI-compatible settings) and the OpenAI-compatible client."""

from ._vectors import check_vectors
from .loader import Embedder, load_embedder
from .openai import OpenAICompatibleEmbedder

__all__ = ["Embedder", "OpenAICompatibleEmbedder", "check_vectors", "load_embedder"]
