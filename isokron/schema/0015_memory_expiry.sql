-- Expiry is enforced, not only hidden: memories and namespaces past expires_at (plus a
-- grace period) are deleted by the sweeper; deletions in org: namespaces are audited.
CREATE INDEX memory_records_expires_idx ON isokron.memory_records (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX memory_namespaces_expires_idx ON isokron.memory_namespaces (expires_at)
    WHERE expires_at IS NOT NULL;

-- The definer deletes across workspaces (like the delegation sweep); only isokron_sweeper
-- may run it.
CREATE POLICY memory_records_definer_expiry ON isokron.memory_records FOR DELETE
    TO isokron_definer USING (true);
CREATE POLICY memory_namespaces_definer_expiry ON isokron.memory_namespaces FOR ALL
    TO isokron_definer USING (true) WITH CHECK (true);
CREATE POLICY memory_audit_definer_expiry ON isokron.memory_audit FOR INSERT
    TO isokron_definer WITH CHECK (true);
GRANT DELETE ON isokron.memory_records TO isokron_definer;
GRANT SELECT, DELETE ON isokron.memory_namespaces TO isokron_definer;
GRANT INSERT ON isokron.memory_audit TO isokron_definer;
GRANT USAGE ON SEQUENCE isokron.memory_audit_id_seq TO isokron_definer;

CREATE FUNCTION isokron.sweep_memory_expiry_v1(p_grace_s double precision)
RETURNS TABLE (memories_deleted bigint, namespaces_deleted bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_records bigint;
    v_namespaces bigint;
BEGIN
    IF p_grace_s IS NULL OR p_grace_s < 0 OR p_grace_s = 'Infinity'::double precision THEN
        RAISE EXCEPTION 'grace must be a non-negative number of seconds, got %',
            quote_nullable(p_grace_s) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH gone AS (
        DELETE FROM isokron.memory_records r
         WHERE r.expires_at < now() - make_interval(secs => p_grace_s)
        RETURNING r.id, r.namespace, r.content
    ), audited AS (
        INSERT INTO isokron.memory_audit (memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT g.id, g.namespace, substr(g.namespace, 5), 'expire',
               encode(sha256(convert_to(g.content, 'UTF8')), 'hex')
          FROM gone g WHERE g.namespace LIKE 'org:%'
    )
    SELECT count(*) INTO v_records FROM gone;
    WITH gone AS (
        DELETE FROM isokron.memory_namespaces n
         WHERE n.expires_at < now() - make_interval(secs => p_grace_s)
        RETURNING n.name
    ), audited AS (
        INSERT INTO isokron.memory_audit (namespace, workspace_id, action)
        SELECT g.name, substr(g.name, 5), 'expire_namespace' FROM gone g
         WHERE g.name LIKE 'org:%'
    )
    SELECT count(*) INTO v_namespaces FROM gone;
    RETURN QUERY SELECT v_records, v_namespaces;
END
$$;
ALTER FUNCTION isokron.sweep_memory_expiry_v1(double precision) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.sweep_memory_expiry_v1(double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.sweep_memory_expiry_v1(double precision) TO isokron_sweeper;
