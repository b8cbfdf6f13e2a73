-- Keys ready to shard by tenant (Citus): every isokron table carries its tenant column in
-- its primary key, its unique constraints and its foreign keys between isokron tables.
--
--   sessions, messages                tenant_id
--   delegations, episodic events      workspace_id
--   memory namespaces, records, audit root_id, the root workspace of the tree that reads
--                                     the namespace (one tree, one shard)
--   workspaces, schema_migrations     reference tables (small, read everywhere)
--
-- root_id is derived, never chosen: a namespace's root comes from its name and the
-- workspace tree (isokron.namespace_root_v1), set by a trigger on every insert or rename;
-- a record's root must equal its namespace's (composite foreign key) and is filled in by a
-- trigger when the writer leaves it out. isokron's own functions pass the root they
-- computed with the ACL, so each of their statements names one tree.
-- isokron.catalog_distribution_problems (isokron/distribution.py) checks the rule.

-- The root of a workspace: the top of its parent chain (itself when it has no parent or
-- is not registered). Walks at most 50 levels, like the ACL.
CREATE FUNCTION isokron.workspace_root_v1(p_workspace_id text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE chain AS (
        SELECT w.workspace_id, w.parent_id, 0 AS depth
          FROM isokron.workspaces w WHERE w.workspace_id = p_workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, c.depth + 1
          FROM isokron.workspaces w JOIN chain c ON w.workspace_id = c.parent_id
         WHERE c.depth < 50
    )
    SELECT coalesce((SELECT c.workspace_id FROM chain c ORDER BY c.depth DESC LIMIT 1),
                    p_workspace_id)
$$;
ALTER FUNCTION isokron.workspace_root_v1(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.workspace_root_v1(text) FROM PUBLIC;

-- workspace:<w>, team:<w> and org:<w> belong to the tree of <w>; any other name is a
-- tree of its own.
CREATE FUNCTION isokron.namespace_root_v1(p_name text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN split_part(p_name, ':', 1) IN ('workspace', 'team', 'org')
                THEN isokron.workspace_root_v1(substr(p_name, strpos(p_name, ':') + 1))
                ELSE p_name END
$$;
ALTER FUNCTION isokron.namespace_root_v1(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.namespace_root_v1(text) FROM PUBLIC;

-- The ACL with the tree's root: v1 keeps its columns (the policies use it) and reads v2.
CREATE FUNCTION isokron.namespace_access_v2()
RETURNS TABLE (workspace_id text, readable text[], writable text[], root_id text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE chain AS (
        SELECT w.workspace_id, w.parent_id, 0 AS depth
          FROM isokron.workspaces w
         WHERE w.workspace_id = current_setting('app.current_workspace_id', true)
        UNION ALL
        SELECT w.workspace_id, w.parent_id, c.depth + 1
          FROM isokron.workspaces w
          JOIN chain c ON w.workspace_id = c.parent_id
         WHERE c.depth < 50
    ), self AS (
        SELECT c.workspace_id, c.parent_id FROM chain c WHERE c.depth = 0
    ), root AS (
        SELECT c.workspace_id FROM chain c ORDER BY c.depth DESC LIMIT 1
    )
    SELECT s.workspace_id,
           ARRAY['workspace:' || s.workspace_id,
                 'team:' || coalesce(s.parent_id, s.workspace_id),
                 'org:' || r.workspace_id],
           ARRAY['workspace:' || s.workspace_id,
                 'team:' || coalesce(s.parent_id, s.workspace_id)]
           || CASE WHEN s.parent_id IS NULL THEN ARRAY['org:' || r.workspace_id]
                   ELSE ARRAY[]::text[] END,
           r.workspace_id
      FROM self s CROSS JOIN root r
$$;
ALTER FUNCTION isokron.namespace_access_v2() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.namespace_access_v2() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.namespace_access_v2() TO isokron_runtime;

CREATE OR REPLACE FUNCTION isokron.namespace_access_v1()
RETURNS TABLE (workspace_id text, readable text[], writable text[])
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT a.workspace_id, a.readable, a.writable FROM isokron.namespace_access_v2() a $$;

-- Triggers: a namespace's root always comes from its name; a record's or audit row's root,
-- when left out, from its namespace's name.
CREATE FUNCTION isokron.set_namespace_root_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.root_id := isokron.namespace_root_v1(NEW.name);
    RETURN NEW;
END
$$;
ALTER FUNCTION isokron.set_namespace_root_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.set_namespace_root_tg() FROM PUBLIC;

CREATE FUNCTION isokron.fill_record_root_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.root_id := isokron.namespace_root_v1(NEW.namespace);
    RETURN NEW;
END
$$;
ALTER FUNCTION isokron.fill_record_root_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.fill_record_root_tg() FROM PUBLIC;

-- A workspace whose tree (and so its memory's root) would change while memory is stored
-- under the old root is refused: the rows would be left under a key nobody reads.
CREATE FUNCTION isokron.guard_workspace_root_tg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_old text;
    v_new text;
BEGIN
    v_old := CASE WHEN TG_OP = 'INSERT' THEN NEW.workspace_id
                  ELSE isokron.workspace_root_v1(OLD.workspace_id) END;
    v_new := CASE WHEN NEW.parent_id IS NULL THEN NEW.workspace_id
                  ELSE isokron.workspace_root_v1(NEW.parent_id) END;
    IF v_old IS DISTINCT FROM v_new AND EXISTS (
            SELECT 1 FROM isokron.memory_namespaces n WHERE n.root_id = v_old) THEN
        RAISE EXCEPTION 'workspace % would move from tree % to tree % while memory is stored '
                        'under %; export it, purge it and import it under the new tree',
            quote_literal(NEW.workspace_id), quote_literal(v_old), quote_literal(v_new),
            quote_literal(v_old) USING ERRCODE = 'IKI01';
    END IF;
    RETURN NEW;
END
$$;
ALTER FUNCTION isokron.guard_workspace_root_tg() OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.guard_workspace_root_tg() FROM PUBLIC;
CREATE POLICY memory_namespaces_definer_root ON isokron.memory_namespaces FOR SELECT
    TO isokron_definer USING (true);
GRANT SELECT ON isokron.memory_namespaces TO isokron_definer;

-- The columns, back-filled with row-level security lifted for the owner meanwhile.
ALTER TABLE isokron.memory_namespaces NO FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_records NO FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_audit NO FORCE ROW LEVEL SECURITY;

ALTER TABLE isokron.memory_records DROP CONSTRAINT memory_records_namespace_fkey;
ALTER TABLE isokron.memory_namespaces ADD COLUMN root_id text;
ALTER TABLE isokron.memory_records ADD COLUMN root_id text;
ALTER TABLE isokron.memory_audit ADD COLUMN root_id text;
UPDATE isokron.memory_namespaces SET root_id = isokron.namespace_root_v1(name);
UPDATE isokron.memory_records r SET root_id = n.root_id
  FROM isokron.memory_namespaces n WHERE n.name = r.namespace;
UPDATE isokron.memory_audit SET root_id = isokron.namespace_root_v1(namespace);
ALTER TABLE isokron.memory_namespaces ALTER COLUMN root_id SET NOT NULL;
ALTER TABLE isokron.memory_records ALTER COLUMN root_id SET NOT NULL;
ALTER TABLE isokron.memory_audit ALTER COLUMN root_id SET NOT NULL;

ALTER TABLE isokron.memory_namespaces DROP CONSTRAINT memory_namespaces_pkey,
    ADD CONSTRAINT memory_namespaces_pkey PRIMARY KEY (root_id, name);
ALTER TABLE isokron.memory_records DROP CONSTRAINT memory_records_pkey,
    ADD CONSTRAINT memory_records_pkey PRIMARY KEY (root_id, namespace, id),
    ADD CONSTRAINT memory_records_namespace_fkey FOREIGN KEY (root_id, namespace)
        REFERENCES isokron.memory_namespaces (root_id, name) ON DELETE CASCADE;
ALTER TABLE isokron.memory_audit DROP CONSTRAINT memory_audit_pkey,
    ADD CONSTRAINT memory_audit_pkey PRIMARY KEY (root_id, id);
-- Lookups by name alone (administration, the ACL's namespaces) stay indexed.
CREATE INDEX memory_namespaces_name_idx ON isokron.memory_namespaces (name);

ALTER TABLE isokron.memory_namespaces FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_records FORCE ROW LEVEL SECURITY;
ALTER TABLE isokron.memory_audit FORCE ROW LEVEL SECURITY;

CREATE TRIGGER memory_namespaces_root BEFORE INSERT OR UPDATE OF name, root_id
    ON isokron.memory_namespaces FOR EACH ROW EXECUTE FUNCTION isokron.set_namespace_root_tg();
CREATE TRIGGER memory_records_root BEFORE INSERT ON isokron.memory_records
    FOR EACH ROW WHEN (NEW.root_id IS NULL) EXECUTE FUNCTION isokron.fill_record_root_tg();
CREATE TRIGGER memory_audit_root BEFORE INSERT OR UPDATE OF namespace, root_id
    ON isokron.memory_audit FOR EACH ROW EXECUTE FUNCTION isokron.fill_record_root_tg();
CREATE TRIGGER workspaces_root_guard BEFORE INSERT OR UPDATE OF workspace_id, parent_id
    ON isokron.workspaces FOR EACH ROW EXECUTE FUNCTION isokron.guard_workspace_root_tg();

-- memory: commit, with the tree's root ------------------------------------------------------
CREATE OR REPLACE FUNCTION isokron.memory_commit_v1(
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
    SELECT a.readable, a.writable, a.root_id INTO v_access FROM isokron.namespace_access_v2() a;
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
    IF NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                    WHERE m.root_id = v_access.root_id AND m.name = p_namespace) THEN
        INSERT INTO isokron.memory_namespaces (root_id, name, kind)
        VALUES (v_access.root_id, p_namespace, p_namespace_kind)
        ON CONFLICT (root_id, name) DO NOTHING;
    END IF;
    SELECT r.namespace INTO v_elsewhere FROM isokron.memory_records r
     WHERE r.root_id = v_access.root_id AND r.id = p_id AND r.namespace <> p_namespace LIMIT 1;
    IF v_elsewhere IS NOT NULL THEN
        RAISE EXCEPTION 'memory % already exists in another namespace (%)', p_id, v_elsewhere
            USING ERRCODE = 'IKT03';
    END IF;
    INSERT INTO isokron.memory_records AS r
        (root_id, id, namespace, content, kind, source, pin, expires_at)
    VALUES (v_access.root_id, p_id, p_namespace, p_content, p_kind, p_source, p_pin,
            p_expires_at)
    ON CONFLICT (root_id, namespace, id) DO UPDATE
       SET content = EXCLUDED.content, kind = EXCLUDED.kind, source = EXCLUDED.source,
           pin = EXCLUDED.pin, expires_at = EXCLUDED.expires_at, updated_at = now()
    RETURNING * INTO v_row;
    IF p_namespace LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_access.root_id, p_id, p_namespace, p_workspace_id, 'commit',
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN jsonb_build_object('id', v_row.id, 'namespace', v_row.namespace,
                              'content', v_row.content, 'kind', v_row.kind,
                              'source', v_row.source, 'pin', v_row.pin,
                              'expires_at', v_row.expires_at, 'created_at', v_row.created_at);
END
$$;

CREATE OR REPLACE FUNCTION isokron.memory_commit_many_v1(
    p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[],
    p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[],
    p_expires_at timestamptz[]
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_writable text[];
    v_root text;
    v_out jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.writable, a.root_id INTO v_writable, v_root FROM isokron.namespace_access_v2() a;
    IF v_writable IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    -- One statement: the foreign key from records to namespaces is checked at its end.
    WITH input AS (
        SELECT u.ord, u.id, u.ns, u.nk, u.content, u.kind, u.source, u.pin, u.exp
          FROM unnest(p_ids, p_namespaces, p_namespace_kinds, p_contents, p_kinds, p_sources,
                      p_pins, p_expires_at) WITH ORDINALITY
               AS u(id, ns, nk, content, kind, source, pin, exp, ord)
    ), checked AS (
        SELECT i.*, e.elsewhere,
               CASE WHEN NOT i.ns = ANY (v_writable) THEN 'IKT02'
                    WHEN e.elsewhere IS NOT NULL THEN 'IKT03' END AS code
          FROM input i
          LEFT JOIN LATERAL (SELECT r.namespace AS elsewhere FROM isokron.memory_records r
                              WHERE r.root_id = v_root AND r.id = i.id AND r.namespace <> i.ns
                              LIMIT 1) e ON true
    ), namespaces AS (
        INSERT INTO isokron.memory_namespaces (root_id, name, kind)
        SELECT DISTINCT v_root, c.ns, c.nk FROM checked c
         WHERE c.code IS NULL
           AND NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                            WHERE m.root_id = v_root AND m.name = c.ns)
        ON CONFLICT (root_id, name) DO NOTHING
    ), written AS (
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at)
        SELECT DISTINCT ON (c.ns, c.id) v_root, c.id, c.ns, c.content, c.kind, c.source, c.pin,
               c.exp
          FROM checked c
         WHERE c.code IS NULL
         ORDER BY c.ns, c.id, c.ord DESC
        ON CONFLICT (root_id, namespace, id) DO UPDATE
           SET content = EXCLUDED.content, kind = EXCLUDED.kind, source = EXCLUDED.source,
               pin = EXCLUDED.pin, expires_at = EXCLUDED.expires_at, updated_at = now()
        RETURNING r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                  r.created_at
    ), audited AS (
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT v_root, c.id, c.ns, p_workspace_id, 'commit',
               encode(sha256(convert_to(c.content, 'UTF8')), 'hex')
          FROM checked c
         WHERE c.code IS NULL AND c.ns LIKE 'org:%'
    )
    SELECT jsonb_agg(CASE
               WHEN c.code = 'IKT02' THEN jsonb_build_object('error', jsonb_build_object(
                   'code', c.code, 'message', format(
                       'workspace %L may not write namespace %L (writable: %s)',
                       p_workspace_id, c.ns, array_to_string(v_writable, ', '))))
               WHEN c.code = 'IKT03' THEN jsonb_build_object('error', jsonb_build_object(
                   'code', c.code, 'message', format(
                       'memory %s already exists in another namespace (%s)', c.id,
                       c.elsewhere)))
               ELSE jsonb_build_object('row', to_jsonb(w)) END ORDER BY c.ord)
      INTO v_out
      FROM checked c
      LEFT JOIN written w ON w.namespace = c.ns AND w.id = c.id AND c.code IS NULL;
    RETURN coalesce(v_out, '[]'::jsonb);
END
$$;

-- memory: full-text candidates and search, each statement within the tree's root ----------
CREATE OR REPLACE FUNCTION isokron.memory_fts_keys_v1(
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
BEGIN
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_readable IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.namespace, r.id,
           ts_rank_cd(r.search_tsv, websearch_to_tsquery('english', p_query)) AS rank
      FROM isokron.memory_records r
     WHERE r.search_tsv @@ websearch_to_tsquery('english', p_query)
       AND r.root_id = v_root
       AND r.namespace = ANY (p_namespaces)
       AND r.namespace = ANY (v_readable)
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
     ORDER BY r.pin DESC, 3 DESC, r.created_at DESC
     LIMIT p_limit;
END
$$;

CREATE OR REPLACE FUNCTION isokron.memory_search_v1(
    p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text,
    p_query text
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_rows jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
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
                    ON n.root_id = v_root AND n.name = ns.name
                   AND (n.expires_at IS NULL OR n.expires_at > now())
                 CROSS JOIN LATERAL (
                    SELECT * FROM isokron.memory_records r
                     WHERE r.root_id = v_root AND r.namespace = ns.name
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
                                  WHERE n.root_id = v_root AND n.name = ANY (v_wanted)
                                    AND (n.expires_at IS NULL OR n.expires_at > now())),
                           p_query, p_kinds, p_limit) k
                  JOIN isokron.memory_records r
                    ON r.root_id = v_root AND r.namespace = k.namespace AND r.id = k.id) x;
    ELSIF p_mode = 'like' THEN
        SELECT jsonb_agg(to_jsonb(x) ORDER BY x.pin DESC, x.created_at DESC) INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at
                  FROM isokron.memory_records r
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = r.root_id AND n.name = r.namespace
                 WHERE r.root_id = v_root
                   AND r.namespace = ANY (v_wanted)
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

-- memory: import checks the document against the trees that exist -------------------------
-- An exported document is one tree. Importing it may not graft its workspaces onto another
-- tree (a workspace that exists with a different parent), and every namespace and memory it
-- carries must belong to the tree it brings (no org:/team: namespace of somebody else).
CREATE OR REPLACE FUNCTION isokron.import_memory_v1(p_items json)
RETURNS TABLE (workspaces bigint, namespaces bigint, memories bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_w bigint;
    v_n bigint;
    v_m bigint;
    v_bad text;
    v_roots text[];
BEGIN
    SELECT format('workspace %L exists with parent %L, the document says %L',
                  w.workspace_id, w.parent_id, i->>'parent_id')
      INTO v_bad
      FROM json_array_elements(p_items) i
      JOIN isokron.workspaces w ON w.workspace_id = i->>'workspace_id'
     WHERE i->>'type' = 'workspace' AND w.parent_id IS DISTINCT FROM i->>'parent_id'
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing the import: %', v_bad USING ERRCODE = 'IKI01';
    END IF;
    SELECT array_agg(i->>'workspace_id') INTO v_roots
      FROM json_array_elements(p_items) i
     WHERE i->>'type' = 'workspace' AND i->>'parent_id' IS NULL;
    -- parents before children: insert in depth order of the exported tree
    WITH RECURSIVE items AS (
        SELECT i FROM json_array_elements(p_items) i WHERE i->>'type' = 'workspace'
    ), ordered(id, parent, depth) AS (
        SELECT i->>'workspace_id', i->>'parent_id', 0 FROM items WHERE i->>'parent_id' IS NULL
        UNION ALL
        SELECT i->>'workspace_id', i->>'parent_id', o.depth + 1
          FROM items JOIN ordered o ON i->>'parent_id' = o.id WHERE o.depth < 50
    ), ins AS (
        INSERT INTO isokron.workspaces (workspace_id, parent_id)
        SELECT o.id, o.parent FROM ordered o ORDER BY o.depth
        ON CONFLICT DO NOTHING RETURNING 1
    )
    SELECT count(*) INTO v_w FROM ins;
    -- every namespace and memory must belong to one of the document's own trees
    SELECT format('%s %L belongs to tree %L, not to the document''s (%s)', i->>'type',
                  coalesce(i->>'name', i->>'namespace'),
                  isokron.namespace_root_v1(coalesce(i->>'name', i->>'namespace')),
                  coalesce(array_to_string(v_roots, ', '), 'none'))
      INTO v_bad
      FROM json_array_elements(p_items) i
     WHERE i->>'type' IN ('namespace', 'memory')
       AND NOT coalesce(isokron.namespace_root_v1(coalesce(i->>'name', i->>'namespace'))
                        = ANY (v_roots), false)
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing the import: %', v_bad USING ERRCODE = 'IKI01';
    END IF;
    WITH ins AS (
        INSERT INTO isokron.memory_namespaces (name, kind, expires_at, metadata)
        SELECT i->>'name', i->>'kind', (i->>'expires_at')::timestamptz,
               coalesce(i->'metadata', '{}')::jsonb
          FROM json_array_elements(p_items) i WHERE i->>'type' = 'namespace'
        ON CONFLICT DO NOTHING RETURNING 1
    )
    SELECT count(*) INTO v_n FROM ins;
    WITH ins AS (
        INSERT INTO isokron.memory_records (id, namespace, content, kind, source, pin,
                                            expires_at, created_at)
        SELECT (i->>'id')::uuid, i->>'namespace', i->>'content',
               coalesce(i->>'kind', 'fact'), coalesce(i->>'source', 'user'),
               coalesce((i->>'pin')::boolean, false), (i->>'expires_at')::timestamptz,
               coalesce((i->>'created_at')::timestamptz, now())
          FROM json_array_elements(p_items) i WHERE i->>'type' = 'memory'
        ON CONFLICT DO NOTHING RETURNING 1
    )
    SELECT count(*) INTO v_m FROM ins;
    RETURN QUERY SELECT v_w, v_n, v_m;
END
$$;
