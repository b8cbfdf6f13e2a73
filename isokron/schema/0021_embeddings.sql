-- Embeddings for recall: every vector is stored with the model that made it, messages get
-- vectors like memory records, and recall fuses lexical and vector candidates in one
-- statement (recall_for_v2).
--
-- pgvector stays optional (0003): everything that names its type is created by
-- enable_vectors_v1(), which this migration redefines and calls. Without pgvector recall is
-- lexical, through the same function and API.

-- Which model made a row's vector (NULL: none, or the content changed since).
ALTER TABLE isokron.memory_records ADD COLUMN embedding_model text;
ALTER TABLE isokron.agent_messages ADD COLUMN embedding_model text;

-- The planner needs to know how many rows a scope (a tenant's user, a tree's namespace)
-- holds with vectors of a model: the HNSW scan for a large scope, an exact ranking of a
-- small one. Per-column statistics multiply and underestimate large scopes by orders of
-- magnitude (seen: 30 estimated, 10,000 found, and a sort of all of them).
CREATE STATISTICS isokron.agent_messages_recall_scope (mcv)
    ON tenant_id, user_id, embedding_model FROM isokron.agent_messages;
CREATE STATISTICS isokron.memory_records_recall_scope (mcv)
    ON root_id, namespace, embedding_model FROM isokron.memory_records;

-- A memory whose content changes loses its vector's model: it no longer describes the
-- text, is never used by recall, and the backfill embeds it again.
CREATE FUNCTION isokron.memory_embedding_stale_v1() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.embedding_model := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER memory_records_embedding_stale
    BEFORE UPDATE OF content ON isokron.memory_records
    FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content)
    EXECUTE FUNCTION isokron.memory_embedding_stale_v1();

-- Vectors are written by SECURITY DEFINER functions (the runtime role may not update
-- messages, and may update a memory only where it may write): these policies and column
-- grants are what those functions need.
CREATE POLICY memory_records_definer_embed ON isokron.memory_records FOR UPDATE
    TO isokron_definer USING (true) WITH CHECK (true);
CREATE POLICY agent_messages_definer_embed ON isokron.agent_messages FOR UPDATE
    TO isokron_definer USING (true) WITH CHECK (true);
GRANT UPDATE (embedding_model) ON isokron.memory_records, isokron.agent_messages
    TO isokron_definer;

-- Add the vector columns and the functions that use pgvector's type, when the server has
-- pgvector; return whether it does. Safe to call again (as the schema owner).
CREATE OR REPLACE FUNCTION isokron.enable_vectors_v1() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_schema text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        RETURN false;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'pgvector is available but may not be created here: %', SQLERRM;
        RETURN false;
    END;
    SELECT n.nspname INTO v_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    EXECUTE format('ALTER TABLE isokron.memory_records ADD COLUMN IF NOT EXISTS embedding %I.vector',
                   v_schema);
    IF to_regclass('isokron.agent_messages') IS NOT NULL THEN
        EXECUTE format('ALTER TABLE isokron.agent_messages '
                       'ADD COLUMN IF NOT EXISTS embedding %I.vector', v_schema);
        EXECUTE 'GRANT UPDATE (embedding) ON isokron.memory_records, isokron.agent_messages '
                'TO isokron_definer';
        PERFORM isokron.create_vector_functions_v1(v_schema);
    END IF;
    RETURN true;
END
$$;

-- The functions below name pgvector's type and operator, qualified with its schema (a
-- SECURITY DEFINER function's search_path holds pg_catalog only).
CREATE FUNCTION isokron.create_vector_functions_v1(p_schema text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $outer$
BEGIN
    -- The one writer of vectors (for store_embeddings_v1, scoped, and
    -- backfill_embeddings_v1, any row; granted to neither role): first refuse what would
    -- poison a ranking (arrays of different lengths, a NULL element, a vector of norm zero:
    -- its cosine distance is NaN, which sorts first; a missing or oversized model id), then
    -- write only where the content is still the text that was embedded (its md5) and,
    -- unless p_any, only inside the scope given. Returns the rows updated.
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION isokron.write_embeddings_v1(
    p_source text, p_ids uuid[], p_vectors text[], p_hashes text[], p_model text,
    p_any boolean, p_root text, p_namespaces text[], p_tenant text, p_user text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n integer;
BEGIN
    IF p_model IS NULL OR p_model = '' OR char_length(p_model) > 200 THEN
        RAISE EXCEPTION 'embeddings need a model id of 1 to 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_vectors)
       OR cardinality(p_ids) IS DISTINCT FROM cardinality(p_hashes) THEN
        RAISE EXCEPTION 'embeddings: ids, vectors and hashes must have the same length'
            USING ERRCODE = '22023';
    END IF;
    IF array_position(p_ids, NULL) IS NOT NULL OR array_position(p_vectors, NULL) IS NOT NULL
       OR array_position(p_hashes, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'embeddings: no id, vector or hash may be NULL' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_vectors) v WHERE %1$I.vector_norm(v::%1$I.vector) = 0) THEN
        RAISE EXCEPTION 'embeddings: a vector of norm zero has no direction'
            USING ERRCODE = '22023';
    END IF;
    IF p_source = 'memory' THEN
        UPDATE isokron.memory_records r
           SET embedding = x.v::%1$I.vector, embedding_model = p_model
          FROM unnest(p_ids, p_vectors, p_hashes) x(id, v, h)
         WHERE r.id = x.id AND md5(r.content) = x.h
           AND (p_any OR (r.root_id = p_root AND r.namespace = ANY (p_namespaces)));
    ELSIF p_source = 'message' THEN
        UPDATE isokron.agent_messages m
           SET embedding = x.v::%1$I.vector, embedding_model = p_model
          FROM unnest(p_ids, p_vectors, p_hashes) x(id, v, h)
         WHERE m.id = x.id AND md5(m.content) = x.h
           AND (p_any OR (m.tenant_id = p_tenant AND m.user_id = p_user));
    ELSE
        RAISE EXCEPTION 'embeddings: source must be memory or message, got %%',
            quote_nullable(p_source) USING ERRCODE = '22023';
    END IF;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
ALTER FUNCTION isokron.write_embeddings_v1(text, uuid[], text[], text[], text, boolean, text,
                                           text[], text, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.write_embeddings_v1(text, uuid[], text[], text[], text,
                                                   boolean, text, text[], text, text)
    FROM PUBLIC;
$f$, p_schema);

    -- Store vectors for rows the caller may write, the scope taken from the transaction's
    -- settings: memories of the workspace's writable namespaces in its tree (a namespace
    -- it only reads is its writers' to embed), the tenant's and user's own messages.
    EXECUTE $f$
CREATE OR REPLACE FUNCTION isokron.store_embeddings_v1(p_source text, p_ids uuid[],
                                                       p_vectors text[], p_hashes text[],
                                                       p_model text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_root text;
    v_writable text[];
BEGIN
    SELECT a.root_id, a.writable INTO v_root, v_writable FROM isokron.namespace_access_v2() a;
    RETURN isokron.write_embeddings_v1(
        p_source, p_ids, p_vectors, p_hashes, p_model, false, v_root, v_writable,
        current_setting('app.current_tenant_id', true),
        current_setting('app.current_user_id', true));
END
$$;
ALTER FUNCTION isokron.store_embeddings_v1(text, uuid[], text[], text[], text)
    OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.store_embeddings_v1(text, uuid[], text[], text[], text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.store_embeddings_v1(text, uuid[], text[], text[], text)
    TO isokron_runtime;
$f$;

    -- The backfill (an operator's job, never granted to the runtime role): what has no
    -- vector of p_model, in (source, id) order after the given key, and storing vectors
    -- for any row.
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION isokron.embedding_backlog_v1(p_model text, p_after_source text,
                                                        p_after_id uuid, p_limit integer)
RETURNS TABLE (source text, id uuid, content text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM (
        (SELECT 'memory'::text, r.id, r.content FROM isokron.memory_records r
          WHERE r.embedding_model IS DISTINCT FROM p_model
            AND ('memory', r.id) > (coalesce(p_after_source, ''), coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'))
          ORDER BY r.id LIMIT p_limit)
        UNION ALL
        (SELECT 'message'::text, m.id, m.content FROM isokron.agent_messages m
          WHERE m.embedding_model IS DISTINCT FROM p_model AND m.content IS NOT NULL
            AND ('message', m.id) > (coalesce(p_after_source, ''), coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'))
          ORDER BY m.id LIMIT p_limit)) x
    ORDER BY 1, 2 LIMIT p_limit
$$;
ALTER FUNCTION isokron.embedding_backlog_v1(text, text, uuid, integer) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.embedding_backlog_v1(text, text, uuid, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION isokron.embedding_counts_v1(p_model text)
RETURNS TABLE (source text, total bigint, missing bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'memory'::text, count(*), count(*) FILTER (WHERE r.embedding_model IS DISTINCT FROM p_model)
      FROM isokron.memory_records r
    UNION ALL
    SELECT 'message', count(*), count(*) FILTER (WHERE m.embedding_model IS DISTINCT FROM p_model)
      FROM isokron.agent_messages m WHERE m.content IS NOT NULL
$$;
ALTER FUNCTION isokron.embedding_counts_v1(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.embedding_counts_v1(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION isokron.backfill_embeddings_v1(p_source text, p_ids uuid[],
                                                          p_vectors text[], p_hashes text[],
                                                          p_model text)
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT isokron.write_embeddings_v1(p_source, p_ids, p_vectors, p_hashes, p_model, true,
                                       NULL, NULL, NULL, NULL)
$$;
ALTER FUNCTION isokron.backfill_embeddings_v1(text, uuid[], text[], text[], text)
    OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.backfill_embeddings_v1(text, uuid[], text[], text[], text)
    FROM PUBLIC;

-- Vectors of another dimension than the one the columns take from now on are dropped
-- (the backfill embeds those rows again).
CREATE OR REPLACE FUNCTION isokron.drop_other_dims_v1(p_dims integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_a bigint;
    v_b bigint;
BEGIN
    UPDATE isokron.memory_records r SET embedding = NULL, embedding_model = NULL
     WHERE r.embedding IS NOT NULL AND %1$I.vector_dims(r.embedding) <> p_dims;
    GET DIAGNOSTICS v_a = ROW_COUNT;
    UPDATE isokron.agent_messages m SET embedding = NULL, embedding_model = NULL
     WHERE m.embedding IS NOT NULL AND %1$I.vector_dims(m.embedding) <> p_dims;
    GET DIAGNOSTICS v_b = ROW_COUNT;
    RETURN v_a + v_b;
END
$$;
ALTER FUNCTION isokron.drop_other_dims_v1(integer) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.drop_other_dims_v1(integer) FROM PUBLIC;
$f$, p_schema);
    PERFORM isokron.create_recall_vectors_v1(p_schema, NULL);
END
$outer$;
REVOKE ALL ON FUNCTION isokron.create_vector_functions_v1(text) FROM PUBLIC;

-- recall_vectors_v1, for columns of any dimension (p_dims NULL: exact types, no index) or
-- for columns fixed to p_dims dimensions, whose HNSW indexes are on the vectors at half
-- precision (halfvec: half the index, twice as fast to scan; the stored vectors keep full
-- precision): the distance expression must be the index's.
CREATE FUNCTION isokron.create_recall_vectors_v1(p_schema text, p_dims integer) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $outer$
DECLARE
    v_half boolean := p_dims IS NOT NULL
                      AND to_regtype(quote_ident(p_schema) || '.halfvec') IS NOT NULL;
    v_type text := CASE WHEN v_half THEN format('%I.halfvec(%s)', p_schema, p_dims)
                        ELSE format('%I.vector', p_schema) END;
    v_memory text := CASE WHEN v_half THEN format('(r.embedding::%s)', v_type)
                          ELSE 'r.embedding' END;
    v_message text := CASE WHEN v_half THEN format('(m.embedding::%s)', v_type)
                           ELSE 'm.embedding' END;
BEGIN
    -- Nearest vectors of p_model to the query vector, for what the transaction's settings
    -- may read (the filters recall_v1 applies): the HNSW index scans in distance order and
    -- keeps scanning (iterative scan) until enough rows pass the filters, at most 20,000
    -- index tuples per source whatever the table's size. Planned for each call's scope
    -- (force_custom_plan, with the scope's statistics below): a large scope scans the
    -- index, a small one ranks its few rows exactly. A row without a vector (NULL
    -- distance) or with a vector of norm zero (NaN) is dropped after the scan.
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION isokron.recall_vectors_v1(p_vector text, p_model text,
                                                     p_namespaces text[], p_limit integer,
                                                     p_messages boolean)
RETURNS TABLE (source text, id uuid, content text, created_at timestamptz, distance real,
               namespace text, session_id uuid, role text, pin boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET hnsw.ef_search = 40
SET hnsw.iterative_scan = relaxed_order
SET hnsw.max_scan_tuples = 20000
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_v %1$I.vector := p_vector::%1$I.vector;
    v_q %4$s := v_v;
    v_tenant text := current_setting('app.current_tenant_id', true);
    v_user text := current_setting('app.current_user_id', true);
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_model IS NULL OR %1$I.vector_norm(v_v) = 0 THEN
        RETURN;  -- a query vector of norm zero has no nearest rows
    END IF;
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    RETURN QUERY
    WITH near_memory AS MATERIALIZED (
        SELECT r.id, r.content, r.created_at, %2$s OPERATOR(%1$I.<=>) v_q AS d,
               r.namespace, r.pin
          FROM isokron.memory_records r
          JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
         WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
           AND r.embedding_model = p_model
           AND (r.expires_at IS NULL OR r.expires_at > now())
           AND (n.expires_at IS NULL OR n.expires_at > now())
         ORDER BY %2$s OPERATOR(%1$I.<=>) v_q
         LIMIT p_limit
    ), near_messages AS MATERIALIZED (
        SELECT m.id, m.content, m.created_at, %3$s OPERATOR(%1$I.<=>) v_q AS d,
               m.session_id, m.role
          FROM isokron.agent_messages m
         WHERE p_messages AND m.tenant_id = v_tenant AND m.user_id = v_user
           AND m.embedding_model = p_model
         ORDER BY %3$s OPERATOR(%1$I.<=>) v_q
         LIMIT p_limit
    )
    SELECT x.* FROM (
        SELECT 'memory'::text, nm.id, nm.content, nm.created_at, nm.d::real, nm.namespace,
               NULL::uuid, NULL::text, nm.pin FROM near_memory nm WHERE nm.d <> 'NaN'
        UNION ALL
        SELECT 'message', mm.id, mm.content, mm.created_at, mm.d::real, NULL, mm.session_id,
               mm.role, false FROM near_messages mm WHERE mm.d <> 'NaN') x
    ORDER BY 5, 4 DESC LIMIT p_limit;
END
$$;
ALTER FUNCTION isokron.recall_vectors_v1(text, text, text[], integer, boolean)
    OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.recall_vectors_v1(text, text, text[], integer, boolean)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.recall_vectors_v1(text, text, text[], integer, boolean)
    TO isokron_runtime;
$f$, p_schema, v_memory, v_message, v_type);
END
$outer$;
REVOKE ALL ON FUNCTION isokron.create_recall_vectors_v1(text, integer) FROM PUBLIC;

-- Fix the vector columns to one dimension and index them (HNSW, cosine, at half precision
-- when pgvector has halfvec), and define recall_vectors_v1 for them: an operator's
-- step, run by `isokron embed --backfill` before it embeds. Vectors of another dimension
-- are dropped first. Returns whether anything changed.
CREATE FUNCTION isokron.prepare_embeddings_v1(p_dims integer) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_schema text;
    v_typmod integer;
    v_changed boolean := false;
    v_half boolean;
    v_key text;
BEGIN
    IF p_dims IS NULL OR p_dims < 1 OR p_dims > 2000 THEN
        RAISE EXCEPTION 'embedding dimensions must be between 1 and 2000 (HNSW), got %',
            coalesce(p_dims::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    SELECT n.nspname INTO v_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    IF v_schema IS NULL OR to_regprocedure('isokron.drop_other_dims_v1(integer)') IS NULL THEN
        RAISE EXCEPTION 'pgvector is not enabled on this database (see isokron.enable_vectors_v1())'
            USING ERRCODE = '0A000';
    END IF;
    SELECT a.atttypmod INTO v_typmod FROM pg_attribute a
     WHERE a.attrelid = 'isokron.memory_records'::regclass AND a.attname = 'embedding';
    IF v_typmod IS DISTINCT FROM p_dims THEN
        PERFORM isokron.drop_other_dims_v1(p_dims);
        DROP INDEX IF EXISTS isokron.memory_records_embedding_hnsw;
        DROP INDEX IF EXISTS isokron.agent_messages_embedding_hnsw;
        EXECUTE format('ALTER TABLE isokron.memory_records ALTER COLUMN embedding TYPE %1$I.vector(%2$s)',
                       v_schema, p_dims);
        EXECUTE format('ALTER TABLE isokron.agent_messages ALTER COLUMN embedding TYPE %1$I.vector(%2$s)',
                       v_schema, p_dims);
        v_changed := true;
    END IF;
    -- Indexed at half precision when pgvector has halfvec (0.7 and later).
    v_half := to_regtype(quote_ident(v_schema) || '.halfvec') IS NOT NULL;
    v_key := CASE WHEN v_half THEN format('((embedding::%1$I.halfvec(%2$s)) %1$I.halfvec_cosine_ops)',
                                          v_schema, p_dims)
                  ELSE format('(embedding %I.vector_cosine_ops)', v_schema) END;
    IF to_regclass('isokron.memory_records_embedding_hnsw') IS NULL THEN
        EXECUTE 'CREATE INDEX memory_records_embedding_hnsw ON isokron.memory_records '
                'USING hnsw ' || v_key;
        v_changed := true;
    END IF;
    IF to_regclass('isokron.agent_messages_embedding_hnsw') IS NULL THEN
        EXECUTE 'CREATE INDEX agent_messages_embedding_hnsw ON isokron.agent_messages '
                'USING hnsw ' || v_key;
        v_changed := true;
    END IF;
    PERFORM isokron.create_recall_vectors_v1(v_schema, p_dims);
    RETURN v_changed;
END
$$;
REVOKE ALL ON FUNCTION isokron.prepare_embeddings_v1(integer) FROM PUBLIC;

SELECT isokron.enable_vectors_v1();

-- Recall in one statement, lexical or hybrid. Without a query vector: exactly
-- recall_for_v1. With one (and its model): the lexical ranking (recall_v1) and the vector
-- ranking (recall_vectors_v1) of the same scope, 30 candidates each (or the limit, when
-- more are asked for: the 30 nearest of memories and messages together), fused by a convex
-- combination of their min-max normalised scores: 0.6 x BM25 + 0.4 x cosine similarity
-- (a pinned memory's vector side counts 1.5 times; its BM25 already does). Measured on
-- LoCoMo conversations, this beats reciprocal-rank fusion at every k and keeps the
-- lexical ranking's precision at the top. The score is that fused value.
CREATE FUNCTION isokron.recall_for_v2(p_workspace_id text, p_user_id text, p_query text,
                                      p_namespaces text[], p_limit integer,
                                      p_vector text, p_model text)
RETURNS TABLE (source text, id uuid, content text, created_at timestamptz, score real,
               namespace text, session_id uuid, role text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c_depth integer := greatest(30, p_limit);  -- candidates per side
    c_lexical constant double precision := 0.6;
BEGIN
    IF p_vector IS NULL OR p_model IS NULL OR char_length(btrim(p_query)) < 2 THEN
        RETURN QUERY SELECT * FROM isokron.recall_for_v1(p_workspace_id, p_user_id, p_query,
                                                          p_namespaces, p_limit);
        RETURN;
    END IF;
    -- The scope, as recall_for_v1 sets it; an unknown workspace is IKN01.
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    PERFORM set_config('app.current_tenant_id', CASE WHEN p_user_id IS NULL THEN ''
                                                     ELSE p_workspace_id END, true);
    PERFORM set_config('app.current_user_id', coalesce(p_user_id, ''), true);
    IF NOT EXISTS (SELECT 1 FROM isokron.namespace_access_v2()) THEN
        RAISE EXCEPTION 'unknown workspace %', quote_literal(p_workspace_id)
            USING ERRCODE = 'IKN01';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH lexical AS MATERIALIZED (
        SELECT l.*, (l.score - min(l.score) OVER ())
                    / nullif(max(l.score) OVER () - min(l.score) OVER (), 0) AS norm
          FROM isokron.recall_v1(btrim(p_query), p_namespaces, c_depth,
                                 p_user_id IS NOT NULL) l
    ), vector AS MATERIALIZED (
        SELECT v.*, (max(v.distance) OVER () - v.distance)
                    / nullif(max(v.distance) OVER () - min(v.distance) OVER (), 0) AS norm
          FROM isokron.recall_vectors_v1(p_vector, p_model, p_namespaces, c_depth,
                                         p_user_id IS NOT NULL) v
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
REVOKE ALL ON FUNCTION isokron.recall_for_v2(text, text, text, text[], integer, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.recall_for_v2(text, text, text, text[], integer, text, text)
    TO isokron_runtime;
