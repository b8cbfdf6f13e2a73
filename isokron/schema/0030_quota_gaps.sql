-- Quota gaps found by review (tests/integration/test_review_attacks.py), closed where the
-- data is, like 0028:
--
-- 1. A session's own columns count: agent_name, title and state (its jsonb text) are
--    bytes of the session's counter (quota_session_bytes, with its messages) on INSERT
--    and on every UPDATE that grows them (a shrinking UPDATE is always allowed). An
--    UPDATE that leaves them alone (updated_at, on every message) takes no counter lock.
-- 2. A memory's embedding counts: the vector's own size (8 + 4 bytes a dimension, halfvec
--    2; the same inline or toasted, so a delete frees exactly what the write counted) is
--    bytes of its namespace (quota_memory_bytes), on raw SQL and on store_embeddings_v1
--    alike (so the embedder's store is refused, IKQ01, in a full namespace). The column
--    is optional (pgvector), so the trigger reads it by name only when it exists. The
--    default quota_memory_bytes grows from 256 MiB to 1 GiB to leave room for the vectors
--    (only where the '*' row still holds the old default).
-- 3. quota_sessions_per_tenant (default 100000): sessions one tenant holds over all its
--    users, whatever user ids a connection names. One counter row per tenant
--    (scope 'tenant'), locked by a session INSERT until commit: session creation is
--    serialised per tenant (messages and memories are not affected).
-- 4. Chain events: append_event_v1 (dropped and recreated, same signature) refuses a
--    payload above quota_event_bytes (default 1 MiB, its jsonb text) and an append past
--    quota_events_per_tenant (default 1000000; the anchor's event_count, already locked
--    per tenant by the append). The log stays append-only: these bound it, nothing frees it.
-- 5. verify_chain_v2 (dropped and recreated) raises IKT01 for a workspace that is not the
--    transaction's and for an unknown workspace, instead of answering "intact" from the
--    rows RLS hid. A caller RLS does not apply to (a superuser, BYPASSRLS: the doctor as
--    the owner) verifies any known workspace.
-- quota_limits_v2 returns the new limits too (quota_limits_v1 stays for its callers).

-- limits ---------------------------------------------------------------------------------
ALTER TABLE isokron.quota_limits
    ADD COLUMN sessions_per_tenant bigint CHECK (sessions_per_tenant >= 0),
    ADD COLUMN events_per_tenant   bigint CHECK (events_per_tenant >= 0),
    ADD COLUMN event_bytes         bigint CHECK (event_bytes >= 0);
UPDATE isokron.quota_limits
   SET sessions_per_tenant = 100000, events_per_tenant = 1000000, event_bytes = 1048576,
       memory_bytes = CASE WHEN memory_bytes = 268435456 THEN 1073741824 ELSE memory_bytes END
 WHERE workspace_id = '*';

ALTER TABLE isokron.quota_usage DROP CONSTRAINT quota_usage_scope_check;
ALTER TABLE isokron.quota_usage ADD CONSTRAINT quota_usage_scope_check
    CHECK (scope IN ('user', 'session', 'namespace', 'tenant'));

CREATE FUNCTION isokron.quota_limits_v2(p_workspace_id text)
RETURNS TABLE(sessions_per_user bigint, messages_per_session bigint, session_bytes bigint,
              message_bytes bigint, memory_rows bigint, memory_bytes bigint,
              result_bytes bigint, sessions_per_tenant bigint, events_per_tenant bigint,
              event_bytes bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(w.sessions_per_user, d.sessions_per_user),
           coalesce(w.messages_per_session, d.messages_per_session),
           coalesce(w.session_bytes, d.session_bytes),
           coalesce(w.message_bytes, d.message_bytes),
           coalesce(w.memory_rows, d.memory_rows),
           coalesce(w.memory_bytes, d.memory_bytes),
           coalesce(w.result_bytes, d.result_bytes),
           coalesce(w.sessions_per_tenant, d.sessions_per_tenant),
           coalesce(w.events_per_tenant, d.events_per_tenant),
           coalesce(w.event_bytes, d.event_bytes)
      FROM (SELECT 1) one
      LEFT JOIN isokron.quota_limits d ON d.workspace_id = '*'
      LEFT JOIN isokron.quota_limits w ON w.workspace_id = p_workspace_id
                                      AND p_workspace_id <> '*'
$$;
ALTER FUNCTION isokron.quota_limits_v2(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_limits_v2(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.quota_limits_v2(text) TO isokron_runtime;

-- sessions -------------------------------------------------------------------------------
DROP TRIGGER quota_sessions_added ON isokron.agent_sessions;
DROP TRIGGER quota_sessions_removed ON isokron.agent_sessions;
DROP FUNCTION isokron.quota_sessions_added_tg();
DROP FUNCTION isokron.quota_sessions_removed_tg();

-- the bytes of a session's own columns
CREATE FUNCTION isokron.quota_session_bytes_v1(p_agent_name text, p_title text, p_state jsonb)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (coalesce(octet_length(p_agent_name), 0) + coalesce(octet_length(p_title), 0)
            + coalesce(octet_length(p_state::text), 0))::bigint
$$;
REVOKE ALL ON FUNCTION isokron.quota_session_bytes_v1(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.quota_session_bytes_v1(text, text, jsonb)
    TO isokron_definer;

-- Add session bytes (p_delta: tenant_id, user_id, session_id, b) to the sessions' counters;
-- refuse where one grew past quota_session_bytes.
CREATE FUNCTION isokron.quota_session_grow_v1(p_delta json) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    UPDATE isokron.quota_usage u SET bytes = greatest(u.bytes + d.b, 0)
      FROM json_to_recordset(p_delta) AS d(tenant_id text, user_id text, session_id text,
                                           b bigint)
     WHERE d.b < 0 AND u.key1 = d.tenant_id AND u.scope = 'session' AND u.key2 = d.user_id
       AND u.key3 = d.session_id;
    WITH g AS (
        SELECT d.tenant_id, d.user_id, d.session_id, d.b
          FROM json_to_recordset(p_delta) AS d(tenant_id text, user_id text, session_id text,
                                               b bigint)
         WHERE d.b > 0
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, key3, bytes)
        SELECT 'session', g.tenant_id, g.user_id, g.session_id, g.b FROM g ORDER BY 2, 3, 4
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes
        RETURNING u.key1, u.key2, u.key3, u.bytes
    )
    SELECT up.key3 AS session, up.bytes AS used, l.session_bytes AS lim INTO v
      FROM up
      CROSS JOIN LATERAL isokron.quota_limits_v2(up.key1) l
     WHERE up.bytes > l.session_bytes
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quota_session_bytes exceeded: limit %', v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('session %s would reach %s', v.session, v.used);
    END IF;
END
$$;
ALTER FUNCTION isokron.quota_session_grow_v1(json) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_session_grow_v1(json) FROM PUBLIC;

CREATE FUNCTION isokron.quota_sessions_added_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_delta json;
BEGIN
    -- the tenant's total first (one lock order: tenant, user, session)
    WITH t AS (
        SELECT a.tenant_id, count(*) AS n FROM added a GROUP BY 1
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items)
        SELECT 'tenant', t.tenant_id, '', t.n FROM t ORDER BY 2
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET items = u.items + EXCLUDED.items
        RETURNING u.key1, u.items
    )
    SELECT up.key1, up.items, l.sessions_per_tenant AS lim INTO v
      FROM up CROSS JOIN LATERAL isokron.quota_limits_v2(up.key1) l
     WHERE up.items > l.sessions_per_tenant
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quota_sessions_per_tenant exceeded: limit %', v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('tenant %s would hold %s sessions', v.key1, v.items);
    END IF;
    WITH g AS (
        SELECT a.tenant_id, a.user_id, count(*) AS n FROM added a GROUP BY 1, 2
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items)
        SELECT 'user', g.tenant_id, g.user_id, g.n FROM g ORDER BY 2, 3
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET items = u.items + EXCLUDED.items
        RETURNING u.key1, u.key2, u.items
    )
    SELECT up.key1, up.key2, up.items, l.sessions_per_user AS lim INTO v
      FROM up CROSS JOIN LATERAL isokron.quota_limits_v2(up.key1) l
     WHERE up.items > l.sessions_per_user
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quota_sessions_per_user exceeded: limit %', v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('user %s of tenant %s would hold %s sessions', v.key2,
                                  v.key1, v.items);
    END IF;
    SELECT json_agg(g) INTO v_delta FROM (
        SELECT a.tenant_id, a.user_id, a.id::text AS session_id,
               isokron.quota_session_bytes_v1(a.agent_name, a.title, a.state) AS b
          FROM added a) g;
    IF v_delta IS NOT NULL THEN
        PERFORM isokron.quota_session_grow_v1(v_delta);
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_sessions_added_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_sessions_added_tg() FROM PUBLIC;

CREATE FUNCTION isokron.quota_sessions_updated_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_delta json;
BEGIN
    -- a session's keys never change (quota_session_keys), so old and new pair on them
    SELECT json_agg(g) INTO v_delta FROM (
        SELECT a.tenant_id, a.user_id, a.id::text AS session_id,
               isokron.quota_session_bytes_v1(a.agent_name, a.title, a.state)
               - isokron.quota_session_bytes_v1(r.agent_name, r.title, r.state) AS b
          FROM added a
          JOIN removed r ON r.tenant_id = a.tenant_id AND r.user_id = a.user_id
                        AND r.id = a.id
         WHERE (a.agent_name, a.title, a.state) IS DISTINCT FROM
               (r.agent_name, r.title, r.state)) g
     WHERE g.b <> 0;
    IF v_delta IS NOT NULL THEN
        PERFORM isokron.quota_session_grow_v1(v_delta);
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_sessions_updated_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_sessions_updated_tg() FROM PUBLIC;

CREATE FUNCTION isokron.quota_sessions_removed_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE isokron.quota_usage u SET items = greatest(u.items - g.n, 0)
      FROM (SELECT r.tenant_id, count(*) AS n FROM removed r GROUP BY 1) g
     WHERE u.key1 = g.tenant_id AND u.scope = 'tenant' AND u.key2 = '' AND u.key3 = '';
    UPDATE isokron.quota_usage u SET items = greatest(u.items - g.n, 0)
      FROM (SELECT r.tenant_id, r.user_id, count(*) AS n FROM removed r GROUP BY 1, 2) g
     WHERE u.key1 = g.tenant_id AND u.scope = 'user' AND u.key2 = g.user_id AND u.key3 = '';
    DELETE FROM isokron.quota_usage u USING removed r
     WHERE u.key1 = r.tenant_id AND u.scope = 'session' AND u.key2 = r.user_id
       AND u.key3 = r.id::text;
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_sessions_removed_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_sessions_removed_tg() FROM PUBLIC;

-- memories -------------------------------------------------------------------------------
DROP TRIGGER quota_memory_added ON isokron.memory_records;
DROP TRIGGER quota_memory_updated ON isokron.memory_records;
DROP TRIGGER quota_memory_removed ON isokron.memory_records;
DROP FUNCTION isokron.quota_memory_changed_tg();

CREATE FUNCTION isokron.quota_memory_changed_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_delta json;
    v record;
    v_nsp text;
    v_type text;
    v_size text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- the common case, written out: no detour through JSON
        WITH g AS (
            SELECT a.root_id, a.namespace, count(*) AS n,
                   sum(octet_length(a.content) + octet_length(a.metadata::text))::bigint AS b
              FROM added a GROUP BY 1, 2
        ), up AS (
            INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items, bytes)
            SELECT 'namespace', g.root_id, g.namespace, g.n, g.b FROM g ORDER BY 2, 3
            ON CONFLICT (key1, scope, key2, key3) DO UPDATE
               SET items = u.items + EXCLUDED.items, bytes = u.bytes + EXCLUDED.bytes
            RETURNING u.key1, u.key2, u.items, u.bytes
        )
        SELECT q.quota, q.lim, q.used, up.key2 AS namespace INTO v
          FROM up
          CROSS JOIN LATERAL isokron.quota_limits_v1(up.key1) l
          CROSS JOIN LATERAL (VALUES
              (1, 'quota_memory_rows', l.memory_rows, up.items),
              (2, 'quota_memory_bytes', l.memory_bytes, up.bytes)) q(ord, quota, lim, used)
         WHERE q.used > q.lim
         ORDER BY q.ord
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION '% exceeded: limit %', v.quota, v.lim
                USING ERRCODE = 'IKQ01',
                      DETAIL = format('namespace %s would reach %s', v.namespace, v.used);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT json_agg(g) INTO v_delta FROM (
            SELECT r.root_id, r.namespace, -count(*) AS n,
                   -sum(octet_length(r.content) + octet_length(r.metadata::text))::bigint AS b
              FROM removed r GROUP BY 1, 2) g;
    ELSE
        SELECT json_agg(g) INTO v_delta FROM (
            SELECT c.root_id, c.namespace, sum(c.n)::bigint AS n, sum(c.b)::bigint AS b
              FROM (SELECT a.root_id, a.namespace, 1 AS n,
                           octet_length(a.content) + octet_length(a.metadata::text) AS b
                      FROM added a
                    UNION ALL
                    SELECT r.root_id, r.namespace, -1,
                           -(octet_length(r.content) + octet_length(r.metadata::text))
                      FROM removed r) c
             GROUP BY 1, 2
            HAVING sum(c.n) <> 0 OR sum(c.b) <> 0) g;
    END IF;
    IF v_delta IS NOT NULL THEN
        PERFORM isokron.quota_memory_add_v1(v_delta);
    END IF;
    -- The embedding (pgvector, optional: read by name where the column exists). Its bytes
    -- go to the same counters: the vector's own size (8 bytes of header, 4 a dimension;
    -- halfvec 2), the same whether the stored value is inline or toasted.
    SELECT n.nspname, t.typname INTO v_nsp, v_type
      FROM pg_attribute c JOIN pg_type t ON t.oid = c.atttypid
      JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE c.attrelid = TG_RELID AND c.attname = 'embedding' AND NOT c.attisdropped;
    IF v_type IS NOT NULL THEN
        v_size := CASE WHEN v_type IN ('vector', 'halfvec')
                       THEN format('(8 + %s * %I.vector_dims(x.embedding))',
                                   CASE v_type WHEN 'halfvec' THEN 2 ELSE 4 END, v_nsp)
                       ELSE 'pg_column_size(x.embedding)' END;
        EXECUTE format(
            'SELECT json_agg(g) FROM (SELECT c.root_id, c.namespace, 0 AS n, '
            'sum(c.b)::bigint AS b FROM (%s) c GROUP BY 1, 2 HAVING sum(c.b) <> 0) g',
            concat_ws(' UNION ALL ',
                CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN format(
                    'SELECT x.root_id, x.namespace, %s AS b FROM added x '
                    'WHERE x.embedding IS NOT NULL', v_size) END,
                CASE WHEN TG_OP IN ('DELETE', 'UPDATE') THEN format(
                    'SELECT x.root_id, x.namespace, -%s AS b FROM removed x '
                    'WHERE x.embedding IS NOT NULL', v_size) END)) INTO v_delta;
        IF v_delta IS NOT NULL THEN
            PERFORM isokron.quota_memory_add_v1(v_delta);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_memory_changed_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_memory_changed_tg() FROM PUBLIC;

-- triggers and what is already stored ----------------------------------------------------
ALTER TABLE isokron.agent_sessions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_records NO FORCE ROW LEVEL SECURITY;

CREATE TRIGGER quota_sessions_added AFTER INSERT ON isokron.agent_sessions
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_added_tg();
CREATE TRIGGER quota_sessions_updated AFTER UPDATE ON isokron.agent_sessions
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_updated_tg();
CREATE TRIGGER quota_sessions_removed AFTER DELETE ON isokron.agent_sessions
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_removed_tg();
CREATE TRIGGER quota_memory_added AFTER INSERT ON isokron.memory_records
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_memory_changed_tg();
CREATE TRIGGER quota_memory_updated AFTER UPDATE ON isokron.memory_records
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_memory_changed_tg();
CREATE TRIGGER quota_memory_removed AFTER DELETE ON isokron.memory_records
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_memory_changed_tg();

INSERT INTO isokron.quota_usage (scope, key1, key2, items)
SELECT 'tenant', s.tenant_id, '', count(*) FROM isokron.agent_sessions s GROUP BY 2;
INSERT INTO isokron.quota_usage AS u (scope, key1, key2, key3, bytes)
SELECT 'session', s.tenant_id, s.user_id, s.id::text,
       isokron.quota_session_bytes_v1(s.agent_name, s.title, s.state)
  FROM isokron.agent_sessions s
ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
DO $$
DECLARE
    v_nsp text;
    v_type text;
BEGIN
    SELECT n.nspname, t.typname INTO v_nsp, v_type
      FROM pg_attribute c JOIN pg_type t ON t.oid = c.atttypid
      JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE c.attrelid = 'isokron.memory_records'::regclass AND c.attname = 'embedding'
       AND NOT c.attisdropped;
    IF v_type IS NOT NULL THEN
        EXECUTE format(
            'UPDATE isokron.quota_usage u SET bytes = u.bytes + e.b '
            'FROM (SELECT x.root_id, x.namespace, sum(%s) AS b FROM isokron.memory_records x '
            'WHERE x.embedding IS NOT NULL GROUP BY 1, 2) e '
            'WHERE u.key1 = e.root_id AND u.scope = ''namespace'' '
            'AND u.key2 = e.namespace AND u.key3 = ''''',
            CASE WHEN v_type IN ('vector', 'halfvec')
                 THEN format('(8 + %s * %I.vector_dims(x.embedding))',
                             CASE v_type WHEN 'halfvec' THEN 2 ELSE 4 END, v_nsp)
                 ELSE 'pg_column_size(x.embedding)' END);
    END IF;
END
$$;

ALTER TABLE isokron.agent_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_records FORCE ROW LEVEL SECURITY;

-- chain events ---------------------------------------------------------------------------
DROP FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid);
CREATE FUNCTION hivex_foundation.append_event_v1(
    p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tenant      uuid;
    v_head_seq    bigint;
    v_head_hash   text;
    v_anchor_seq  bigint;
    v_anchor_hash text;
    v_count       bigint;
    v_seq         bigint;
    v_prev        text;
    v_hash        text;
    v_payload     jsonb := coalesce(p_payload, '{}'::jsonb);
    v_id          uuid := gen_random_uuid();
    v_at          timestamptz := now();
    v_limits      record;
    v_bytes       bigint;
BEGIN
    IF p_workspace_id IS NULL
       OR p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'append_event_v1: workspace % is not the transaction''s workspace',
            quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01',
                  HINT = 'set app.current_workspace_id with set_config(..., true) first';
    END IF;
    IF p_event_type IS NULL OR p_event_type !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' THEN
        RAISE EXCEPTION 'invalid event_type %', quote_nullable(p_event_type)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.events_per_tenant, l.event_bytes INTO v_limits
      FROM isokron.quota_limits_v2(p_workspace_id) l;
    v_bytes := octet_length(v_payload::text);
    IF v_bytes > v_limits.event_bytes THEN
        RAISE EXCEPTION 'quota_event_bytes exceeded: limit %', v_limits.event_bytes
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('an event of %s bytes for workspace %s', v_bytes,
                                  p_workspace_id);
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
    SELECT e.seq, e.this_event_hash INTO v_head_seq, v_head_hash
      FROM hivex_foundation.event_log e
     WHERE e.tenant_id = v_tenant
     ORDER BY e.seq DESC
     LIMIT 1;
    SELECT a.last_seq, a.last_hash, a.event_count INTO v_anchor_seq, v_anchor_hash, v_count
      FROM hivex_foundation.chain_anchor a
     WHERE a.tenant_id = v_tenant;
    IF coalesce(v_count, 0) + 1 > v_limits.events_per_tenant THEN
        RAISE EXCEPTION 'quota_events_per_tenant exceeded: limit %', v_limits.events_per_tenant
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('workspace %s holds %s events', p_workspace_id,
                                  coalesce(v_count, 0));
    END IF;
    -- Chain from the anchor: a log whose head is behind it (a cut tail) or rewritten keeps
    -- the gap or mismatch visible. Only a log past the anchor (rows written around this
    -- function) is chained from its own head; verify reports those rows.
    IF v_anchor_seq IS NOT NULL AND v_anchor_seq >= coalesce(v_head_seq, 0) THEN
        v_seq := v_anchor_seq + 1;
        v_prev := v_anchor_hash;
    ELSE
        v_seq := coalesce(v_head_seq, 0) + 1;
        v_prev := v_head_hash;
    END IF;
    v_hash := hivex_foundation.event_hash_v2(v_prev, v_id, v_tenant, v_seq, p_event_type,
                                             v_payload, p_actor_id, v_at);
    INSERT INTO hivex_foundation.event_log
        (event_id, tenant_id, seq, event_type, payload, actor_id, occurred_at,
         prev_event_hash, this_event_hash, hash_version)
    VALUES (v_id, v_tenant, v_seq, p_event_type, v_payload, p_actor_id, v_at,
            v_prev, v_hash, 2);
    IF v_anchor_seq IS NULL THEN
        INSERT INTO hivex_foundation.chain_anchor (tenant_id, last_seq, last_hash, event_count)
        VALUES (v_tenant, v_seq, v_hash, 1);
    ELSE
        UPDATE hivex_foundation.chain_anchor a
           SET last_seq = v_seq, last_hash = v_hash, event_count = v_count + 1
         WHERE a.tenant_id = v_tenant;
    END IF;
    RETURN v_id;
END
$$;
ALTER FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid)
    TO isokron_runtime;

-- the verify -----------------------------------------------------------------------------
DROP FUNCTION hivex_foundation.verify_chain_v2(text);
CREATE FUNCTION hivex_foundation.verify_chain_v2(p_workspace_id text)
RETURNS TABLE (broken_seq bigint, reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tenant   uuid;
    v_expected bigint := 1;
    v_prev     text := NULL;
    v_seen_v2  boolean := false;
    v_anchor   record;
    r          record;
BEGIN
    -- Under RLS only the transaction's own workspace is visible: any other would read as
    -- an empty, intact chain. Refuse it (a caller RLS does not apply to sees every chain).
    IF row_security_active('hivex_foundation.event_log'::regclass)
       AND p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'verify_chain_v2: workspace % is not the transaction''s workspace',
            quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01',
                  HINT = 'set app.current_workspace_id with set_config(..., true) first';
    END IF;
    SELECT t.tenant_id INTO v_tenant
      FROM hivex_foundation.tenant t WHERE t.clerk_org_id = p_workspace_id;
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'verify_chain_v2: unknown workspace %', quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01';
    END IF;
    FOR r IN
        SELECT e.event_id, e.seq, e.event_type, e.payload, e.actor_id, e.occurred_at,
               e.prev_event_hash, e.this_event_hash, e.hash_version
          FROM hivex_foundation.event_log e
         WHERE e.tenant_id = v_tenant
         ORDER BY e.seq
    LOOP
        IF r.seq <> v_expected THEN
            broken_seq := least(r.seq, v_expected);
            reason := format('seq %s is missing (the next event is seq %s)', v_expected, r.seq);
        ELSIF r.prev_event_hash IS DISTINCT FROM v_prev THEN
            broken_seq := r.seq;
            reason := CASE WHEN r.seq = 1 THEN 'the first event names a previous hash'
                           ELSE format('its prev_event_hash is not the hash of seq %s', r.seq - 1)
                      END;
        ELSIF r.hash_version = 1 AND v_seen_v2 THEN
            broken_seq := r.seq;
            reason := 'a v1 event after v2 events';
        ELSIF r.hash_version = 1 AND r.this_event_hash IS DISTINCT FROM
                hivex_foundation.event_hash_v1(r.prev_event_hash, v_tenant, r.seq,
                                               r.event_type, r.payload) THEN
            broken_seq := r.seq;
            reason := 'its hash does not match its type and payload (v1)';
        ELSIF r.hash_version = 2 AND r.this_event_hash IS DISTINCT FROM
                hivex_foundation.event_hash_v2(r.prev_event_hash, r.event_id, v_tenant, r.seq,
                                               r.event_type, r.payload, r.actor_id,
                                               r.occurred_at) THEN
            broken_seq := r.seq;
            reason := 'its hash does not match its id, type, payload, actor or time (v2)';
        END IF;
        IF broken_seq IS NOT NULL THEN
            RETURN NEXT;
            RETURN;
        END IF;
        v_seen_v2 := v_seen_v2 OR r.hash_version = 2;
        v_prev := r.this_event_hash;
        v_expected := v_expected + 1;
    END LOOP;
    -- v_expected - 1 events, gap-free from seq 1, each hashing to what it says
    SELECT a.last_seq, a.last_hash, a.event_count INTO v_anchor
      FROM hivex_foundation.chain_anchor a WHERE a.tenant_id = v_tenant;
    IF v_anchor.last_seq IS NULL THEN
        IF v_expected > 1 THEN
            broken_seq := v_expected - 1;
            reason := format('the chain of %s events has no anchor', v_expected - 1);
        END IF;
    ELSIF v_anchor.last_seq > v_expected - 1 THEN
        broken_seq := v_expected;
        reason := format('tail cut: %s, its anchor is at seq %s',
                         CASE WHEN v_expected = 1 THEN 'no event is left'
                              ELSE format('the chain ends at seq %s', v_expected - 1) END,
                         v_anchor.last_seq);
    ELSIF v_anchor.last_seq < v_expected - 1 THEN
        broken_seq := v_anchor.last_seq + 1;
        reason := format('events past its anchor (seq %s): not appended by append_event_v1',
                         v_anchor.last_seq);
    ELSIF v_anchor.last_hash IS DISTINCT FROM v_prev THEN
        broken_seq := v_anchor.last_seq;
        reason := 'its hash differs from the anchor''s';
    ELSIF v_anchor.event_count <> v_expected - 1 THEN
        broken_seq := v_anchor.last_seq;
        reason := format('the anchor counts %s events, the chain holds %s',
                         v_anchor.event_count, v_expected - 1);
    END IF;
    IF broken_seq IS NOT NULL THEN
        RETURN NEXT;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION hivex_foundation.verify_chain_v2(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hivex_foundation.verify_chain_v2(text) TO isokron_runtime;
