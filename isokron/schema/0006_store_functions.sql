-- One round trip per store call on the hot paths: each function sets the tenant setting
-- transaction-locally and does the work in the same call. All are SECURITY INVOKER, so
-- the caller's row-level security decides every row, exactly as for plain SQL.
--
-- Custom SQLSTATEs (isokron.pool.translate_errors maps them to typed errors):
--   IKN01  not found (unknown workspace, or a session the caller cannot see)
--   IKT02  the workspace may not write the namespace
--   IKT03  the memory id already lives in another namespace the workspace can see

-- memory: commit ---------------------------------------------------------------------------
CREATE FUNCTION isokron.memory_commit_v1(
    p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text,
    p_kind text, p_source text, p_pin boolean, p_expires_at timestamptz
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_access record;
    v_elsewhere text;
    v_row isokron.memory_records;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable INTO v_access FROM isokron.namespace_access_v1() a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    IF NOT p_namespace = ANY (v_access.writable) THEN
        RAISE EXCEPTION 'workspace % may not write namespace % (writable: %)',
            quote_literal(p_workspace_id), quote_literal(p_namespace),
            array_to_string(v_access.writable, ', ') USING ERRCODE = 'IKT02';
    END IF;
    -- Most commits go to a namespace that exists: a read is cheaper than a speculative insert.
    IF NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m WHERE m.name = p_namespace) THEN
        INSERT INTO isokron.memory_namespaces (name, kind) VALUES (p_namespace, p_namespace_kind)
        ON CONFLICT (name) DO NOTHING;
    END IF;
    SELECT r.namespace INTO v_elsewhere FROM isokron.memory_records r
     WHERE r.id = p_id AND r.namespace <> p_namespace LIMIT 1;
    IF v_elsewhere IS NOT NULL THEN
        RAISE EXCEPTION 'memory % already exists in another namespace (%)', p_id, v_elsewhere
            USING ERRCODE = 'IKT03';
    END IF;
    INSERT INTO isokron.memory_records AS r
        (id, namespace, content, kind, source, pin, expires_at)
    VALUES (p_id, p_namespace, p_content, p_kind, p_source, p_pin, p_expires_at)
    ON CONFLICT (namespace, id) DO UPDATE
       SET content = EXCLUDED.content, kind = EXCLUDED.kind, source = EXCLUDED.source,
           pin = EXCLUDED.pin, expires_at = EXCLUDED.expires_at, updated_at = now()
    RETURNING * INTO v_row;
    IF p_namespace LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (p_id, p_namespace, p_workspace_id, 'commit',
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN jsonb_build_object('id', v_row.id, 'namespace', v_row.namespace,
                              'content', v_row.content, 'kind', v_row.kind,
                              'source', v_row.source, 'pin', v_row.pin,
                              'expires_at', v_row.expires_at, 'created_at', v_row.created_at);
END
$$;

-- memory: search (recent, full-text or a literal match) -------------------------------------
-- p_namespaces NULL = every readable namespace; otherwise only the exact names given that
-- are readable. Returns {"readable": [...], "rows": [...]}; NULL for an unknown workspace.
CREATE FUNCTION isokron.memory_search_v1(
    p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text,
    p_query text
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
-- The plans do not depend on the values (index lookups per namespace): skip replanning.
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_readable text[];
    v_wanted text[];
    v_rows jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable INTO v_readable FROM isokron.namespace_access_v1() a;
    IF v_readable IS NULL THEN
        RETURN NULL;
    END IF;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    IF cardinality(v_wanted) = 0 THEN
        RETURN jsonb_build_object('readable', to_jsonb(v_readable), 'rows', '[]'::jsonb);
    END IF;
    IF p_mode = 'recent' THEN
        SELECT jsonb_agg(to_jsonb(x) ORDER BY x.pin DESC, x.created_at DESC) INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at
                  FROM unnest(v_wanted) AS ns(name)
                  JOIN isokron.memory_namespaces n
                    ON n.name = ns.name AND (n.expires_at IS NULL OR n.expires_at > now())
                 CROSS JOIN LATERAL (
                    SELECT * FROM isokron.memory_records r
                     WHERE r.namespace = ns.name
                       AND (r.expires_at IS NULL OR r.expires_at > now())
                       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                     ORDER BY r.pin DESC, r.created_at DESC
                     LIMIT p_limit) r
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSIF p_mode = 'fts' THEN
        SELECT jsonb_agg(to_jsonb(x) - 'rank' ORDER BY x.pin DESC, x.rank DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at, ts_rank_cd(r.search_tsv, q.q) AS rank
                  FROM isokron.memory_records r
                  JOIN isokron.memory_namespaces n ON n.name = r.namespace
                 CROSS JOIN websearch_to_tsquery('english', p_query) AS q(q)
                 WHERE r.namespace = ANY (v_wanted)
                   AND (r.expires_at IS NULL OR r.expires_at > now())
                   AND (n.expires_at IS NULL OR n.expires_at > now())
                   AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                   AND r.search_tsv @@ q.q
                 ORDER BY r.pin DESC, rank DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSIF p_mode = 'like' THEN
        SELECT jsonb_agg(to_jsonb(x) ORDER BY x.pin DESC, x.created_at DESC) INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at
                  FROM isokron.memory_records r
                  JOIN isokron.memory_namespaces n ON n.name = r.namespace
                 WHERE r.namespace = ANY (v_wanted)
                   AND (r.expires_at IS NULL OR r.expires_at > now())
                   AND (n.expires_at IS NULL OR n.expires_at > now())
                   AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                   AND r.content ILIKE '%' || p_query || '%' ESCAPE '\'
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSE
        RAISE EXCEPTION 'unknown search mode %', quote_literal(p_mode)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN jsonb_build_object('readable', to_jsonb(v_readable),
                              'rows', coalesce(v_rows, '[]'::jsonb));
END
$$;

-- sessions: append and list ---------------------------------------------------------------
CREATE FUNCTION isokron.append_messages_v1(
    p_tenant_id text, p_user_id text, p_session_id uuid, p_ids uuid[], p_roles text[],
    p_contents text[], p_tool_calls text[]
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_base integer;
    v_added integer;
BEGIN
    PERFORM set_config('app.current_tenant_id', p_tenant_id, true);
    PERFORM set_config('app.current_user_id', p_user_id, true);
    -- The row lock serialises appends to one session, so seq has no gaps.
    PERFORM 1 FROM isokron.agent_sessions s
      WHERE s.tenant_id = p_tenant_id AND s.user_id = p_user_id AND s.id = p_session_id
      FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % not found', p_session_id USING ERRCODE = 'IKN01';
    END IF;
    SELECT coalesce(max(m.seq), 0) INTO v_base FROM isokron.agent_messages m
     WHERE m.tenant_id = p_tenant_id AND m.user_id = p_user_id AND m.session_id = p_session_id;
    -- Replayed ids (already stored for this tenant and user) are not added again.
    INSERT INTO isokron.agent_messages (id, session_id, seq, role, content, tool_calls,
                                        tenant_id, user_id)
    SELECT f.id, p_session_id, v_base + row_number() OVER (ORDER BY f.ord), f.role, f.content,
           f.tool_calls::jsonb, p_tenant_id, p_user_id
      FROM unnest(p_ids, p_roles, p_contents, p_tool_calls) WITH ORDINALITY
           AS f(id, role, content, tool_calls, ord)
     WHERE NOT EXISTS (SELECT 1 FROM isokron.agent_messages m
                        WHERE m.tenant_id = p_tenant_id AND m.user_id = p_user_id
                          AND m.id = f.id);
    GET DIAGNOSTICS v_added = ROW_COUNT;
    IF v_added > 0 THEN
        UPDATE isokron.agent_sessions SET updated_at = now()
         WHERE tenant_id = p_tenant_id AND user_id = p_user_id AND id = p_session_id;
    END IF;
    RETURN coalesce((
        SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq)
          FROM (SELECT id, session_id, seq, role, content, tool_calls::text AS tool_calls, tenant_id, user_id,
                       created_at
                  FROM isokron.agent_messages
                 WHERE tenant_id = p_tenant_id AND user_id = p_user_id
                   AND id = ANY (p_ids)) m), '[]'::jsonb);
END
$$;

-- p_last: the p_last most recent messages (after p_after_seq), oldest first.
CREATE FUNCTION isokron.list_messages_v1(
    p_tenant_id text, p_user_id text, p_session_id uuid, p_after_seq integer,
    p_limit integer, p_last integer
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.current_tenant_id', p_tenant_id, true);
    PERFORM set_config('app.current_user_id', p_user_id, true);
    PERFORM 1 FROM isokron.agent_sessions s
      WHERE s.tenant_id = p_tenant_id AND s.user_id = p_user_id AND s.id = p_session_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % not found', p_session_id USING ERRCODE = 'IKN01';
    END IF;
    IF p_last IS NOT NULL THEN
        RETURN coalesce((
            SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq)
              FROM (SELECT id, session_id, seq, role, content, tool_calls::text AS tool_calls, tenant_id, user_id,
                           created_at
                      FROM isokron.agent_messages
                     WHERE tenant_id = p_tenant_id AND user_id = p_user_id
                       AND session_id = p_session_id AND seq > p_after_seq
                     ORDER BY seq DESC
                     LIMIT p_last) m), '[]'::jsonb);
    END IF;
    RETURN coalesce((
        SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq)
          FROM (SELECT id, session_id, seq, role, content, tool_calls::text AS tool_calls, tenant_id, user_id,
                       created_at
                  FROM isokron.agent_messages
                 WHERE tenant_id = p_tenant_id AND user_id = p_user_id
                   AND session_id = p_session_id AND seq > p_after_seq
                 ORDER BY seq
                 LIMIT p_limit) m), '[]'::jsonb);
END
$$;

REVOKE ALL ON FUNCTION
    isokron.memory_commit_v1(text, uuid, text, text, text, text, text, boolean, timestamptz),
    isokron.memory_search_v1(text, text[], text[], integer, text, text),
    isokron.append_messages_v1(text, text, uuid, uuid[], text[], text[], text[]),
    isokron.list_messages_v1(text, text, uuid, integer, integer, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    isokron.memory_commit_v1(text, uuid, text, text, text, text, text, boolean, timestamptz),
    isokron.memory_search_v1(text, text[], text[], integer, text, text),
    isokron.append_messages_v1(text, text, uuid, uuid[], text[], text[], text[]),
    isokron.list_messages_v1(text, text, uuid, integer, integer, integer)
    TO isokron_runtime;
