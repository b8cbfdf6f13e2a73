"""Check a database's isokron schema, roles, RLS, event chains and capability mirror."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg
import attrs

from ..db.distribution import distribution_problems
from ..readers.capability_mirror import KORA_CAPABILITY_MIRROR
from ..readers.events import verify_event_chain
from ..schema import available_migrations, checksum_problems
from . import doctor_checks as q
from .catalog import catalog_drift, load_catalog

__all__ = [
    "NO_RLS_BY_DESIGN",
    "RLS_TABLES",
    "RUNTIME_GRANTS",
    "Check",
    "DoctorReport",
    "capability_drift",
    "run_doctor",
]

#: Every table that must have row-level security ENABLEd and FORCEd. Besides these, the
#: doctor requires it of every table it finds in the ``isokron`` schema (from the catalog),
#: except ``schema_migrations``.
RLS_TABLES: tuple[str, ...] = (
    "public.kora_policy_registry",
    "public.actor_registry",
    "public.kora_role_charter",
    "public.actor_capability_matrix",
    "hivex_foundation.tenant",
    "hivex_foundation.event_log",
    "hivex_foundation.chain_anchor",
    "kronicle.agent_scratchpad_entries",
    "kronicle.workspace_constitution_revisions",
    "isokron.agent_episodic_events",
    "isokron.delegations",
    "isokron.workspaces",
    "isokron.memory_namespaces",
    "isokron.memory_records",
    "isokron.memory_audit",
    "isokron.agent_sessions",
    "isokron.agent_messages",
    "isokron.recall_lexicon",
    "isokron.recall_corpora",
)

#: Tables without row-level security, by design (the substrate's contract,
#: schema/0001_substrate.sql), and why.
NO_RLS_BY_DESIGN: dict[str, str] = {
    "isokron.schema_migrations": "no tenant data; the runtime role has no privilege on it",
}

#: The only table privileges isokron_runtime may hold; any other one is a doctor failure.
RUNTIME_GRANTS: dict[str, frozenset[str]] = {
    "public.actor_registry": frozenset({"SELECT"}),
    "public.kora_role_charter": frozenset({"SELECT"}),
    "public.kora_policy_registry": frozenset({"SELECT"}),
    "public.actor_capability_matrix": frozenset({"SELECT"}),
    "kronicle.agent_scratchpad_entries": frozenset({"SELECT"}),
    "kronicle.workspace_constitution_revisions": frozenset({"SELECT"}),
    "hivex_foundation.tenant": frozenset({"SELECT"}),
    "hivex_foundation.event_log": frozenset({"SELECT"}),
    "hivex_foundation.chain_anchor": frozenset({"SELECT"}),
    "isokron.schema_migrations": frozenset(),
    "isokron.agent_episodic_events": frozenset({"SELECT", "INSERT"}),
    "isokron.delegations": frozenset({"SELECT", "INSERT", "UPDATE"}),
    "isokron.workspaces": frozenset({"SELECT"}),
    "isokron.memory_namespaces": frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"}),
    "isokron.memory_records": frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"}),
    "isokron.memory_audit": frozenset({"SELECT", "INSERT"}),
    "isokron.agent_sessions": frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"}),
    "isokron.agent_messages": frozenset({"SELECT", "INSERT", "DELETE"}),
    "isokron.recall_lexicon": frozenset(),
    "isokron.recall_corpora": frozenset(),
}

_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@attrs.frozen(kw_only=True)
class Check:
    """Record one doctor check: ``status`` is ``ok``, ``warn`` or ``fail``."""

    name: str
    status: str
    detail: str


@attrs.frozen(kw_only=True)
class DoctorReport:
    """Collect the checks; ``ok`` is False when any check failed."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Tell whether no check failed (warnings do not fail)."""
        return all(c.status != "fail" for c in self.checks)

    def render(self) -> str:
        """Render one line per check and a verdict."""
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
        lines = [f"[{marks[c.status]}] {c.name}: {c.detail}" for c in self.checks]
        failed = sum(c.status == "fail" for c in self.checks)
        lines.append("doctor: healthy" if failed == 0 else f"doctor: {failed} check(s) failed")
        return "\n".join(lines)


def capability_drift(
    table: Mapping[str, bool], mirror: Mapping[str, bool] = KORA_CAPABILITY_MIRROR
) -> list[str]:
    """List differences between the matrix's kora column and the packaged mirror."""
    problems = [f"{cap} in table but not in mirror" for cap in sorted(table.keys() - mirror)]
    problems += [f"{cap} in mirror but not in table" for cap in sorted(mirror.keys() - table)]
    problems += [
        f"{cap}: table granted={table[cap]}, mirror granted={mirror[cap]}"
        for cap in sorted(table.keys() & mirror.keys())
        if table[cap] != mirror[cap]
    ]
    return problems


async def _check_schema(conn: asyncpg.Connection) -> Check:
    if not await q.schema_migrated(conn):
        return Check(name="schema", status="fail", detail="not migrated (run `isokron migrate`)")
    applied = await q.applied_migrations(conn)
    names = [name for name, _ in available_migrations()]
    pending = [n for n in names if n not in applied]
    if pending:
        return Check(name="schema", status="fail", detail=f"pending migrations: {pending}")
    return Check(name="schema", status="ok", detail=f"up to date at {names[-1]}")


async def _check_checksums(conn: asyncpg.Connection) -> Check:
    problems = await checksum_problems(conn)
    if not problems:
        return Check(name="migration checksums", status="ok",
                     detail="every applied migration matches its file")
    if len(problems) == 1 and problems[0].startswith("cannot verify"):
        return Check(name="migration checksums", status="warn", detail=problems[0])
    return Check(name="migration checksums", status="fail", detail="; ".join(problems))


async def _check_roles(conn: asyncpg.Connection) -> Check:
    flags = await q.runtime_role(conn)
    if flags is None:
        return Check(name="roles", status="fail", detail="role isokron_runtime is missing")
    if any(flags):  # rolsuper, rolbypassrls
        return Check(name="roles", status="fail", detail="isokron_runtime bypasses RLS")
    # The definer and sweeper roles cross workspaces: the runtime role must not hold them.
    held = await q.crossing_roles_held(conn)
    if held:
        names = ", ".join(held)
        return Check(name="roles", status="fail",
                     detail=f"isokron_runtime is a member of {names} (crosses workspaces)")
    # The logins that connect as isokron_runtime carry their own attributes and roles.
    bad = []
    for login in await q.runtime_logins(conn):
        why = [w for w, flag in (("SUPERUSER", login["super"]),
                                 ("BYPASSRLS", login["bypassrls"])) if flag]
        why += [f"a member of {r}" for r in login["crossing"]]
        if why:
            bad.append(f"{login['name']} ({', '.join(why)})")
    if bad:
        return Check(name="roles", status="fail",
                     detail="LOGIN members of isokron_runtime bypass RLS or cross workspaces: "
                            + "; ".join(bad))
    return Check(name="roles", status="ok",
                 detail="isokron_runtime and its member logins present, subject to RLS")


def _rls_check(name: str, enabled: bool, forced: bool) -> Check:
    if name in NO_RLS_BY_DESIGN:
        return Check(name=f"rls {name}", status="ok",
                     detail=f"no RLS by design: {NO_RLS_BY_DESIGN[name]}")
    if name not in RLS_TABLES and not name.startswith("isokron."):
        return Check(name=f"rls {name}", status="ok", detail="not an isokron table")
    if enabled and forced:
        return Check(name=f"rls {name}", status="ok", detail="enabled and forced")
    missing = [word for word, flag in (("enabled", enabled), ("forced", forced)) if not flag]
    return Check(name=f"rls {name}", status="fail",
                 detail=f"row-level security not {' and not '.join(missing)}")


async def _check_tables(conn: asyncpg.Connection) -> list[Check]:
    """Check RLS on every table and that isokron_runtime holds no undocumented grant."""
    wanted = sorted(set(RLS_TABLES) | set(RUNTIME_GRANTS))
    rows = await q.tables(conn, _PRIVILEGES, wanted)
    found = {r.name for r in rows}
    checks = [Check(name=f"rls {t}", status="fail", detail="table is missing")
              for t in RLS_TABLES if t not in found]
    extra: list[str] = []
    missing: list[str] = []
    for r in rows:
        checks.append(_rls_check(r.name, r.rls_enabled, r.rls_forced))
        held = r.runtime_privileges
        allowed = RUNTIME_GRANTS.get(r.name, frozenset())
        extra += [f"{p} on {r.name}" for p in sorted(held - allowed)]
        missing += [f"{p} on {r.name}" for p in sorted(allowed - held)]
    if extra:
        checks.append(Check(name="runtime grants", status="fail",
                            detail="isokron_runtime holds undocumented grants: "
                                   + ", ".join(extra)))
    elif missing:
        checks.append(Check(name="runtime grants", status="fail",
                            detail="isokron_runtime lacks grants the stores need: "
                                   + ", ".join(missing)))
    else:
        checks.append(Check(name="runtime grants", status="ok",
                            detail=f"isokron_runtime holds exactly the documented grants "
                                   f"on {len(rows)} tables"))
    return checks


async def _check_definers(conn: asyncpg.Connection) -> Check:
    count, bad = await q.definer_owners(conn)
    if bad:
        return Check(name="definer owners", status="fail",
                     detail="SECURITY DEFINER functions owned by a role that bypasses RLS "
                            "or logs in: " + ", ".join(f"{f} ({o})" for f, o in bad))
    return Check(name="definer owners", status="ok",
                 detail=f"{count} SECURITY DEFINER functions, each owned by a NOLOGIN role "
                        f"subject to RLS (isokron_definer, isokron_context)")


async def _check_context(conn: asyncpg.Connection) -> list[Check]:
    readers = await q.plain_setting_readers(conn)
    checks = [Check(name="tenant context", status="fail",
                    detail="read the plain settings, not the context: " + ", ".join(readers))
              if readers else
              Check(name="tenant context", status="ok",
                    detail="every policy and function reads isokron.context_claims_v1()")]
    mode = await q.context_mode(conn)
    if mode is not None:
        checks.append(Check(name="context signing", status="ok", detail=(
            "a context key is installed: only signed contexts count (signed_context: true)"
            if mode == "signed" else "no context key: the plain settings are trusted "
            "(opt in with isokron context-key set and signed_context: true)")))
    return checks


async def _check_catalog(conn: asyncpg.Connection) -> Check:
    """Compare functions, policies, triggers and privileges with what isokron installed."""
    live = await q.catalog_facts(conn, _PRIVILEGES, RLS_TABLES)
    lines, compared_expressions = catalog_drift(load_catalog(), live)
    if lines:
        shown = "; ".join(lines[:20]) + (f"; … {len(lines) - 20} more" if len(lines) > 20 else "")
        return Check(name="catalog", status="fail",
                     detail=f"{len(lines)} difference(s) from what isokron installed: {shown}")
    note = "" if compared_expressions else (
        " (policy expressions not compared: the manifest was made on another major version)")
    return Check(name="catalog", status="ok",
                 detail=f"{len(live['functions'])} functions, {len(live['policies'])} policies, "
                        f"triggers and grants as isokron installed them{note}")


async def _check_chains(conn: asyncpg.Connection) -> Check:
    rows = await q.chain_breaks(conn)
    broken = [f"{ws} at seq {seq} ({reason})" for ws, seq, reason in rows if seq is not None]
    if broken:
        return Check(name="event chain", status="fail", detail="broken: " + ", ".join(broken))
    return Check(name="event chain", status="ok", detail=f"{len(rows)} tenant chain(s) intact")


async def _check_capabilities(conn: asyncpg.Connection) -> Check:
    rows = await q.kora_capabilities(conn)
    if not rows:
        return Check(name="capability mirror", status="warn",
                     detail="no kora rows in actor_capability_matrix; the packaged mirror is used")
    drift = capability_drift(dict(rows))
    if drift:
        return Check(name="capability mirror", status="fail",
                     detail=f"{len(drift)} drift(s): " + "; ".join(drift))
    return Check(name="capability mirror", status="ok",
                 detail=f"{len(rows)} kora capabilities match the mirror")


async def _check_chain_heads(
    conn: asyncpg.Connection, heads: Mapping[str, tuple[int, str]]
) -> Check:
    problems = []
    for ws, head in sorted(heads.items()):
        broken = await verify_event_chain(conn, ws, expected_head=head)
        if broken is not None:
            problems.append(f"{ws} at seq {broken} (recorded head seq {head[0]})")
    if problems:
        return Check(name="chain heads", status="fail",
                     detail="shorter than or diverging from the recorded head: "
                            + ", ".join(problems))
    return Check(name="chain heads", status="ok",
                 detail=f"{len(heads)} recorded head(s) still present and unchanged")


async def _check_pooler(conn: asyncpg.Connection, dsn: str | None) -> Check:
    """Two statements on one client connection served by two backends: a transaction (or
    statement) pooler such as PgBouncer sits in between. A second client holds a
    transaction open while the first asks, then lets go, so a pooler has to move the
    first client to another server connection."""
    if len(await q.backend_pids(conn, dsn)) > 1:
        return Check(name="pooler", status="warn",
                     detail="a transaction-mode pooler serves this DSN: set "
                            "`prepared_statements: false` and set statement_timeout on the "
                            "role (ALTER ROLE … SET statement_timeout = …)")
    return Check(name="pooler", status="ok",
                 detail="one backend per connection (direct, or a session-mode pooler)")


async def _check_quotas(conn: asyncpg.Connection) -> list[Check]:
    state = await q.quota_state(conn)
    if state is None:
        return []
    missing, defaults = state
    if missing:
        return [Check(name="quotas", status="fail",
                      detail="quota triggers missing or disabled (the quotas are off): "
                             + ", ".join(missing))]
    unlimited = sorted(f"quota_{k}" for k, v in defaults.items() if v is None)
    return [Check(name="quotas", status="warn" if unlimited else "ok", detail=(
        "enforced by the schema's triggers; defaults " + ", ".join(
            f"quota_{k}={v}" for k, v in defaults.items() if v is not None)
        + (f"; no default limit for {', '.join(unlimited)}" if unlimited else "")))]


async def _check_shard_keys(conn: asyncpg.Connection) -> Check:
    problems = await distribution_problems(conn)
    if problems:
        return Check(name="shard keys", status="fail", detail="; ".join(problems))
    return Check(name="shard keys", status="ok",
                 detail="every isokron table keyed by its tenant (ready for Citus)")


async def run_doctor(
    conn: asyncpg.Connection, *, chain_heads: Mapping[str, tuple[int, str]] | None = None,
    dsn: str | None = None,
) -> DoctorReport:
    """Run every check against ``conn`` (owner or runtime role) and return the report.

    ``chain_heads`` (from :func:`isokron.chain_heads.load_chain_heads`) adds a check that
    every recorded head is still in its chain with the same hash. With ``dsn`` (the one
    ``conn`` came from) a transaction-mode pooler in between is detected too; ``conn``
    must then have no statement cache (``statement_cache_size=0``).
    """
    schema = await _check_schema(conn)
    checks = [schema, await _check_roles(conn), await _check_pooler(conn, dsn)]
    if schema.status == "ok":
        checks.append(await _check_checksums(conn))
        checks += await _check_tables(conn)
        checks.append(await _check_definers(conn))
        checks.append(await _check_catalog(conn))
        checks += await _check_context(conn)
        checks.append(await _check_shard_keys(conn))
        checks += await _check_quotas(conn)
        checks.append(await _check_chains(conn))
        if chain_heads is not None:
            checks.append(await _check_chain_heads(conn, chain_heads))
        checks.append(await _check_capabilities(conn))
    return DoctorReport(checks=tuple(checks))
