-- Batched memory commits: the commits a process issues in the same event-loop tick for one
-- workspace are written by one call (set-based; RLS applies as for single commits).
-- Returns one result per input, in order: {"row": {...}} or {"error": {"code", "message"}}
-- (code IKT02: namespace not writable, IKT03: id lives in another namespace). Repeated
-- (namespace, id) pairs in one batch: the last one wins and every occurrence gets its row.

CREATE FUNCTION isokron.memory_commit_many_v1(
    p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[],
    p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[],
    p_expires_at timestamptz[]
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_writable text[];
    v_out jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.writable INTO v_writable FROM isokron.namespace_access_v1() a;
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
                              WHERE r.id = i.id AND r.namespace <> i.ns LIMIT 1) e ON true
    ), namespaces AS (
        INSERT INTO isokron.memory_namespaces (name, kind)
        SELECT DISTINCT c.ns, c.nk FROM checked c
         WHERE c.code IS NULL
           AND NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m WHERE m.name = c.ns)
        ON CONFLICT (name) DO NOTHING
    ), written AS (
        INSERT INTO isokron.memory_records AS r
            (id, namespace, content, kind, source, pin, expires_at)
        SELECT DISTINCT ON (c.ns, c.id) c.id, c.ns, c.content, c.kind, c.source, c.pin, c.exp
          FROM checked c
         WHERE c.code IS NULL
         ORDER BY c.ns, c.id, c.ord DESC
        ON CONFLICT (namespace, id) DO UPDATE
           SET content = EXCLUDED.content, kind = EXCLUDED.kind, source = EXCLUDED.source,
               pin = EXCLUDED.pin, expires_at = EXCLUDED.expires_at, updated_at = now()
        RETURNING r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                  r.created_at
    ), audited AS (
        INSERT INTO isokron.memory_audit (memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT c.id, c.ns, p_workspace_id, 'commit',
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
REVOKE ALL ON FUNCTION isokron.memory_commit_many_v1(
    text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamptz[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_commit_many_v1(
    text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamptz[])
    TO isokron_runtime;
