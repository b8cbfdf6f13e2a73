-- Memory quotas skip statements that changed nothing (issue 27): PostgreSQL fires a
-- table's statement-level UPDATE triggers for every INSERT … ON CONFLICT DO UPDATE, whether
-- or not a row conflicted, so each memory commit (all are upserts: the dedup key) ran the
-- UPDATE branch of the quota trigger over two empty transition tables, and its embedding
-- lookups: measured, 30 of a 200 µs insert. The function returns at once when its
-- transition table is empty; what it counts otherwise is 0038's, unchanged.
CREATE OR REPLACE FUNCTION isokron.quota_memory_changed_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_delta json;
    v record;
    v_type text;
    v_per integer;
BEGIN
    -- A statement that changed no row: every INSERT … ON CONFLICT DO UPDATE fires the
    -- UPDATE trigger too (memory commits all are), with empty transition tables when no
    -- row conflicted, and the INSERT trigger with an empty one when every row did.
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM removed) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM added) THEN  -- an UPDATE's old rows are its new rows
        RETURN NULL;
    END IF;
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
    -- halfvec 2), the same whether the stored value is inline or toasted. Static queries
    -- (planned once per session; a dynamic statement was planned at every write, a third
    -- of a commit's time): the dimension is the length of the vector cast to real[]
    -- (pgvector's casts need no schema), taken only where the column is there.
    SELECT t.typname INTO v_type
      FROM pg_attribute c JOIN pg_type t ON t.oid = c.atttypid
     WHERE c.attrelid = TG_RELID AND c.attname = 'embedding' AND NOT c.attisdropped;
    IF v_type IN ('vector', 'halfvec') THEN
        v_per := CASE v_type WHEN 'halfvec' THEN 2 ELSE 4 END;
        IF TG_OP = 'INSERT' THEN
            SELECT json_agg(g) INTO v_delta FROM (
                SELECT x.root_id, x.namespace, 0 AS n,
                       sum(8 + v_per * cardinality(x.embedding::real[]))::bigint AS b
                  FROM added x WHERE x.embedding IS NOT NULL GROUP BY 1, 2) g;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT json_agg(g) INTO v_delta FROM (
                SELECT x.root_id, x.namespace, 0 AS n,
                       -sum(8 + v_per * cardinality(x.embedding::real[]))::bigint AS b
                  FROM removed x WHERE x.embedding IS NOT NULL GROUP BY 1, 2) g;
        ELSE
            SELECT json_agg(g) INTO v_delta FROM (
                SELECT c.root_id, c.namespace, 0 AS n, sum(c.b)::bigint AS b
                  FROM (SELECT x.root_id, x.namespace,
                               8 + v_per * cardinality(x.embedding::real[]) AS b
                          FROM added x WHERE x.embedding IS NOT NULL
                        UNION ALL
                        SELECT x.root_id, x.namespace,
                               -(8 + v_per * cardinality(x.embedding::real[]))
                          FROM removed x WHERE x.embedding IS NOT NULL) c
                 GROUP BY 1, 2 HAVING sum(c.b) <> 0) g;
        END IF;
        IF v_delta IS NOT NULL THEN
            PERFORM isokron.quota_memory_add_v1(v_delta);
        END IF;
    ELSIF v_type IS NOT NULL THEN
        -- another type of column (not pgvector's): its stored size, as before
        EXECUTE format(
            'SELECT json_agg(g) FROM (SELECT c.root_id, c.namespace, 0 AS n, '
            'sum(c.b)::bigint AS b FROM (%s) c GROUP BY 1, 2 HAVING sum(c.b) <> 0) g',
            concat_ws(' UNION ALL ',
                CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN
                    'SELECT x.root_id, x.namespace, pg_column_size(x.embedding) AS b '
                    'FROM added x WHERE x.embedding IS NOT NULL' END,
                CASE WHEN TG_OP IN ('DELETE', 'UPDATE') THEN
                    'SELECT x.root_id, x.namespace, -pg_column_size(x.embedding) AS b '
                    'FROM removed x WHERE x.embedding IS NOT NULL' END)) INTO v_delta;
        IF v_delta IS NOT NULL THEN
            PERFORM isokron.quota_memory_add_v1(v_delta);
        END IF;
    END IF;
    RETURN NULL;
END
$$;


