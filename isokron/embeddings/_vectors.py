"""Check what an embedder returned."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["check_vectors"]


def check_vectors(vectors: Any, count: int, dims: int, model_id: str) -> list[list[float]]:
    """Return ``vectors`` if it holds ``count`` finite vectors of ``dims`` numbers."""
    if not isinstance(vectors, list) or len(vectors) != count:
        raise ValueError(f"embedder {model_id} returned {type(vectors).__name__} of "
                         f"{len(vectors) if isinstance(vectors, list) else '?'} vectors for "
                         f"{count} texts")
    out = []
    for n, vector in enumerate(vectors):
        if not isinstance(vector, Sequence) or len(vector) != dims:
            got = len(vector) if isinstance(vector, Sequence) else type(vector).__name__
            raise ValueError(f"embedder {model_id}: vector {n} has {got} dimensions, not "
                             f"{dims}")
        values = [float(v) for v in vector]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"embedder {model_id}: vector {n} holds a non-finite number")
        out.append(values)
    return out
