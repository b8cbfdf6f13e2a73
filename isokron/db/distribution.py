"""How isokron's tables shard by tenant (Citus), and the catalog rule that keeps it so.

Every table in the ``isokron`` schema is either *distributed* by its tenant column or a
*reference* table (small, copied to every node). A distributed table has the tenant
column in its primary key, in every unique index, and in every foreign key to another
distributed table (at the position of that table's tenant column), so each can be
distributed with ``create_distributed_table`` and co-located. :func:`distribution_problems`
reads the catalog and names every table that breaks this; :func:`citus_statements` is the
script the README prints.
"""

from __future__ import annotations

import asyncpg

from ..pool import DB, acquire

__all__ = ["DISTRIBUTED", "REFERENCE", "SUBSTRATE_REFERENCE", "citus_statements",
           "distribution_problems"]

#: isokron's distributed tables and their tenant column, in distribution order (a table
#: referenced by a foreign key comes before the tables that reference it)
DISTRIBUTED: dict[str, str] = {
    "isokron.memory_namespaces": "root_id",
    "isokron.memory_records": "root_id",
    "isokron.memory_audit": "root_id",
    "isokron.agent_sessions": "tenant_id",
    "isokron.agent_messages": "tenant_id",
    "isokron.delegations": "workspace_id",
    "isokron.agent_episodic_events": "workspace_id",
    # recall statistics: key1 is the memory tree's root or the messages' tenant
    "isokron.recall_corpora": "key1",
    "isokron.recall_lexicon": "key1",
    # quota counters: key1 is the sessions' tenant or the memory tree's root
    "isokron.quota_usage": "key1",
}

#: isokron's reference tables: the workspace tree (read by the memory ACL on every node),
#: the migrations ledger, and the erasure receipts (one chain across tenants)
REFERENCE: tuple[str, ...] = ("isokron.workspaces", "isokron.schema_migrations",
                              "isokron.context_keys", "isokron.quota_limits",
                              "isokron.erasure_receipts")

#: the substrate's tables (its design is not isokron's to change: their keys do not carry a
#: tenant column), made reference tables; parents before children
SUBSTRATE_REFERENCE: tuple[str, ...] = (
    "hivex_foundation.tenant",
    "hivex_foundation.event_log",
    "hivex_foundation.chain_anchor",
    "public.actor_registry",
    "public.actor_capability_matrix",
    "public.kora_policy_registry",
    "public.kora_role_charter",
    "kronicle.agent_scratchpad_entries",
    "kronicle.workspace_constitution_revisions",
)

_TABLES = """
SELECT c.oid, n.nspname || '.' || c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'isokron' AND c.relkind IN ('r', 'p')
 ORDER BY 2
"""
_COLUMN = """
SELECT a.attnum, a.attnotnull FROM pg_attribute a
 WHERE a.attrelid = $1 AND a.attname = $2 AND NOT a.attisdropped
"""
_UNIQUE = """
SELECT i.indexrelid::regclass::text AS index, i.indisprimary AS primary_key,
       i.indkey::int2[] AS columns
  FROM pg_index i WHERE i.indrelid = $1 AND (i.indisunique OR i.indisexclusion)
"""
_FOREIGN = """
SELECT con.conname, src.nspname || '.' || sc.relname AS source,
       dst.nspname || '.' || dc.relname AS target,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
              ORDER BY k.o) AS source_columns,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
              ORDER BY k.o) AS target_columns
  FROM pg_constraint con
  JOIN pg_class sc ON sc.oid = con.conrelid JOIN pg_namespace src ON src.oid = sc.relnamespace
  JOIN pg_class dc ON dc.oid = con.confrelid JOIN pg_namespace dst ON dst.oid = dc.relnamespace
 WHERE con.contype = 'f' AND 'isokron' IN (src.nspname, dst.nspname)
 ORDER BY 2, 1
"""


async def distribution_problems(db: DB) -> list[str]:
    """Read the catalog; return one line per way an isokron table could not be sharded by
    tenant (an empty list: every table keeps the rule). Run as the schema's owner."""
    problems: list[str] = []
    reference = set(REFERENCE) | set(SUBSTRATE_REFERENCE)
    async with acquire(db) as conn:
        tables = await conn.fetch(_TABLES)
        for table in tables:
            name = table["name"]
            if name in reference:
                continue
            column = DISTRIBUTED.get(name)
            if column is None:
                problems.append(f"{name} is neither distributed nor a reference table "
                                "(declare it in isokron/db/distribution.py)")
                continue
            found = await conn.fetchrow(_COLUMN, table["oid"], column)
            if found is None:
                problems.append(f"{name} has no tenant column {column}")
                continue
            if not found["attnotnull"]:
                problems.append(f"{name}.{column} may be NULL")
            indexes = await conn.fetch(_UNIQUE, table["oid"])
            if not any(i["primary_key"] for i in indexes):
                problems.append(f"{name} has no primary key")
            for index in indexes:
                if found["attnum"] not in index["columns"]:
                    what = "primary key" if index["primary_key"] else "unique index"
                    problems.append(f"{name}: {what} {index['index']} does not include {column}")
        for fk in await conn.fetch(_FOREIGN):
            problems.extend(_foreign_key_problems(fk, reference))
    return problems


def _foreign_key_problems(fk: asyncpg.Record, reference: set[str]) -> list[str]:
    source, target = fk["source"], fk["target"]
    label = f"foreign key {fk['conname']} of {source}"
    if source in reference:
        if target in DISTRIBUTED:
            return [f"{label}: a reference table may not reference the distributed {target}"]
        return []
    if source not in DISTRIBUTED:
        return [f"{label}: {source} references isokron's {target} but is not declared"]
    if target in reference:
        return []
    if target not in DISTRIBUTED:
        return [f"{label}: {target} is neither distributed nor a reference table"]
    pairs = list(zip(fk["source_columns"], fk["target_columns"], strict=True))
    if (DISTRIBUTED[source], DISTRIBUTED[target]) not in pairs:
        return [f"{label}: does not join {source}.{DISTRIBUTED[source]} to "
                f"{target}.{DISTRIBUTED[target]} (the tables could not be co-located)"]
    return []


def citus_statements() -> str:
    """The statements that distribute isokron (and make the substrate reference tables),
    in an order Citus accepts: referenced tables first."""
    lines = ["-- reference tables: copied to every node"]
    lines += [f"SELECT create_reference_table('{t}');" for t in SUBSTRATE_REFERENCE + REFERENCE]
    lines.append("-- distributed by tenant, all in one co-location group")
    first = next(iter(DISTRIBUTED))
    for table, column in DISTRIBUTED.items():
        colocate = "" if table == first else f", colocate_with => '{first}'"
        lines.append(f"SELECT create_distributed_table('{table}', '{column}'{colocate});")
    return "\n".join(lines) + "\n"
