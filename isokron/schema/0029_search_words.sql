-- Path-like tokens are split into their words (issue 25, finding 4).
--
-- PostgreSQL's default text-search parser keeps a token with a slash as one `file` (or
-- `url_path`, `url`) token: "Europe/Oslo" is the single lexeme 'europe/oslo', and
-- "https://example.com/docs/setup" gives 'example.com/docs/setup' and '/docs/setup'; a
-- search for "Oslo" or "setup" never matched them. Documents and queries now go through
-- isokron.search_text_v1 first, which turns '/' and '\' into spaces: "Europe/Oslo" is
-- 'europ' 'oslo' (adjacent, so a phrase query on both still matches), and a URL's path
-- segments are words. The same holds for "A/B", "and/or", file paths.
--
-- The search columns are generated, so they are dropped and added again with the new
-- expression (PostgreSQL 15 has no ALTER COLUMN ... SET EXPRESSION): every row keeps its
-- data and its tsvector is recomputed; the GIN indexes go with the columns and are built
-- again. The query side changes with them: memory_fts_keys_v1 (memory search, 'fts') and
-- recall_v1 (recall) are dropped and recreated here, applying the helper to the query.
-- The recall statistics (document frequencies per corpus) are recomputed for every
-- corpus that had them.

CREATE FUNCTION isokron.search_text_v1(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT translate(p_text, '/\', '  ') $$;
GRANT EXECUTE ON FUNCTION isokron.search_text_v1(text) TO isokron_runtime;

ALTER TABLE isokron.memory_records DROP COLUMN search_tsv;
ALTER TABLE isokron.memory_records
    ADD COLUMN search_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', isokron.search_text_v1(coalesce(content, ''))))
    STORED;
CREATE INDEX memory_records_search_tsv_idx ON isokron.memory_records USING gin (search_tsv);

ALTER TABLE isokron.agent_messages DROP COLUMN search_tsv;
ALTER TABLE isokron.agent_messages
    ADD COLUMN search_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', isokron.search_text_v1(coalesce(content, ''))))
    STORED;
CREATE INDEX agent_messages_search_tsv_idx ON isokron.agent_messages USING gin (search_tsv);

-- Memory search ('fts'): the query's words split as the documents' are.
DROP FUNCTION isokron.memory_fts_keys_v1(text[], text, text[], integer);
CREATE FUNCTION isokron.memory_fts_keys_v1(
    p_namespaces text[], p_query text, p_kinds text[], p_limit integer
) RETURNS TABLE (namespace text, id uuid, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
ROWS 20
AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_q tsquery := websearch_to_tsquery('english', isokron.search_text_v1(p_query));
BEGIN
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_readable IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.namespace, r.id, ts_rank_cd(r.search_tsv, v_q) AS rank
      FROM isokron.memory_records r
     WHERE r.search_tsv @@ v_q
       AND r.root_id = v_root
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

-- Recall: the query's lexemes from the same split text.
DROP FUNCTION isokron.recall_v1(text, text[], integer, boolean);
CREATE FUNCTION isokron.recall_v1(p_query text, p_namespaces text[], p_limit integer,
                                  p_messages boolean)
RETURNS TABLE (source text, id uuid, content text, created_at timestamptz, score real,
               namespace text, session_id uuid, role text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
                             AND r.search_tsv @@ v_sel)
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
ALTER FUNCTION isokron.recall_v1(text, text[], integer, boolean) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.recall_v1(text, text[], integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.recall_v1(text, text[], integer, boolean) TO isokron_runtime;

-- The document frequencies of every corpus that has statistics, from the new tsvectors.
-- Only isokron_definer sees the statistics tables (row-level security, forced): a
-- throwaway SECURITY DEFINER function of its own walks them, and is dropped again.
CREATE FUNCTION isokron.refresh_recall_corpora_0029() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    v_n bigint := 0;
BEGIN
    FOR c IN SELECT k.source, k.key1, k.key2 FROM isokron.recall_corpora k
              ORDER BY k.source, k.key1, k.key2 LOOP
        PERFORM isokron.refresh_recall_corpus_v1(c.source, c.key1, c.key2);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;
ALTER FUNCTION isokron.refresh_recall_corpora_0029() OWNER TO isokron_definer;
SELECT isokron.refresh_recall_corpora_0029();
DROP FUNCTION isokron.refresh_recall_corpora_0029();
