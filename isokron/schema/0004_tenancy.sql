-- Tenancy in the database (SUBSTRATE.md, Revision 2).
--
-- Every isokron table gets row-level security, ENABLEd and FORCEd, with one policy per
-- command keyed on the transaction-local settings the stores set:
--   app.current_workspace_id                     episodic events, delegations, workspaces,
--                                                memory namespaces / records / audit
--   app.current_tenant_id + app.current_user_id  agent sessions and messages
-- Without the setting a role sees and changes no row. The few operations that must cross
-- workspaces (the delegation sweep, the workspace-tree walk of the memory ACL) run in
-- SECURITY DEFINER functions owned by isokron_definer, a NOLOGIN role whose only
-- privileges are what those functions need; isokron_runtime can call them but never
-- holds those privileges itself. schema_migrations holds no tenant data: the runtime
-- role has no privilege on it and reads the applied names through a function.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isokron_definer') THEN
        CREATE ROLE isokron_definer NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
-- The delegation sweep changes every workspace's rows: an operator's job, so it is granted
-- to this role (give it to the login that runs `isokron sweep`), never to isokron_runtime.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isokron_sweeper') THEN
        CREATE ROLE isokron_sweeper NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- A migrator that is not a superuser must be a member to hand functions to the role.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT isokron_definer TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA isokron TO isokron_definer, isokron_sweeper;

-- schema_migrations: no tenant data, no runtime access ------------------------------------
REVOKE ALL ON isokron.schema_migrations FROM isokron_runtime;
GRANT SELECT ON isokron.schema_migrations TO isokron_definer;

CREATE FUNCTION isokron.applied_migrations_v1() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT name FROM isokron.schema_migrations ORDER BY name $$;
ALTER FUNCTION isokron.applied_migrations_v1() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.applied_migrations_v1() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.applied_migrations_v1() TO isokron_runtime;

-- episodic events: the workspace owns the agent, by a composite foreign key ---------------
ALTER TABLE public.actor_registry
    ADD CONSTRAINT actor_registry_workspace_actor_key UNIQUE (workspace_id, actor_id);

ALTER TABLE isokron.agent_episodic_events ADD COLUMN workspace_id text;
UPDATE isokron.agent_episodic_events e
   SET workspace_id = a.workspace_id
  FROM public.actor_registry a
 WHERE a.actor_id = e.agent_id;
ALTER TABLE isokron.agent_episodic_events ALTER COLUMN workspace_id SET NOT NULL;
ALTER TABLE isokron.agent_episodic_events DROP CONSTRAINT agent_episodic_events_agent_id_fkey;
-- Client-chosen ids are unique per workspace: a global key would let one workspace probe
-- or squat another's ids (and, with ON CONFLICT, read the hidden row).
ALTER TABLE isokron.agent_episodic_events DROP CONSTRAINT agent_episodic_events_pkey;
ALTER TABLE isokron.agent_episodic_events ADD CONSTRAINT agent_episodic_events_pkey
    PRIMARY KEY (workspace_id, id);
ALTER TABLE isokron.agent_episodic_events
    ADD CONSTRAINT agent_episodic_events_workspace_agent_fkey
    FOREIGN KEY (workspace_id, agent_id)
    REFERENCES public.actor_registry (workspace_id, actor_id) ON DELETE CASCADE;

ALTER TABLE isokron.agent_episodic_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.agent_episodic_events FORCE ROW LEVEL SECURITY;
CREATE POLICY agent_episodic_events_select ON isokron.agent_episodic_events FOR SELECT
    USING (workspace_id = current_setting('app.current_workspace_id', true));
CREATE POLICY agent_episodic_events_insert ON isokron.agent_episodic_events FOR INSERT
    WITH CHECK (workspace_id = current_setting('app.current_workspace_id', true));

-- delegations: keyed by workspace ----------------------------------------------------------
ALTER TABLE isokron.delegations DROP CONSTRAINT delegations_pkey;
ALTER TABLE isokron.delegations ADD CONSTRAINT delegations_pkey
    PRIMARY KEY (workspace_id, delegation_id);
DROP INDEX isokron.delegations_caller_idempotency_key_idx;
CREATE UNIQUE INDEX delegations_caller_idempotency_key_idx
    ON isokron.delegations (workspace_id, caller_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE isokron.delegations ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.delegations FORCE ROW LEVEL SECURITY;
CREATE POLICY delegations_select ON isokron.delegations FOR SELECT
    USING (workspace_id = current_setting('app.current_workspace_id', true));
CREATE POLICY delegations_insert ON isokron.delegations FOR INSERT
    WITH CHECK (workspace_id = current_setting('app.current_workspace_id', true));
CREATE POLICY delegations_update ON isokron.delegations FOR UPDATE
    USING (workspace_id = current_setting('app.current_workspace_id', true))
    WITH CHECK (workspace_id = current_setting('app.current_workspace_id', true));
-- Only the sweep function (owned by isokron_definer) works across workspaces.
CREATE POLICY delegations_sweep_select ON isokron.delegations FOR SELECT TO isokron_definer
    USING (true);
CREATE POLICY delegations_sweep_update ON isokron.delegations FOR UPDATE TO isokron_definer
    USING (true) WITH CHECK (true);
GRANT SELECT, UPDATE ON isokron.delegations TO isokron_definer;

-- The two sweep transitions and nothing else: deadline first (a row both late and silent
-- ends failed), then in-flight rows whose heartbeat is older than the threshold. A NULL
-- heartbeat is a free pass: only the deadline can catch such a row.
CREATE FUNCTION isokron.sweep_delegations_v1(p_stuck_threshold_s double precision)
RETURNS TABLE (deadline_failures bigint, stuck_marked bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_failed bigint;
    v_stuck  bigint;
BEGIN
    IF p_stuck_threshold_s IS NULL OR NOT p_stuck_threshold_s > 0
       OR p_stuck_threshold_s = 'Infinity'::double precision THEN
        RAISE EXCEPTION 'stuck threshold must be a positive number of seconds, got %',
            quote_nullable(p_stuck_threshold_s) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE isokron.delegations
       SET status = 'failed', error_detail = 'deadline exceeded by sweeper', updated_at = now()
     WHERE status IN ('queued', 'dispatched', 'in_progress', 'stuck') AND deadline < now();
    GET DIAGNOSTICS v_failed = ROW_COUNT;
    UPDATE isokron.delegations
       SET status = 'stuck',
           error_detail = 'no heartbeat for '
                          || round(extract(epoch FROM now() - last_heartbeat))::bigint || 's',
           updated_at = now()
     WHERE status IN ('queued', 'dispatched', 'in_progress', 'stuck')
       AND status <> 'stuck'
       AND last_heartbeat < now() - make_interval(secs => p_stuck_threshold_s);
    GET DIAGNOSTICS v_stuck = ROW_COUNT;
    RETURN QUERY SELECT v_failed, v_stuck;
END
$$;
ALTER FUNCTION isokron.sweep_delegations_v1(double precision) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.sweep_delegations_v1(double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.sweep_delegations_v1(double precision) TO isokron_sweeper;

-- workspaces: a workspace sees its own row; the tree walk runs as isokron_definer ---------
ALTER TABLE isokron.workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY workspaces_select ON isokron.workspaces FOR SELECT
    USING (workspace_id = current_setting('app.current_workspace_id', true));
CREATE POLICY workspaces_tree_walk ON isokron.workspaces FOR SELECT TO isokron_definer
    USING (true);
GRANT SELECT ON isokron.workspaces TO isokron_definer;

-- The memory ACL, in one place. For the workspace in app.current_workspace_id:
--   readable = workspace:<self>, team:<parent, or self at the root>, org:<root>
--   writable = workspace:<self>, team:<…>, and org:<root> for the root itself only.
-- No row when the setting is missing or names no workspace. The walk stops after 50
-- levels, so a cycle in parent_id ends instead of hanging.
CREATE FUNCTION isokron.namespace_access_v1()
RETURNS TABLE (workspace_id text, readable text[], writable text[])
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE chain AS (
        SELECT w.workspace_id, w.parent_id, 0 AS depth
          FROM isokron.workspaces w
         WHERE w.workspace_id = current_setting('app.current_workspace_id', true)
        UNION ALL
        SELECT w.workspace_id, w.parent_id, c.depth + 1
          FROM isokron.workspaces w
          JOIN chain c ON w.workspace_id = c.parent_id
         WHERE c.depth < 50
    ), self AS (
        SELECT c.workspace_id, c.parent_id FROM chain c WHERE c.depth = 0
    ), root AS (
        SELECT c.workspace_id FROM chain c ORDER BY c.depth DESC LIMIT 1
    )
    SELECT s.workspace_id,
           ARRAY['workspace:' || s.workspace_id,
                 'team:' || coalesce(s.parent_id, s.workspace_id),
                 'org:' || r.workspace_id],
           ARRAY['workspace:' || s.workspace_id,
                 'team:' || coalesce(s.parent_id, s.workspace_id)]
           || CASE WHEN s.parent_id IS NULL THEN ARRAY['org:' || r.workspace_id]
                   ELSE ARRAY[]::text[] END
      FROM self s CROSS JOIN root r
$$;
ALTER FUNCTION isokron.namespace_access_v1() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.namespace_access_v1() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.namespace_access_v1() TO isokron_runtime;

CREATE FUNCTION isokron.readable_namespaces_v1() RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce((SELECT a.readable FROM isokron.namespace_access_v1() a), '{}') $$;
CREATE FUNCTION isokron.writable_namespaces_v1() RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce((SELECT a.writable FROM isokron.namespace_access_v1() a), '{}') $$;
REVOKE ALL ON FUNCTION isokron.readable_namespaces_v1(), isokron.writable_namespaces_v1()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.readable_namespaces_v1(), isokron.writable_namespaces_v1()
    TO isokron_runtime;

-- memory: visible in readable namespaces, changeable only in writable ones ----------------
-- The record key includes the namespace (the column RLS decides on). With a global id,
-- INSERT … ON CONFLICT (id) DO UPDATE … WHERE <expr on the hidden row> evaluated the
-- WHERE on another tenant's row before the UPDATE policy refused it: a read oracle.
ALTER TABLE isokron.memory_records DROP CONSTRAINT memory_records_pkey;
ALTER TABLE isokron.memory_records ADD CONSTRAINT memory_records_pkey PRIMARY KEY (namespace, id);
CREATE INDEX memory_records_id_idx ON isokron.memory_records (id);
-- Each policy wraps the ACL in a scalar subquery: one InitPlan per statement, not a call
-- per row.
ALTER TABLE isokron.memory_namespaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_namespaces FORCE ROW LEVEL SECURITY;
CREATE POLICY memory_namespaces_select ON isokron.memory_namespaces FOR SELECT
    USING (name = ANY ((SELECT isokron.readable_namespaces_v1())::text[]));
CREATE POLICY memory_namespaces_insert ON isokron.memory_namespaces FOR INSERT
    WITH CHECK (name = ANY ((SELECT isokron.writable_namespaces_v1())::text[]));
CREATE POLICY memory_namespaces_update ON isokron.memory_namespaces FOR UPDATE
    USING (name = ANY ((SELECT isokron.writable_namespaces_v1())::text[]))
    WITH CHECK (name = ANY ((SELECT isokron.writable_namespaces_v1())::text[]));

ALTER TABLE isokron.memory_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_records FORCE ROW LEVEL SECURITY;
CREATE POLICY memory_records_select ON isokron.memory_records FOR SELECT
    USING (namespace = ANY ((SELECT isokron.readable_namespaces_v1())::text[]));
CREATE POLICY memory_records_insert ON isokron.memory_records FOR INSERT
    WITH CHECK (namespace = ANY ((SELECT isokron.writable_namespaces_v1())::text[]));
CREATE POLICY memory_records_update ON isokron.memory_records FOR UPDATE
    USING (namespace = ANY ((SELECT isokron.writable_namespaces_v1())::text[]))
    WITH CHECK (namespace = ANY ((SELECT isokron.writable_namespaces_v1())::text[]));
CREATE POLICY memory_records_delete ON isokron.memory_records FOR DELETE
    USING (namespace = ANY ((SELECT isokron.writable_namespaces_v1())::text[]));

ALTER TABLE isokron.memory_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_audit FORCE ROW LEVEL SECURITY;
CREATE POLICY memory_audit_select ON isokron.memory_audit FOR SELECT
    USING (workspace_id = current_setting('app.current_workspace_id', true));
CREATE POLICY memory_audit_insert ON isokron.memory_audit FOR INSERT
    WITH CHECK (workspace_id = current_setting('app.current_workspace_id', true)
                AND namespace = ANY ((SELECT isokron.writable_namespaces_v1())::text[]));

-- sessions and messages: keys include the tenant and the user -----------------------------
-- A message whose tenant/user differ from its session's was planted by another caller
-- (the old foreign key ignored RLS); it cannot satisfy the new key and is removed.
DO $$
DECLARE
    v_planted bigint;
BEGIN
    DELETE FROM isokron.agent_messages m
     USING isokron.agent_sessions s
     WHERE s.id = m.session_id AND (s.tenant_id, s.user_id) <> (m.tenant_id, m.user_id);
    GET DIAGNOSTICS v_planted = ROW_COUNT;
    IF v_planted > 0 THEN
        RAISE NOTICE 'removed % message(s) whose tenant or user differed from their session''s',
            v_planted;
    END IF;
END
$$;
ALTER TABLE isokron.agent_messages DROP CONSTRAINT agent_messages_session_id_fkey;
ALTER TABLE isokron.agent_messages DROP CONSTRAINT agent_messages_session_id_seq_key;
ALTER TABLE isokron.agent_messages DROP CONSTRAINT agent_messages_pkey;
ALTER TABLE isokron.agent_sessions DROP CONSTRAINT agent_sessions_pkey;
ALTER TABLE isokron.agent_sessions ADD CONSTRAINT agent_sessions_pkey
    PRIMARY KEY (tenant_id, user_id, id);
ALTER TABLE isokron.agent_messages ADD CONSTRAINT agent_messages_pkey
    PRIMARY KEY (tenant_id, user_id, id);
ALTER TABLE isokron.agent_messages ADD CONSTRAINT agent_messages_session_seq_key
    UNIQUE (tenant_id, user_id, session_id, seq);
ALTER TABLE isokron.agent_messages ADD CONSTRAINT agent_messages_session_fkey
    FOREIGN KEY (tenant_id, user_id, session_id)
    REFERENCES isokron.agent_sessions (tenant_id, user_id, id) ON DELETE CASCADE;

DROP POLICY agent_sessions_tenant_user ON isokron.agent_sessions;
DROP POLICY agent_messages_tenant_user ON isokron.agent_messages;
CREATE POLICY agent_sessions_select ON isokron.agent_sessions FOR SELECT
    USING (tenant_id = current_setting('app.current_tenant_id', true)
           AND user_id = current_setting('app.current_user_id', true));
CREATE POLICY agent_sessions_insert ON isokron.agent_sessions FOR INSERT
    WITH CHECK (tenant_id = current_setting('app.current_tenant_id', true)
                AND user_id = current_setting('app.current_user_id', true));
CREATE POLICY agent_sessions_update ON isokron.agent_sessions FOR UPDATE
    USING (tenant_id = current_setting('app.current_tenant_id', true)
           AND user_id = current_setting('app.current_user_id', true))
    WITH CHECK (tenant_id = current_setting('app.current_tenant_id', true)
                AND user_id = current_setting('app.current_user_id', true));
CREATE POLICY agent_messages_select ON isokron.agent_messages FOR SELECT
    USING (tenant_id = current_setting('app.current_tenant_id', true)
           AND user_id = current_setting('app.current_user_id', true));
CREATE POLICY agent_messages_insert ON isokron.agent_messages FOR INSERT
    WITH CHECK (tenant_id = current_setting('app.current_tenant_id', true)
                AND user_id = current_setting('app.current_user_id', true));

-- the substrate write functions check their caller ----------------------------------------
-- SQLSTATE IKT01: the call names a workspace other than app.current_workspace_id, or an
-- actor that is not registered in it.
CREATE OR REPLACE FUNCTION hivex_foundation.append_event_v1(
    p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tenant  uuid;
    v_seq     bigint;
    v_prev    text;
    v_payload jsonb := coalesce(p_payload, '{}'::jsonb);
    v_id      uuid := gen_random_uuid();
BEGIN
    IF p_workspace_id IS NULL
       OR p_workspace_id IS DISTINCT FROM current_setting('app.current_workspace_id', true) THEN
        RAISE EXCEPTION 'append_event_v1: workspace % is not the transaction''s workspace',
            quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01',
                  HINT = 'set app.current_workspace_id with set_config(..., true) first';
    END IF;
    IF p_event_type IS NULL OR p_event_type !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' THEN
        RAISE EXCEPTION 'invalid event_type %', quote_nullable(p_event_type)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_actor_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM public.actor_registry a
         WHERE a.actor_id = p_actor_id AND a.workspace_id = p_workspace_id) THEN
        RAISE EXCEPTION 'append_event_v1: actor % is not registered in workspace %',
            p_actor_id, quote_nullable(p_workspace_id) USING ERRCODE = 'IKT01';
    END IF;
    -- The tenant row lock serialises appends per tenant, so seq has no gaps.
    SELECT t.tenant_id INTO v_tenant
      FROM hivex_foundation.tenant t
     WHERE t.clerk_org_id = p_workspace_id
       FOR UPDATE;
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'unknown workspace %', quote_nullable(p_workspace_id)
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT e.seq, e.this_event_hash INTO v_seq, v_prev
      FROM hivex_foundation.event_log e
     WHERE e.tenant_id = v_tenant
     ORDER BY e.seq DESC
     LIMIT 1;
    v_seq := coalesce(v_seq, 0) + 1;
    INSERT INTO hivex_foundation.event_log
        (event_id, tenant_id, seq, event_type, payload, actor_id, prev_event_hash, this_event_hash)
    VALUES (v_id, v_tenant, v_seq, p_event_type, v_payload, p_actor_id, v_prev,
            hivex_foundation.event_hash_v1(v_prev, v_tenant, v_seq, p_event_type, v_payload));
    RETURN v_id;
END
$$;

CREATE OR REPLACE FUNCTION kronicle.write_agent_scratchpad_v1(
    p_workspace_id text, p_actor_kind text, p_kind kronicle.scratchpad_kind,
    p_scope kronicle.scratchpad_visibility_scope, p_content text
) RETURNS TABLE (scratchpad_entry_id uuid, approved_event_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor uuid;
    v_event uuid;
    v_entry uuid := gen_random_uuid();
BEGIN
    IF p_workspace_id IS NULL
       OR p_workspace_id IS DISTINCT FROM current_setting('app.current_workspace_id', true) THEN
        RAISE EXCEPTION 'write_agent_scratchpad_v1: workspace % is not the current one',
            quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01',
                  HINT = 'set app.current_workspace_id with set_config(..., true) first';
    END IF;
    IF p_content IS NULL OR p_content = '' THEN
        RAISE EXCEPTION 'scratchpad content must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce((SELECT m.granted FROM public.actor_capability_matrix m
                      WHERE m.cap_name = 'cap_write_agent_scratchpad'
                        AND m.actor_kind = p_actor_kind), false) THEN
        RAISE EXCEPTION 'actor kind % lacks cap_write_agent_scratchpad', quote_nullable(p_actor_kind)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT a.actor_id INTO v_actor
      FROM public.actor_registry a
     WHERE a.workspace_id = p_workspace_id AND a.actor_kind = p_actor_kind
     ORDER BY a.created_at, a.actor_id
     LIMIT 1;
    IF v_actor IS NULL THEN
        RAISE EXCEPTION 'write_agent_scratchpad_v1: no % actor registered in workspace %',
            quote_nullable(p_actor_kind), quote_nullable(p_workspace_id) USING ERRCODE = 'IKT01';
    END IF;
    v_event := hivex_foundation.append_event_v1(
        p_workspace_id, p_actor_kind || '.scratchpad.written',
        jsonb_build_object('scratchpad_entry_id', v_entry, 'kind', p_kind, 'scope', p_scope),
        v_actor);
    INSERT INTO kronicle.agent_scratchpad_entries
        (scratchpad_entry_id, workspace_id, actor_id, scratchpad_kind, visibility_scope,
         content_inline, content_hash, approved_event_id)
    VALUES (v_entry, p_workspace_id, v_actor, p_kind, p_scope, p_content,
            encode(sha256(convert_to(p_content, 'UTF8')), 'hex'), v_event);
    RETURN QUERY SELECT v_entry, v_event;
END
$$;
