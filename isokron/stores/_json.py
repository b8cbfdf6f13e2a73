"""Turn the JSON documents isokron's SQL functions return into rows for ``from_row``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

__all__ = ["json_rows", "timestamps"]

_TIME_KEYS = frozenset({"created_at", "updated_at", "expires_at", "last_heartbeat", "deadline",
                        "recorded_at", "retracted_at", "valid_from", "valid_to",
                        "last_seen_at", "superseded_at", "erased_at"})


def timestamps(row: dict[str, Any]) -> dict[str, Any]:
    """Return ``row`` with its ISO timestamp strings parsed (JSON has no timestamp type)."""
    return {key: datetime.fromisoformat(value) if key in _TIME_KEYS and isinstance(value, str)
            else value for key, value in row.items()}


def json_rows(text: str | None) -> list[dict[str, Any]]:
    """Decode a JSON array of row objects (``None`` -> no rows)."""
    return [] if text is None else [timestamps(r) for r in json.loads(text)]
