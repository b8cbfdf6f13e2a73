-- Erasure with a receipt (issue 26): everything isokron holds about one user of one
-- workspace (tenant) removed in one transaction, and a receipt that proves it.
--
-- What one erasure removes, for tenant W and user U:
--   * the user's sessions and their messages (with the messages' embeddings and search
--     terms, which are columns of the same rows);
--   * the episodes that name one of those sessions by its key (body->>'session'; turn and
--     session-end episodes carry it from this version on: they hold no text of the turn);
--   * the memories W wrote on U's behalf (user_id = U, written_by = W), in any namespace
--     of W's tree, with their embeddings and search terms; the content hashes of the
--     org/team audit rows about them are cleared (the content-free rows stay: who did what
--     to which id, when);
--   * U's recall statistics (the lexicon of U's messages), and the lexicon of every
--     namespace that lost a memory is recomputed, so no search term of U's outlives them;
--   * U's quota counters.
-- The receipt (isokron.erasure_receipts, append-only, readable only through the functions
-- below) holds no content and does not name the user: the tenant, a salted SHA-256 of the
-- user id, the counts per table, the ids of the removed sessions and memories (random
-- UUIDs), the operator, the time, and a SHA-256 chaining it to the previous receipt.
-- erase_verify_v1 proves from the database that nothing of the user remains: it recomputes
-- the chain up to the receipt and looks for any row of a user id whose salted hash is the
-- receipt's, any removed id, and any audit content hash of a removed memory.
--
-- Who may erase: the operator (isokron_sweeper) any user, with erase_user_v1; the runtime
-- role only the user of its own tenant context (erase_self_v1, which takes the tenant and
-- user from the context: signed, when signed_context is on), never another user.

CREATE TABLE isokron.erasure_receipts (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    seq bigint NOT NULL UNIQUE CHECK (seq >= 1),
    workspace_id text NOT NULL,
    subject text NOT NULL,
    salt text NOT NULL,
    counts jsonb NOT NULL CHECK (jsonb_typeof(counts) = 'object'),
    session_ids uuid[] NOT NULL,
    memory_ids uuid[] NOT NULL,
    operator text NOT NULL,
    erased_at timestamptz NOT NULL,
    prev_hash text,
    hash text NOT NULL
);
ALTER TABLE isokron.erasure_receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.erasure_receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY erasure_receipts_definer_append ON isokron.erasure_receipts FOR INSERT
    TO isokron_definer WITH CHECK (true);
CREATE POLICY erasure_receipts_definer_read ON isokron.erasure_receipts FOR SELECT
    TO isokron_definer USING (true);
GRANT SELECT, INSERT ON isokron.erasure_receipts TO isokron_definer;

-- What the erasure deletes, as the definer (the runtime's own policies stay as they were).
CREATE POLICY agent_sessions_definer_erase ON isokron.agent_sessions FOR DELETE
    TO isokron_definer USING (true);
CREATE POLICY agent_sessions_definer_read ON isokron.agent_sessions FOR SELECT
    TO isokron_definer USING (true);
CREATE POLICY agent_messages_definer_erase ON isokron.agent_messages FOR DELETE
    TO isokron_definer USING (true);
CREATE POLICY agent_episodic_events_definer_erase ON isokron.agent_episodic_events
    FOR DELETE TO isokron_definer USING (true);
CREATE POLICY agent_episodic_events_definer_read ON isokron.agent_episodic_events
    FOR SELECT TO isokron_definer USING (true);
GRANT SELECT, DELETE ON isokron.agent_sessions TO isokron_definer;
GRANT DELETE ON isokron.agent_messages TO isokron_definer;
GRANT SELECT, DELETE ON isokron.agent_episodic_events TO isokron_definer;

-- Episodes that name a session by its key, found without a scan of the workspace.
CREATE INDEX agent_episodic_events_session_idx
    ON isokron.agent_episodic_events (workspace_id, (body ->> 'session'))
 WHERE body ? 'session';

-- The hash of one receipt, over every column but the hash itself, length-prefixed.
CREATE FUNCTION isokron.erasure_hash_v1(r isokron.erasure_receipts) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT encode(sha256(convert_to(string_agg(char_length(f) || ':' || f, '|' ORDER BY n),
                                    'UTF8')), 'hex')
      FROM unnest(ARRAY[
               coalesce(r.prev_hash, ''), r.id::text, r.seq::text, r.workspace_id, r.subject,
               r.salt, r.counts::text, array_to_string(r.session_ids, ','),
               array_to_string(r.memory_ids, ','), r.operator,
               (extract(epoch FROM r.erased_at) * 1000000)::bigint::text])
           WITH ORDINALITY AS x(f, n)
$$;

CREATE FUNCTION isokron.erasure_subject_v1(p_salt text, p_workspace_id text, p_user_id text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT encode(sha256(convert_to(p_salt || chr(31) || p_workspace_id || chr(31)
                                    || p_user_id, 'UTF8')), 'hex')
$$;

-- The erasure itself; called only by the two entry points below (no role may execute it).
CREATE FUNCTION isokron.erase_user_core_v1(p_workspace_id text, p_user_id text,
                                           p_operator text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_root text;
    v_sessions uuid[];
    v_memories uuid[];
    v_namespaces text[];
    v_counts jsonb := '{}';
    v_n bigint;
    v_ns text;
    v_prev isokron.erasure_receipts;
    v_r isokron.erasure_receipts;
BEGIN
    IF coalesce(p_workspace_id, '') = '' OR coalesce(p_user_id, '') = '' THEN
        RAISE EXCEPTION 'an erasure needs a workspace and a user (got %, %)',
            coalesce(quote_literal(p_workspace_id), 'NULL'),
            coalesce(quote_literal(p_user_id), 'NULL') USING ERRCODE = '22023';
    END IF;
    -- One erasure at a time: the receipts form one chain.
    PERFORM pg_advisory_xact_lock(7026, 0);
    WITH RECURSIVE up(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = p_workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, u.depth + 1 FROM isokron.workspaces w
          JOIN up u ON w.workspace_id = u.parent WHERE u.depth < 50
    )
    SELECT u.id INTO v_root FROM up u ORDER BY u.depth DESC LIMIT 1;
    -- A tenant isokron knows nothing of (a mistyped workspace) gets an error, not a receipt
    -- that would read as proof: it is a workspace, or it has sessions or quota counters.
    IF v_root IS NULL
       AND NOT EXISTS (SELECT 1 FROM isokron.agent_sessions s
                        WHERE s.tenant_id = p_workspace_id)
       AND NOT EXISTS (SELECT 1 FROM isokron.quota_usage q
                        WHERE q.key1 = p_workspace_id AND q.scope IN ('user', 'session')) THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces, and no session has '
            'it as its tenant)', quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;

    SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}') INTO v_sessions
      FROM isokron.agent_sessions s
     WHERE s.tenant_id = p_workspace_id AND s.user_id = p_user_id;
    SELECT coalesce(array_agg(r.id ORDER BY r.id), '{}'),
           coalesce(array_agg(DISTINCT r.namespace), '{}')
      INTO v_memories, v_namespaces
      FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.written_by = p_workspace_id AND r.user_id = p_user_id;

    DELETE FROM isokron.agent_episodic_events e
     WHERE e.workspace_id = p_workspace_id AND e.body ? 'session'
       AND e.body ->> 'session' = ANY (v_sessions::text[]);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('agent_episodic_events', v_n);
    DELETE FROM isokron.agent_messages m
     WHERE m.tenant_id = p_workspace_id AND m.user_id = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('agent_messages', v_n);
    DELETE FROM isokron.agent_sessions s
     WHERE s.tenant_id = p_workspace_id AND s.user_id = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('agent_sessions', v_n);
    UPDATE isokron.memory_audit a SET content_sha256 = NULL
     WHERE a.root_id = v_root AND a.memory_id = ANY (v_memories)
       AND a.content_sha256 IS NOT NULL;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('memory_audit_cleared', v_n);
    DELETE FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.id = ANY (v_memories)
       AND r.written_by = p_workspace_id AND r.user_id = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('memory_records', v_n);
    DELETE FROM isokron.recall_lexicon x
     WHERE x.source = 's' AND x.key1 = p_workspace_id AND x.key2 = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    DELETE FROM isokron.recall_corpora x
     WHERE x.source = 's' AND x.key1 = p_workspace_id AND x.key2 = p_user_id;
    v_counts := v_counts || jsonb_build_object('recall_lexicon', v_n);
    FOREACH v_ns IN ARRAY v_namespaces LOOP
        PERFORM isokron.refresh_recall_corpus_v1('m', v_root, v_ns);
    END LOOP;
    DELETE FROM isokron.quota_usage q
     WHERE q.key1 = p_workspace_id AND q.key2 = p_user_id AND q.scope IN ('user', 'session');
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('quota_usage', v_n);

    SELECT * INTO v_prev FROM isokron.erasure_receipts ORDER BY seq DESC LIMIT 1;
    v_r.id := gen_random_uuid();
    v_r.seq := coalesce(v_prev.seq, 0) + 1;
    v_r.workspace_id := p_workspace_id;
    v_r.salt := replace(gen_random_uuid()::text, '-', '');
    v_r.subject := isokron.erasure_subject_v1(v_r.salt, p_workspace_id, p_user_id);
    v_r.counts := v_counts;
    v_r.session_ids := v_sessions;
    v_r.memory_ids := v_memories;
    v_r.operator := p_operator;
    v_r.erased_at := now();
    v_r.prev_hash := v_prev.hash;
    v_r.hash := isokron.erasure_hash_v1(v_r);
    INSERT INTO isokron.erasure_receipts SELECT v_r.*;
    RETURN json_build_object('id', v_r.id, 'seq', v_r.seq, 'workspace_id', v_r.workspace_id,
                             'counts', v_r.counts, 'operator', v_r.operator,
                             'erased_at', v_r.erased_at, 'prev_hash', v_r.prev_hash,
                             'hash', v_r.hash);
END
$$;
ALTER FUNCTION isokron.erase_user_core_v1(text, text, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.erase_user_core_v1(text, text, text) FROM PUBLIC;

-- The operator's erasure of any user (`isokron erase --workspace W --user U`).
CREATE FUNCTION isokron.erase_user_v1(p_workspace_id text, p_user_id text) RETURNS json
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT isokron.erase_user_core_v1(p_workspace_id, p_user_id, session_user::text)
$$;
ALTER FUNCTION isokron.erase_user_v1(text, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.erase_user_v1(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.erase_user_v1(text, text) TO isokron_sweeper;

-- A user's own erasure through the runtime (AsyncIsoKron.erase_user): the tenant and the
-- user are the transaction's context (the signed token's, when signed_context is on).
CREATE FUNCTION isokron.erase_self_v1() RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tenant text := (SELECT isokron.context_tenant_v1());
    v_user text := (SELECT isokron.context_user_v1());
BEGIN
    IF coalesce(v_tenant, '') = '' OR coalesce(v_user, '') = '' THEN
        RAISE EXCEPTION 'no tenant and user in this transaction''s context: an erasure '
            'through the runtime erases the context''s own user only' USING ERRCODE = '42501';
    END IF;
    RETURN isokron.erase_user_core_v1(v_tenant, v_user, 'self:' || session_user::text);
END
$$;
ALTER FUNCTION isokron.erase_self_v1() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.erase_self_v1() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.erase_self_v1() TO isokron_runtime;

-- Prove a receipt: the chain up to it is intact, and nothing of its user remains.
CREATE FUNCTION isokron.erase_verify_v1(p_receipt uuid) RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_r isokron.erasure_receipts;
    v_root text;
    v_users text[];
    v_broken bigint;
    v_remains jsonb;
BEGIN
    SELECT * INTO v_r FROM isokron.erasure_receipts WHERE id = p_receipt;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no erasure receipt %', p_receipt USING ERRCODE = 'IKN02';
    END IF;
    -- The chain: each receipt's hash recomputed, each prev_hash the previous one's hash.
    SELECT min(x.seq) INTO v_broken
      FROM (SELECT e.seq, e.hash, e.prev_hash, isokron.erasure_hash_v1(e) AS fresh,
                   lag(e.hash) OVER (ORDER BY e.seq) AS before,
                   lag(e.seq) OVER (ORDER BY e.seq) AS seq_before
              FROM isokron.erasure_receipts e WHERE e.seq <= v_r.seq) x
     WHERE x.hash <> x.fresh OR x.prev_hash IS DISTINCT FROM x.before
        OR x.seq <> coalesce(x.seq_before, 0) + 1;
    WITH RECURSIVE up(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = v_r.workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, u.depth + 1 FROM isokron.workspaces w
          JOIN up u ON w.workspace_id = u.parent WHERE u.depth < 50
    )
    SELECT u.id INTO v_root FROM up u ORDER BY u.depth DESC LIMIT 1;
    -- The user ids of the tenant whose salted hash is the receipt's subject.
    SELECT coalesce(array_agg(c.u), '{}') INTO v_users
      FROM (SELECT s.user_id AS u FROM isokron.agent_sessions s
             WHERE s.tenant_id = v_r.workspace_id
            UNION SELECT m.user_id FROM isokron.agent_messages m
             WHERE m.tenant_id = v_r.workspace_id
            UNION SELECT r.user_id FROM isokron.memory_records r
             WHERE r.root_id = v_root AND r.written_by = v_r.workspace_id
               AND r.user_id IS NOT NULL
            UNION SELECT q.key2 FROM isokron.quota_usage q
             WHERE q.key1 = v_r.workspace_id AND q.scope IN ('user', 'session')
            UNION SELECT x.key2 FROM isokron.recall_corpora x
             WHERE x.source = 's' AND x.key1 = v_r.workspace_id
            UNION SELECT x.key2 FROM isokron.recall_lexicon x
             WHERE x.source = 's' AND x.key1 = v_r.workspace_id) c
     WHERE isokron.erasure_subject_v1(v_r.salt, v_r.workspace_id, c.u) = v_r.subject;
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'agent_sessions', nullif((SELECT count(*) FROM isokron.agent_sessions s
                                   WHERE s.tenant_id = v_r.workspace_id
                                     AND (s.user_id = ANY (v_users)
                                          OR s.id = ANY (v_r.session_ids))), 0),
        'agent_messages', nullif((SELECT count(*) FROM isokron.agent_messages m
                                   WHERE m.tenant_id = v_r.workspace_id
                                     AND (m.user_id = ANY (v_users)
                                          OR m.session_id = ANY (v_r.session_ids))), 0),
        'agent_episodic_events', nullif((SELECT count(*) FROM isokron.agent_episodic_events e
                                          WHERE e.workspace_id = v_r.workspace_id
                                            AND e.body ? 'session'
                                            AND e.body ->> 'session'
                                                = ANY (v_r.session_ids::text[])), 0),
        'memory_records', nullif((SELECT count(*) FROM isokron.memory_records r
                                   WHERE r.root_id = v_root
                                     AND (r.id = ANY (v_r.memory_ids)
                                          OR (r.written_by = v_r.workspace_id
                                              AND r.user_id = ANY (v_users)))), 0),
        'memory_audit', nullif((SELECT count(*) FROM isokron.memory_audit a
                                 WHERE a.root_id = v_root AND a.memory_id = ANY (v_r.memory_ids)
                                   AND a.content_sha256 IS NOT NULL), 0),
        'recall_lexicon', nullif((SELECT count(*) FROM isokron.recall_lexicon x
                                   WHERE x.source = 's' AND x.key1 = v_r.workspace_id
                                     AND x.key2 = ANY (v_users)), 0),
        'recall_corpora', nullif((SELECT count(*) FROM isokron.recall_corpora x
                                   WHERE x.source = 's' AND x.key1 = v_r.workspace_id
                                     AND x.key2 = ANY (v_users)), 0),
        'quota_usage', nullif((SELECT count(*) FROM isokron.quota_usage q
                                WHERE q.key1 = v_r.workspace_id
                                  AND q.scope IN ('user', 'session')
                                  AND q.key2 = ANY (v_users)), 0))) INTO v_remains;
    RETURN json_build_object(
        'id', v_r.id, 'seq', v_r.seq, 'workspace_id', v_r.workspace_id, 'counts', v_r.counts,
        'operator', v_r.operator, 'erased_at', v_r.erased_at, 'prev_hash', v_r.prev_hash,
        'hash', v_r.hash, 'chain_intact', v_broken IS NULL, 'broken_at', v_broken, 'remains', v_remains,
        'clean', v_broken IS NULL AND v_remains = '{}'::jsonb);
END
$$;
ALTER FUNCTION isokron.erase_verify_v1(uuid) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.erase_verify_v1(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.erase_verify_v1(uuid) TO isokron_sweeper;
