# ruff: noqa: F811  (the fixtures attacker and world are imported, then requested)
"""A hijacked runtime connection against a database with a context key installed.

The attacker is a raw connection of the runtime login (what SQL injection in the host
application gives). Without a key it can name any tenant with set_config; with one it
can act only as a tenant whose context the application signed, and forges nothing.
"""

from __future__ import annotations

import time

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.db.context_keys import (
    context_mode,
    install_context_key,
    list_context_keys,
    remove_context_key,
)
from isokron.errors import ConfigError, ContextTokenError, InvalidInputError, NotFoundError
from isokron.guard.context_token import ContextSigner, key_fingerprint, mint_context_token
from isokron.pool import create_pool, in_transaction
from isokron.stores import AgentSessionStore, NamespaceMemory, RequestContext
from tests.integration.test_tenancy_matrix import (  # noqa: F401  (fixtures)
    CLOSED,
    SPECS,
    A,
    B,
    _sql,
    world,
)

KEY = "k1-" + "x" * 45
KEY2 = "k2-" + "y" * 45
SCHEMAS = ("isokron", "kronicle", "hivex_foundation", "public")
#: how to forge a row of each substrate table (the runtime role may not write any of them)
SUBSTRATE_FORGE = {
    "actor_registry": "INSERT INTO public.actor_registry (workspace_id, actor_kind, "
                      "display_name) VALUES ('{ws}', 'kora', 'forged')",
    "kora_role_charter": "INSERT INTO public.kora_role_charter (workspace_id, schema_version, "
                         "content_jsonb) VALUES ('{ws}', '1', '{{}}')",
    "kora_policy_registry": "INSERT INTO public.kora_policy_registry (workspace_id, "
                            "policy_path, policy_value) VALUES ('{ws}', 'kora_disabled', "
                            "'false')",
    "event_log": "INSERT INTO hivex_foundation.event_log (tenant_id, seq, event_type, "
                 "this_event_hash) SELECT tenant_id, 999, 'x.forged', 'h' "
                 "FROM hivex_foundation.tenant",
    "tenant": "INSERT INTO hivex_foundation.tenant (clerk_org_id) VALUES ('forged')",
    "chain_anchor": "INSERT INTO hivex_foundation.chain_anchor (tenant_id, last_seq, "
                    "last_hash, event_count) SELECT tenant_id, 999, 'h', 999 "
                    "FROM hivex_foundation.tenant",
    "actor_capability_matrix": "INSERT INTO public.actor_capability_matrix (cap_name, "
                               "actor_kind, granted) VALUES ('cap_forged', 'kora', true)",
    "workspace_constitution_revisions": "INSERT INTO kronicle.workspace_constitution_revisions "
                                        "(workspace_id, revision_number, rules_hash) VALUES "
                                        "('{ws}', 99, '\\x00')",
    # not substrate: isokron's quota limits, written by the schema owner only
    "quota_limits": "INSERT INTO isokron.quota_limits (workspace_id, sessions_per_user) "
                    "VALUES ('{ws}', 1000000)",
    "agent_scratchpad_entries": "INSERT INTO kronicle.agent_scratchpad_entries (workspace_id, "
                                "actor_id, scratchpad_kind, content_inline, content_hash, "
                                "approved_event_id) SELECT workspace_id, actor_id, 'hypothesis', 'x', "
                                "'h', gen_random_uuid() FROM public.actor_registry",
}


async def _tables(owner: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await owner.fetch(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') "
        "AND c.relname NOT IN ('schema_migrations', 'context_keys') ORDER BY 1, 2",
        list(SCHEMAS))
    return [(r[0], r[1]) for r in rows]


async def _as(conn: asyncpg.Connection, sql: str, *, plain: str | None = None,
              token: str | None = None, fetch: bool = True) -> object:
    """Run ``sql`` in one transaction with the plain settings of ``plain`` and/or a token."""
    async with conn.transaction():
        if plain is not None:
            await conn.execute(
                "SELECT set_config('app.current_workspace_id', $1, true), "
                "set_config('app.current_tenant_id', $1, true), "
                "set_config('app.current_user_id', 'u', true)", plain)
        if token is not None:
            await conn.execute("SELECT set_config('isokron.context_token', $1, true)", token)
        return await (conn.fetchval(sql) if fetch else conn.execute(sql))


async def _refused_or_zero(conn: asyncpg.Connection, sql: str, **scope: str) -> int:
    try:
        status = await _as(conn, sql, fetch=False, **scope)
    except (asyncpg.InsufficientPrivilegeError, asyncpg.CheckViolationError,
            asyncpg.NotNullViolationError, asyncpg.ForeignKeyViolationError):
        return 0
    return int(str(status).rsplit(" ", 1)[-1])


def _token(ws: str, key: str = KEY, **kw: object) -> str:
    return mint_context_token(key, workspace_id=ws, tenant_id=ws, user_id="u", **kw)  # type: ignore[arg-type]


async def test_the_runtime_role_cannot_read_or_install_keys(owner, attacker):
    await install_context_key(owner, KEY)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await attacker.fetch("SELECT * FROM isokron.context_keys")
    for call in ("SELECT isokron.install_context_key_v1('0123456789abcdef', "
                 "'\\x00'::bytea, '\\x00'::bytea)",
                 f"SELECT isokron.remove_context_key_v1('{key_fingerprint(KEY)}')",
                 "SELECT * FROM isokron.context_keys_v1()"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await attacker.fetch(call)
    assert await context_mode(attacker) == "signed"  # it may know that signing is on


async def test_with_a_key_the_plain_settings_read_and_write_nothing_in_any_table(
        owner, attacker, world):
    """Every RLS table of every schema isokron ships, by raw SQL: with A's (and then B's)
    plain settings the attacker sees no row, changes none, forges none; the owner's rows
    are untouched."""
    await install_context_key(owner, KEY)
    tables = await _tables(owner)
    assert len(tables) >= 18
    for schema, table in tables:
        qualified = f"{schema}.{table}"
        before = await owner.fetchval(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY "
                                      f"t::text), '')) FROM {qualified} t")
        for ws in (A, B):
            try:
                seen = await _as(attacker, f"SELECT count(*) FROM {qualified}", plain=ws)
            except asyncpg.InsufficientPrivilegeError:
                seen = 0
            if table == "actor_capability_matrix":  # global reference data, read by all
                assert seen == await owner.fetchval(f"SELECT count(*) FROM {qualified}")
            else:
                assert seen == 0, (qualified, ws)
            spec = SPECS.get(table) or CLOSED.get(table)
            if spec is not None:
                change = f"UPDATE {qualified} SET {spec.change}"
                assert await _refused_or_zero(attacker, change, plain=ws) == 0, qualified
                assert await _refused_or_zero(attacker, f"DELETE FROM {qualified}",
                                              plain=ws) == 0, qualified
                assert await _refused_or_zero(attacker, _sql(spec.forge, ws, world),
                                              plain=ws) == 0, qualified
            else:
                forge = SUBSTRATE_FORGE[table].format(ws=ws)
                assert await _refused_or_zero(attacker, forge, plain=ws) == 0, qualified
                assert await _refused_or_zero(attacker, f"DELETE FROM {qualified}",
                                              plain=ws) == 0, qualified
        after = await owner.fetchval(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY "
                                     f"t::text), '')) FROM {qualified} t")
        assert after == before, qualified


async def test_with_a_key_the_definer_functions_refuse_a_plain_context(owner, attacker, world):
    """The write functions check the context, not the settings: the chain, the memory and
    the scratchpad of B cannot be appended to with B's plain settings."""
    await install_context_key(owner, KEY)
    events = await owner.fetchval("SELECT count(*) FROM hivex_foundation.event_log")
    for sql in ("SELECT hivex_foundation.append_event_v1('org_b', 'kora.forged.event', '{}', "
                "NULL)",
                "SELECT isokron.memory_commit_v1('org_b', gen_random_uuid(), 'org:org_b', 'org', "
                "'forged', 'fact', 'agent', false, NULL)",
                "SELECT count(*) FROM isokron.recall_for_v1('org_b', 'u', 'private fact', NULL, "
                "10)"):
        with pytest.raises(asyncpg.PostgresError) as caught:
            await _as(attacker, sql, plain=B)
        assert caught.value.sqlstate.startswith("IK"), caught.value  # refused by the check
    assert await owner.fetchval("SELECT count(*) FROM hivex_foundation.event_log") == events


async def test_a_signed_token_is_the_only_context_and_it_is_bound_to_its_tenant(
        owner, attacker, world):
    await install_context_key(owner, KEY)
    token_a = _token(A)
    seen = await _as(attacker, "SELECT count(*) FROM isokron.memory_records", token=token_a)
    assert seen == 3  # A's three memories
    # B's plain settings beside A's token change nothing: the token wins
    assert await _as(attacker, "SELECT count(*) FROM isokron.memory_records "
                     "WHERE root_id = 'org_b'", token=token_a, plain=B) == 0
    assert await _as(attacker, "SELECT count(*) FROM public.kora_role_charter",
                     token=token_a) == 1
    assert await _as(attacker, "SELECT count(*) FROM hivex_foundation.event_log e "
                     "JOIN hivex_foundation.tenant t USING (tenant_id) "
                     "WHERE t.clerk_org_id = 'org_b'", token=token_a) == 0


async def test_a_tampered_expired_or_foreign_token_is_refused_with_a_clear_error(
        db, owner, attacker, world):
    await install_context_key(owner, KEY)
    header, _, sig = _token(A).split(".")
    forged_claims = _token(B).split(".")[1]
    cases = {
        "signature does not verify": f"{header}.{forged_claims}.{sig}",  # A's sig, B's claims
        "expired": _token(A, ttl_s=1, now=time.time() - 60),
        "any installed context key": _token(A, key=KEY2),  # a key nobody installed
        "malformed": "not-a-token",
    }
    for message, token in cases.items():
        with pytest.raises(asyncpg.PostgresError, match=message) as caught:
            await _as(attacker, "SELECT count(*) FROM isokron.memory_records", token=token)
        assert caught.value.sqlstate == "IKC01"
    # through the stores it is a typed error
    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=1)
    try:
        with pytest.raises(ContextTokenError, match="expired"):
            await AgentSessionStore(pool).list_sessions(
                RequestContext(token=mint_context_token(KEY, tenant_id=A, user_id="u",
                                                        ttl_s=1, now=time.time() - 60)))
    finally:
        await pool.close()


async def test_key_rotation_two_keys_valid_during_the_switch(owner, attacker, world):
    first, _ = await install_context_key(owner, KEY)
    second, added = await install_context_key(owner, KEY2)
    assert added and [f for f, _ in await list_context_keys(owner)] == [first, second]
    assert (await install_context_key(owner, KEY2))[1] is False  # idempotent
    for key in (KEY, KEY2):
        assert await _as(attacker, "SELECT count(*) FROM isokron.memory_records",
                         token=_token(A, key=key)) == 3
    assert await remove_context_key(owner, first)
    with pytest.raises(asyncpg.PostgresError, match="any installed context key"):
        await _as(attacker, "SELECT count(*) FROM isokron.memory_records", token=_token(A))
    assert await _as(attacker, "SELECT count(*) FROM isokron.memory_records",
                     token=_token(A, key=KEY2)) == 3
    assert await remove_context_key(owner, second)
    assert not await remove_context_key(owner, second)
    assert await context_mode(owner) == "plain"  # the last key gone: plain settings again
    assert await _as(attacker, "SELECT count(*) FROM isokron.memory_records", plain=A) == 3


async def test_isokron_signs_its_own_transactions_end_to_end(db, owner, world):
    """AsyncIsoKron with signed_context: the prompt, memory and sessions work; a pool that
    does not sign finds nothing; a gateway's token works from a process without the key."""
    await install_context_key(owner, KEY)
    cfg = {"dsn": db.runtime_dsn, "signed_context": True, "context_signing_key": KEY,
           "write_transport": "deferred"}
    async with AsyncIsoKron(cfg) as kron:
        assert "kora" in (await kron.system_prompt_block(A)).lower()
        memory = await kron.memory()
        await memory.commit(A, "signed note about the deploy")
        assert [r.content for r in await memory.search(A, "deploy")] == [
            "signed note about the deploy"]
        assert await memory.search(B, "deploy") == []
    plain = await create_pool(db.runtime_dsn, min_size=1, max_size=1)
    try:
        with pytest.raises(NotFoundError):  # unsigned: not even the workspace is visible
            await NamespaceMemory(plain).search(A, "deploy")
        # a gateway minted this; the process holds no key
        ctx = RequestContext(token=mint_context_token(KEY, tenant_id=A, user_id="alice"))
        assert (ctx.tenant_id, ctx.user_id) == (A, "alice")
        store = AgentSessionStore(plain)
        session = await store.create_session(ctx, agent_name="kora")
        assert [s.id for s in await store.list_sessions(ctx)] == [session.id]
        with pytest.raises(InvalidInputError, match="not the token's"):
            RequestContext(tenant_id=B, token=ctx.token)
    finally:
        await plain.close()


async def test_a_signing_mismatch_is_a_config_error_when_the_pool_opens(db, owner, world):
    cfg = {"dsn": db.runtime_dsn, "write_transport": "deferred"}
    async with AsyncIsoKron(cfg | {"signed_context": True, "context_signing_key": KEY}) as kron:
        with pytest.raises(ConfigError, match="no context key"):
            await kron.system_prompt_block(A)
    await install_context_key(owner, KEY)
    async with AsyncIsoKron(cfg) as kron:
        with pytest.raises(ConfigError, match="requires signed tenant contexts"):
            await kron.system_prompt_block(A)
    with pytest.raises(ConfigError, match="context_signing_key"):
        AsyncIsoKron(cfg | {"signed_context": True})
    with pytest.raises(ConfigError, match="at least 32"):
        AsyncIsoKron(cfg | {"signed_context": True, "context_signing_key": "short"})


async def test_a_joined_transaction_signs_both_scopes(db, owner, world):
    """A tenant scope joined to a workspace scope: the token carries both."""
    await install_context_key(owner, KEY)
    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=1,
                             context_signer=ContextSigner(KEY))
    try:
        async with in_transaction(pool, {"app.current_workspace_id": A}) as conn, \
                in_transaction(conn, {"app.current_tenant_id": A,
                                      "app.current_user_id": "u"}) as joined:
            claims = await joined.fetchval("SELECT isokron.context_claims_v1()")
        assert claims == {"wsp": A, "tnt": A, "sub": "u"}
        async with in_transaction(pool, {"app.current_tenant_id": B,
                                         "app.current_user_id": "u"}) as conn:
            assert await conn.fetchval("SELECT isokron.context_claims_v1()") == {
                "tnt": B, "sub": "u"}  # a new transaction starts from nothing
    finally:
        await pool.close()


async def test_a_key_takes_effect_at_once_on_plans_cached_before(owner, attacker, world):
    """The attacker's connection caches plans (policies, a lean function) in plain mode;
    installing the key replaces the inlined constant, so the next run sees nothing."""
    count = "SELECT count(*) FROM isokron.memory_records"
    search = ("SELECT isokron.memory_search_v1('org_a', NULL, NULL, 10, 'recent', NULL) "
              "->> 'rows'")
    for _ in range(6):  # past the plan cache's custom-plan rounds
        assert await _as(attacker, count, plain=A) == 3
        assert await _as(attacker, search, plain=A) is not None
    await install_context_key(owner, KEY)
    assert await _as(attacker, count, plain=A) == 0
    assert await _as(attacker, search, plain=A) is None  # the workspace is not even seen
    assert await _as(attacker, count, token=_token(A)) == 3


async def test_the_readme_signed_context_snippets_work_as_printed(db, owner, monkeypatch,
                                                                   capsys):
    """The README's two snippets: the key command prints the fingerprint, and the config
    loads with signing on (and then serves a prompt)."""
    import asyncio
    import re
    from pathlib import Path

    import yaml

    from isokron.config import load_config
    from isokron.ops.cli import main
    from isokron.testing.seed import seed_demo_workspace

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### A tenant context a hijacked connection"):]
    bash, config = re.findall(r"```(?:bash|yaml)\n(.*?)```", section, re.S)[:2]
    assert "isokron context-key set --dsn \"$OWNER_DSN\"" in bash
    await seed_demo_workspace(owner, "org_demo")  # (the seed signs nothing: before the key)
    monkeypatch.setenv("ISOKRON_CONTEXT_KEY", KEY)
    monkeypatch.setenv("ISOKRON_DSN", db.runtime_dsn)
    assert await asyncio.to_thread(main, ["context-key", "set", "--dsn", db.dsn]) == 0
    assert f"context key {key_fingerprint(KEY)} installed" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["context-key", "list", "--dsn", db.dsn]) == 0
    assert key_fingerprint(KEY) in capsys.readouterr().out
    cfg = load_config(yaml.safe_load(config))
    assert cfg.signed_context and cfg.context_token_ttl_s == 300
    async with AsyncIsoKron(cfg) as kron:
        assert "You are Kora" in await kron.system_prompt_block("org_demo")
    monkeypatch.delenv("ISOKRON_CONTEXT_KEY")
    assert await asyncio.to_thread(main, ["context-key", "set", "--dsn", db.dsn]) != 0
    assert "ISOKRON_CONTEXT_KEY is not set" in capsys.readouterr().err


async def test_a_connection_that_signed_before_reads_nothing_without_a_token(
        owner, attacker, world):
    """A pooled connection keeps the setting, emptied, after a signed transaction: the next
    transaction without a token sees nothing (no error); malformed tokens are IKC01."""
    await install_context_key(owner, KEY)
    assert await _as(attacker, "SELECT count(*) FROM isokron.memory_records",
                     token=_token(A)) == 3
    assert await _as(attacker, "SELECT count(*) FROM isokron.memory_records") == 0
    assert await _as(attacker, "SELECT isokron.context_claims_v1() = '{}'::jsonb") is True
    for bad in ("a.b", " ", "a.b." + "c" * 43):
        with pytest.raises(asyncpg.PostgresError) as caught:
            await _as(attacker, "SELECT count(*) FROM isokron.memory_records", token=bad)
        assert caught.value.sqlstate == "IKC01", bad


async def test_joining_a_transaction_the_caller_opened_carries_no_earlier_claims(db, owner,
                                                                                world):
    await install_context_key(owner, KEY)
    pool = await create_pool(db.runtime_dsn, min_size=1, max_size=1,
                             context_signer=ContextSigner(KEY))
    try:
        async with pool.acquire() as conn:
            async with conn.transaction(), in_transaction(  # the caller's own transaction
                    conn, {"app.current_tenant_id": B, "app.current_user_id": "u"}) as joined:
                assert await joined.fetchval("SELECT isokron.context_claims_v1()") == {
                    "tnt": B, "sub": "u"}
            async with conn.transaction(), in_transaction(
                    conn, {"app.current_workspace_id": A}) as joined:
                assert await joined.fetchval("SELECT isokron.context_claims_v1()") == {
                    "wsp": A}  # nothing of B's tenant carried over
    finally:
        await pool.close()


async def test_substrate_writes_are_signed_too(db, owner):
    """With write_transport: substrate, the scratchpad entry and its chain event of a turn
    that names a capability land under a key (definer functions check the context)."""
    from isokron.testing.seed import seed_demo_workspace

    await seed_demo_workspace(owner, "org_demo")
    await install_context_key(owner, KEY)
    events = await owner.fetchval("SELECT count(*) FROM hivex_foundation.event_log")
    cfg = {"dsn": db.runtime_dsn, "signed_context": True, "context_signing_key": KEY,
           "write_transport": "substrate"}
    async with AsyncIsoKron(cfg) as kron:
        await kron.sync_turn("org_demo", "hi", "done with cap_create_ticket", session_id="s",
                             user_id="u")
        assert await kron.flush(10)
    assert await owner.fetchval("SELECT count(*) FROM kronicle.agent_scratchpad_entries "
                                "WHERE content_inline LIKE '%capabilities named: "
                                "cap_create_ticket'") == 1
    assert await owner.fetchval("SELECT count(*) FROM hivex_foundation.event_log") == events + 1
    assert await owner.fetchval("SELECT hivex_foundation.verify_chain_v1('org_demo')") is None


async def test_the_context_is_verified_once_per_statement_not_per_row(db, owner):
    """300 memories read in one statement: one verification (an InitPlan), not 300."""
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('org_many')")
    await owner.execute("INSERT INTO isokron.memory_namespaces (name, kind) VALUES "
                        "('workspace:org_many', 'workspace')")
    await owner.execute("INSERT INTO isokron.memory_records (namespace, content) SELECT "
                        "'workspace:org_many', 'fact ' || g FROM generate_series(1, 300) g")
    await install_context_key(owner, KEY)
    token = mint_context_token(KEY, workspace_id="org_many")
    await owner.execute("SET track_functions = 'all'")
    await owner.execute("SET ROLE isokron_runtime")
    try:
        async with owner.transaction():
            await owner.execute("SELECT set_config('isokron.context_token', $1, true)", token)
            assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records") == 300
            calls = await owner.fetchval(
                "SELECT calls FROM pg_stat_xact_user_functions "
                "WHERE funcname = 'context_claims_v1'")
    finally:
        await owner.execute("RESET ROLE")
    policies = await owner.fetchval(
        "SELECT count(*) FROM pg_policy WHERE polrelid = 'isokron.memory_records'::regclass "
        "AND polcmd IN ('r', '*') AND NOT 'isokron_definer'::regrole = ANY (polroles)")
    assert calls == policies == 1, (calls, policies)  # 300 rows, one verification


async def test_a_token_valid_for_more_than_a_day_is_refused(owner, attacker, world):
    import base64
    import hashlib
    import hmac
    import json

    await install_context_key(owner, KEY)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signed = (b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(
        json.dumps({"wsp": A, "exp": 1e300}).encode()))
    forever = signed + "." + b64(hmac.new(KEY.encode(), signed.encode(), hashlib.sha256).digest())
    with pytest.raises(asyncpg.PostgresError, match="valid for more than a day"):
        await _as(attacker, "SELECT count(*) FROM isokron.memory_records", token=forever)
    with pytest.raises(InvalidInputError, match="ttl_s must be"):
        mint_context_token(KEY, workspace_id=A, ttl_s=2 * 86400)
    with pytest.raises(ConfigError, match="context_token_ttl_s must be"):
        AsyncIsoKron({"dsn": "postgresql://x@/y", "signed_context": True,
                      "context_signing_key": KEY, "context_token_ttl_s": 90000})
