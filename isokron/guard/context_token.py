"""Sign a transaction's tenant context so that a hijacked connection cannot forge it.

With a context key installed in the database (``isokron context-key set``), row-level
security reads only what a token in the ``isokron.context_token`` setting says: who the
workspace, tenant and user are, and until when. The token is a compact JWT signed with
HMAC-SHA256 (``alg: HS256``), so a gateway in front of isokron can mint one with any JWT
library and hand it to a process that never holds the key (``RequestContext(token=…)``).
PostgreSQL verifies it (``isokron.context_claims_v1()``) with a key the runtime role
cannot read.

Claims: ``wsp`` (workspace), ``tnt`` (tenant), ``sub`` (user), ``exp`` (expiry, seconds
since the epoch). The header carries ``kid``: the key's fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from cachetools import TTLCache

from ..errors import ConfigError, InvalidInputError

__all__ = [
    "CLAIM_OF_SETTING",
    "MAX_TTL_S",
    "MIN_KEY_CHARS",
    "ContextSigner",
    "hmac_pads",
    "key_fingerprint",
    "mint_context_token",
    "token_claims",
]

#: the longest a token may be valid (isokron.context_claims_v1 refuses a longer one)
MAX_TTL_S = 86400
#: the shortest key accepted (HMAC-SHA256's strength needs at least 32 bytes of entropy)
MIN_KEY_CHARS = 32
#: the plain setting each claim replaces
CLAIM_OF_SETTING = {"app.current_workspace_id": "wsp", "app.current_tenant_id": "tnt",
                    "app.current_user_id": "sub"}


def _key_bytes(key: str | bytes) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_CHARS:
        raise ConfigError(f"a context signing key needs at least {MIN_KEY_CHARS} bytes, got "
                          f"{len(raw)} (generate one: python -c 'import secrets; "
                          f"print(secrets.token_urlsafe(48))')")
    return raw


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_fingerprint(key: str | bytes) -> str:
    """The key's public name: 16 hex digits of sha256(sha256(key)) (reveals nothing)."""
    return hashlib.sha256(hashlib.sha256(_key_bytes(key)).digest()).hexdigest()[:16]


def hmac_pads(key: str | bytes) -> tuple[bytes, bytes]:
    """The two 64-byte HMAC-SHA256 pads of ``key`` (RFC 2104), what the database stores."""
    raw = _key_bytes(key)
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw)


def mint_context_token(
    key: str | bytes,
    *,
    workspace_id: str | None = None,
    tenant_id: str | None = None,
    user_id: str | None = None,
    ttl_s: float = 300.0,
    now: float | None = None,
) -> str:
    """A signed context token for a workspace and/or a tenant's user, valid ``ttl_s``."""
    if not 0 < ttl_s <= MAX_TTL_S:
        raise InvalidInputError(f"ttl_s must be 0..{MAX_TTL_S} seconds (the database refuses "
                                f"a token valid for longer), got {ttl_s!r}")
    header = {"alg": "HS256", "typ": "JWT", "kid": key_fingerprint(key)}
    claims: dict[str, Any] = {k: v for k, v in (("wsp", workspace_id), ("tnt", tenant_id),
                                                 ("sub", user_id)) if v is not None}
    claims["exp"] = int((time.time() if now is None else now) + ttl_s)
    signed = (_b64(json.dumps(header, separators=(",", ":")).encode()) + "."
              + _b64(json.dumps(claims, separators=(",", ":")).encode()))
    signature = hmac.new(_key_bytes(key), signed.encode("ascii"), hashlib.sha256).digest()
    return signed + "." + _b64(signature)


def token_claims(token: str) -> dict[str, Any]:
    """Read a token's claims WITHOUT verifying it (PostgreSQL verifies): to check that a
    gateway's token names the tenant and user a caller says it does."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise InvalidInputError("a context token is a compact JWT (three dot-separated parts)")
    try:
        body = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(body)
    except ValueError:
        raise InvalidInputError("a context token's claims are not base64url JSON") from None
    if not isinstance(claims, dict):
        raise InvalidInputError("a context token's claims are not a JSON object")
    return claims


class ContextSigner:
    """Turn a transaction's settings into a signed token, reused while it has more than half
    of its lifetime left (one HMAC per scope and half-lifetime, not per transaction)."""

    def __init__(self, key: str | bytes, *, ttl_s: float = 300.0) -> None:
        if not 10 <= ttl_s <= MAX_TTL_S:
            raise ConfigError(f"context_token_ttl_s must be 10..{MAX_TTL_S} seconds (the "
                              f"database refuses a token valid for longer), got {ttl_s!r}")
        self._key = _key_bytes(key)
        self.ttl_s = float(ttl_s)
        self.fingerprint = key_fingerprint(self._key)
        self._tokens: TTLCache[tuple[str | None, ...], str] = TTLCache(
            maxsize=4096, ttl=self.ttl_s / 2)

    def __repr__(self) -> str:  # never the key
        return f"ContextSigner(fingerprint={self.fingerprint!r}, ttl_s={self.ttl_s:g})"

    def token_for(self, settings: Mapping[str, str]) -> str:
        """The token standing for ``settings`` (the plain ``app.current_*`` names)."""
        unknown = set(settings) - set(CLAIM_OF_SETTING)
        if unknown:
            raise InvalidInputError(f"cannot sign settings {sorted(unknown)}")
        scope = tuple(settings.get(name) for name in CLAIM_OF_SETTING)
        token = self._tokens.get(scope)
        if token is None:
            token = mint_context_token(self._key, workspace_id=scope[0], tenant_id=scope[1],
                                       user_id=scope[2], ttl_s=self.ttl_s)
            self._tokens[scope] = token
        return token
