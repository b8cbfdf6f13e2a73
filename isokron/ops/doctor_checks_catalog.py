"""The doctor's catalog SQL for the manifest comparison (:mod:`isokron.ops.catalog`): what
isokron installed, read back, and what else in the database reaches isokron's tables or
the logins that connect as isokron_runtime. :mod:`isokron.ops.doctor_checks` holds the rest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

__all__ = ["catalog_facts", "runtime_logins"]

_SCHEMAS = "('isokron', 'kronicle', 'hivex_foundation', 'public')"

# What isokron installed, read back for :mod:`isokron.ops.catalog` (functions, policies,
# triggers, privileges of isokron's roles). Extension members (pgvector's) are left out.
_ROLES = "ARRAY['isokron_runtime', 'isokron_sweeper', 'isokron_definer', 'isokron_context']"
_NOT_EXTENSION = ("NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{cls}'::regclass "
                  "AND d.objid = {oid} AND d.deptype = 'e')")
# every schema but the server's own
_USER_SCHEMA = "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
# isokron's schemas, and the substrate's tables ($1) in public
_IN_SCOPE = ("(n.nspname IN ('isokron', 'kronicle', 'hivex_foundation') "
             "OR n.nspname || '.' || c.relname = ANY($1::text[]))")
_CATALOG_FUNCTIONS_SQL = f"""
SELECT p.oid::regprocedure::text AS signature, pg_get_userbyid(p.proowner) AS owner,
       p.prosecdef, coalesce(p.proconfig, '{{}}') AS config, p.prosrc AS body,
       encode(sha256(convert_to(p.prosrc, 'UTF8')), 'hex') AS body_sha256,
       ARRAY(SELECT r FROM unnest({_ROLES}) r
              WHERE to_regrole(r) IS NOT NULL AND has_function_privilege(r, p.oid, 'EXECUTE')
             UNION ALL
             SELECT 'PUBLIC' WHERE EXISTS (
                 SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
             ORDER BY 1) AS execute,
       ARRAY(SELECT r FROM unnest($1::text[]) r
              WHERE has_function_privilege(r, p.oid, 'EXECUTE')) AS reach
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE {_USER_SCHEMA} AND {_NOT_EXTENSION.format(cls='pg_proc', oid='p.oid')}"""
_CATALOG_POLICIES_SQL = f"""
SELECT pol.polrelid::regclass::text || '.' || pol.polname AS name, pol.polcmd::text AS command,
       pol.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END
               FROM unnest(pol.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(pol.polqual, pol.polrelid) AS using_expr,
       pg_get_expr(pol.polwithcheck, pol.polrelid) AS check_expr
  FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN {_SCHEMAS}"""
_CATALOG_TRIGGERS_SQL = f"""
SELECT t.tgrelid::regclass::text || '.' || t.tgname AS name,
       pg_get_triggerdef(t.oid) || ' [' || t.tgenabled::text || ']' AS def
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND n.nspname IN {_SCHEMAS}"""
# Rewrite rules on tables (a view's own _RETURN rule is not one): a rule can redirect or
# copy every write, and isokron installs none.
_CATALOG_RULES_SQL = f"""
SELECT r.ev_class::regclass::text || '.' || r.rulename AS name, pg_get_ruledef(r.oid) AS def
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname IN {_SCHEMAS}"""
_CATALOG_SCHEMA_PRIVILEGES_SQL = f"""
SELECT n.nspname AS obj, r AS role,
       ARRAY(SELECT p FROM unnest(ARRAY['USAGE', 'CREATE']) p
              WHERE has_schema_privilege(r, n.oid, p)) AS privileges
  FROM pg_namespace n, unnest({_ROLES}) r
 WHERE n.nspname IN {_SCHEMAS} AND to_regrole(r) IS NOT NULL"""
_CATALOG_TABLE_PRIVILEGES_SQL = f"""
SELECT n.nspname || '.' || c.relname AS obj, r AS role,
       ARRAY(SELECT p FROM unnest($1::text[]) p
              WHERE has_table_privilege(r, c.oid, p)) AS privileges
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, unnest({_ROLES}) r
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND (n.nspname IN ('isokron', 'kronicle', 'hivex_foundation')
        OR n.nspname || '.' || c.relname = ANY($2::text[]))
   AND to_regrole(r) IS NOT NULL AND {_NOT_EXTENSION.format(cls='pg_class', oid='c.oid')}"""
_CATALOG_SERVER_SQL = ("SELECT current_setting('server_version_num')::int / 10000 AS major, "
                       "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS vectors")

# The LOGIN roles that are members of isokron_runtime, directly or through other roles
# (pg_auth_members: a superuser is not a member of every role here, as pg_has_role says).
_RUNTIME_MEMBERS_SQL = """
WITH RECURSIVE m(oid) AS (
    SELECT a.member FROM pg_auth_members a WHERE a.roleid = to_regrole('isokron_runtime')
    UNION SELECT a.member FROM pg_auth_members a JOIN m ON a.roleid = m.oid)
SELECT r.rolname, r.rolsuper, r.rolbypassrls,
       ARRAY(SELECT x FROM unnest(ARRAY['isokron_definer', 'isokron_sweeper',
                                        'isokron_context']) x
              WHERE to_regrole(x) IS NOT NULL AND pg_has_role(r.oid, to_regrole(x), 'MEMBER')
              ORDER BY 1) AS crossing
  FROM pg_roles r JOIN m ON m.oid = r.oid WHERE r.rolcanlogin ORDER BY 1"""
# Relations anywhere that isokron_runtime or a member login ($1) may use, whole or a column.
_REACHABLE_RELATIONS_SQL = f"""
SELECT n.nspname || '.' || c.relname AS name,
       ARRAY(SELECT r FROM unnest($1::text[]) r
              WHERE has_any_column_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
                 OR has_table_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, '
                                                  'REFERENCES, TRIGGER')
              ORDER BY 1) AS roles
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_USER_SCHEMA}
   AND {_NOT_EXTENSION.format(cls='pg_class', oid='c.oid')}"""
# Owners of isokron's schemas and relations ($1: the substrate's tables).
_OWNERS_SQL = f"""
SELECT 'schema ' || n.nspname AS obj, pg_get_userbyid(n.nspowner) AS owner FROM pg_namespace n
 WHERE n.nspname IN {_SCHEMAS}
UNION ALL
SELECT 'relation ' || n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {_IN_SCOPE}
   AND {_NOT_EXTENSION.format(cls='pg_class', oid='c.oid')}"""
# Anything in this database owned by one of the roles $1 (the member logins).
_OWNED_BY_SQL = """
SELECT 'database ' || d.datname AS obj, pg_get_userbyid(d.datdba) AS owner FROM pg_database d
 WHERE d.datname = current_database() AND pg_get_userbyid(d.datdba) = ANY($1::text[])
UNION ALL SELECT 'schema ' || n.nspname, pg_get_userbyid(n.nspowner) FROM pg_namespace n
 WHERE pg_get_userbyid(n.nspowner) = ANY($1::text[])
UNION ALL SELECT 'relation ' || c.oid::regclass::text, pg_get_userbyid(c.relowner)
  FROM pg_class c WHERE pg_get_userbyid(c.relowner) = ANY($1::text[])
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL SELECT 'function ' || p.oid::regprocedure::text, pg_get_userbyid(p.proowner)
  FROM pg_proc p WHERE pg_get_userbyid(p.proowner) = ANY($1::text[])
UNION ALL SELECT 'type ' || t.oid::regtype::text, pg_get_userbyid(t.typowner) FROM pg_type t
 WHERE pg_get_userbyid(t.typowner) = ANY($1::text[]) AND t.typrelid = 0 AND t.typelem = 0
 ORDER BY 1"""
# ACL entries on isokron's schemas, relations, columns and functions naming a grantee that
# is none of isokron's roles, PUBLIC or the owner (a login, another role).
_FOREIGN_GRANTS_SQL = f"""
WITH objs(kind, obj, acl, owner) AS (
    SELECT 'schema', n.nspname, n.nspacl, n.nspowner FROM pg_namespace n
     WHERE n.nspname IN {_SCHEMAS}
    UNION ALL
    SELECT 'table', n.nspname || '.' || c.relname, c.relacl, c.relowner
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_IN_SCOPE}
    UNION ALL
    SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname, a.attacl, c.relowner
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.attacl IS NOT NULL AND {_IN_SCOPE}
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text, p.proacl, p.proowner
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN {_SCHEMAS})
SELECT DISTINCT o.kind || ' ' || o.obj AS obj, pg_get_userbyid(a.grantee) AS grantee,
       a.privilege_type AS privilege
  FROM objs o, aclexplode(o.acl) a
 WHERE a.grantee <> 0 AND a.grantee <> o.owner
   AND pg_get_userbyid(a.grantee) <> ALL({_ROLES}) ORDER BY 1, 2, 3"""
# Column-level grants (has_table_privilege does not see them) on isokron's tables.
_COLUMN_PRIVILEGES_SQL = f"""
SELECT n.nspname || '.' || c.relname || '.' || a.attname AS obj,
       CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(g.grantee) END AS role,
       array_agg(g.privilege_type ORDER BY g.privilege_type) AS privileges
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(a.attacl) g
 WHERE a.attacl IS NOT NULL AND {_IN_SCOPE}
 GROUP BY 1, 2"""
_CONSTRAINTS_SQL = f"""
SELECT n.nspname || '.' || c.relname || '.' || k.conname AS name,
       pg_get_constraintdef(k.oid) AS def
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE k.contype <> 'n' AND {_IN_SCOPE}"""
# Default privileges that isokron's next objects inherit: global ones, in isokron's
# schemas, or granted to PUBLIC or to isokron's roles and member logins ($1).
_DEFAULT_ACLS_SQL = f"""
SELECT pg_get_userbyid(d.defaclrole) || ' in ' || coalesce(n.nspname, 'every schema')
       || ' on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
       WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas'
       ELSE d.defaclobjtype::text END AS name, d.defaclacl::text AS acl
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
 WHERE d.defaclnamespace = 0 OR n.nspname IN {_SCHEMAS} OR EXISTS (
       SELECT 1 FROM aclexplode(d.defaclacl) a
        WHERE a.grantee = 0 OR pg_get_userbyid(a.grantee) = ANY($1::text[]))"""
_EVENT_TRIGGERS_SQL = ("SELECT evtname AS name, evtevent || ' ' || evtfoid::regproc::text "
                       "|| ' [' || evtenabled::text || ']' AS def FROM pg_event_trigger")
# Publications of any of isokron's tables (logical replication does not apply RLS).
_PUBLICATIONS_SQL = """
SELECT p.pubname AS name, CASE WHEN p.puballtables THEN 'FOR ALL TABLES' ELSE 'FOR TABLE '
       || (SELECT string_agg(t.schemaname || '.' || t.tablename, ', ' ORDER BY 1, 1)
             FROM pg_publication_tables t WHERE t.pubname = p.pubname) END AS def
  FROM pg_publication p
 WHERE p.puballtables OR EXISTS (
       SELECT 1 FROM pg_publication_tables t WHERE t.pubname = p.pubname
          AND (t.schemaname IN ('isokron', 'kronicle', 'hivex_foundation')
               OR t.schemaname || '.' || t.tablename = ANY($1::text[])))"""
# Tenant settings and search_path set on this database, or on isokron's roles and the
# member logins ($1), by ALTER DATABASE / ALTER ROLE ... SET.
_DB_ROLE_SETTINGS_SQL = """
SELECT CASE WHEN s.setrole = 0 THEN 'database ' || current_database()
            ELSE 'role ' || pg_get_userbyid(s.setrole)
                 || CASE WHEN s.setdatabase = 0 THEN '' ELSE ' in this database' END
        END AS target, c AS setting
  FROM pg_db_role_setting s, unnest(s.setconfig) c
 WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
   AND (s.setrole = 0 OR pg_get_userbyid(s.setrole) = ANY($1::text[]))
   AND (c LIKE 'app.%' OR c LIKE 'isokron.%' OR c LIKE 'search_path=%') ORDER BY 1, 2"""


async def catalog_facts(conn: asyncpg.Connection, privileges: Sequence[str],
                        substrate_tables: Sequence[str]) -> dict[str, Any]:
    """A snapshot of what :mod:`isokron.ops.catalog` compares: functions, policies,
    triggers, constraints, owners, isokron's roles' privileges on the schemas, tables and
    columns (``privileges`` of each; the substrate's ``substrate_tables`` besides
    isokron's schemas), and what reaches the logins that are members of isokron_runtime:
    relations anywhere they may use, grants and settings made to them, objects they own,
    default privileges, event triggers and publications."""
    async with conn.transaction(readonly=True):
        # Names come out schema-qualified whatever the caller's search_path.
        await conn.execute("SET LOCAL search_path TO pg_catalog, pg_temp")
        return await _catalog_facts(conn, privileges, list(substrate_tables))


async def runtime_logins(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every LOGIN member of isokron_runtime (directly or through other roles): its name,
    whether it is a superuser or BYPASSRLS, and which workspace-crossing roles it holds."""
    return [{"name": r["rolname"], "super": r["rolsuper"], "bypassrls": r["rolbypassrls"],
             "crossing": list(r["crossing"])} for r in await conn.fetch(_RUNTIME_MEMBERS_SQL)]


def _by_role(rows: Sequence[asyncpg.Record]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for r in rows:
        out.setdefault(r["obj"], {})[r["role"]] = list(r["privileges"])
    return out


async def _catalog_facts(conn: asyncpg.Connection, privileges: Sequence[str],
                         scope: list[str]) -> dict[str, Any]:
    server = await conn.fetchrow(_CATALOG_SERVER_SQL)
    assert server is not None  # one row, always
    logins = await runtime_logins(conn)
    members = [m["name"] for m in logins]
    reach = ["isokron_runtime", *members]
    roles = [*reach, "isokron_sweeper", "isokron_definer", "isokron_context"]
    functions = {r["signature"]: {
        "owner": r["owner"], "security_definer": r["prosecdef"], "config": list(r["config"]),
        "body": r["body"], "body_sha256": r["body_sha256"], "execute": list(r["execute"]),
        "reach": list(r["reach"]),
    } for r in await conn.fetch(_CATALOG_FUNCTIONS_SQL, reach)}
    policies = {r["name"]: {
        "command": r["command"], "permissive": r["permissive"], "roles": list(r["roles"]),
        "using": r["using_expr"], "check": r["check_expr"],
    } for r in await conn.fetch(_CATALOG_POLICIES_SQL)}
    triggers = {r["name"]: r["def"] for r in await conn.fetch(_CATALOG_TRIGGERS_SQL)}
    triggers.update({f"{r['name']} (rule)": r["def"]
                     for r in await conn.fetch(_CATALOG_RULES_SQL)})
    return {
        "server_major": int(server["major"]), "vectors": bool(server["vectors"]),
        "functions": functions, "policies": policies, "triggers": triggers,
        "schema_privileges": _by_role(await conn.fetch(_CATALOG_SCHEMA_PRIVILEGES_SQL)),
        "table_privileges": _by_role(await conn.fetch(_CATALOG_TABLE_PRIVILEGES_SQL,
                                                      list(privileges), scope)),
        "column_privileges": _by_role(await conn.fetch(_COLUMN_PRIVILEGES_SQL, scope)),
        "constraints": {r["name"]: r["def"] for r in await conn.fetch(_CONSTRAINTS_SQL, scope)},
        "owners": {r["obj"]: r["owner"] for r in await conn.fetch(_OWNERS_SQL, scope)},
        "default_privileges": {r["name"]: r["acl"]
                               for r in await conn.fetch(_DEFAULT_ACLS_SQL, roles)},
        "event_triggers": {r["name"]: r["def"] for r in await conn.fetch(_EVENT_TRIGGERS_SQL)},
        "publications": {r["name"]: r["def"]
                         for r in await conn.fetch(_PUBLICATIONS_SQL, scope)},
        "runtime_logins": logins,
        "reachable_relations": {r["name"]: list(r["roles"])
                                for r in await conn.fetch(_REACHABLE_RELATIONS_SQL, reach)
                                if r["roles"]},
        "foreign_grants": [f"{r['grantee']} holds {r['privilege']} on {r['obj']}"
                           for r in await conn.fetch(_FOREIGN_GRANTS_SQL, scope)],
        "owned_by_logins": [f"{r['obj']} is owned by {r['owner']}"
                            for r in await conn.fetch(_OWNED_BY_SQL, members)],
        "settings": [f"{r['target']}: {r['setting']}"
                     for r in await conn.fetch(_DB_ROLE_SETTINGS_SQL, roles)],
    }
