"""Pin the episodic event store against PostgreSQL as the runtime role."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from isokron.errors import InvalidInputError, NotOwnedError
from isokron.stores import EpisodicEventStore
from isokron.testing.seed import seed_demo_workspace


def statements_on(conn) -> list[str]:
    """Record every statement ``conn`` sends (asyncpg's query logger)."""
    sent: list[str] = []
    conn.add_query_logger(lambda record: sent.append(record.query))
    return sent


@pytest.fixture
async def agents(owner):
    """Seed two workspaces; return their kora actor ids."""
    a = await seed_demo_workspace(owner, "org_a")
    b = await seed_demo_workspace(owner, "org_b")
    return a.actors["kora"], b.actors["kora"]


async def test_append_and_list_newest_first(runtime_pool, agents):
    """Appended events come back newest first with their fields."""
    store = EpisodicEventStore(runtime_pool)
    first = await store.append("org_a", agents[0], event_type="turn", body={"n": 1},
                               sender="kora", recipient="user")
    second = await store.append("org_a", agents[0], event_type="tool", body={"n": 2})
    listed = await store.list("org_a", agents[0])
    assert [e.id for e in listed] == [second.id, first.id]
    assert listed[1].body == {"n": 1} and listed[1].sender == "kora"
    assert listed[0].created_at.tzinfo is not None


async def test_filters_by_type_and_since(runtime_pool, owner, agents):
    """event_type and since narrow the list."""
    store = EpisodicEventStore(runtime_pool)
    await store.append("org_a", agents[0], event_type="turn")
    old = await store.append("org_a", agents[0], event_type="tool")
    await owner.execute(
        "UPDATE isokron.agent_episodic_events SET created_at = now() - interval '2 days' "
        "WHERE id = $1", uuid.UUID(old.id))
    await store.append("org_a", agents[0], event_type="tool")
    assert [e.event_type for e in await store.list("org_a", agents[0], event_type="turn")] == [
        "turn"]
    since = datetime.now(UTC) - timedelta(days=1)
    recent_tools = await store.list("org_a", agents[0], event_type="tool", since=since)
    assert len(recent_tools) == 1 and recent_tools[0].id != old.id
    assert len(await store.list("org_a", agents[0], since=since)) == 2


async def test_limit_is_clamped_not_rejected(runtime_pool, agents):
    """limit 0 gives one row; 10,000 gives at most 500."""
    store = EpisodicEventStore(runtime_pool)
    await store.append_many("org_a", agents[0], [{"event_type": "bulk"} for _ in range(501)])
    assert len(await store.list("org_a", agents[0], limit=0)) == 1
    assert len(await store.list("org_a", agents[0], limit=10_000)) == 500


async def test_append_many_is_one_round_trip(runtime_pool, agents):
    """A batch of 25 events is written by a single statement (besides the tenant scope)."""
    store = EpisodicEventStore(runtime_pool)
    async with runtime_pool.acquire() as conn:
        sent = statements_on(conn)
        events = await EpisodicEventStore(conn).append_many(
            "org_a", agents[0], [{"event_type": "batch", "body": {"i": i}} for i in range(25)])
    await asyncio.sleep(0)  # query loggers run soon after each query
    assert len([q for q in sent if "episodic_append_v3" in q]) == 1
    assert [e.body["i"] for e in events] == list(range(25))
    assert len(await store.list("org_a", agents[0], event_type="batch", limit=100)) == 25


async def test_another_workspace_gets_not_owned(runtime_pool, agents):
    """Workspace B cannot append to or list A's agent, and learns nothing about existence."""
    store = EpisodicEventStore(runtime_pool)
    await store.append("org_a", agents[0], event_type="turn")
    with pytest.raises(NotOwnedError) as foreign:
        await store.append("org_b", agents[0], event_type="turn")
    with pytest.raises(NotOwnedError) as missing:
        await store.append("org_b", uuid.uuid4(), event_type="turn")
    assert str(foreign.value).split(" is not")[1] == str(missing.value).split(" is not")[1]
    with pytest.raises(NotOwnedError):
        await store.list("org_b", agents[0])
    assert len(await store.list("org_a", agents[0])) == 1


async def test_replayed_id_is_stored_once(runtime_pool, agents):
    """Appending the same client id twice returns the stored event and writes one row."""
    store = EpisodicEventStore(runtime_pool)
    event_id = uuid.uuid4()
    first = await store.append("org_a", agents[0], event_type="turn", id=event_id)
    again = await store.append("org_a", agents[0], event_type="turn", id=event_id)
    assert first.id == again.id == str(event_id)
    assert len(await store.list("org_a", agents[0])) == 1


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"event_type": ""}, "event_type must be 1..64"),
        ({"event_type": "x" * 65}, "event_type must be 1..64"),
        ({"event_type": "bad\x00type"}, "NUL"),
        ({"event_type": "t", "sender": "s" * 129}, "sender must be 0..128"),
        ({"event_type": "t", "recipient": "r" * 129}, "recipient must be 0..128"),
        ({"event_type": "t", "body": ["not", "an", "object"]}, "JSON object"),
        ({"event_type": "t", "body": {"big": "x" * 70_000}}, "limit is 65536"),
        ({"event_type": "t", "body": {"nul": "a\x00b"}}, "NUL"),
        ({"event_type": "t", "inference_receipt_id": "i" * 65}, "inference_receipt_id"),
        ({"event_type": "t", "audit_event_hash": "h" * 65}, "audit_event_hash"),
    ],
)
async def test_bad_input_is_rejected_before_sql(runtime_pool, agents, kwargs, fragment):
    """Each bad field is an InvalidInputError naming it, and nothing is stored."""
    store = EpisodicEventStore(runtime_pool)
    with pytest.raises(InvalidInputError, match=fragment):
        await store.append("org_a", agents[0], **kwargs)
    assert await runtime_pool.fetchval(
        "SELECT count(*) FROM isokron.agent_episodic_events") == 0


async def test_bad_batch_writes_nothing(runtime_pool, agents):
    """One bad event in a batch rejects the whole batch."""
    store = EpisodicEventStore(runtime_pool)
    with pytest.raises(InvalidInputError):
        await store.append_many("org_a", agents[0], [{"event_type": "ok"}, {"event_type": ""}])
    assert await runtime_pool.fetchval(
        "SELECT count(*) FROM isokron.agent_episodic_events") == 0


async def test_runtime_role_cannot_update_or_delete(runtime_pool, agents):
    """The table is append-only for the runtime role."""
    await EpisodicEventStore(runtime_pool).append("org_a", agents[0], event_type="turn")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime_pool.execute("UPDATE isokron.agent_episodic_events SET event_type = 'x'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime_pool.execute("DELETE FROM isokron.agent_episodic_events")
    assert not hasattr(EpisodicEventStore, "delete") and not hasattr(EpisodicEventStore, "update")


async def test_list_queries_use_the_two_indexes(runtime_pool, owner, agents):
    """EXPLAIN on 20,000+ rows: each list variant is served by its index."""
    await owner.execute(
        "INSERT INTO isokron.agent_episodic_events (workspace_id, agent_id, event_type, "
        "created_at) SELECT a.workspace_id, a.actor_id, (ARRAY['turn','tool','delegation','note'])[1 + g % 4], "
        "       now() - make_interval(secs => g) "
        "  FROM generate_series(1, 12000) g CROSS JOIN public.actor_registry a "
        " WHERE a.actor_kind IN ('kora', 'sea')")
    await owner.execute("ANALYZE isokron.agent_episodic_events")
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_episodic_events") >= 20_000
    agent = uuid.UUID(agents[0])
    plain = await owner.fetch("EXPLAIN " + EpisodicEventStore.list_sql(), "org_a", agent, 50,
                              None)
    typed = await owner.fetch("EXPLAIN " + EpisodicEventStore.list_sql(event_type=True),
                              "org_a", agent, 50, None, "turn")
    plain_text = "\n".join(r[0] for r in plain)
    typed_text = "\n".join(r[0] for r in typed)
    assert "agent_episodic_events_agent_created_seq_idx" in plain_text, plain_text
    assert "agent_episodic_events_agent_type_created_seq_idx" in typed_text, typed_text


def _squeezed(sql: str) -> str:
    for placeholder, name in (("$4::timestamptz", "p_since"), ("$1", "p_workspace_id"),
                              ("$2", "p_agent_id"), ("$3", "p_limit"), ("$5", "p_event_type")):
        sql = sql.replace(placeholder, name)
    return "".join(sql.split())


async def test_the_list_function_runs_the_explained_statements(owner):
    """episodic_list_v1 runs exactly list_sql() and list_sql(event_type=True)."""
    body = _squeezed(await owner.fetchval(
        "SELECT prosrc FROM pg_proc WHERE proname = 'episodic_list_v1'"))
    for by_type in (False, True):
        assert _squeezed(EpisodicEventStore.list_sql(event_type=by_type)) in body


async def test_a_batch_mixing_replays_and_new_events_returns_each_as_stored(runtime_pool,
                                                                           agents, owner):
    """Replayed ids come back as first stored (not as re-sent); new ones are written; an id
    another agent holds is refused, and nothing of that batch is written."""
    store = EpisodicEventStore(runtime_pool)
    old = uuid.uuid4()
    await store.append("org_a", agents[0], event_type="turn", body={"v": 1}, id=old)
    fresh = uuid.uuid4()
    out = await store.append_many("org_a", agents[0], [
        {"event_type": "turn", "body": {"v": 2}, "id": old},
        {"event_type": "turn", "body": {"v": 3}, "id": fresh}])
    assert [(e.id, e.body) for e in out] == [(str(old), {"v": 1}), (str(fresh), {"v": 3})]
    sea = await owner.fetchval("SELECT actor_id FROM public.actor_registry "
                               "WHERE workspace_id = 'org_a' AND actor_kind = 'sea'")
    with pytest.raises(NotOwnedError, match="already used by another agent"):
        await store.append("org_a", sea, event_type="turn", id=old)
    assert len(await store.list("org_a", sea)) == 0


async def test_a_batch_lists_newest_first_in_the_reverse_of_the_order_given(runtime_pool,
                                                                           agents):
    """Events of one call share created_at; seq breaks the tie deterministically."""
    store = EpisodicEventStore(runtime_pool)
    given = [{"event_type": "step", "body": {"n": n}} for n in range(12)]
    await store.append_many("org_a", agents[0], given)
    listed = await store.list("org_a", agents[0], limit=12)
    assert [e.body["n"] for e in listed] == list(range(11, -1, -1))
    typed = await store.list("org_a", agents[0], event_type="step", limit=5)
    assert [e.body["n"] for e in typed] == [11, 10, 9, 8, 7]


async def test_the_lean_reply_returns_what_was_stored(runtime_pool, agents, db):
    """episodic_append_v3 answers with ids and times only: the events returned are what the
    table holds (body as stored, created_at the database's), for fresh rows, a retried id
    (stored before, returned as stored) and an id given twice in one batch (the first)."""
    import asyncpg

    store = EpisodicEventStore(runtime_pool)
    first = await store.append("org_a", agents[0], event_type="tool", sender="kora",
                               body={"b": 2, "a": [1, "ü"]})
    again = await store.append("org_a", agents[0], event_type="tool", sender="kora",
                               body={"changed": True}, id=first.id)
    assert again == first  # a retry: the stored row, not the new body
    twice = uuid.uuid4()
    events = await store.append_many("org_a", agents[0], [
        {"event_type": "one", "body": {"n": 1}, "id": twice},
        {"event_type": "two", "body": {"n": 2}, "id": twice}])
    assert [e.event_type for e in events] == ["one", "one"]
    owner = await asyncpg.connect(db.dsn)
    try:
        for event in (first, events[0]):
            row = await owner.fetchrow(
                "SELECT created_at, event_type, sender, body::text AS body FROM "
                "isokron.agent_episodic_events WHERE id = $1", uuid.UUID(event.id))
            assert (row["created_at"], row["event_type"], row["sender"]) == (
                event.created_at, event.event_type, event.sender)
            assert json.loads(row["body"]) == event.body
    finally:
        await owner.close()


async def test_one_event_is_one_scalar_statement_returning_what_was_stored(runtime_pool,
                                                                         agents, owner):
    """``append`` sends one statement (episodic_append_one_v1, not the batch function) and
    returns the event as the table holds it."""
    async with runtime_pool.acquire() as conn:
        sent = statements_on(conn)
        event = await EpisodicEventStore(conn).append(
            "org_a", agents[0], event_type="tool", sender="kora", recipient="user",
            body={"q": "deploy rota", "n": [1, 2]}, inference_receipt_id="r1",
            audit_event_hash="h1")
    await asyncio.sleep(0)  # query loggers run soon after each query
    assert len(sent) == 1 and "episodic_append_one_v1" in sent[0]
    row = await owner.fetchrow(
        "SELECT agent_id, created_at, event_type, sender, recipient, body::text AS body, "
        "inference_receipt_id, audit_event_hash FROM isokron.agent_episodic_events "
        "WHERE id = $1", uuid.UUID(event.id))
    assert (str(row["agent_id"]), row["created_at"], row["event_type"], row["sender"],
            row["recipient"], json.loads(row["body"]), row["inference_receipt_id"],
            row["audit_event_hash"]) == (
        event.agent_id, event.created_at, "tool", "kora", "user", event.body, "r1", "h1")


async def test_the_single_form_is_refused_for_another_workspaces_agent_by_raw_sql(
        runtime_pool, agents, owner):
    """As the runtime login (what an injection gets), tenant B's scope cannot append to A's
    agent through episodic_append_one_v1: its foreign key refuses, and the store says
    NotOwnedError without touching the table; with a context key installed, naming A's
    workspace without A's signed context is refused too."""
    from isokron.db.context_keys import install_context_key

    sql = ("SELECT isokron.episodic_append_one_v1($1, $2, gen_random_uuid(), 'turn', NULL, "
           "NULL, '{}', NULL, NULL)")
    before = await owner.fetchval("SELECT count(*) FROM isokron.agent_episodic_events")
    async with runtime_pool.acquire() as conn:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.fetchval(sql, "org_b", agents[0])
        with pytest.raises(NotOwnedError, match="is not an agent of workspace 'org_b'"):
            await EpisodicEventStore(conn).append("org_b", agents[0], event_type="turn")
    await install_context_key(owner, "k1-" + "x" * 45)
    async with runtime_pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the INSERT policy
            await conn.fetchval(sql, "org_a", agents[0])
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_episodic_events") == before


async def test_a_single_retry_and_a_taken_id_behave_as_the_batch_does(runtime_pool, agents,
                                                                      owner):
    """The single form answers NULL for an id stored before; the store then asks the batch
    function: a retry of the same agent returns the stored event, another agent's id is
    NotOwnedError, and neither writes a row."""
    store = EpisodicEventStore(runtime_pool)
    first = await store.append("org_a", agents[0], event_type="turn", body={"v": 1})
    count = await owner.fetchval("SELECT count(*) FROM isokron.agent_episodic_events")
    assert await store.append("org_a", agents[0], event_type="turn", body={"v": 2},
                              id=first.id) == first
    sea = await owner.fetchval("SELECT actor_id FROM public.actor_registry "
                               "WHERE workspace_id = 'org_a' AND actor_kind = 'sea'")
    with pytest.raises(NotOwnedError, match="already used by another agent"):
        await store.append("org_a", sea, event_type="turn", id=first.id)
    assert await owner.fetchval("SELECT count(*) FROM isokron.agent_episodic_events") == count
