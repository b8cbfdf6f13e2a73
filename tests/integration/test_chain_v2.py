"""Chain v2 (migration 0027): every column hashed, the head anchored, the anchor guarded.

As the owner (a superuser: it may switch the append-only trigger off) each column of a v2
event is rewritten and the ordinary verify must name the seq; the newest events are cut
and verify and `isokron doctor` must report the cut tail. A database migrated to 0026
keeps its v1 rows unchanged and verifies as a mixed v1 -> v2 chain. As a LOGIN member of
isokron_runtime, raw SQL on the log and the anchor is refused, and tenant B neither reads
nor appends to A's chain.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import uuid

import asyncpg
import pytest

from isokron.ops.cli import main
from isokron.readers.events import read_chain_heads, verify_event_chain
from isokron.schema import available_migrations, migrate
from isokron.testing.seed import seed_demo_workspace

A, B = "org_a", "org_b"
BEFORE_V2 = "0026_context_lifetime"
DISABLE = "ALTER TABLE hivex_foundation.event_log DISABLE TRIGGER event_log_append_only"
ENABLE = "ALTER TABLE hivex_foundation.event_log ENABLE TRIGGER event_log_append_only"


async def _verify(conn: asyncpg.Connection, ws: str) -> tuple[int, str] | None:
    row = await conn.fetchrow("SELECT * FROM hivex_foundation.verify_chain_v2($1)", ws)
    return None if row is None else (row["broken_seq"], row["reason"])


async def _append(conn: asyncpg.Connection, ws: str, event_type: str = "kora.test.appended",
                  payload: object = None) -> uuid.UUID:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
        return await conn.fetchval(
            "SELECT hivex_foundation.append_event_v1($1, $2, $3::text::jsonb, NULL)",
            ws, event_type, json.dumps(payload or {}))


async def _head(conn: asyncpg.Connection, ws: str) -> int:
    return int(await conn.fetchval(
        "SELECT max(e.seq) FROM hivex_foundation.event_log e "
        "JOIN hivex_foundation.tenant t USING (tenant_id) WHERE t.clerk_org_id = $1", ws))


REWRITES = {
    "actor_id": "actor_id = (SELECT a.actor_id FROM public.actor_registry a "
                "WHERE a.workspace_id = 'org_a' AND a.actor_id IS DISTINCT FROM "
                "e.actor_id LIMIT 1)",
    "actor_id to NULL": "actor_id = NULL",
    "occurred_at": "occurred_at = occurred_at + interval '1 microsecond'",
    "event_type": "event_type = 'kora.forged.event'",
    "payload": "payload = payload || '{\"forged\": true}'",
    "event_id": "event_id = gen_random_uuid()",
    "hash_version": "hash_version = 1",
}
V2_MISMATCH = "its hash does not match its id, type, payload, actor or time (v2)"
REASONS = {"hash_version": "a v1 event after v2 events"}


class _Rollback(Exception):
    """Raised to roll an owner's tampering back at the end of a check."""


@pytest.mark.parametrize("column", list(REWRITES))
async def test_rewriting_any_column_of_a_v2_event_breaks_the_chain_there(owner, column):
    """Each meaningful column of a v2 row is hashed: rewriting it is reported at its seq."""
    await seed_demo_workspace(owner, A)
    assert await _verify(owner, A) is None
    versions = await owner.fetch("SELECT DISTINCT hash_version FROM hivex_foundation.event_log")
    assert [r["hash_version"] for r in versions] == [2]
    with pytest.raises(_Rollback):
        async with owner.transaction():
            await owner.execute(DISABLE)
            status = await owner.execute(
                f"UPDATE hivex_foundation.event_log e SET {REWRITES[column]} WHERE e.seq = 4")
            assert status == "UPDATE 1"
            assert await _verify(owner, A) == (4, REASONS.get(column, V2_MISMATCH))
            assert await owner.fetchval("SELECT hivex_foundation.verify_chain_v1($1)", A) == 4
            raise _Rollback
    assert await _verify(owner, A) is None


def _field(value: str | None) -> bytes:
    if value is None:
        return b"~"
    octets = value.encode("utf-8")
    return str(len(octets)).encode() + b":" + octets


async def test_an_auditor_recomputes_every_v2_hash_outside_the_database(owner):
    """The v2 encoding, re-implemented here: the tag, then event_id, tenant_id, seq,
    event_type, payload (jsonb text), actor_id, occurred_at (epoch microseconds) and
    prev_event_hash, each as <octets>:<UTF-8> or '~' for NULL."""
    await seed_demo_workspace(owner, A)
    await _append(owner, A, payload={"text": "naïve — ünïcode ✓", "n": 1.50})
    rows = await owner.fetch(
        "SELECT event_id, tenant_id, seq, event_type, payload::text AS payload, actor_id, "
        "occurred_at, prev_event_hash, this_event_hash FROM hivex_foundation.event_log "
        "ORDER BY seq")
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for r in rows:
        micros = (r["occurred_at"] - epoch) // dt.timedelta(microseconds=1)
        fields = (str(r["event_id"]), str(r["tenant_id"]), str(r["seq"]), r["event_type"],
                  r["payload"], None if r["actor_id"] is None else str(r["actor_id"]),
                  str(micros), r["prev_event_hash"])
        digest = hashlib.sha256(b"hivex.event.v2" + b"".join(map(_field, fields))).hexdigest()
        assert digest == r["this_event_hash"], r["seq"]
    assert rows[-1]["actor_id"] is None and rows[0]["prev_event_hash"] is None


async def test_the_time_hashes_the_same_under_every_time_zone(owner):
    """occurred_at hashes as epoch microseconds: another TimeZone still verifies."""
    await seed_demo_workspace(owner, A)
    for zone in ("UTC", "Pacific/Chatham", "America/St_Johns", "Asia/Kathmandu"):
        await owner.execute(f"SET TimeZone = '{zone}'")
        assert await _verify(owner, A) is None, zone


async def _cut(owner: asyncpg.Connection, ws: str, keep: int) -> None:
    """As the owner, delete ``ws``'s events after seq ``keep`` (the trigger switched off)."""
    await owner.execute(DISABLE)
    await owner.execute(
        "DELETE FROM hivex_foundation.event_log e USING hivex_foundation.tenant t "
        "WHERE t.tenant_id = e.tenant_id AND t.clerk_org_id = $1 AND e.seq > $2", ws, keep)
    await owner.execute(ENABLE)


async def test_a_cut_tail_is_reported_by_verify_and_by_doctor(owner, db, runtime_pool, capsys):
    """Deleting the newest events: the ordinary verify reports the first missing seq,
    `isokron doctor` fails naming the tenant; a later append leaves the gap visible."""
    await seed_demo_workspace(owner, A)
    await seed_demo_workspace(owner, B)
    head = await _head(owner, A)
    await _cut(owner, A, head - 2)
    assert await _verify(owner, A) == (
        head - 1, f"tail cut: the chain ends at seq {head - 2}, its anchor is at seq {head}")
    assert await verify_event_chain(runtime_pool, A) == head - 1
    assert await verify_event_chain(runtime_pool, B) is None
    code = await asyncio.to_thread(main, ["doctor", "--dsn", db.dsn])
    out = capsys.readouterr().out
    assert code == 1, out
    assert (f"[FAIL] event chain: broken: {A} at seq {head - 1} (tail cut: the chain ends at "
            f"seq {head - 2}, its anchor is at seq {head})") in out
    assert f"{B} at seq" not in out
    # the next append chains from the anchor, not from the cut head: the gap stays
    await _append(owner, A)
    assert await _head(owner, A) == head + 1
    assert await _verify(owner, A) == (
        head - 1, f"seq {head - 1} is missing (the next event is seq {head + 1})")


async def test_every_event_cut_is_reported_too(owner, runtime_pool):
    """A chain emptied of all its events still has its anchor."""
    await seed_demo_workspace(owner, A)
    head = await _head(owner, A)
    await _cut(owner, A, 0)
    assert await _verify(owner, A) == (
        1, f"tail cut: no event is left, its anchor is at seq {head}")
    assert await verify_event_chain(runtime_pool, A) == 1


async def test_the_owner_can_rewind_the_anchor_and_only_a_recorded_head_catches_it(
        owner, runtime_pool):
    """The anchor is in the database: its owner can cut the tail and rewind the anchor
    alike, and only the head recorded elsewhere (--record-chain-heads) tells."""
    await seed_demo_workspace(owner, A)
    recorded = (await read_chain_heads(owner))[A]
    await _cut(owner, A, recorded[0] - 3)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="only moves forward"):
        await owner.execute("UPDATE hivex_foundation.chain_anchor SET last_seq = last_seq - 3, "
                            "event_count = event_count - 3")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="only moves forward"):
        await owner.execute("DELETE FROM hivex_foundation.chain_anchor")
    await owner.execute("ALTER TABLE hivex_foundation.chain_anchor "
                        "DISABLE TRIGGER chain_anchor_forward_only")
    await owner.execute(
        "UPDATE hivex_foundation.chain_anchor a SET last_seq = e.seq, "
        "last_hash = e.this_event_hash, event_count = e.seq "
        "FROM hivex_foundation.event_log e WHERE e.tenant_id = a.tenant_id AND e.seq = $1",
        recorded[0] - 3)
    assert await verify_event_chain(runtime_pool, A) is None
    assert await verify_event_chain(runtime_pool, A, expected_head=recorded) == recorded[0]
    await owner.execute("DELETE FROM hivex_foundation.chain_anchor")  # no anchor at all
    assert await _verify(owner, A) == (
        recorded[0] - 3, f"the chain of {recorded[0] - 3} events has no anchor")


async def test_a_database_at_0026_upgrades_to_a_mixed_v1_v2_chain(empty_db):
    """0027 keeps every v1 row as it was and anchors the chain; v2 rows follow and the
    mixed chain verifies; v1 rows keep v1's coverage; a v1 row after a v2 row breaks."""
    await migrate(empty_db.dsn, target=BEFORE_V2)
    owner = await asyncpg.connect(empty_db.dsn)
    try:
        await seed_demo_workspace(owner, A)
        old = await owner.fetch("SELECT e.*, e::text AS whole FROM hivex_foundation.event_log e "
                                "ORDER BY e.seq")
        assert await migrate(empty_db.dsn) == [
            name for name, _ in available_migrations() if name > BEFORE_V2]
        kept = await owner.fetch(
            "SELECT e.hash_version, (e.event_id, e.tenant_id, e.seq, e.event_type, e.payload, "
            "e.actor_id, e.occurred_at, e.prev_event_hash, e.this_event_hash)::text AS whole "
            "FROM hivex_foundation.event_log e ORDER BY e.seq")
        assert [r["whole"] for r in kept] == [r["whole"] for r in old]
        assert {r["hash_version"] for r in kept} == {1}
        anchor = await owner.fetchrow("SELECT * FROM hivex_foundation.chain_anchor")
        assert (anchor["last_seq"], anchor["last_hash"], anchor["event_count"]) == (
            old[-1]["seq"], old[-1]["this_event_hash"], len(old))
        assert await _verify(owner, A) is None
        for n in range(3):
            await _append(owner, A, payload={"n": n})
        versions = [r["hash_version"] for r in await owner.fetch(
            "SELECT hash_version FROM hivex_foundation.event_log ORDER BY seq")]
        assert versions == [1] * len(old) + [2] * 3
        assert await _verify(owner, A) is None
        # v1 rows hash type and payload only, as before: their actor is not covered
        with pytest.raises(_Rollback):
            async with owner.transaction():
                await owner.execute(DISABLE)
                await owner.execute("UPDATE hivex_foundation.event_log SET actor_id = NULL "
                                    "WHERE seq = 2")
                assert await _verify(owner, A) is None
                await owner.execute("UPDATE hivex_foundation.event_log SET payload = '{}' "
                                    "WHERE seq = 2")
                assert await _verify(owner, A) == (
                    2, "its hash does not match its type and payload (v1)")
                raise _Rollback
        # a row with a valid v1 hash after the v2 rows (the anchor moved to it): a downgrade
        head = len(old) + 3
        await owner.execute(
            "INSERT INTO hivex_foundation.event_log (tenant_id, seq, event_type, payload, "
            "prev_event_hash, this_event_hash, hash_version) "
            "SELECT a.tenant_id, $1, 'kora.old.style', '{}', a.last_hash, "
            "       hivex_foundation.event_hash_v1(a.last_hash, a.tenant_id, $1, "
            "                                      'kora.old.style', '{}'), 1 "
            "  FROM hivex_foundation.chain_anchor a", head + 1)
        await owner.execute(
            "UPDATE hivex_foundation.chain_anchor a SET last_seq = e.seq, "
            "last_hash = e.this_event_hash, event_count = a.event_count + 1 "
            "FROM hivex_foundation.event_log e WHERE e.tenant_id = a.tenant_id AND e.seq = $1",
            head + 1)
        assert await _verify(owner, A) == (head + 1, "a v1 event after v2 events")
    finally:
        await owner.close()


async def _as(conn: asyncpg.Connection, ws: str, sql: str, *args: object) -> object:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
        return await conn.fetch(sql, *args)


ATTACKS = (
    "UPDATE hivex_foundation.event_log SET actor_id = NULL",
    "UPDATE hivex_foundation.event_log SET occurred_at = now()",
    "DELETE FROM hivex_foundation.event_log WHERE seq > 5",
    "TRUNCATE hivex_foundation.event_log",
    "INSERT INTO hivex_foundation.event_log (tenant_id, seq, event_type, this_event_hash) "
    "SELECT tenant_id, 999, 'x.forged', 'h' FROM hivex_foundation.tenant",
    "UPDATE hivex_foundation.chain_anchor SET last_seq = 1, event_count = 1",
    "UPDATE hivex_foundation.chain_anchor SET last_hash = 'h'",
    "DELETE FROM hivex_foundation.chain_anchor",
    "TRUNCATE hivex_foundation.chain_anchor",
    "INSERT INTO hivex_foundation.chain_anchor (tenant_id, last_seq, last_hash, event_count) "
    "SELECT tenant_id, 999, 'h', 999 FROM hivex_foundation.tenant",
    "INSERT INTO hivex_foundation.chain_anchor (tenant_id, last_seq, last_hash, event_count) "
    "VALUES (gen_random_uuid(), 1, 'h', 1)",
)


@pytest.mark.parametrize("sql", ATTACKS)
async def test_the_runtime_login_cannot_write_the_log_or_the_anchor(owner, attacker, sql):
    """Raw SQL as a LOGIN member of isokron_runtime, scoped to its own tenant: refused."""
    await seed_demo_workspace(owner, A)
    before = await owner.fetchval(
        "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
        "SELECT e::text AS x FROM hivex_foundation.event_log e UNION ALL "
        "SELECT a::text FROM hivex_foundation.chain_anchor a) s")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await _as(attacker, A, sql)
    after = await owner.fetchval(
        "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM ("
        "SELECT e::text AS x FROM hivex_foundation.event_log e UNION ALL "
        "SELECT a::text FROM hivex_foundation.chain_anchor a) s")
    assert after == before
    assert await verify_event_chain(attacker, A) is None


async def test_tenant_b_neither_reads_nor_appends_to_the_chain_of_a(owner, attacker):
    """Scoped to B: A's events and anchor are invisible, and appending to or verifying A
    is refused."""
    await seed_demo_workspace(owner, A)
    await seed_demo_workspace(owner, B)
    a_count = await owner.fetchval(
        "SELECT event_count FROM hivex_foundation.chain_anchor a "
        "JOIN hivex_foundation.tenant t USING (tenant_id) WHERE t.clerk_org_id = $1", A)
    for sql in ("SELECT e.seq FROM hivex_foundation.event_log e "
                "JOIN hivex_foundation.tenant t USING (tenant_id) WHERE t.clerk_org_id = 'org_a'",
                "SELECT * FROM hivex_foundation.chain_anchor a WHERE a.tenant_id = "
                "(SELECT tenant_id FROM hivex_foundation.tenant WHERE clerk_org_id = 'org_a')"):
        assert await _as(attacker, B, sql) == []
    with pytest.raises(asyncpg.PostgresError) as refused:  # 0030: not an "intact" answer
        await _as(attacker, B, "SELECT * FROM hivex_foundation.verify_chain_v2('org_a')")
    assert refused.value.sqlstate == "IKT01"
    anchors = await _as(attacker, B, "SELECT t.clerk_org_id FROM hivex_foundation.chain_anchor "
                        "a JOIN hivex_foundation.tenant t USING (tenant_id)")
    assert [r["clerk_org_id"] for r in anchors] == [B]  # its own anchor only
    with pytest.raises(asyncpg.PostgresError) as caught:
        await _as(attacker, B, "SELECT hivex_foundation.append_event_v1('org_a', "
                  "'kora.forged.event', '{}', NULL)")
    assert caught.value.sqlstate == "IKT01"
    assert await owner.fetchval(
        "SELECT event_count FROM hivex_foundation.chain_anchor a "
        "JOIN hivex_foundation.tenant t USING (tenant_id) WHERE t.clerk_org_id = $1", A) \
        == a_count
    assert await _verify(owner, A) is None and await _verify(owner, B) is None
    # B's own append moves B's anchor only
    await _as(attacker, B, "SELECT hivex_foundation.append_event_v1('org_b', "
              "'kora.test.appended', '{}', NULL)")
    assert await _verify(owner, A) is None and await _verify(owner, B) is None
