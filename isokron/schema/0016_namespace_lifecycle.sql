-- Namespace lifecycle: a workspace may delete a namespace it can write (its memories go
-- with it: the foreign key cascades); an operator purges a removed workspace.
CREATE POLICY memory_namespaces_delete ON isokron.memory_namespaces FOR DELETE
    USING (name = ANY ((SELECT isokron.writable_namespaces_v1())::text[]));
GRANT DELETE ON isokron.memory_namespaces TO isokron_runtime;

-- purge_workspace_v1: the workspace's own namespace goes; a team: or org: namespace goes
-- only when no other workspace of the tree still reads it. Run by an operator (a member
-- of isokron_sweeper), across workspaces, so SECURITY DEFINER; org deletions audited.
CREATE FUNCTION isokron.purge_workspace_v1(p_workspace_id text)
RETURNS TABLE (namespace text, memories bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_mine text[];
    v_name text;
    v_others boolean;
    v_count bigint;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable INTO v_mine FROM isokron.namespace_access_v1() a;
    IF v_mine IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    FOREACH v_name IN ARRAY v_mine LOOP
        v_others := false;
        -- Does another workspace still read it? (The ACL's rules, from the tree.)
        IF v_name LIKE 'team:%' THEN
            SELECT EXISTS (
                SELECT 1 FROM isokron.workspaces w
                 WHERE w.workspace_id <> p_workspace_id
                   AND (w.parent_id = substr(v_name, 6)
                        OR (w.workspace_id = substr(v_name, 6) AND w.parent_id IS NULL)))
              INTO v_others;
        ELSIF v_name LIKE 'org:%' THEN
            WITH RECURSIVE tree(id, depth) AS (
                SELECT substr(v_name, 5), 0
                UNION ALL
                SELECT w.workspace_id, t.depth + 1 FROM isokron.workspaces w
                  JOIN tree t ON w.parent_id = t.id WHERE t.depth < 50
            )
            SELECT EXISTS (SELECT 1 FROM tree t JOIN isokron.workspaces w
                             ON w.workspace_id = t.id WHERE t.id <> p_workspace_id)
              INTO v_others;
        END IF;
        CONTINUE WHEN v_others;
        SELECT count(*) INTO v_count FROM isokron.memory_records r WHERE r.namespace = v_name;
        DELETE FROM isokron.memory_namespaces n WHERE n.name = v_name;
        IF FOUND THEN
            IF v_name LIKE 'org:%' THEN
                INSERT INTO isokron.memory_audit (namespace, workspace_id, action)
                VALUES (v_name, p_workspace_id, 'purge_namespace');
            END IF;
            namespace := v_name;
            memories := v_count;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
ALTER FUNCTION isokron.purge_workspace_v1(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.purge_workspace_v1(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.purge_workspace_v1(text) TO isokron_sweeper;
GRANT SELECT ON isokron.memory_records TO isokron_definer;
