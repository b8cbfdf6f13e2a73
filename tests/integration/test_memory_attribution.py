# ruff: noqa: F811  (the fixture memory is imported, then requested)
"""Who a memory came from (issue 26, the hostile review's findings): erasure finds a user's
memories by the workspace that wrote them and the user they came from, so neither another
user (by a commit with the memory's id) nor a runtime login (by raw SQL) may move them."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from isokron.errors import NotOwnedError
from isokron.stores import erase_user, verify_erasure

from .test_memory_truth import memory  # noqa: F401  (the fixture: two trees of workspaces)

SECRET = "Alice's passport number is X1234567"


async def _secret_rows(owner) -> int:
    return int(await owner.fetchval(
        "SELECT count(*) FROM isokron.memory_records WHERE content ILIKE '%X1234567%'"))


async def _as_ws(attacker, ws: str, sql: str, *args):
    async with attacker.transaction():
        await attacker.execute("SELECT set_config('app.current_workspace_id', $1, true)", ws)
        return await attacker.execute(sql, *args)


async def test_another_user_cannot_take_over_a_memory_by_its_id(memory, owner, sweeper_pool):
    """Bob commits by the id of Alice's memory (the public commit, as the LangGraph store's
    put does): refused, the row stays Alice's, and her erasure removes it."""
    mine = await memory.commit("ws_a1", SECRET, user_id="alice")
    with pytest.raises(NotOwnedError, match="another user"):
        await memory.commit("ws_a1", SECRET + " (updated)", id=mine.id, user_id="bob")
    # the same user, or a commit naming no user, still updates by id
    again = await memory.commit("ws_a1", SECRET + "!", id=mine.id, user_id="alice")
    assert again.id == mine.id and again.user_id == "alice"
    assert (await memory.commit("ws_a1", SECRET, id=mine.id)).user_id == "alice"
    # a memory without a user may be claimed once
    free = await memory.commit("ws_a1", "The printer is on floor 3")
    assert (await memory.commit("ws_a1", "The printer is on floor 3", id=free.id,
                                user_id="bob")).user_id == "bob"
    receipt = await erase_user(sweeper_pool, "ws_a1", "alice")
    assert await _secret_rows(owner) == 0
    assert (await verify_erasure(sweeper_pool, receipt.id)).clean


async def test_runtime_raw_update_of_user_id_hides_a_memory_from_erasure(
        memory, owner, attacker, sweeper_pool):
    """user_id is what erasure finds, but the lifecycle guard does not cover it: a runtime
    login rewrites it with a plain UPDATE."""
    mine = await memory.commit("ws_a1", SECRET, user_id="alice")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await _as_ws(attacker, "ws_a1",
                     "UPDATE isokron.memory_records SET user_id = 'nobody' WHERE id = $1",
                     uuid.UUID(mine.id))
    receipt = await erase_user(sweeper_pool, "ws_a1", "alice")
    assert await _secret_rows(owner) == 0
    assert (await verify_erasure(sweeper_pool, receipt.id)).clean


async def test_runtime_raw_insert_with_a_forged_written_by_is_refused(
        memory, owner, attacker, sweeper_pool):
    """0032 says an INSERT giving written_by is refused (it is guarded on UPDATE), but the
    INSERT trigger's WHEN omits written_by: the runtime stores Alice's text attributed to
    another workspace, which her erasure (written_by = the tenant) never looks at, and
    verify reports clean."""
    await memory.commit("ws_a1", "something harmless", user_id="alice")  # the namespace
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await _as_ws(attacker, "ws_a1",
                     "INSERT INTO isokron.memory_records (root_id, namespace, content, user_id, "
                     "written_by) VALUES ('org_root', 'workspace:ws_a1', $1, 'alice', 'ws_b1')",
                     SECRET)
    receipt = await erase_user(sweeper_pool, "ws_a1", "alice")
    assert await _secret_rows(owner) == 0
    assert (await verify_erasure(sweeper_pool, receipt.id)).clean


async def test_a_runtime_insert_names_its_own_workspace_as_the_writer(memory, owner, attacker):
    """A user without a writer is refused too (erasure would never find it); a raw insert
    that names the transaction's own workspace, or no user at all, is the runtime's right."""
    await memory.commit("ws_a1", "something harmless")  # the namespace exists
    for columns, values in (("user_id", "'alice'"),
                            ("user_id, written_by", "'alice', 'org_root'")):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await _as_ws(attacker, "ws_a1",
                         f"INSERT INTO isokron.memory_records (root_id, namespace, content, "
                         f"{columns}) VALUES ('org_root', 'workspace:ws_a1', $1, {values})",
                         SECRET)
    await _as_ws(attacker, "ws_a1",
                 "INSERT INTO isokron.memory_records (root_id, namespace, content, user_id, "
                 "written_by) VALUES ('org_root', 'workspace:ws_a1', 'mine', 'alice', 'ws_a1')")
    await _as_ws(attacker, "ws_a1",
                 "INSERT INTO isokron.memory_records (root_id, namespace, content) "
                 "VALUES ('org_root', 'workspace:ws_a1', 'no user')")
    assert await _secret_rows(owner) == 0
    assert await owner.fetchval("SELECT count(*) FROM isokron.memory_records "
                                "WHERE content IN ('mine', 'no user')") == 2


async def test_the_definer_commit_checks_what_row_level_security_checked(
        memory, owner, attacker):
    """memory_commit_v3 runs as the definer: it refuses a workspace other than the
    context's (a signed token for ws_a1 naming ws_b1), a namespace the workspace cannot
    write, and never finds (or names) a sibling's memory by its id."""
    from isokron.db.context_keys import install_context_key
    from isokron.guard.context_token import mint_context_token

    theirs = await memory.commit("ws_b1", "ws_b1's own note")
    # an id of a sibling's memory: not found, so a fresh row of ws_a1's own; nothing named
    mine = await memory.commit("ws_a1", "my note", id=theirs.id)
    assert mine.id == theirs.id and mine.namespace == "workspace:ws_a1"
    commit = ("SELECT isokron.memory_commit_v3(isokron.in_context_v1($1, $2), gen_random_uuid(), "
              "$3, 'workspace', 'forged', 'fact', 'agent', false, NULL, NULL, NULL, 'alice')")
    with pytest.raises(asyncpg.PostgresError, match="may not write"):
        await attacker.fetchval(commit, None, "ws_a1", "workspace:ws_b1")
    key = "attr-" + "k" * 43
    await install_context_key(owner, key)
    token = mint_context_token(key, workspace_id="ws_a1")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="context"):
        await attacker.fetchval(commit, token, "ws_b1", "workspace:ws_b1")
    assert await attacker.fetchval(commit, token, "ws_a1", "workspace:ws_a1") is not None
    rows = await owner.fetch("SELECT namespace, written_by FROM isokron.memory_records "
                             "WHERE content = 'forged'")
    assert [(r["namespace"], r["written_by"]) for r in rows] == [("workspace:ws_a1", "ws_a1")]
