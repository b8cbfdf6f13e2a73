# ruff: noqa: F811  (the fixture two_tenants is imported, then requested)
"""Near duplicates against real PostgreSQL with pgvector: with an embedder, a memory within
``dedup_threshold`` (cosine similarity) of an older live memory of its namespace is
reported as ``duplicate_of`` it (``dedup: keep``) or folded into it (``dedup: merge``), in
the same call that stores its vector; never across namespaces, never across tenants, and a
runtime login cannot write ``duplicate_of`` or ``retracted_at`` itself."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.stores.vectors import content_hash as md5

from .test_hybrid_recall import DIMS, two_tenants  # noqa: F401  (the fixture: org_a, org_b, vectors)

MODEL = "test:scripted"


def _unit(*pairs: tuple[int, float]) -> list[float]:
    out = [0.0] * DIMS
    for axis, value in pairs:
        out[axis] = value
    norm = math.sqrt(sum(v * v for v in out))
    return [v / norm for v in out]


#: the texts of these tests and their vectors; cosine similarities to TEA:
#: TEA_TOO 0.995, COFFEE 0.857, anything else 0
TEA = "Alice prefers tea"
TEA_TOO = "alice likes tea a lot"
COFFEE = "Alice drinks coffee"
VECTORS = {TEA: _unit((0, 1.0)), TEA_TOO: _unit((0, 1.0), (1, 0.1)),
           COFFEE: _unit((0, 1.0), (2, 0.6))}


class ScriptedEmbedder:
    """The vectors above; any other text gets a direction of its own (the last axis)."""

    dims = DIMS
    model_id = MODEL

    def vector(self, text: str) -> list[float]:
        return VECTORS.get(text, _unit((DIMS - 1, 1.0)))

    async def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]

    async def embed_query(self, text: str) -> list[float]:
        return self.vector(text)




def _config(db, **more: object) -> dict[str, object]:
    return {"dsn": db.runtime_dsn, "write_transport": "deferred", **more}


async def _commit(kron: AsyncIsoKron, ws: str, text: str, **kw: object):
    """Commit one memory and wait until its vector is stored (and near duplicates found)."""
    record = await (await kron.memory()).commit(ws, text, **kw)
    assert await kron.flush(20)
    return record


async def _row(owner, record_id):
    return await owner.fetchrow(
        "SELECT duplicate_of::text, retracted_at, seen_count, last_seen_at, embedding_model "
        "FROM isokron.memory_records WHERE id = $1", uuid.UUID(str(record_id)))


async def test_keep_reports_the_near_duplicate_and_leaves_the_original(db, owner,
                                                                      two_tenants):
    """dedup: keep (the default): the newer near duplicate gets duplicate_of the older one,
    stays live and searchable; the original is untouched."""
    async with AsyncIsoKron(_config(db), embedder=ScriptedEmbedder()) as kron:
        assert kron.config.dedup == "keep" and kron.config.dedup_threshold == 0.95
        first = await _commit(kron, "org_a", TEA)
        before = await _row(owner, first.id)
        second = await _commit(kron, "org_a", TEA_TOO)
        found = {r.id: r for r in await (await kron.memory()).search("org_a")}
        assert (await _row(owner, second.id))["duplicate_of"] == first.id
        assert (await _row(owner, second.id))["retracted_at"] is None
        assert await _row(owner, first.id) == before  # untouched
        assert before["duplicate_of"] is None and before["embedding_model"] == MODEL
        assert found[second.id].duplicate_of == first.id
        assert found[first.id].duplicate_of is None
        # changed by its id to say something else: embedded again, no longer a duplicate
        await _commit(kron, "org_a", "the office is in Oslo", id=second.id)
    changed = await _row(owner, second.id)
    assert changed["duplicate_of"] is None and changed["embedding_model"] == MODEL


async def test_merge_folds_the_near_duplicate_into_the_older_memory(db, owner, two_tenants):
    """dedup: merge: the keeper's seen_count grows by the near duplicate's (committed twice
    here: 2), its last_seen_at moves on; the near duplicate is retracted, not deleted, keeps
    duplicate_of, and is absent from every search and from recall."""
    async with AsyncIsoKron(_config(db, dedup="merge"), embedder=ScriptedEmbedder()) as kron:
        memory = await kron.memory()
        first = await _commit(kron, "org_a", TEA)
        seen_before = (await _row(owner, first.id))["last_seen_at"]
        second = await memory.commit("org_a", TEA_TOO)
        again = await memory.commit("org_a", TEA_TOO + ".")  # an exact duplicate: seen twice
        assert again.id == second.id and again.seen_count == 2
        assert await kron.flush(20)
        keeper, gone = await _row(owner, first.id), await _row(owner, second.id)
        assert keeper["seen_count"] == 3 and keeper["last_seen_at"] > seen_before
        assert keeper["retracted_at"] is None and keeper["duplicate_of"] is None
        assert gone["retracted_at"] is not None and gone["duplicate_of"] == first.id
        assert [r.id for r in await memory.search("org_a")] == [first.id]
        assert [r.id for r in await memory.search("org_a", "tea")] == [first.id]
        assert [r.id for r in await memory.search("org_a", "t")] == [first.id]
        then = {r.id: r for r in await memory.search("org_a", as_of=again.recorded_at)}
        assert then[second.id].duplicate_of == first.id  # history shows why it went
        items = await kron.recall_items("org_a", "tea", user_id="alice")
        block = await kron.recall("org_a", "tea", user_id="alice")
    assert second.id not in [i.id for i in items] and TEA_TOO not in block
    assert TEA in block


async def test_merge_of_a_team_memory_is_audited(db, owner, two_tenants):
    """In an org (shared) namespace the fold is audited, like a retraction there."""
    async with AsyncIsoKron(_config(db, dedup="merge"), embedder=ScriptedEmbedder()) as kron:
        first = await _commit(kron, "org_a", TEA, namespace="org:org_a")
        second = await _commit(kron, "org_a", TEA_TOO, namespace="org:org_a")
    assert (await _row(owner, second.id))["duplicate_of"] == first.id
    actions = await owner.fetch("SELECT memory_id::text, action FROM isokron.memory_audit "
                                "WHERE action = 'merge'")
    assert [(a["memory_id"], a["action"]) for a in actions] == [(second.id, "merge")]


async def test_below_the_threshold_is_not_a_duplicate_and_the_threshold_is_configurable(
        db, owner, two_tenants):
    """COFFEE is 0.857 similar to TEA: no duplicate at 0.95; at dedup_threshold 0.8 it is."""
    async with AsyncIsoKron(_config(db, dedup="merge"), embedder=ScriptedEmbedder()) as kron:
        first = await _commit(kron, "org_a", TEA)
        other = await _commit(kron, "org_a", COFFEE)
        unrelated = await _commit(kron, "org_a", "the office is in Oslo")
    for record in (other, unrelated):
        row = await _row(owner, record.id)
        assert row["duplicate_of"] is None and row["retracted_at"] is None
    assert (await _row(owner, first.id))["seen_count"] == 1
    async with AsyncIsoKron(_config(db, dedup_threshold=0.8),
                            embedder=ScriptedEmbedder()) as kron:
        late = await _commit(kron, "org_a", COFFEE, namespace="team:org_a")
        near = await _commit(kron, "org_a", TEA, namespace="team:org_a")
    # the older memory is the keeper, whichever of the two is the newer text
    assert (await _row(owner, near.id))["duplicate_of"] == late.id
    assert (await _row(owner, late.id))["duplicate_of"] is None


async def test_another_namespace_is_not_a_duplicate(db, owner, two_tenants):
    """The same vector in the org namespace and the workspace's own: both stay."""
    async with AsyncIsoKron(_config(db, dedup="merge"), embedder=ScriptedEmbedder()) as kron:
        mine = await _commit(kron, "org_a", TEA)
        shared = await _commit(kron, "org_a", TEA_TOO, namespace="org:org_a")
    for record in (mine, shared):
        row = await _row(owner, record.id)
        assert row["duplicate_of"] is None and row["retracted_at"] is None
        assert row["seen_count"] == 1


async def test_tenant_b_never_duplicates_or_merges_into_tenant_a(db, owner, attacker,
                                                                 two_tenants):
    """The attack: tenant B writes a near-identical memory (and, as the runtime login with
    raw SQL, re-stores vectors for tenant A's ids and its own with a threshold that matches
    anything, merge on): nothing of A's is touched, B's memory is no duplicate of A's; and
    the runtime login may write neither duplicate_of nor retracted_at itself."""
    async with AsyncIsoKron(_config(db, dedup="merge", dedup_threshold=0.01),
                            embedder=ScriptedEmbedder()) as kron:
        theirs = await _commit(kron, "org_a", TEA)
        mine = await _commit(kron, "org_b", TEA_TOO)
    a_before = await _row(owner, theirs.id)
    b_row = await _row(owner, mine.id)
    assert b_row["duplicate_of"] is None and b_row["retracted_at"] is None
    assert a_before["seen_count"] == 1 and a_before["retracted_at"] is None

    a_id, b_id = uuid.UUID(theirs.id), uuid.UUID(mine.id)
    vector = json.dumps(VECTORS[TEA])
    async with attacker.transaction():
        await attacker.execute("SELECT set_config('app.current_workspace_id', 'org_b', true)")
        stored = await attacker.fetchval(
            "SELECT isokron.store_embeddings_v2('memory', $1, $2, $3, $4, 0.01, true)",
            [a_id, b_id], [vector, vector], [md5(TEA), md5(TEA_TOO)], MODEL)
        assert stored == 1  # its own row only
    assert await _row(owner, theirs.id) == a_before
    b_row = await _row(owner, mine.id)
    assert b_row["duplicate_of"] is None and b_row["retracted_at"] is None
    for sql in ("UPDATE isokron.memory_records SET duplicate_of = $1 WHERE id = $2",
                "UPDATE isokron.memory_records SET retracted_at = now() "
                "WHERE id = $2 AND $1::uuid IS NOT NULL"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with attacker.transaction():
                await attacker.execute(
                    "SELECT set_config('app.current_workspace_id', 'org_b', true)")
                await attacker.execute(sql, a_id, b_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with attacker.transaction():
            await attacker.execute("SELECT set_config('app.current_workspace_id', 'org_b', true)")
            await attacker.execute(
                "INSERT INTO isokron.memory_records (root_id, namespace, content, duplicate_of) "
                "VALUES ('org_b', 'workspace:org_b', 'forged', $1)", a_id)
    with pytest.raises(asyncpg.InvalidParameterValueError):
        async with attacker.transaction():
            await attacker.execute("SELECT set_config('app.current_workspace_id', 'org_b', true)")
            await attacker.fetchval(
                "SELECT isokron.store_embeddings_v2('memory', $1, $2, $3, $4, 0, true)",
                [b_id], [vector], [md5(TEA_TOO)], MODEL)
    assert await _row(owner, theirs.id) == a_before
