"""isokron through a real PgBouncer in transaction pooling mode (Debian's `pgbouncer`).

PgBouncer is started by the fixture on 127.0.0.1 in front of the test database, with a
server pool (2) smaller than the clients (pools of 4, several of them). `.ci/run`
installs the package, so CI always runs these; without the binary they skip, saying so.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.pool import create_pool
from isokron.stores import (
    AgentSessionStore,
    DelegationLedger,
    EpisodicEventStore,
    NamespaceMemory,
    RequestContext,
)
from isokron.testing.seed import seed_demo_workspace

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
pytestmark = pytest.mark.skipif(
    PGBOUNCER is None, reason="pgbouncer is not installed (apt-get install pgbouncer; "
    ".ci/run does)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def bouncer(db, request):
    """Start PgBouncer (transaction mode, 2 server connections unless the test's
    ``pool_size`` marker says otherwise) in front of ``db``."""
    marker = request.node.get_closest_marker("pool_size")
    pool_size = marker.args[0] if marker else 2
    parts = urlsplit(db.dsn)
    socket_dir = parse_qs(parts.query)["host"][0]
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="isokron-bouncer-"))
    users = ["isokron_app", "isokron_sweep", "postgres"]
    (workdir / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in users))
    (workdir / "pgbouncer.ini").write_text(f"""
[databases]
{db.name} = host={socket_dir} dbname={db.name}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {workdir}/pgbouncer.log
pidfile = {workdir}/pgbouncer.pid
""")
    as_user = None
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        as_user = "pgserver"
        pw = pwd.getpwnam(as_user)
        for path in (workdir, *workdir.iterdir()):
            os.chown(path, pw.pw_uid, pw.pw_gid)
    proc = subprocess.Popen([PGBOUNCER, str(workdir / "pgbouncer.ini")], user=as_user,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                log = (workdir / "pgbouncer.log").read_text(errors="replace")[-2000:]
                proc.kill()
                pytest.fail(f"pgbouncer did not start: {log}")
            time.sleep(0.05)
    runtime_password = urlsplit(db.runtime_dsn).password or ""

    def through(user: str) -> str:
        secret = f":{runtime_password}" if user != "postgres" else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{port}/{db.name}"

    try:
        yield through
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


async def test_every_store_works_through_transaction_pooling(bouncer, owner):
    """Memory, sessions, episodic events and delegations, with more clients than server
    connections, and no prepared statement cache."""
    await seed_demo_workspace(owner, "org_a")
    agent = await owner.fetchval("SELECT actor_id FROM public.actor_registry "
                                 "WHERE workspace_id = 'org_a' AND actor_kind = 'kora'")
    pools = [await create_pool(bouncer("isokron_app"), min_size=1, max_size=4,
                               prepared_statements=False) for _ in range(3)]
    try:
        memory = NamespaceMemory(pools[0])
        committed = await asyncio.gather(*(memory.commit("org_a", f"note {n} on deploys")
                                           for n in range(40)))
        found = await memory.search("org_a", "deploys", limit=50)
        assert {r.id for r in found} == {r.id for r in committed}
        await memory.forget("org_a", committed[0].id)
        sessions = AgentSessionStore(pools[1])
        ctx = RequestContext("org_a", "u1")
        session = await sessions.create_session(ctx, agent_name="kora")
        await asyncio.gather(*(sessions.append_messages(ctx, session.id, [
            {"role": "user", "content": f"q{n}"}]) for n in range(10)))
        assert [m.seq for m in await sessions.list_messages(ctx, session.id)] == list(
            range(1, 11))
        await sessions.update_session(ctx, session.id, state={"k": 1})
        episodic = EpisodicEventStore(pools[2])
        await episodic.append_many("org_a", agent, [{"event_type": "t"} for _ in range(5)])
        assert len(await episodic.list("org_a", agent)) == 5
        ledger = DelegationLedger(pools[2])
        assert await ledger.insert("d1", workspace_id="org_a", caller_id=agent,
                                   callee_id=uuid.uuid4(), task_preview="fix CI")
        await ledger.set_status("org_a", "d1", "in_progress")
        assert (await ledger.get("org_a", "d1")).status == "in_progress"
    finally:
        for pool in pools:
            await pool.close()


async def test_the_tenant_boundary_holds_through_the_pooler(bouncer, owner):
    """Tenant B, on raw SQL through PgBouncer (its setting transaction-local on a shared
    server connection), sees none of A's rows, and A's setting never leaks to B."""
    await seed_demo_workspace(owner, "org_a")
    await seed_demo_workspace(owner, "org_b")
    pool = await create_pool(bouncer("isokron_app"), min_size=1, max_size=4,
                             prepared_statements=False)
    try:
        await NamespaceMemory(pool).commit("org_a", "A's secret plan")
        ctx_a = RequestContext("org_a", "u1")
        await AgentSessionStore(pool).create_session(ctx_a, agent_name="kora")
        conn = await asyncpg.connect(bouncer("isokron_app"), statement_cache_size=0)
        try:
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.current_workspace_id', 'org_b', "
                                   "true)")
                assert await conn.fetch("SELECT content FROM isokron.memory_records") == []
            # after the transaction the server connection is back in the pool: no setting
            assert await conn.fetchval(
                "SELECT current_setting('app.current_workspace_id', true)") in (None, "")
            assert await conn.fetch("SELECT * FROM isokron.memory_records") == []
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.current_tenant_id', 'org_b', true)")
                await conn.execute("SELECT set_config('app.current_user_id', 'u1', true)")
                assert await conn.fetch("SELECT id FROM isokron.agent_sessions") == []
        finally:
            await conn.close()
    finally:
        await pool.close()


def test_the_provider_lifecycle_through_the_pooler(bouncer, db):
    """Warm, block, tools, a turn's writes and shutdown, with prepared_statements: false."""
    from isokron import IsoKronMemoryProvider
    from isokron.embedded import run_coro_sync

    async def seed() -> None:
        conn = await asyncpg.connect(db.dsn)
        try:
            await seed_demo_workspace(conn, "org_demo")
        finally:
            await conn.close()

    run_coro_sync(seed())
    p = IsoKronMemoryProvider({"dsn": bouncer("isokron_app"), "workspace_id": "org_demo",
                               "prepared_statements": False, "pool_max_size": 4})
    p.initialize("s1", user_id="u1")
    p.on_turn_start(1, "hello")
    assert p.system_prompt_block().startswith("§1 Identity")
    assert '"ok": true' in p.handle_tool_call("isokron_memory_commit", {"content": "UTC"})
    assert "UTC" in p.handle_tool_call("isokron_memory_search", {"query": "UTC"})
    p.sync_turn("hi", "hello")
    stats_core = p.core
    p.shutdown()
    assert stats_core.stats()["outbox"]["dead_lettered"] == 0

    async def count() -> int:
        conn = await asyncpg.connect(db.dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM isokron.agent_messages"))
        finally:
            await conn.close()

    assert run_coro_sync(count()) == 2


async def test_a_kron_core_through_the_pooler_reads_in_one_round_trip(bouncer, owner):
    await seed_demo_workspace(owner, "org_demo")
    kron = AsyncIsoKron({"dsn": bouncer("isokron_app"), "prepared_statements": False})
    try:
        ctx = await kron.warm("org_demo")
        assert ctx.role_charter.charter_version == "2.1.0"
    finally:
        await kron.close()


async def test_doctor_detects_the_transaction_pooler_and_names_the_setting(bouncer, db):
    from isokron.ops.doctor import run_doctor

    through = bouncer("postgres")
    conn = await asyncpg.connect(through, statement_cache_size=0)
    try:
        report = await run_doctor(conn, dsn=through)
    finally:
        await conn.close()
    pooler = next(c for c in report.checks if c.name == "pooler")
    assert pooler.status == "warn" and "prepared_statements: false" in pooler.detail
    direct = await asyncpg.connect(db.dsn, statement_cache_size=0)
    try:
        report = await run_doctor(direct, dsn=db.dsn)
    finally:
        await direct.close()
    assert next(c for c in report.checks if c.name == "pooler").status == "ok"


_WORKER = """
import json, sys, time
from isokron import IsoKronMemoryProvider
from isokron.engine import loop
dsn, turns, worker, pooled = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
p = IsoKronMemoryProvider({"dsn": dsn, "workspace_id": "org_demo", "pool_max_size": 4,
                           "prepared_statements": not pooled})
p.initialize(f"proc-{worker}", user_id=f"u{worker}")
times = []
started = time.perf_counter()
for n in range(turns):
    t0 = time.perf_counter()
    p.on_turn_start(n, "q")
    p.system_prompt_block()
    p.handle_tool_call("isokron_memory_search", {"query": "deploy"})
    p.sync_turn(f"q{worker}-{n}", f"a{worker}-{n}", session_id=f"s{worker}")
    times.append(time.perf_counter() - t0)
assert loop.submit_and_wait(p.core.flush(120), 130)
stats = p.stats()["outbox"]
p.shutdown()
print(json.dumps({"elapsed": time.perf_counter() - started, "times": times,
                  "dead": stats["dead_lettered"], "dropped": stats["dropped"]}))
"""


@pytest.mark.pool_size(8)
def test_many_processes_through_a_pool_of_eight(bouncer, db):
    """8 OS processes x pools of 4 through 8 PgBouncer server connections, turns with
    writes: zero errors, every write stored once; throughput and p99 printed next to the
    same load without PgBouncer (a measurement, not a timed assertion)."""
    import json
    import statistics
    import sys

    from isokron.embedded import run_coro_sync

    async def prepare() -> None:
        conn = await asyncpg.connect(db.dsn)
        try:
            await seed_demo_workspace(conn, "org_demo")
        finally:
            await conn.close()

    run_coro_sync(prepare())
    turns = 100 if os.environ.get("CI") else 1000
    figures = {}
    for label, dsn, pooled in (("pgbouncer", bouncer("isokron_app"), "1"),
                               ("direct", db.runtime_dsn, "0")):
        procs = [subprocess.Popen([sys.executable, "-c", _WORKER, dsn, str(turns),
                                   f"{label}{n}", pooled], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for n in range(8)]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err[-2000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
        assert all(r["dead"] == 0 and r["dropped"] == 0 for r in results)
        times = sorted(t for r in results for t in r["times"])
        elapsed = max(r["elapsed"] for r in results)
        figures[label] = (8 * turns / elapsed, times[int(0.99 * len(times))] * 1000,
                          statistics.median(times) * 1000)

    async def stored() -> int:
        conn = await asyncpg.connect(db.dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM isokron.agent_messages"))
        finally:
            await conn.close()

    assert run_coro_sync(stored()) == 2 * 8 * turns * 2  # both runs, every write once
    print("\n[many processes] 8 x pool 4, " + "; ".join(
        f"{k}: {v[0]:.0f} turns/s, p50 {v[2]:.1f} ms, p99 {v[1]:.1f} ms"
        for k, v in figures.items()))
