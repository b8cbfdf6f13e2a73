-- Quotas per workspace, enforced where the data is (issue 24, item 8).
--
-- What is limited (the config keys of the same names, README "Quotas"):
--   quota_sessions_per_user     sessions one user of a tenant holds at once
--   quota_messages_per_session  messages in one session
--   quota_session_bytes         bytes of one session's messages (content + tool calls)
--   quota_message_bytes         bytes of one message (content + tool calls)
--   quota_memory_rows           memories in one namespace
--   quota_memory_bytes          bytes of one namespace's memories (content + metadata)
--   quota_result_bytes          the size of one tool result (enforced by the MCP server;
--                               stored here so one row holds a workspace's limits)
-- The "workspace" of a session is its tenant_id; the workspace of a memory namespace is the
-- root of its workspace tree (root_id): the root's limits apply to every namespace of the
-- tree, each namespace counted on its own.
--
-- Who can change them: only the schema's owner. isokron.quota_limits holds one row of
-- defaults ('*', filled below with the documented defaults) and optional rows per
-- workspace (a NULL column inherits the default; a NULL default means no limit). The
-- runtime role has no privilege on it at all: a LOGIN member of isokron_runtime can
-- neither read nor write the limits table (it reads its effective limits through
-- quota_limits_v1). An operator applies the Python config's quota_* keys with
-- `isokron quota apply` connected as the owner.
--
-- How they hold against raw SQL: the counts live in isokron.quota_usage, which only
-- isokron_definer may write, and are kept by SECURITY DEFINER statement triggers on
-- agent_sessions, agent_messages and memory_records, so every INSERT, UPDATE and DELETE
-- (isokron's functions, raw SQL as the runtime role, the owner's own, cascades) counts.
-- One upsert of the counter row per (user | session | namespace) per statement: no
-- COUNT(*) over the data. The upsert locks the counter row until commit, so concurrent
-- writers to one session (or user, or namespace) are serialised on it and cannot
-- overshoot a limit together. A refused statement raises SQLSTATE IKQ01 with the message
-- "<quota> exceeded: limit <n>" (QuotaExceededError in Python) and stores nothing. Deletes
-- and shrinking updates are always allowed, also when usage is above a lowered limit.
-- A session's owner and id never change (an UPDATE of them would move it off its count).

CREATE TABLE isokron.quota_limits (
    workspace_id         text PRIMARY KEY
                         CHECK (workspace_id = '*' OR char_length(workspace_id) BETWEEN 1 AND 128),
    sessions_per_user    bigint CHECK (sessions_per_user >= 0),
    messages_per_session bigint CHECK (messages_per_session >= 0),
    session_bytes        bigint CHECK (session_bytes >= 0),
    message_bytes        bigint CHECK (message_bytes >= 0),
    memory_rows          bigint CHECK (memory_rows >= 0),
    memory_bytes         bigint CHECK (memory_bytes >= 0),
    result_bytes         bigint CHECK (result_bytes >= 0),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
INSERT INTO isokron.quota_limits (workspace_id, sessions_per_user, messages_per_session,
                                  session_bytes, message_bytes, memory_rows, memory_bytes,
                                  result_bytes)
VALUES ('*', 1000, 100000, 33554432, 4194304, 100000, 268435456, 262144);
-- Row-level security like every isokron table: only isokron_definer's members (the
-- schema owner; the definer itself may only read) pass the policy.
ALTER TABLE isokron.quota_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.quota_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY quota_limits_owner ON isokron.quota_limits TO isokron_definer
    USING (true) WITH CHECK (true);
GRANT SELECT ON isokron.quota_limits TO isokron_definer;

CREATE TABLE isokron.quota_usage (
    scope text NOT NULL CHECK (scope IN ('user', 'session', 'namespace')),
    key1  text NOT NULL,            -- the tenant (user, session) or the tree's root (namespace)
    key2  text NOT NULL,            -- the user (user, session) or the namespace
    key3  text NOT NULL DEFAULT '', -- the session id (session)
    items bigint NOT NULL DEFAULT 0,
    bytes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (key1, scope, key2, key3)
);
ALTER TABLE isokron.quota_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.quota_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY quota_usage_definer ON isokron.quota_usage TO isokron_definer
    USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON isokron.quota_usage TO isokron_definer;

-- The effective limits of a workspace (its row over the defaults).
CREATE FUNCTION isokron.quota_limits_v1(p_workspace_id text)
RETURNS TABLE(sessions_per_user bigint, messages_per_session bigint, session_bytes bigint,
              message_bytes bigint, memory_rows bigint, memory_bytes bigint,
              result_bytes bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(w.sessions_per_user, d.sessions_per_user),
           coalesce(w.messages_per_session, d.messages_per_session),
           coalesce(w.session_bytes, d.session_bytes),
           coalesce(w.message_bytes, d.message_bytes),
           coalesce(w.memory_rows, d.memory_rows),
           coalesce(w.memory_bytes, d.memory_bytes),
           coalesce(w.result_bytes, d.result_bytes)
      FROM (SELECT 1) one
      LEFT JOIN isokron.quota_limits d ON d.workspace_id = '*'
      LEFT JOIN isokron.quota_limits w ON w.workspace_id = p_workspace_id
                                      AND p_workspace_id <> '*'
$$;
ALTER FUNCTION isokron.quota_limits_v1(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_limits_v1(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.quota_limits_v1(text) TO isokron_runtime;

-- Sessions: one per user counted; the per-session counters go with the session.
CREATE FUNCTION isokron.quota_sessions_added_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    WITH g AS (
        SELECT a.tenant_id, a.user_id, count(*) AS n FROM added a GROUP BY 1, 2
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items)
        SELECT 'user', g.tenant_id, g.user_id, g.n FROM g ORDER BY 2, 3
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET items = u.items + EXCLUDED.items
        RETURNING u.key1, u.key2, u.items
    )
    SELECT up.key1, up.key2, up.items, l.sessions_per_user AS lim INTO v
      FROM up CROSS JOIN LATERAL isokron.quota_limits_v1(up.key1) l
     WHERE up.items > l.sessions_per_user
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quota_sessions_per_user exceeded: limit %', v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('user %s of tenant %s would hold %s sessions', v.key2,
                                  v.key1, v.items);
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_sessions_added_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_sessions_added_tg() FROM PUBLIC;

CREATE FUNCTION isokron.quota_sessions_removed_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
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

CREATE FUNCTION isokron.quota_session_keys_tg() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (NEW.tenant_id, NEW.user_id, NEW.id) IS DISTINCT FROM (OLD.tenant_id, OLD.user_id, OLD.id)
    THEN
        RAISE EXCEPTION 'a session''s tenant, user and id never change' USING ERRCODE = 'IKT01';
    END IF;
    RETURN NEW;
END
$$;

-- Messages: count and bytes per session, bytes per message.
CREATE FUNCTION isokron.quota_messages_added_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    WITH sized AS (
        SELECT a.tenant_id, a.user_id, a.session_id,
               coalesce(octet_length(a.content), 0)
               + coalesce(octet_length(a.tool_calls::text), 0) AS b
          FROM added a
    ), g AS (
        SELECT s.tenant_id, s.user_id, s.session_id::text AS session_id, count(*) AS n,
               sum(s.b)::bigint AS b, max(s.b)::bigint AS biggest
          FROM sized s GROUP BY 1, 2, 3
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, key3, items, bytes)
        SELECT 'session', g.tenant_id, g.user_id, g.session_id, g.n, g.b FROM g
         ORDER BY 2, 3, 4
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE
           SET items = u.items + EXCLUDED.items, bytes = u.bytes + EXCLUDED.bytes
        RETURNING u.key1, u.key2, u.key3, u.items, u.bytes
    )
    SELECT q.quota, q.lim, q.used, up.key3 AS session INTO v
      FROM up
      JOIN g ON g.tenant_id = up.key1 AND g.user_id = up.key2 AND g.session_id = up.key3
      CROSS JOIN LATERAL isokron.quota_limits_v1(up.key1) l
      CROSS JOIN LATERAL (VALUES
          (1, 'quota_message_bytes', l.message_bytes, g.biggest),
          (2, 'quota_messages_per_session', l.messages_per_session, up.items),
          (3, 'quota_session_bytes', l.session_bytes, up.bytes)) q(ord, quota, lim, used)
     WHERE q.used > q.lim
     ORDER BY q.ord
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% exceeded: limit %', v.quota, v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('session %s would reach %s', v.session, v.used);
    END IF;
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_messages_added_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_messages_added_tg() FROM PUBLIC;

CREATE FUNCTION isokron.quota_messages_removed_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE isokron.quota_usage u
       SET items = greatest(u.items - g.n, 0), bytes = greatest(u.bytes - g.b, 0)
      FROM (SELECT r.tenant_id, r.user_id, r.session_id::text AS session_id, count(*) AS n,
                   sum(coalesce(octet_length(r.content), 0)
                       + coalesce(octet_length(r.tool_calls::text), 0))::bigint AS b
              FROM removed r GROUP BY 1, 2, 3) g
     WHERE u.key1 = g.tenant_id AND u.scope = 'session' AND u.key2 = g.user_id
       AND u.key3 = g.session_id;
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_messages_removed_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_messages_removed_tg() FROM PUBLIC;

-- Memories: count and bytes per namespace, limits of the tree's root.
CREATE FUNCTION isokron.quota_memory_add_v1(p_delta json) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    WITH g AS (
        SELECT d.root_id, d.namespace, d.n, d.b
          FROM json_to_recordset(p_delta) AS d(root_id text, namespace text, n bigint, b bigint)
         WHERE d.n <> 0 OR d.b <> 0
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items, bytes)
        SELECT 'namespace', g.root_id, g.namespace, g.n, g.b FROM g ORDER BY 2, 3
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE
           SET items = u.items + EXCLUDED.items, bytes = u.bytes + EXCLUDED.bytes
        RETURNING u.key1, u.key2, u.items, u.bytes
    )
    SELECT q.quota, q.lim, q.used, up.key2 AS namespace INTO v
      FROM up
      JOIN g ON g.root_id = up.key1 AND g.namespace = up.key2
      CROSS JOIN LATERAL isokron.quota_limits_v1(up.key1) l
      CROSS JOIN LATERAL (VALUES
          (1, 'quota_memory_rows', l.memory_rows, up.items, g.n),
          (2, 'quota_memory_bytes', l.memory_bytes, up.bytes, g.b)) q(ord, quota, lim, used, grew)
     WHERE q.used > q.lim AND q.grew > 0
     ORDER BY q.ord
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% exceeded: limit %', v.quota, v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('namespace %s would reach %s', v.namespace, v.used);
    END IF;
END
$$;
ALTER FUNCTION isokron.quota_memory_add_v1(json) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_memory_add_v1(json) FROM PUBLIC;

CREATE FUNCTION isokron.quota_memory_changed_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_delta json;
    v record;
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
        RETURN NULL;
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
    RETURN NULL;
END
$$;
ALTER FUNCTION isokron.quota_memory_changed_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.quota_memory_changed_tg() FROM PUBLIC;

-- Count what is already stored: the tables stop taking writes while this runs (the ALTERs
-- and CREATE TRIGGERs lock them until commit), and the owner reads every row.
ALTER TABLE isokron.agent_sessions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.agent_messages NO FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_records NO FORCE ROW LEVEL SECURITY;

CREATE TRIGGER quota_sessions_added AFTER INSERT ON isokron.agent_sessions
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_added_tg();
CREATE TRIGGER quota_sessions_removed AFTER DELETE ON isokron.agent_sessions
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_removed_tg();
CREATE TRIGGER quota_session_keys BEFORE UPDATE OF tenant_id, user_id, id
    ON isokron.agent_sessions
    FOR EACH ROW EXECUTE FUNCTION isokron.quota_session_keys_tg();
CREATE TRIGGER quota_messages_added AFTER INSERT ON isokron.agent_messages
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_messages_added_tg();
CREATE TRIGGER quota_messages_removed AFTER DELETE ON isokron.agent_messages
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_messages_removed_tg();
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
SELECT 'user', s.tenant_id, s.user_id, count(*) FROM isokron.agent_sessions s GROUP BY 2, 3;
INSERT INTO isokron.quota_usage (scope, key1, key2, key3, items, bytes)
SELECT 'session', m.tenant_id, m.user_id, m.session_id::text, count(*),
       sum(coalesce(octet_length(m.content), 0) + coalesce(octet_length(m.tool_calls::text), 0))
  FROM isokron.agent_messages m GROUP BY 2, 3, 4;
INSERT INTO isokron.quota_usage (scope, key1, key2, items, bytes)
SELECT 'namespace', r.root_id, r.namespace, count(*),
       sum(octet_length(r.content) + octet_length(r.metadata::text))
  FROM isokron.memory_records r GROUP BY 2, 3;

ALTER TABLE isokron.agent_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.agent_messages FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_records FORCE ROW LEVEL SECURITY;
