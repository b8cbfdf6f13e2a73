"""Share the helpers every reader uses: LIKE escaping, limits, workspace ids."""

from __future__ import annotations

from ..errors import InvalidInputError


def escape_like(value: str) -> str:
    r"""Escape LIKE wildcards (``%``, ``_``) and the escape char ``\`` in ``value``."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_limit(limit: int, name: str = "limit") -> int:
    """Return ``limit`` if it is a positive int, else raise InvalidInputError naming it."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {limit!r}")
    return limit


def check_workspace(workspace_id: str) -> str:
    """Return ``workspace_id`` if it is a non-empty string, else raise InvalidInputError."""
    if not isinstance(workspace_id, str) or not workspace_id.strip():
        raise InvalidInputError(f"workspace_id must be a non-empty string, got {workspace_id!r}")
    from ..limits import MAX_ID_CHARS, check_free_text

    return check_free_text(workspace_id, "workspace_id", max_chars=MAX_ID_CHARS)
