"""The in-memory stand-in for :class:`~isokron.stores.NamespaceMemory` (no database).

It keeps the store's contract: the namespace ACL, redaction, duplicates collapsing onto
the live record (after the same normalisation), supersession, retraction of team and org
memories, the current / ``as_of`` / ``valid_at`` rule, and the lineage.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs

from ..errors import (
    DuplicateMemoryError,
    InvalidInputError,
    NotFoundError,
    NotOwnedError,
    SupersededError,
)
from ..guard.limits import MAX_MEMORY_CHARS, MAX_QUERY_CHARS, check_free_text
from ..guard.redact import scrub_text
from ..guard.validate import check_aware, check_validity, check_workspace
from ..models import MemoryRecord
from ..stores.memory import KINDS, SOURCES, Forgotten, NamespaceAccess, Superseded
from ..stores.memory_items import NamespaceItem

__all__ = ["InMemoryNamespaceMemory"]


class _Clock:
    """Strictly increasing timestamps, so ordering by time is deterministic."""

    def __init__(self) -> None:
        self._last = datetime.now(UTC)

    def __call__(self) -> datetime:
        now = datetime.now(UTC)
        self._last = max(now, self._last + timedelta(microseconds=1))
        return self._last


def _key(content: str) -> str:
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", content).lower()).strip()
    return hashlib.sha256(re.sub(r"[\W_\s]+$", "", text).encode()).hexdigest()


def _visible(r: MemoryRecord, tx: datetime, valid: datetime) -> bool:
    recorded = r.recorded_at or r.created_at
    end = r.valid_to
    return (recorded <= tx and (r.retracted_at is None or r.retracted_at > tx)
            and (r.valid_from or recorded) <= valid and (end is None or end > valid))


class InMemoryNamespaceMemory:
    """NamespaceMemory without a database (workspace tree given by ``add_workspace``)."""

    def __init__(self) -> None:
        self.parents: dict[str, str | None] = {}
        self.records: dict[tuple[str, str], MemoryRecord] = {}
        self._now = _Clock()

    def add_workspace(self, workspace_id: str, parent_id: str | None = None) -> None:
        """Register a workspace of the tree (as ``isokron.workspaces`` would)."""
        self.parents[workspace_id] = parent_id

    async def access(self, workspace_id: str) -> NamespaceAccess:
        """The same ACL as the database: workspace, team (parent or self), org (root)."""
        check_workspace(workspace_id)
        if workspace_id not in self.parents:
            raise NotFoundError(f"unknown workspace {workspace_id!r} (not in isokron.workspaces)")
        root, depth = workspace_id, 0
        while self.parents.get(root) is not None and depth < 50:
            root, depth = str(self.parents[root]), depth + 1
        parent = self.parents[workspace_id]
        team = f"team:{parent or workspace_id}"
        readable = (f"workspace:{workspace_id}", team, f"org:{root}")
        writable = (f"workspace:{workspace_id}", team) + (
            (f"org:{root}",) if parent is None else ())
        return NamespaceAccess(workspace_id=workspace_id, readable=readable, writable=writable,
                               root_id=root)

    def _live_same(self, namespace: str, content: str, *, other_than: str | None = None
                   ) -> MemoryRecord | None:
        key = _key(content)
        return next((r for (ns, i), r in self.records.items()
                     if ns == namespace and i != other_than and r.retracted_at is None
                     and r.superseded_by is None and _key(r.content) == key), None)

    async def commit(self, workspace_id: str, content: str, *, namespace: str | None = None,
                     kind: str = "fact", source: str = "agent",
                     expires_at: datetime | None = None, id: str | uuid.UUID | None = None,
                     pin: bool = False, embedding: Sequence[float] | None = None,
                     valid_from: datetime | None = None, valid_to: datetime | None = None,
                     user_id: str | None = None) -> MemoryRecord:
        """Store a memory (redacted); ``id=`` makes it an idempotent upsert; the same
        content as a live memory of the namespace returns that memory, seen once more."""
        check_workspace(workspace_id)
        check_free_text(content, "content", max_chars=MAX_MEMORY_CHARS)
        if kind not in KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if source not in SOURCES:
            raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
        if not isinstance(pin, bool):
            raise InvalidInputError(f"pin must be a bool, got {pin!r}")
        check_validity(valid_from, valid_to)
        target = namespace if namespace is not None else f"workspace:{workspace_id}"
        access = await self.access(workspace_id)
        if target not in access.writable:
            raise NotOwnedError(f"workspace {workspace_id!r} may not write namespace "
                                f"{target!r} (writable: {', '.join(access.writable)})")
        record_id = str(uuid.UUID(str(id))) if id is not None else str(uuid.uuid4())
        if any(i == record_id and ns != target for ns, i in self.records):
            raise NotOwnedError(f"memory {record_id} already exists in another namespace")
        stored = scrub_text(content, "a memory")
        previous = self.records.get((target, record_id))
        same = self._live_same(target, stored, other_than=record_id)
        now = self._now()
        if previous is None and same is not None:
            seen = attrs.evolve(same, seen_count=same.seen_count + 1, last_seen_at=now,
                                pin=same.pin or pin)
            self.records[(target, seen.id)] = attrs.evolve(seen, deduplicated=False)
            return attrs.evolve(seen, deduplicated=True)
        if previous is not None and previous.superseded_by is not None:
            raise SupersededError(f"memory {record_id} was superseded by "
                                  f"{previous.superseded_by}")
        if previous is not None and same is not None:
            raise DuplicateMemoryError(f"memory {record_id} would say what memory {same.id} "
                                       f"of namespace {target} already says")
        record = MemoryRecord(
            id=record_id, namespace=target, content=stored, kind=kind, source=source, pin=pin,
            expires_at=expires_at, created_at=previous.created_at if previous else now,
            recorded_at=previous.recorded_at if previous else now,
            valid_from=valid_from or (previous.valid_from if previous else now),
            valid_to=valid_to, last_seen_at=now, user_id=user_id,
            seen_count=previous.seen_count if previous else 1)
        self.records[(target, record_id)] = record
        return record

    async def supersede(self, workspace_id: str, old_id: str | uuid.UUID, content: str, *,
                        valid_from: datetime | None = None, source: str = "agent",
                        user_id: str | None = None, id: str | uuid.UUID | None = None,
                        ) -> Superseded:
        """Replace a current memory (as :meth:`isokron.stores.NamespaceMemory.supersede`)."""
        check_free_text(content, "content", max_chars=MAX_MEMORY_CHARS)
        check_aware(valid_from, "valid_from")
        access = await self.access(workspace_id)
        target = str(uuid.UUID(str(old_id)))
        old = next((r for (ns, i), r in self.records.items()
                    if i == target and ns in access.readable and r.retracted_at is None), None)
        if old is None:
            raise NotFoundError(f"memory {target} does not exist")
        if old.namespace not in access.writable:
            raise NotOwnedError(f"workspace {workspace_id!r} may not supersede memory {target}")
        if old.superseded_by is not None:
            raise SupersededError(f"memory {target} was already superseded by "
                                  f"{old.superseded_by}")
        now = self._now()
        start = valid_from or now
        if old.valid_from is not None and start <= old.valid_from:
            raise InvalidInputError("valid_from must be after the old record's valid_from")
        stored = scrub_text(content, "a memory")
        if _key(stored) == _key(old.content):
            raise InvalidInputError(f"the new content says what memory {target} already says")
        if self._live_same(old.namespace, stored) is not None:
            raise DuplicateMemoryError("the new content says what another memory says")
        new_id = str(uuid.UUID(str(id))) if id is not None else str(uuid.uuid4())
        cut = start if old.valid_to is None or old.valid_to > start else old.valid_to
        old = attrs.evolve(old, superseded_by=new_id, valid_to=cut)
        new = MemoryRecord(id=new_id, namespace=old.namespace, content=stored, kind=old.kind,
                           source=source, pin=old.pin, expires_at=old.expires_at,
                           created_at=now, recorded_at=now, valid_from=start,
                           supersedes=target, last_seen_at=now, user_id=user_id)
        self.records[(old.namespace, target)] = old
        self.records[(new.namespace, new_id)] = new
        return Superseded(old=old, new=new)

    async def history(self, workspace_id: str, memory_id: str | uuid.UUID) -> list[MemoryRecord]:
        """The lineage of a memory, oldest first."""
        access = await self.access(workspace_id)
        target = str(uuid.UUID(str(memory_id)))
        by_id = {i: r for (ns, i), r in self.records.items() if ns in access.readable}
        if target not in by_id:
            raise NotFoundError(f"memory {target} does not exist")
        first = by_id[target]
        while first.supersedes in by_id:
            first = by_id[str(first.supersedes)]
        chain = [first]
        while chain[-1].superseded_by in by_id:
            chain.append(by_id[str(chain[-1].superseded_by)])
        return chain

    async def search(self, workspace_id: str, query: str | None = None, *,
                     namespaces: Sequence[str] | None = None,
                     kinds: Sequence[str] | None = None, limit: int = 20,
                     embedding: Sequence[float] | None = None,
                     as_of: datetime | None = None,
                     valid_at: datetime | None = None) -> list[MemoryRecord]:
        """Pinned first, then newest; a query keeps memories holding every word of it; the
        current records unless ``as_of`` / ``valid_at``."""
        if query is not None:
            check_free_text(query, "query", max_chars=MAX_QUERY_CHARS, blank_ok=True)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidInputError(f"limit must be an integer, got {limit!r}")
        access = await self.access(workspace_id)
        wanted = set(access.readable) if not namespaces else (
            set(namespaces) & set(access.readable))
        now = datetime.now(UTC)
        tx = as_of or now
        words = [w for w in (query or "").lower().split() if w]
        found = [r for r in self.records.values()
                 if r.namespace in wanted and (r.expires_at is None or r.expires_at > tx)
                 and _visible(r, tx, valid_at or tx) and (kinds is None or r.kind in kinds)
                 and all(w in r.content.lower() for w in words)]
        found.sort(key=lambda r: (r.pin, r.created_at), reverse=True)
        return found[:max(1, min(100, limit))]

    async def items(self, workspace_id: str, namespace: str, *,
                    ids: Sequence[uuid.UUID | str] | None = None,
                    limit: int = 100) -> list[NamespaceItem]:
        """The live records of one readable namespace whole, oldest first (or those with
        ``ids``), as :meth:`isokron.stores.NamespaceMemory.items`."""
        access = await self.access(workspace_id)
        if namespace not in access.readable:
            return []
        wanted = None if ids is None else {str(uuid.UUID(str(i))) for i in ids}
        now = datetime.now(UTC)
        found = sorted((r for (ns, i), r in self.records.items()
                        if ns == namespace and (wanted is None or i in wanted)
                        and r.retracted_at is None
                        and (r.expires_at is None or r.expires_at > now)),
                       key=lambda r: (r.created_at, r.id))
        return [NamespaceItem(id=uuid.UUID(r.id), content=r.content, created_at=r.created_at,
                              updated_at=r.created_at) for r in found[:limit]]

    async def forget(self, workspace_id: str, memory_id: str | uuid.UUID, *,
                     namespace: str | None = None) -> Forgotten:
        """Forget a memory in a namespace the workspace can write: team and org memories are
        retracted, the workspace's own deleted."""
        access = await self.access(workspace_id)
        target = str(uuid.UUID(str(memory_id)))
        for ns, i in list(self.records):
            record = self.records[(ns, i)]
            if (i == target and (namespace is None or ns == namespace)
                    and ns in access.readable and record.retracted_at is None):
                if ns not in access.writable:
                    raise NotOwnedError(f"workspace {workspace_id!r} may not forget memory "
                                        f"{target} (it is not in a namespace this workspace "
                                        "can write)")
                if ns.startswith(("team:", "org:")):
                    self.records[(ns, i)] = attrs.evolve(record, retracted_at=self._now())
                    return Forgotten(id=target, namespace=ns, action="retracted")
                del self.records[(ns, i)]
                return Forgotten(id=target, namespace=ns, action="deleted")
        raise NotFoundError(f"memory {target} does not exist")
