-- Recall that shows only what is true now (issue 26): the recall block and the recall
-- tool returned retracted, superseded (once the successor is valid) and upgrade-marked
-- duplicate memories, because recall_v1 / recall_vectors_v1 predate the memory's life
-- columns. recall_for_v3 is recall_for_v1 and recall_for_v2 in one, on
--   * recall_v2: recall_v1 whose memory candidates (and the probe that widens a query of
--     common words) are the current records only: unretracted, not marked as a legacy
--     duplicate, valid now (valid_from <= now() < valid_to);
--   * recall_vectors_v1 (created per embedding dimension by prepare_embeddings_v1, so not
--     redefined here): its memory rows are kept only when current, and it is asked for
--     twice the candidates so that filtered rows do not shorten the fused list.
-- recall_v1, recall_for_v1 and recall_for_v2 stay as they were (versioned functions).

CREATE FUNCTION isokron.recall_v2(p_query text, p_namespaces text[], p_limit integer,
                                  p_messages boolean)
RETURNS TABLE(source text, id uuid, content text, created_at timestamptz, score real,
              namespace text, session_id uuid, role text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_lex text[];
    v_idf double precision[];
    v_df bigint[];
    v_docs bigint;
    v_avg double precision;
    v_all tsquery;
    v_sel tsquery;
    v_pairs tsquery;
    v_q tsquery[];
    v_tenant text := (SELECT isokron.context_tenant_v1());
    v_user text := (SELECT isokron.context_user_v1());
    c_cap constant integer := 150;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    SELECT array_agg(u.lexeme ORDER BY u.first_pos) INTO v_lex
      FROM (SELECT t.lexeme, min(p) AS first_pos
              FROM unnest(to_tsvector('english', isokron.search_text_v1(p_query))) t,
                   unnest(t.positions) p
             GROUP BY t.lexeme) u;
    IF v_lex IS NULL THEN
        RETURN;
    END IF;
    -- idf = ln(1 + (N - df + 0.5) / (df + 0.5)); a lexeme the statistics do not know yet
    -- weighs as a rare one.
    SELECT array_agg(ln(1 + (greatest(w.docs, w.df) - w.df + 0.5) / (w.df + 0.5))
                     ORDER BY array_position(v_lex, w.lexeme)),
           array_agg(w.df ORDER BY array_position(v_lex, w.lexeme)),
           max(w.docs), max(w.avg_len)
      INTO v_idf, v_df, v_docs, v_avg
      FROM isokron.recall_weights_v1(v_lex) w;
    IF v_docs IS NULL OR v_docs = 0 THEN
        v_idf := array_fill(1.0::double precision, ARRAY[cardinality(v_lex)]);
    END IF;
    v_avg := greatest(coalesce(v_avg, 0), 1);
    SELECT string_agg(isokron.tsquery_lexeme_v1(l) , ' | ')::tsquery INTO v_all FROM unnest(v_lex) l;
    -- Selective: lexemes in at most max(50, 0.1 %) of the documents (at least the rarest):
    -- they alone find candidates, so a query of common words stays bounded.
    SELECT string_agg(isokron.tsquery_lexeme_v1(s.l), ' | ')::tsquery INTO v_sel
      FROM (SELECT x.l, x.i FROM unnest(v_lex, v_df) WITH ORDINALITY AS x(l, df, i)
             WHERE x.df <= greatest(50, coalesce(v_docs, 0) / 1000)
            UNION
            (SELECT x.l, x.i FROM unnest(v_lex, v_df) WITH ORDINALITY AS x(l, df, i)
              ORDER BY x.df, x.i LIMIT 1)) s;
    IF v_docs IS NULL OR v_docs = 0 THEN
        v_sel := v_all;  -- no statistics yet: every lexeme finds candidates
    ELSIF v_sel IS DISTINCT FROM v_all
          AND NOT EXISTS (SELECT 1 FROM isokron.memory_records r
                           WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
                             AND r.search_tsv @@ v_sel AND r.retracted_at IS NULL
                             AND r.valid_from <= now()
                             AND (r.valid_to IS NULL OR r.valid_to > now()))
          AND NOT (p_messages AND EXISTS (SELECT 1 FROM isokron.agent_messages m
                                           WHERE m.tenant_id = v_tenant AND m.user_id = v_user
                                             AND m.search_tsv @@ v_sel)) THEN
        v_sel := v_all;  -- never empty while any lexeme matches
    END IF;
    IF cardinality(v_lex) > 1 THEN
        SELECT string_agg('(' || isokron.tsquery_lexeme_v1(v_lex[i]) || ' <-> ' || isokron.tsquery_lexeme_v1(v_lex[i + 1])
                          || ')', ' | ')::tsquery INTO v_pairs
          FROM generate_series(1, cardinality(v_lex) - 1) i;
    END IF;
    v_q := ARRAY(SELECT isokron.tsquery_lexeme_v1(l)::tsquery FROM unnest(v_lex) l);
    RETURN QUERY
    WITH candidates AS (
        (SELECT 'memory'::text AS source, r.id, r.content, r.created_at, r.search_tsv,
                r.namespace, NULL::uuid AS session_id, NULL::text AS role, r.pin
           FROM isokron.memory_records r
           JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
          WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
            AND r.search_tsv @@ v_sel
            AND (r.expires_at IS NULL OR r.expires_at > now())
            AND r.retracted_at IS NULL AND r.unmerged_duplicate_of IS NULL
            AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
            AND (n.expires_at IS NULL OR n.expires_at > now())
          LIMIT c_cap)
        UNION ALL
        (SELECT 'message', m.id, m.content, m.created_at, m.search_tsv, NULL, m.session_id,
                m.role, false
           FROM isokron.agent_messages m
          WHERE p_messages AND m.tenant_id = v_tenant AND m.user_id = v_user
            AND m.search_tsv @@ v_sel AND m.content IS NOT NULL
          LIMIT c_cap)
    ), scored AS (
        -- BM25 with a term frequency of one (a turn rarely repeats a word): each matched
        -- lexeme adds its idf, scaled by the document's length against the mean.
        SELECT c.*, (SELECT sum(v_idf[i]) FROM generate_subscripts(v_q, 1) i
                      WHERE c.search_tsv @@ v_q[i])
               * 2.2 / (1 + 1.2 * (0.25 + 0.75 * length(c.search_tsv) / v_avg))
               * CASE WHEN v_pairs IS NOT NULL AND c.search_tsv @@ v_pairs THEN 1.25 ELSE 1 END
              * CASE WHEN c.pin THEN 1.5 ELSE 1 END AS bm25
          FROM candidates c
    )
    SELECT s.source, s.id, s.content, s.created_at, s.bm25::real, s.namespace, s.session_id,
           s.role
      FROM scored s
     ORDER BY s.bm25 DESC, s.created_at DESC, s.id
     LIMIT p_limit;
END
$$;

ALTER FUNCTION isokron.recall_v2(text, text[], integer, boolean) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.recall_v2(text, text[], integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.recall_v2(text, text[], integer, boolean) TO isokron_runtime;

-- One statement, lexical or hybrid, current memories only (see the head of this file).
CREATE FUNCTION isokron.recall_for_v3(p_workspace_id text, p_user_id text, p_query text,
                                      p_namespaces text[], p_limit integer, p_vector text,
                                      p_model text)
RETURNS TABLE(source text, id uuid, content text, created_at timestamptz, score real,
              namespace text, session_id uuid, role text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c_depth integer := greatest(30, p_limit);  -- candidates per side
    c_lexical constant double precision := 0.6;
    v_root text;
    v_readable text[];
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    PERFORM set_config('app.current_tenant_id', CASE WHEN p_user_id IS NULL THEN ''
                                                     ELSE p_workspace_id END, true);
    PERFORM set_config('app.current_user_id', coalesce(p_user_id, ''), true);
    SELECT a.root_id, a.readable INTO v_root, v_readable FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace %', quote_literal(p_workspace_id)
            USING ERRCODE = 'IKN01';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    IF char_length(btrim(p_query)) < 2 THEN
        -- A one-letter query: substring matches, newest first.
        RETURN QUERY
        SELECT x.* FROM (
            SELECT 'memory'::text, r.id, r.content, r.created_at, 1.0::real, r.namespace,
                   NULL::uuid, NULL::text
              FROM isokron.memory_records r
              JOIN isokron.memory_namespaces n
                ON n.root_id = r.root_id AND n.name = r.namespace
             WHERE r.root_id = v_root
               AND r.namespace = ANY (v_readable)
               AND (p_namespaces IS NULL OR r.namespace = ANY (p_namespaces))
               AND (r.expires_at IS NULL OR r.expires_at > now())
               AND (n.expires_at IS NULL OR n.expires_at > now())
               AND r.retracted_at IS NULL AND r.unmerged_duplicate_of IS NULL
               AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
               AND strpos(lower(r.content), lower(btrim(p_query))) > 0
            UNION ALL
            SELECT 'message', m.id, m.content, m.created_at, 1.0::real, NULL, m.session_id,
                   m.role
              FROM isokron.agent_messages m
             WHERE p_user_id IS NOT NULL AND m.tenant_id = p_workspace_id
               AND m.user_id = p_user_id AND strpos(lower(m.content), lower(btrim(p_query))) > 0
        ) x ORDER BY 4 DESC LIMIT p_limit;
        RETURN;
    END IF;
    IF p_vector IS NULL OR p_model IS NULL THEN
        RETURN QUERY SELECT * FROM isokron.recall_v2(btrim(p_query), p_namespaces, p_limit,
                                                      p_user_id IS NOT NULL);
        RETURN;
    END IF;
    RETURN QUERY
    WITH lexical AS MATERIALIZED (
        SELECT l.*, (l.score - min(l.score) OVER ())
                    / nullif(max(l.score) OVER () - min(l.score) OVER (), 0) AS norm
          FROM isokron.recall_v2(btrim(p_query), p_namespaces, c_depth,
                                 p_user_id IS NOT NULL) l
    ), nearest AS MATERIALIZED (
        SELECT v.* FROM isokron.recall_vectors_v1(p_vector, p_model, p_namespaces,
                                                  2 * c_depth, p_user_id IS NOT NULL) v
         WHERE v.source <> 'memory'
            OR EXISTS (SELECT 1 FROM isokron.memory_records r
                        WHERE r.root_id = v_root AND r.namespace = v.namespace
                          AND r.id = v.id AND r.retracted_at IS NULL
                          AND r.unmerged_duplicate_of IS NULL AND r.valid_from <= now()
                          AND (r.valid_to IS NULL OR r.valid_to > now()))
         ORDER BY v.distance, v.created_at DESC
         LIMIT c_depth
    ), vector AS MATERIALIZED (
        SELECT v.*, (max(v.distance) OVER () - v.distance)
                    / nullif(max(v.distance) OVER () - min(v.distance) OVER (), 0) AS norm
          FROM nearest v
    ), fused AS (
        SELECT coalesce(l.source, v.source) AS source, coalesce(l.id, v.id) AS id,
               coalesce(l.content, v.content) AS content,
               coalesce(l.created_at, v.created_at) AS created_at,
               CASE WHEN l.id IS NULL THEN 0 ELSE c_lexical * coalesce(l.norm, 1) END
               + CASE WHEN v.id IS NULL THEN 0
                      ELSE (1 - c_lexical) * coalesce(v.norm, 1)
                           * CASE WHEN v.pin THEN 1.5 ELSE 1 END END AS score,
               coalesce(l.namespace, v.namespace) AS namespace,
               coalesce(l.session_id, v.session_id) AS session_id,
               coalesce(l.role, v.role) AS role
          FROM lexical l FULL JOIN vector v ON v.source = l.source AND v.id = l.id
    )
    SELECT f.source, f.id, f.content, f.created_at, f.score::real, f.namespace, f.session_id,
           f.role
      FROM fused f
     ORDER BY f.score DESC, f.created_at DESC, f.id
     LIMIT p_limit;
END
$$;
REVOKE ALL ON FUNCTION isokron.recall_for_v3(text, text, text, text[], integer, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.recall_for_v3(text, text, text, text[], integer, text, text)
    TO isokron_runtime;
