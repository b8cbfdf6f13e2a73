"""Erasure with a receipt: everything isokron holds about one user of one workspace,
removed in one transaction, and the proof (issue 26).

The SQL is migration 0034: ``erase_user_v1`` (the operator, a member of
``isokron_sweeper``: any user), ``erase_self_v1`` (the runtime role: only the user of the
transaction's tenant context, signed when ``signed_context`` is on) and
``erase_verify_v1`` (the operator: the receipt chain is intact and nothing of the user
remains). Receipts hold no content and do not name the user (a salted SHA-256 of the id).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import attrs

from ..db.tenancy import tenant_scope
from ..guard.limits import MAX_ID_CHARS
from ..guard.validate import check_text, check_uuid, check_workspace
from ..pool import DB, acquire, translate_errors
from ._json import timestamps
from .sessions import RequestContext

__all__ = ["ErasureCheck", "ErasureReceipt", "erase_user", "erase_self", "verify_erasure"]


@attrs.frozen(kw_only=True)
class ErasureReceipt:
    """What one erasure removed: rows per table (``memory_audit_cleared``: audit rows whose
    content hash was cleared), when, by whom, and the hash chaining it to the receipt
    before (``prev_hash``, None for the first)."""

    id: str
    seq: int
    workspace_id: str
    counts: dict[str, int]
    operator: str
    erased_at: datetime
    hash: str
    prev_hash: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ErasureReceipt:
        """Build from the JSON the erase functions return."""
        doc = timestamps(doc)
        return cls(id=str(doc["id"]), seq=int(doc["seq"]), workspace_id=doc["workspace_id"],
                   counts={k: int(v) for k, v in doc["counts"].items()},
                   operator=doc["operator"], erased_at=doc["erased_at"], hash=doc["hash"],
                   prev_hash=doc.get("prev_hash"))

    def as_json(self) -> dict[str, Any]:
        """The receipt as JSON-ready values (what ``isokron erase`` prints)."""
        return {**attrs.asdict(self), "erased_at": self.erased_at.isoformat()}


@attrs.frozen(kw_only=True)
class ErasureCheck:
    """What :func:`verify_erasure` found: ``clean`` when the receipt chain up to this
    receipt is intact and no row of the user (or of a removed id) remains; ``remains``
    counts what does, per table; ``broken_at`` is the first receipt whose hash or link
    does not hold."""

    receipt: ErasureReceipt
    chain_intact: bool
    remains: dict[str, int]
    clean: bool
    broken_at: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The check as JSON-ready values (what ``isokron erase --verify`` prints)."""
        return {"receipt": self.receipt.as_json(), "chain_intact": self.chain_intact,
                "broken_at": self.broken_at, "remains": self.remains, "clean": self.clean}


def _check_user(user_id: str) -> None:
    check_text(user_id, "user_id", max_len=MAX_ID_CHARS)


async def erase_user(db: DB, workspace_id: str, user_id: str) -> ErasureReceipt:
    """Operator: erase everything isokron holds about ``user_id`` of ``workspace_id`` (its
    sessions and messages, the episodes of those sessions, the memories written on its
    behalf, the content hashes of their audit rows, its recall statistics and quota
    counters) in one transaction, and return the receipt. Run as a member of
    ``isokron_sweeper``; a user with nothing stored still gets a receipt (all counts 0)."""
    check_workspace(workspace_id)
    _check_user(user_id)
    async with translate_errors("erasing a user"), acquire(db) as conn:
        text = await conn.fetchval("SELECT isokron.erase_user_v1($1, $2)::text",
                                   workspace_id, user_id)
    return ErasureReceipt.from_doc(json.loads(text))


async def erase_self(db: DB, ctx: RequestContext) -> ErasureReceipt:
    """The runtime's erasure of the user ``ctx`` names, in its tenant (as
    :func:`erase_user`); the database takes both from the transaction's context (the signed
    token, when there is one), so no caller can erase another user this way."""
    async with tenant_scope(db, ctx.tenant_id, ctx.user_id, "erasing a user",
                            token=ctx.token) as conn:
        text = await conn.fetchval("SELECT isokron.erase_self_v1()::text")
    return ErasureReceipt.from_doc(json.loads(text))


async def verify_erasure(db: DB, receipt_id: str | uuid.UUID) -> ErasureCheck:
    """Operator: prove a receipt from the database (NotFoundError for an unknown one)."""
    receipt = check_uuid(receipt_id, "receipt")
    async with translate_errors("verifying an erasure"), acquire(db) as conn:
        text = await conn.fetchval("SELECT isokron.erase_verify_v1($1)::text", receipt)
    doc = json.loads(text)
    return ErasureCheck(receipt=ErasureReceipt.from_doc(doc),
                        chain_intact=bool(doc["chain_intact"]),
                        remains={k: int(v) for k, v in doc["remains"].items()},
                        clean=bool(doc["clean"]), broken_at=doc["broken_at"])
