-- Recall that remembers: conversation history is searchable, and lexical ranking is
-- BM25 over the query's lexemes (OR semantics, IDF from per-corpus document frequencies).
--
-- A corpus is one memory namespace of one tree (source 'm': root_id, namespace) or one
-- user's messages in one tenant (source 's': tenant_id, user_id). Document frequencies
-- are kept per corpus, so the weights a caller's ranking uses come only from what that
-- caller may read: another user's messages or a sibling's private namespace never shift
-- them. They are refreshed by refresh_recall_stats_v1() (the caller's own corpora) and by
-- the sweeper (refresh_stale_recall_stats_v1(), every stale corpus); a corpus without
-- statistics still matches, with every lexeme weighted as rare.

-- Messages: a stored tsvector and a GIN index, like memory records.
ALTER TABLE isokron.agent_messages
    ADD COLUMN search_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', coalesce(content, ''))) STORED;
CREATE INDEX agent_messages_search_tsv_idx ON isokron.agent_messages USING gin (search_tsv);

CREATE TABLE isokron.recall_lexicon (
    source  text NOT NULL CHECK (source IN ('m', 's')),
    key1    text NOT NULL,
    key2    text NOT NULL,
    lexeme  text NOT NULL,
    df      integer NOT NULL CHECK (df > 0),
    PRIMARY KEY (source, key1, key2, lexeme)
);
CREATE TABLE isokron.recall_corpora (
    source        text NOT NULL CHECK (source IN ('m', 's')),
    key1          text NOT NULL,
    key2          text NOT NULL,
    docs          bigint NOT NULL,
    avg_len       double precision NOT NULL,
    refreshed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, key1, key2)
);
-- Lexemes are derived from content: nobody reads these tables but the functions below.
ALTER TABLE isokron.recall_lexicon ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.recall_lexicon FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.recall_corpora ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.recall_corpora FORCE ROW LEVEL SECURITY;
CREATE POLICY recall_lexicon_definer ON isokron.recall_lexicon
    TO isokron_definer USING (true) WITH CHECK (true);
CREATE POLICY recall_corpora_definer ON isokron.recall_corpora
    TO isokron_definer USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON isokron.recall_lexicon, isokron.recall_corpora
    TO isokron_definer;
-- The statistics read every message of the corpus being refreshed (counts only).
CREATE POLICY agent_messages_definer_stats ON isokron.agent_messages FOR SELECT
    TO isokron_definer USING (true);
GRANT SELECT ON isokron.agent_messages TO isokron_definer;

-- Refresh one corpus (under a per-corpus lock, so concurrent refreshes serialise): live
-- rows only (an expired record or namespace counts no more). One statement per table and
-- no temporary table: a SECURITY DEFINER function must never resolve a name the caller
-- could have planted in its own pg_temp.
CREATE FUNCTION isokron.refresh_recall_corpus_v1(p_source text, p_key1 text, p_key2 text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_docs bigint;
    v_avg double precision;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_source || chr(31) || p_key1 || chr(31)
                                                   || p_key2, 7020));
    IF p_source = 'm' THEN
        SELECT count(*), coalesce(avg(length(r.search_tsv)), 0) INTO v_docs, v_avg
          FROM isokron.memory_records r
          JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
         WHERE r.root_id = p_key1 AND r.namespace = p_key2
           AND (r.expires_at IS NULL OR r.expires_at > now())
           AND (n.expires_at IS NULL OR n.expires_at > now());
        WITH fresh AS MATERIALIZED (
            SELECT l AS lexeme, count(*)::integer AS df
              FROM isokron.memory_records r
              JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace,
                   unnest(tsvector_to_array(r.search_tsv)) l
             WHERE r.root_id = p_key1 AND r.namespace = p_key2
               AND (r.expires_at IS NULL OR r.expires_at > now())
               AND (n.expires_at IS NULL OR n.expires_at > now())
             GROUP BY l
        ), gone AS (
            DELETE FROM isokron.recall_lexicon x
             WHERE x.source = p_source AND x.key1 = p_key1 AND x.key2 = p_key2
               AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.lexeme = x.lexeme)
        )
        INSERT INTO isokron.recall_lexicon (source, key1, key2, lexeme, df)
        SELECT p_source, p_key1, p_key2, f.lexeme, f.df FROM fresh f ORDER BY f.lexeme
        ON CONFLICT (source, key1, key2, lexeme) DO UPDATE SET df = excluded.df
         WHERE isokron.recall_lexicon.df IS DISTINCT FROM excluded.df;
    ELSE
        SELECT count(*), coalesce(avg(length(m.search_tsv)), 0) INTO v_docs, v_avg
          FROM isokron.agent_messages m WHERE m.tenant_id = p_key1 AND m.user_id = p_key2;
        WITH fresh AS MATERIALIZED (
            SELECT l AS lexeme, count(*)::integer AS df
              FROM isokron.agent_messages m, unnest(tsvector_to_array(m.search_tsv)) l
             WHERE m.tenant_id = p_key1 AND m.user_id = p_key2
             GROUP BY l
        ), gone AS (
            DELETE FROM isokron.recall_lexicon x
             WHERE x.source = p_source AND x.key1 = p_key1 AND x.key2 = p_key2
               AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.lexeme = x.lexeme)
        )
        INSERT INTO isokron.recall_lexicon (source, key1, key2, lexeme, df)
        SELECT p_source, p_key1, p_key2, f.lexeme, f.df FROM fresh f ORDER BY f.lexeme
        ON CONFLICT (source, key1, key2, lexeme) DO UPDATE SET df = excluded.df
         WHERE isokron.recall_lexicon.df IS DISTINCT FROM excluded.df;
    END IF;
    IF v_docs = 0 THEN
        DELETE FROM isokron.recall_corpora k
         WHERE k.source = p_source AND k.key1 = p_key1 AND k.key2 = p_key2;
    ELSE
        INSERT INTO isokron.recall_corpora (source, key1, key2, docs, avg_len, refreshed_at)
        VALUES (p_source, p_key1, p_key2, v_docs, v_avg, clock_timestamp())
        ON CONFLICT (source, key1, key2) DO UPDATE
           SET docs = excluded.docs, avg_len = excluded.avg_len,
               refreshed_at = excluded.refreshed_at;
    END IF;
    RETURN v_docs;
END
$$;
ALTER FUNCTION isokron.refresh_recall_corpus_v1(text, text, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.refresh_recall_corpus_v1(text, text, text) FROM PUBLIC;

-- The corpora the current transaction may read: its readable namespaces and, when the
-- tenant and user settings are set, that user's messages.
CREATE FUNCTION isokron.recall_corpora_v1()
RETURNS TABLE (source text, key1 text, key2 text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_root text;
    v_readable text[];
    v_tenant text := coalesce(current_setting('app.current_tenant_id', true), '');
    v_user text := coalesce(current_setting('app.current_user_id', true), '');
BEGIN
    SELECT a.root_id, a.readable INTO v_root, v_readable FROM isokron.namespace_access_v2() a;
    IF v_root IS NOT NULL THEN
        RETURN QUERY SELECT 'm'::text, v_root, ns FROM unnest(v_readable) ns;
    END IF;
    IF v_tenant <> '' AND v_user <> '' THEN
        RETURN QUERY SELECT 's'::text, v_tenant, v_user;
    END IF;
END
$$;
ALTER FUNCTION isokron.recall_corpora_v1() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.recall_corpora_v1() FROM PUBLIC;

-- Refresh the statistics of the caller's own corpora (the runtime role may call it).
CREATE FUNCTION isokron.refresh_recall_stats_v1()
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    v_docs bigint := 0;
BEGIN
    FOR c IN SELECT * FROM isokron.recall_corpora_v1() LOOP
        v_docs := v_docs + isokron.refresh_recall_corpus_v1(c.source, c.key1, c.key2);
    END LOOP;
    RETURN v_docs;
END
$$;
ALTER FUNCTION isokron.refresh_recall_stats_v1() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.refresh_recall_stats_v1() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.refresh_recall_stats_v1() TO isokron_runtime;

-- The sweeper: every corpus whose live rows changed since its statistics (newer rows, or
-- fewer: deleted, expired), and every corpus left without live rows (its statistics go).
CREATE FUNCTION isokron.refresh_stale_recall_stats_v1()
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    v_n integer := 0;
BEGIN
    FOR c IN
        WITH live AS (
            SELECT 'm'::text AS source, r.root_id AS key1, r.namespace AS key2,
                   count(*) AS docs, max(greatest(r.created_at, r.updated_at)) AS newest
              FROM isokron.memory_records r
              JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
             WHERE (r.expires_at IS NULL OR r.expires_at > now())
               AND (n.expires_at IS NULL OR n.expires_at > now())
             GROUP BY r.root_id, r.namespace
            UNION ALL
            SELECT 's', m.tenant_id, m.user_id, count(*), max(m.created_at)
              FROM isokron.agent_messages m GROUP BY m.tenant_id, m.user_id)
        SELECT coalesce(l.source, k.source) AS source, coalesce(l.key1, k.key1) AS key1,
               coalesce(l.key2, k.key2) AS key2
          FROM live l
          FULL JOIN isokron.recall_corpora k
            ON k.source = l.source AND k.key1 = l.key1 AND k.key2 = l.key2
         WHERE k.source IS NULL OR l.source IS NULL OR l.docs <> k.docs
            OR l.newest > k.refreshed_at
    LOOP
        PERFORM isokron.refresh_recall_corpus_v1(c.source, c.key1, c.key2);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;
ALTER FUNCTION isokron.refresh_stale_recall_stats_v1() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.refresh_stale_recall_stats_v1() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.refresh_stale_recall_stats_v1() TO isokron_sweeper;

-- The weights of the query's lexemes over the caller's corpora: document frequency,
-- documents and mean length (distinct lexemes per document), summed.
CREATE FUNCTION isokron.recall_weights_v1(p_lexemes text[])
RETURNS TABLE (lexeme text, df bigint, docs bigint, avg_len double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_source text[];
    v_key1 text[];
    v_key2 text[];
    v_docs bigint;
    v_avg double precision;
BEGIN
    -- plpgsql, not SQL: its plans are cached per connection (a SQL function with SECURITY
    -- DEFINER is planned again on every call).
    SELECT array_agg(c.source), array_agg(c.key1), array_agg(c.key2)
      INTO v_source, v_key1, v_key2 FROM isokron.recall_corpora_v1() c;
    SELECT coalesce(sum(k.docs), 0)::bigint,
           coalesce(sum(k.docs * k.avg_len) / nullif(sum(k.docs), 0), 0)
      INTO v_docs, v_avg
      FROM unnest(v_source, v_key1, v_key2) c(source, key1, key2)
      JOIN isokron.recall_corpora k
        ON k.source = c.source AND k.key1 = c.key1 AND k.key2 = c.key2;
    -- Primary-key lookups (corpus, lexeme = ANY): no statistics needed for the plan.
    RETURN QUERY
    SELECT q.l, coalesce(f.df, 0)::bigint, v_docs, v_avg
      FROM unnest(p_lexemes) q(l)
      LEFT JOIN (SELECT x.lexeme, sum(x.df) AS df
                   FROM unnest(v_source, v_key1, v_key2) c(source, key1, key2)
                   JOIN isokron.recall_lexicon x
                     ON x.source = c.source AND x.key1 = c.key1 AND x.key2 = c.key2
                    AND x.lexeme = ANY (p_lexemes)
                  GROUP BY x.lexeme) f ON f.lexeme = q.l;
END
$$;
ALTER FUNCTION isokron.recall_weights_v1(text[]) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.recall_weights_v1(text[]) FROM PUBLIC;
-- Only the caller's own corpora: the statistics of what it may read anyway.
GRANT EXECUTE ON FUNCTION isokron.recall_weights_v1(text[]) TO isokron_runtime;

-- A lexeme as a tsquery operand (quoted; quotes and backslashes escaped): never parsed
-- as operators, never normalised again.
CREATE FUNCTION isokron.tsquery_lexeme_v1(p_lexeme text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '''' || replace(replace(p_lexeme, '\', '\\'), '''', '''''') || '''' $$;
GRANT EXECUTE ON FUNCTION isokron.tsquery_lexeme_v1(text) TO isokron_runtime;

-- One ranked list of memory records (readable namespaces) and the user's messages for a
-- natural-language query: OR over its lexemes, BM25 (k1 1.2, b 0.75, tf 1) with the weights
-- above, a bonus for adjacent query lexemes adjacent in the text. Candidates come from the
-- GIN indexes through the query's selective lexemes (all of them when none is selective),
-- bounded per source. SECURITY DEFINER, like memory_fts_keys_v1: under row-level security
-- the planner may not use a GIN index for the (not leakproof) @@ operator and scans the
-- table; so the function applies the same filters itself, from the transaction's settings
-- only: the workspace's readable namespaces of its tree, and the tenant's and user's own
-- messages.
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
    v_tenant text := current_setting('app.current_tenant_id', true);
    v_user text := current_setting('app.current_user_id', true);
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
              FROM unnest(to_tsvector('english', p_query)) t, unnest(t.positions) p
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

-- The one statement a recall sends: scope the transaction to the workspace (and, with a
-- user, to that user's conversations in it), refuse an unknown workspace (IKN01), then
-- rank (recall_v1) or, for a one-character query, match literally, newest first.
CREATE FUNCTION isokron.recall_for_v1(p_workspace_id text, p_user_id text, p_query text,
                                      p_namespaces text[], p_limit integer)
RETURNS TABLE (source text, id uuid, content text, created_at timestamptz, score real,
               namespace text, session_id uuid, role text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
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
    IF char_length(btrim(p_query)) >= 2 THEN
        RETURN QUERY SELECT * FROM isokron.recall_v1(btrim(p_query), p_namespaces, p_limit,
                                                      p_user_id IS NOT NULL);
        RETURN;
    END IF;
    RETURN QUERY
    SELECT x.* FROM (
        SELECT 'memory'::text, r.id, r.content, r.created_at, 1.0::real, r.namespace,
               NULL::uuid, NULL::text
          FROM isokron.memory_records r
          JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
         WHERE r.root_id = v_root
           AND r.namespace = ANY (v_readable)
           AND (p_namespaces IS NULL OR r.namespace = ANY (p_namespaces))
           AND (r.expires_at IS NULL OR r.expires_at > now())
           AND (n.expires_at IS NULL OR n.expires_at > now())
           AND strpos(lower(r.content), lower(btrim(p_query))) > 0
        UNION ALL
        SELECT 'message', m.id, m.content, m.created_at, 1.0::real, NULL, m.session_id, m.role
          FROM isokron.agent_messages m
         WHERE p_user_id IS NOT NULL AND m.tenant_id = p_workspace_id
           AND m.user_id = p_user_id AND strpos(lower(m.content), lower(btrim(p_query))) > 0
    ) x ORDER BY 4 DESC LIMIT p_limit;
END
$$;
REVOKE ALL ON FUNCTION isokron.recall_for_v1(text, text, text, text[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.recall_for_v1(text, text, text, text[], integer)
    TO isokron_runtime;
