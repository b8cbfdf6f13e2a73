-- Full-text memory search through the GIN index.
--
-- Under row-level security PostgreSQL applies a policy's condition before any condition of
-- the query that is not LEAKPROOF, and the full-text match operator (@@) is not: the GIN
-- index on search_tsv could never be used, and every full-text search read the whole
-- table (40 ms at 100,000 memories, growing with the table). The candidates now come from
-- memory_fts_keys_v1, a SECURITY DEFINER function that applies the same ACL explicitly
-- (the namespaces readable by app.current_workspace_id, exactly what the policy checks)
-- and may use the index; it returns keys and ranks only. memory_search_v1 then reads
-- those rows by primary key under the caller's RLS, so the policy still decides every
-- row returned.

CREATE POLICY memory_records_definer_search ON isokron.memory_records FOR SELECT
    TO isokron_definer USING (true);
GRANT SELECT ON isokron.memory_records TO isokron_definer;

CREATE FUNCTION isokron.memory_fts_keys_v1(
    p_namespaces text[], p_query text, p_kinds text[], p_limit integer
) RETURNS TABLE (namespace text, id uuid, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER
-- The query text decides which index entries to read: plan with its value every time.
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
ROWS 20
AS $$
DECLARE
    v_readable text[];
BEGIN
    SELECT a.readable INTO v_readable FROM isokron.namespace_access_v1() a;
    IF v_readable IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.namespace, r.id,
           ts_rank_cd(r.search_tsv, websearch_to_tsquery('english', p_query)) AS rank
      FROM isokron.memory_records r
     WHERE r.search_tsv @@ websearch_to_tsquery('english', p_query)
       AND r.namespace = ANY (p_namespaces)
       AND r.namespace = ANY (v_readable)
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
     ORDER BY r.pin DESC, 3 DESC, r.created_at DESC
     LIMIT p_limit;
END
$$;
ALTER FUNCTION isokron.memory_fts_keys_v1(text[], text, text[], integer) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_fts_keys_v1(text[], text, text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_fts_keys_v1(text[], text, text[], integer)
    TO isokron_runtime;

CREATE OR REPLACE FUNCTION isokron.memory_search_v1(
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
        -- Candidates from the GIN index (see memory_fts_keys_v1), rows by key under RLS.
        SELECT jsonb_agg(to_jsonb(x) - 'rank' ORDER BY x.pin DESC, x.rank DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at, k.rank
                  FROM isokron.memory_fts_keys_v1(
                           ARRAY(SELECT n.name FROM isokron.memory_namespaces n
                                  WHERE n.name = ANY (v_wanted)
                                    AND (n.expires_at IS NULL OR n.expires_at > now())),
                           p_query, p_kinds, p_limit) k
                  JOIN isokron.memory_records r ON r.namespace = k.namespace AND r.id = k.id) x;
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
