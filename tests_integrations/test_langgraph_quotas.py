"""The LangGraph store's bounds, written as the attacks of issue 24 item 8.

A listing without a query read up to 10,000 records of 32 KB at once (89 MB for 1,500);
a ttl of NaN, infinity or 1e12 raised a raw ValueError/OverflowError and a negative ttl
was stored. Now a listing pages (one page of PAGE_ITEMS held at a time), a bad ttl is an
InvalidInputError naming the value and its batch stores nothing, and the namespace's
quotas (quota_memory_rows) refuse the N+1th item with QuotaExceededError.
"""

from __future__ import annotations

import math

import pytest
from langgraph.store.base import PutOp

import isokron.integrations.langgraph as lg
from isokron import QuotaExceededError
from isokron.errors import InvalidInputError
from isokron.integrations.langgraph import IsoKronStore
from isokron.stores import NamespaceMemory
from isokron.stores.quotas import apply_quotas

TREE = [("org_lgq", None), ("ws_lgq", "org_lgq")]


@pytest.fixture
async def store(db, owner):
    for ws, parent in TREE:
        await owner.execute("INSERT INTO isokron.workspaces (workspace_id, parent_id) "
                            "VALUES ($1, $2)", ws, parent)
    store = IsoKronStore("ws_lgq", db.runtime_dsn)
    yield store
    await store.aclose()


async def _stored(owner) -> int:
    return int(await owner.fetchval("SELECT count(*) FROM isokron.memory_records "
                                    "WHERE namespace = 'workspace:ws_lgq'"))


@pytest.mark.parametrize("ttl", [math.nan, math.inf, -math.inf, -5, 0, 1e12, 10**30, True, "5"])
async def test_a_bad_ttl_is_a_typed_error_naming_it_and_nothing_is_stored(store, owner, ttl):
    with pytest.raises(InvalidInputError, match="ttl must be a finite number of minutes") as exc:
        await store.aput(("docs",), "k", {"v": 1}, ttl=ttl)
    named = "an integer of 100 bits" if ttl == 10**30 else repr(ttl)
    assert f"got {named}" in str(exc.value)
    # a batch with a good put before the bad one stores nothing either
    with pytest.raises(InvalidInputError):
        await store.abatch([PutOp(("docs",), "good", {"v": 1}),
                            PutOp(("docs",), "bad", {"v": 2}, ttl=ttl)])
    assert await _stored(owner) == 0


async def test_a_good_ttl_still_sets_the_expiry(store, owner):
    await store.aput(("docs",), "k", {"v": 1}, ttl=90)
    left = await owner.fetchval("SELECT extract(epoch FROM expires_at - now()) FROM "
                                "isokron.memory_records WHERE namespace = 'workspace:ws_lgq'")
    assert 89 * 60 < float(left) <= 90 * 60


async def test_a_listing_without_a_query_pages_and_gives_the_same_items(store, monkeypatch):
    """Every read of a listing is one page (never the namespace); offset, limit, filters
    and list_namespaces give, across page bounds, what one page holding them all gives."""
    reads: list[int] = []
    original = NamespaceMemory.items

    async def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        found = await original(self, *args, **kwargs)
        reads.append(len(found))
        assert kwargs.get("limit", 0) <= lg.PAGE_ITEMS
        return found

    monkeypatch.setattr(NamespaceMemory, "items", counted)
    for i in range(40):
        await store.aput(("users", f"u{i % 3}"), f"k{i:02d}", {"i": i, "even": i % 2 == 0})

    def plain(items):
        return [(r.namespace, r.key, r.value) for r in items]

    cases = ({"limit": 10}, {"limit": 5, "offset": 13}, {"limit": 100},
             {"filter": {"even": True}, "limit": 6, "offset": 4}, {"offset": 39})
    whole = [plain(await store.asearch(("users",), **kwargs)) for kwargs in cases]
    assert [r[2]["i"] for r in whole[2]] == list(range(40))  # oldest first
    monkeypatch.setattr(lg, "PAGE_ITEMS", 7)
    for kwargs, expected in zip(cases, whole, strict=True):
        reads.clear()
        assert plain(await store.asearch(("users",), **kwargs)) == expected, kwargs
        assert reads and max(reads) <= 7
    reads.clear()
    assert await store.alist_namespaces() == [("users", "u0"), ("users", "u1"), ("users", "u2")]
    assert max(reads) <= 7 and sum(reads) == 40  # the whole namespace, a page at a time


async def test_the_namespace_quota_refuses_the_next_item(store, owner):
    """quota_memory_rows 3 for the tree: the 4th key is refused, an update of a key is not."""
    await apply_quotas(owner, {"quota_memory_rows": 3}, "org_lgq")
    for key in ("a", "b", "c"):
        await store.aput(("docs",), key, {"v": key})
    await store.aput(("docs",), "a", {"v": "updated"})
    with pytest.raises(QuotaExceededError, match="quota_memory_rows exceeded: limit 3"):
        await store.aput(("docs",), "d", {"v": "d"})
    assert await _stored(owner) == 3
    assert (await store.aget(("docs",), "a")).value == {"v": "updated"}
