-- Export and import of a workspace tree's memory (operator: isokron_sweeper members).
-- export: the tree's workspaces, the namespaces any member can read (each member's private
-- namespace, shared ones once) and their memories, as one JSON document per row.
CREATE FUNCTION isokron.export_memory_v1(p_workspace_id text)
RETURNS SETOF json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_root text;
BEGIN
    WITH RECURSIVE up(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = p_workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, u.depth + 1 FROM isokron.workspaces w
          JOIN up u ON w.workspace_id = u.parent WHERE u.depth < 50
    )
    SELECT u.id INTO v_root FROM up u ORDER BY u.depth DESC LIMIT 1;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    RETURN QUERY
    WITH RECURSIVE tree(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = v_root
        UNION ALL
        SELECT w.workspace_id, w.parent_id, t.depth + 1 FROM isokron.workspaces w
          JOIN tree t ON w.parent_id = t.id WHERE t.depth < 50
    ), names AS (
        SELECT 'workspace:' || t.id AS name FROM tree t
        UNION SELECT 'team:' || coalesce(t.parent, t.id) FROM tree t
        UNION SELECT 'org:' || v_root
    )
    SELECT json_build_object('type', 'workspace', 'workspace_id', t.id, 'parent_id', t.parent)
      FROM tree t
    UNION ALL
    SELECT json_build_object('type', 'namespace', 'name', n.name, 'kind', n.kind,
                             'expires_at', n.expires_at, 'metadata', n.metadata)
      FROM isokron.memory_namespaces n WHERE n.name IN (SELECT name FROM names)
    UNION ALL
    SELECT json_build_object('type', 'memory', 'id', r.id, 'namespace', r.namespace,
                             'content', r.content, 'kind', r.kind, 'source', r.source,
                             'pin', r.pin, 'expires_at', r.expires_at,
                             'created_at', r.created_at)
      FROM isokron.memory_records r WHERE r.namespace IN (SELECT name FROM names);
END
$$;
ALTER FUNCTION isokron.export_memory_v1(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.export_memory_v1(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.export_memory_v1(text) TO isokron_sweeper;

-- import: idempotent (ids kept; existing rows are left as they are).
CREATE POLICY workspaces_definer_import ON isokron.workspaces FOR INSERT
    TO isokron_definer WITH CHECK (true);
CREATE POLICY memory_records_definer_import ON isokron.memory_records FOR INSERT
    TO isokron_definer WITH CHECK (true);
GRANT INSERT ON isokron.workspaces TO isokron_definer;
GRANT INSERT ON isokron.memory_namespaces, isokron.memory_records TO isokron_definer;

CREATE FUNCTION isokron.import_memory_v1(p_items json)
RETURNS TABLE (workspaces bigint, namespaces bigint, memories bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_w bigint;
    v_n bigint;
    v_m bigint;
BEGIN
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
ALTER FUNCTION isokron.import_memory_v1(json) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.import_memory_v1(json) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.import_memory_v1(json) TO isokron_sweeper;
