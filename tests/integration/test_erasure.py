"""Erasure with a receipt (issue 26): one user of one workspace erased in one transaction,
nothing of them left (found with raw SQL as the owner), a receipt that verifies and
detects a remnant or a rewritten receipt; attacked by the runtime login, by user B and by
tenant B."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.db.context_keys import install_context_key
from isokron.errors import InvalidInputError, NotFoundError
from isokron.guard.context_token import mint_context_token
from isokron.ops.cli import main
from isokron.stores import (
    Recall,
    RequestContext,
    erase_self,
    erase_user,
    verify_erasure,
)
from isokron.testing.seed import seed_demo_workspace

#: a word only Alice of org_a ever says: what must be gone everywhere after her erasure
SECRET_WORD = "zanzibar"
KEY = "erase-" + "k" * 42


async def _fill(kron: AsyncIsoKron, ws: str, user: str, word: str) -> None:
    """Two turns, a workspace memory, an org memory (audited) on the user's behalf, and
    fresh recall statistics."""
    for n in range(2):
        await kron.sync_turn(ws, f"{user} plans a trip to {word} number {n}",
                             f"noted, {user}", session_id=f"s{n}", turn_number=n + 1,
                             user_id=user)
    assert await kron.flush(20)
    memory = await kron.memory()
    await memory.commit(ws, f"{user} wants a window seat to {word}", user_id=user)
    await memory.commit(ws, f"{user} is allergic to {word} nuts", namespace=f"org:{ws}",
                        user_id=user)
    await Recall(await kron.pool()).refresh_stats(ws, user_id=user)


async def _holdings(owner: asyncpg.Connection, ws: str, user: str) -> dict[str, int]:
    """What the owner sees of one user of one tenant, table by table (raw SQL, no RLS)."""
    sessions = [r["id"] for r in await owner.fetch(
        "SELECT id FROM isokron.agent_sessions WHERE tenant_id = $1 AND user_id = $2",
        ws, user)]
    return {
        "sessions": len(sessions),
        "messages": await owner.fetchval(
            "SELECT count(*) FROM isokron.agent_messages WHERE tenant_id = $1 AND user_id = $2",
            ws, user),
        "episodes": await owner.fetchval(
            "SELECT count(*) FROM isokron.agent_episodic_events WHERE workspace_id = $1 "
            "AND body ->> 'session' = ANY ($2::text[])", ws, [str(s) for s in sessions]),
        "memories": await owner.fetchval(
            "SELECT count(*) FROM isokron.memory_records WHERE written_by = $1 "
            "AND user_id = $2", ws, user),
        "lexicon": await owner.fetchval(
            "SELECT count(*) FROM isokron.recall_lexicon WHERE source = 's' AND key1 = $1 "
            "AND key2 = $2", ws, user),
        "quota": await owner.fetchval(
            "SELECT count(*) FROM isokron.quota_usage WHERE key1 = $1 AND key2 = $2", ws, user),
    }


@pytest.fixture
async def world(db, owner):
    """org_a (Alice and Bob) and org_b (another Alice), each with turns, memories and stats."""
    for ws in ("org_a", "org_b"):
        await seed_demo_workspace(owner, ws)
    async with AsyncIsoKron({"dsn": db.runtime_dsn, "write_transport": "deferred"}) as kron:
        await _fill(kron, "org_a", "alice", SECRET_WORD)
        await _fill(kron, "org_a", "bob", "lisbon")
        await _fill(kron, "org_b", "alice", "lisbon")
    return {(ws, u): await _holdings(owner, ws, u)
            for ws, u in (("org_a", "alice"), ("org_a", "bob"), ("org_b", "alice"))}


async def _traces_of_the_secret(owner: asyncpg.Connection) -> list[str]:
    """Every place the secret word still stands: text, search terms, statistics, episodes."""
    found = []
    for table, column in (("isokron.agent_messages", "content"),
                          ("isokron.memory_records", "content"),
                          ("isokron.agent_messages", "search_tsv::text"),
                          ("isokron.memory_records", "search_tsv::text"),
                          ("isokron.agent_episodic_events", "body::text"),
                          ("isokron.agent_sessions", "coalesce(title, '') || state::text"),
                          ("isokron.recall_lexicon", "lexeme")):
        n = await owner.fetchval(f"SELECT count(*) FROM {table} WHERE {column} ILIKE $1",
                                 f"%{SECRET_WORD}%")
        if n:
            found.append(f"{table}.{column}: {n}")
    return found


async def test_an_erasure_leaves_nothing_of_the_user_and_its_receipt_verifies(
        world, owner, sweeper_pool):
    alice = world[("org_a", "alice")]
    assert all(alice.values()), alice  # something of each kind to erase
    assert await _traces_of_the_secret(owner)
    audited = await owner.fetchval(
        "SELECT count(*) FROM isokron.memory_audit a JOIN isokron.memory_records r "
        "ON r.id = a.memory_id WHERE r.user_id = 'alice' AND r.written_by = 'org_a' "
        "AND a.content_sha256 IS NOT NULL")
    assert audited >= 1

    receipt = await erase_user(sweeper_pool, "org_a", "alice")

    assert receipt.workspace_id == "org_a" and receipt.seq == 1 and receipt.prev_hash is None
    assert receipt.counts["agent_sessions"] == alice["sessions"] == 2
    assert receipt.counts["agent_messages"] == alice["messages"] == 4
    assert receipt.counts["agent_episodic_events"] == alice["episodes"] == 2
    assert receipt.counts["memory_records"] == alice["memories"] == 2
    assert receipt.counts["memory_audit_cleared"] == audited
    assert receipt.counts["recall_lexicon"] == alice["lexicon"]
    assert receipt.counts["quota_usage"] >= 1
    assert await _holdings(owner, "org_a", "alice") == dict.fromkeys(alice, 0)
    assert await _traces_of_the_secret(owner) == []  # incl. the namespaces' lexicon
    # the content-free audit rows stay
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_audit "
                                "WHERE content_sha256 IS NULL") >= audited
    # user B of the tenant and the same user id in tenant B keep everything
    assert await _holdings(owner, "org_a", "bob") == world[("org_a", "bob")]
    assert await _holdings(owner, "org_b", "alice") == world[("org_b", "alice")]
    # the receipt holds no content and does not name the user
    row = await owner.fetchrow("SELECT * FROM isokron.erasure_receipts")
    assert "alice" not in json.dumps({k: str(v) for k, v in dict(row).items()})
    assert SECRET_WORD not in json.dumps({k: str(v) for k, v in dict(row).items()})
    assert row["operator"] == await sweeper_pool.fetchval("SELECT session_user")

    check = await verify_erasure(sweeper_pool, receipt.id)
    assert check.clean and check.chain_intact and check.remains == {}
    assert check.receipt == receipt

    # a second erasure chains to the first
    second = await erase_user(sweeper_pool, "org_a", "bob")
    assert second.seq == 2 and second.prev_hash == receipt.hash
    checked = await verify_erasure(sweeper_pool, second.id)
    assert checked.clean and checked.receipt == second


async def test_verify_finds_a_remnant_and_a_rewritten_receipt(world, owner, sweeper_pool):
    receipt = await erase_user(sweeper_pool, "org_a", "alice")
    later = await erase_user(sweeper_pool, "org_a", "bob")
    # something of Alice comes back (written behind isokron's back, or a missed copy)
    await owner.execute(
        "INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, agent_name) "
        "VALUES (gen_random_uuid(), 'org_a', 'alice', 'kora')")
    check = await verify_erasure(sweeper_pool, receipt.id)
    assert not check.clean and check.chain_intact
    assert check.remains == {"agent_sessions": 1, "quota_usage": check.remains["quota_usage"]}
    await owner.execute("DELETE FROM isokron.agent_sessions WHERE user_id = 'alice' "
                        "AND tenant_id = 'org_a'")
    await owner.execute("DELETE FROM isokron.quota_usage WHERE key1 = 'org_a' "
                        "AND key2 = 'alice'")
    assert (await verify_erasure(sweeper_pool, receipt.id)).clean
    # a receipt rewritten in place (say, its counts lowered) breaks the chain from there on
    await owner.execute("UPDATE isokron.erasure_receipts SET counts = '{}' WHERE seq = 1")
    first = await verify_erasure(sweeper_pool, receipt.id)
    assert not first.clean and not first.chain_intact and first.broken_at == 1
    assert (await verify_erasure(sweeper_pool, later.id)).broken_at == 1
    # a receipt removed from the middle of the chain is found too
    await owner.execute("UPDATE isokron.erasure_receipts SET counts = $1::jsonb WHERE seq = 1",
                        json.dumps(receipt.counts))
    assert (await verify_erasure(sweeper_pool, later.id)).chain_intact
    await owner.execute("DELETE FROM isokron.erasure_receipts WHERE seq = 1")
    assert (await verify_erasure(sweeper_pool, later.id)).broken_at == 2


async def test_the_runtime_login_cannot_erase_or_read_receipts(world, owner, attacker,
                                                               sweeper_pool):
    """Raw SQL as a LOGIN member of isokron_runtime: the operator's functions are refused,
    the receipts are invisible and cannot be forged, changed or deleted."""
    receipt = await erase_user(sweeper_pool, "org_b", "alice")
    for call in ("SELECT isokron.erase_user_v1('org_a', 'alice')",
                 "SELECT isokron.erase_user_core_v1('org_a', 'alice', 'me')",
                 f"SELECT isokron.erase_verify_v1('{receipt.id}')",
                 "SELECT * FROM isokron.erasure_receipts",
                 "DELETE FROM isokron.erasure_receipts",
                 "UPDATE isokron.erasure_receipts SET hash = 'x'"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await attacker.execute(call)
    # without a tenant context the runtime's own erasure refuses
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await attacker.execute("SELECT isokron.erase_self_v1()")
    assert await _holdings(owner, "org_a", "alice") == world[("org_a", "alice")]


async def test_user_b_and_tenant_b_erase_only_themselves(db, world, owner, sweeper_pool):
    """Through AsyncIsoKron.erase_user: Bob's erasure leaves Alice of org_a whole; the
    Alice of org_b erases herself and nothing of org_a's Alice."""
    async with AsyncIsoKron({"dsn": db.runtime_dsn, "write_transport": "deferred"}) as kron:
        bob = await kron.erase_user(RequestContext("org_a", "bob"))
        other = await kron.erase_user(RequestContext("org_b", "alice"))
    assert bob.counts["agent_sessions"] == 2 and other.counts["agent_sessions"] == 2
    assert bob.operator.startswith("self:")
    assert await _holdings(owner, "org_a", "alice") == world[("org_a", "alice")]
    assert await _holdings(owner, "org_a", "bob") == dict.fromkeys(world[("org_a", "bob")], 0)
    assert await _holdings(owner, "org_b", "alice") == dict.fromkeys(
        world[("org_b", "alice")], 0)
    assert (await verify_erasure(sweeper_pool, bob.id)).clean


async def test_with_a_context_key_a_hijacked_connection_cannot_erase_another_user(
        db, world, owner, attacker, runtime_pool):
    """Signed context on: plain settings naming Alice are not believed; a gateway's token
    for Bob erases Bob only; a context whose ids disagree with its token is refused."""
    await install_context_key(owner, KEY)
    await attacker.execute("BEGIN")
    await attacker.execute("SELECT set_config('app.current_tenant_id', 'org_a', true), "
                           "set_config('app.current_user_id', 'alice', true)")
    with pytest.raises(asyncpg.PostgresError):
        await attacker.execute("SELECT isokron.erase_self_v1()")
    await attacker.execute("ROLLBACK")
    token = mint_context_token(KEY, tenant_id="org_a", user_id="bob")
    with pytest.raises(InvalidInputError):  # the ids say Alice, the token Bob
        RequestContext("org_a", "alice", token=token)
    receipt = await erase_self(runtime_pool, RequestContext(token=token))
    assert receipt.counts["agent_sessions"] == 2
    # the process that signs its own context (it holds the key) erases its context's user
    config = {"dsn": db.runtime_dsn, "write_transport": "deferred", "signed_context": True,
              "context_signing_key": KEY}
    async with AsyncIsoKron(config) as kron:
        other = await kron.erase_user(RequestContext("org_b", "alice"))
    assert other.counts["agent_sessions"] == 2
    assert await _holdings(owner, "org_a", "alice") == world[("org_a", "alice")]
    assert await _holdings(owner, "org_a", "bob") == dict.fromkeys(world[("org_a", "bob")], 0)


async def test_bad_input_is_refused_and_changes_nothing(world, owner, sweeper_pool):
    for ws, user in (("", "alice"), ("org_a", ""), ("org_a", "x" * 300), (None, "alice")):
        with pytest.raises(InvalidInputError):
            await erase_user(sweeper_pool, ws, user)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        await verify_erasure(sweeper_pool, "not-a-receipt")
    with pytest.raises(NotFoundError):
        await verify_erasure(sweeper_pool, uuid.uuid4())
    # a workspace isokron knows nothing of (a typo) is an error, not a receipt of nothing
    with pytest.raises(NotFoundError, match="org_nope"):
        await erase_user(sweeper_pool, "org_nope", "alice")
    assert await owner.fetchval("SELECT count(*) FROM isokron.erasure_receipts") == 0
    assert await _holdings(owner, "org_a", "alice") == world[("org_a", "alice")]
    # a user with nothing stored still gets a receipt, all zero, that verifies
    empty = await erase_user(sweeper_pool, "org_a", "nobody")
    assert set(empty.counts.values()) == {0}
    assert (await verify_erasure(sweeper_pool, empty.id)).clean


async def test_isokron_erase_and_verify_on_the_command_line(db, world, owner, capsys):
    async def cli(*argv: str) -> int:
        return await asyncio.to_thread(main, list(argv))

    assert await cli("erase", "--dsn", db.sweeper_dsn, "--workspace", "org_a",
                     "--user", "alice") == 0
    receipt = json.loads(capsys.readouterr().out)
    assert receipt["counts"]["agent_messages"] == 4 and receipt["seq"] == 1
    assert await cli("erase", "--dsn", db.sweeper_dsn, "--verify", receipt["id"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clean"] is True and out["remains"] == {}
    await owner.execute("INSERT INTO isokron.agent_sessions (id, tenant_id, user_id, "
                        "agent_name) VALUES (gen_random_uuid(), 'org_a', 'alice', 'kora')")
    assert await cli("erase", "--dsn", db.sweeper_dsn, "--verify", receipt["id"]) == 1
    assert json.loads(capsys.readouterr().out)["remains"]["agent_sessions"] == 1
    # the runtime login is not the operator: one line naming the role it needs
    assert await cli("erase", "--dsn", db.runtime_dsn, "--workspace", "org_a",
                     "--user", "bob") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "isokron_sweeper" in err[0] and "permission denied" in err[0]
    assert await cli("erase", "--dsn", db.sweeper_dsn, "--workspace", "org_a") == 2
    assert "--user" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        await cli("erase", "--dsn", db.sweeper_dsn, "--verify", "nope")
    capsys.readouterr()
    # a receipt that does not exist: status 2, apart from 1 (something remains)
    assert await cli("erase", "--dsn", db.sweeper_dsn, "--verify", str(uuid.uuid4())) == 2
    assert "no erasure receipt" in capsys.readouterr().err
    assert await _holdings(owner, "org_a", "bob") == world[("org_a", "bob")]
