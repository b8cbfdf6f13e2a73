"""Check a database's isokron schema, roles, RLS, event chains and capability mirror."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg
import attrs

from .readers.capability_mirror import KORA_CAPABILITY_MIRROR
from .schema import available_migrations

__all__ = ["RLS_TABLES", "Check", "DoctorReport", "capability_drift", "run_doctor"]

#: Every table that must have row-level security ENABLEd and FORCEd.
RLS_TABLES: tuple[str, ...] = (
    "public.kora_policy_registry",
    "kronicle.agent_scratchpad_entries",
    "kronicle.workspace_constitution_revisions",
    "isokron.agent_sessions",
    "isokron.agent_messages",
)


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
    exists = await conn.fetchval("SELECT to_regclass('isokron.schema_migrations') IS NOT NULL")
    if not exists:
        return Check(name="schema", status="fail", detail="not migrated (run `isokron migrate`)")
    applied = {r["name"] for r in await conn.fetch("SELECT name FROM isokron.schema_migrations")}
    names = [name for name, _ in available_migrations()]
    pending = [n for n in names if n not in applied]
    if pending:
        return Check(name="schema", status="fail", detail=f"pending migrations: {pending}")
    return Check(name="schema", status="ok", detail=f"up to date at {names[-1]}")


async def _check_roles(conn: asyncpg.Connection) -> Check:
    row = await conn.fetchrow(
        "SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'isokron_runtime'"
    )
    if row is None:
        return Check(name="roles", status="fail", detail="role isokron_runtime is missing")
    if row["rolsuper"] or row["rolbypassrls"]:
        return Check(name="roles", status="fail", detail="isokron_runtime bypasses RLS")
    return Check(name="roles", status="ok", detail="isokron_runtime present, subject to RLS")


async def _check_rls(conn: asyncpg.Connection) -> list[Check]:
    checks = []
    for table in RLS_TABLES:
        row = await conn.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass($1)",
            table,
        )
        if row is None:
            checks.append(Check(name=f"rls {table}", status="fail", detail="table is missing"))
        elif not (row["relrowsecurity"] and row["relforcerowsecurity"]):
            missing = [
                word
                for word, flag in (("enabled", row["relrowsecurity"]),
                                   ("forced", row["relforcerowsecurity"]))
                if not flag
            ]
            checks.append(Check(name=f"rls {table}", status="fail",
                                detail=f"row-level security not {' and not '.join(missing)}"))
        else:
            checks.append(Check(name=f"rls {table}", status="ok", detail="enabled and forced"))
    return checks


async def _check_chains(conn: asyncpg.Connection) -> Check:
    rows = await conn.fetch(
        "SELECT clerk_org_id, hivex_foundation.verify_chain_v1(clerk_org_id) AS broken "
        "FROM hivex_foundation.tenant ORDER BY clerk_org_id"
    )
    broken = [f"{r['clerk_org_id']} at seq {r['broken']}" for r in rows if r["broken"] is not None]
    if broken:
        return Check(name="event chain", status="fail", detail="broken: " + ", ".join(broken))
    return Check(name="event chain", status="ok", detail=f"{len(rows)} tenant chain(s) intact")


async def _check_capabilities(conn: asyncpg.Connection) -> Check:
    rows = await conn.fetch(
        "SELECT cap_name, granted FROM public.actor_capability_matrix WHERE actor_kind = 'kora'"
    )
    if not rows:
        return Check(name="capability mirror", status="warn",
                     detail="no kora rows in actor_capability_matrix; the packaged mirror is used")
    drift = capability_drift({r["cap_name"]: r["granted"] for r in rows})
    if drift:
        return Check(name="capability mirror", status="fail",
                     detail=f"{len(drift)} drift(s): " + "; ".join(drift))
    return Check(name="capability mirror", status="ok",
                 detail=f"{len(rows)} kora capabilities match the mirror")


async def run_doctor(conn: asyncpg.Connection) -> DoctorReport:
    """Run every check against ``conn`` (owner or runtime role) and return the report."""
    schema = await _check_schema(conn)
    checks = [schema, await _check_roles(conn)]
    if schema.status == "ok":
        checks += await _check_rls(conn)
        checks.append(await _check_chains(conn))
        checks.append(await _check_capabilities(conn))
    return DoctorReport(checks=tuple(checks))
