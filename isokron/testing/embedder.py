"""A deterministic embedder for tests and examples: no model, no network.

Each word (lower-cased, with a crude English suffix stripped, so "went" and "go" stay
apart but "dogs" and "dog" meet) is hashed onto a few of ``dims`` dimensions with signs;
a text's vector is the normalised sum. Texts that share words are close, texts that share
none are nearly orthogonal: enough to test hybrid recall, never a model of meaning.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"[^\W_]+")
_SUFFIX = re.compile(r"(?:ing|ed|es|s)$")


def _stem(word: str) -> str:
    return _SUFFIX.sub("", word) if len(word) > 4 else word


class HashingEmbedder:
    """Embed by hashing words; ``calls`` counts ``embed_documents`` calls and ``fail``
    makes every call raise (to test the fallbacks)."""

    def __init__(self, dims: int = 64, *, model_id: str = "test:hashing") -> None:
        self.dims = dims
        self.model_id = model_id
        self.calls = 0
        self.batches: list[int] = []
        self.fail = False

    def vector(self, text: str) -> list[float]:
        """The vector of ``text`` (all zeros but one dimension for a text of no word)."""
        out = [0.0] * self.dims
        for word in _WORD.findall(text.casefold()):
            digest = hashlib.blake2b(_stem(word).encode(), digest_size=8).digest()
            for n in range(3):
                index = int.from_bytes(digest[2 * n:2 * n + 2], "big") % self.dims
                out[index] += 1.0 if digest[6] >> n & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in out))
        if norm == 0:
            out[0] = 1.0
            return out
        return [v / norm for v in out]

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text."""
        self.calls += 1
        self.batches.append(len(texts))
        if self.fail:
            raise ConnectionError("the test embedder is set to fail")
        return [self.vector(t) for t in texts]

    async def embed_query(self, text: str) -> list[float]:
        """The query's vector (the same space as the documents')."""
        if self.fail:
            raise ConnectionError("the test embedder is set to fail")
        return self.vector(text)
