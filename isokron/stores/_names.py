"""Namespace names and embeddings, checked the same way by every memory path."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..errors import InvalidInputError
from ..guard.validate import MAX_EMBEDDING_DIMS, MAX_NAME_CHARS, shown

__all__ = ["KEEP", "Keep", "NamespaceAccess", "check_names", "namespace_kind", "vector_text"]

_NAME = re.compile(r"^[a-z]+:[A-Za-z0-9_:.\-]+$")


@attrs.frozen(kw_only=True)
class NamespaceAccess:
    """Hold the namespaces a workspace may read and write."""

    workspace_id: str
    readable: tuple[str, ...]
    writable: tuple[str, ...]
    #: the root of the workspace's tree: the key every memory row of the tree is stored under
    root_id: str


def namespace_kind(name: str) -> str:
    prefix = name.split(":", 1)[0]
    return prefix if prefix in ("workspace", "team", "org") else "custom"


def check_names(names: Iterable[Any], what: str) -> list[str]:
    checked = []
    for name in names:
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _NAME.match(name):
            raise InvalidInputError(f"{what}: {shown(name)} is not a valid namespace name "
                                    f"(kind:name, at most {MAX_NAME_CHARS} characters)")
        checked.append(name)
    return checked


def vector_text(embedding: Sequence[float]) -> str:
    """Validate an embedding and render it as pgvector's text form."""
    if isinstance(embedding, str | bytes) or not isinstance(embedding, Sequence) or not embedding:
        raise InvalidInputError(f"embedding must be a non-empty sequence of numbers, got "
                                f"{shown(embedding)}")
    if len(embedding) > MAX_EMBEDDING_DIMS:
        raise InvalidInputError(f"embedding has {len(embedding):,} dimensions; the limit is "
                                f"{MAX_EMBEDDING_DIMS:,}")
    values = []
    for value in embedding:
        number_like = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_like or not math.isfinite(value):
            raise InvalidInputError(
                f"embedding values must be finite numbers, got {shown(value)}")
        values.append(repr(float(value)))
    if not any(float(v) for v in values):
        raise InvalidInputError("embedding must not be all zeros (a vector of norm zero has "
                                "no direction: its cosine distance is undefined)")
    return "[" + ",".join(values) + "]"


class Keep:
    """The type of :data:`KEEP` (an argument left out: keep the stored value)."""

    def __repr__(self) -> str:
        return "KEEP"


#: marks an argument of ``patch_namespace`` that was left out
KEEP = Keep()
