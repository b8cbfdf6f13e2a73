-- Who a memory came from is not the runtime's to rewrite (issue 26, from the hostile
-- review): erasure finds a user's memories by (written_by, user_id), so a runtime login
-- that could move either would hide a memory from its user's erasure.
--   * user_id, once set, never changes through the runtime: a commit by the id of another
--     user's memory (NamespaceMemory.commit(..., id=, user_id=)) and a raw UPDATE are
--     refused (42501); a memory without a user may be claimed once.
--   * written_by on a row the runtime inserts is the workspace of the transaction's tenant
--     context (the signed token's, with a context key): a raw INSERT naming another
--     workspace, or a user without its writer, is refused. Checked once per statement over
--     the inserted rows, so a batch commit pays for one check.
-- The definer functions (supersede, import) and the owner are not runtime members and are
-- not checked here (they check the namespace ACL themselves).

CREATE FUNCTION isokron.memory_claimed_guard_tg() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_has_role(current_user, 'isokron_runtime', 'MEMBER')
       AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'memory % was written on behalf of another user: it may not be '
            'taken over (commit a memory of your own)', OLD.id USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER memory_records_user_claimed
    BEFORE UPDATE OF user_id ON isokron.memory_records
    FOR EACH ROW
    WHEN (OLD.user_id IS NOT NULL AND NEW.user_id IS DISTINCT FROM OLD.user_id)
    EXECUTE FUNCTION isokron.memory_claimed_guard_tg();

CREATE FUNCTION isokron.memory_writer_guard_tg() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_writer text;
    v_bad text;
BEGIN
    IF NOT pg_has_role(current_user, 'isokron_runtime', 'MEMBER')
       OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RETURN NULL;
    END IF;
    v_writer := (SELECT isokron.context_workspace_v1());
    SELECT a.written_by INTO v_bad FROM added a
     WHERE (a.written_by IS NOT NULL OR a.user_id IS NOT NULL)
       AND a.written_by IS DISTINCT FROM v_writer
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a memory''s written_by is the workspace that writes it (%), not %',
            coalesce(quote_literal(v_writer), 'none'), coalesce(quote_literal(v_bad), 'NULL')
            USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER memory_records_writer
    AFTER INSERT ON isokron.memory_records
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION isokron.memory_writer_guard_tg();
