-- Memory that stays true (issue 26), the functions: commits that collapse duplicates,
-- supersession, retraction, as_of / valid_at search, and lineage.
--
-- * memory_commit_v2 / memory_commit_many_v2: content equal (after normalisation, see
--   memory_key_v1) to a live memory of the namespace returns that memory, seen_count + 1
--   and last_seen_at now, in the same statement: the unique index
--   memory_records_live_key_idx is the ON CONFLICT arbiter, so two concurrent commits of
--   the same text give one row. A commit with the id of an existing memory updates it (as
--   before); if its new content would duplicate another live memory it is refused (IKD01),
--   and a retracted one is revived (memory_revive_v1).
-- * memory_supersede_v1: the old record gets superseded_by, superseded_at and its
--   valid_to cut to the new valid_from (its earlier valid_to kept in prior_valid_to), the
--   new one supersedes and valid_from; both in one transaction, the old row locked.
-- * memory_forget_v1: a team or org memory is retracted (retracted_at, audited, still
--   visible to as_of); a memory of the workspace's own namespace is deleted, as before.
-- * memory_search_v2 / memory_fts_keys_v2: the current, unretracted records by default;
--   p_as_of (transaction time) and p_valid_at (valid time) answer "what did the agent
--   believe then" and "what was true then" (memory_visible_v1 is the one definition).
-- * memory_history_v1: a record's lineage, oldest first.
--
-- The runtime role may no longer write the transaction-time and lineage columns itself
-- (a guard trigger): recorded_at comes from the database, retraction and supersession
-- from the definer functions above, which check the namespace ACL themselves; and it may
-- delete rows only outside team and org namespaces (a retraction there is the audited way).

-- The visibility rule, inlined by the planner (a plain SQL function, no SET clause).
-- p_tx: the transaction time asked about (now() for "currently"), p_valid: the valid time.
-- A supersession recorded after p_tx is not known at p_tx: valid_to was prior_valid_to.
CREATE FUNCTION isokron.memory_visible_v1(
    p_recorded timestamptz, p_retracted timestamptz, p_valid_from timestamptz,
    p_valid_to timestamptz, p_prior_valid_to timestamptz, p_superseded_at timestamptz,
    p_tx timestamptz, p_valid timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT p_recorded <= p_tx
       AND (p_retracted IS NULL OR p_retracted > p_tx)
       AND p_valid_from <= p_valid
       AND coalesce(CASE WHEN p_superseded_at > p_tx THEN p_prior_valid_to ELSE p_valid_to END
                    > p_valid, true)
$$;
GRANT EXECUTE ON FUNCTION isokron.memory_visible_v1(timestamptz, timestamptz, timestamptz,
    timestamptz, timestamptz, timestamptz, timestamptz, timestamptz) TO isokron_runtime;

-- One record as the stores return it.
CREATE FUNCTION isokron.memory_row_v1(r isokron.memory_records) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object(
        'id', r.id, 'namespace', r.namespace, 'content', r.content, 'kind', r.kind,
        'source', r.source, 'pin', r.pin, 'expires_at', r.expires_at,
        'created_at', r.created_at, 'recorded_at', r.recorded_at,
        'retracted_at', r.retracted_at, 'valid_from', r.valid_from, 'valid_to', r.valid_to,
        'supersedes', r.supersedes, 'superseded_by', r.superseded_by,
        'seen_count', r.seen_count, 'last_seen_at', r.last_seen_at,
        'duplicate_of', r.duplicate_of, 'user_id', r.user_id)
$$;
GRANT EXECUTE ON FUNCTION isokron.memory_row_v1(isokron.memory_records) TO isokron_runtime;

-- Transaction time and lineage are written by the database and the definer functions
-- only: a runtime login that sets them itself (an UPDATE naming them, an INSERT giving
-- them) is refused. The triggers fire only then (UPDATE OF those columns; an INSERT WHEN
-- one is given), so the commits never run them.
CREATE FUNCTION isokron.memory_lifecycle_guard_tg() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_has_role(current_user, 'isokron_runtime', 'MEMBER')
       AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'a memory''s recorded_at, retracted_at and lineage are written by '
            'isokron''s functions only (forget, supersede)' USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER memory_records_lifecycle_update
    BEFORE UPDATE OF recorded_at, retracted_at, supersedes, superseded_by, superseded_at,
                     prior_valid_to, unmerged_duplicate_of, written_by
    ON isokron.memory_records
    FOR EACH ROW EXECUTE FUNCTION isokron.memory_lifecycle_guard_tg();
CREATE TRIGGER memory_records_lifecycle_insert
    BEFORE INSERT ON isokron.memory_records
    FOR EACH ROW
    WHEN (NEW.retracted_at IS NOT NULL OR NEW.supersedes IS NOT NULL
          OR NEW.superseded_by IS NOT NULL OR NEW.superseded_at IS NOT NULL
          OR NEW.prior_valid_to IS NOT NULL OR NEW.unmerged_duplicate_of IS NOT NULL
          OR NEW.recorded_at <> now())
    EXECUTE FUNCTION isokron.memory_lifecycle_guard_tg();
GRANT UPDATE (retracted_at, superseded_by, superseded_at, valid_to, prior_valid_to,
              seen_count, last_seen_at, unmerged_duplicate_of, user_id, written_by)
    ON isokron.memory_records TO isokron_definer;
GRANT UPDATE (content_sha256) ON isokron.memory_audit TO isokron_definer;
DROP POLICY memory_records_delete ON isokron.memory_records;
CREATE POLICY memory_records_delete ON isokron.memory_records FOR DELETE
    USING (namespace = ANY ((SELECT isokron.writable_namespaces_v1())::text[])
           AND namespace NOT LIKE 'team:%' AND namespace NOT LIKE 'org:%');
CREATE POLICY memory_audit_definer_erase ON isokron.memory_audit FOR UPDATE
    TO isokron_definer USING (true) WITH CHECK (true);
CREATE POLICY memory_audit_definer_read ON isokron.memory_audit FOR SELECT
    TO isokron_definer USING (true);
GRANT SELECT ON isokron.memory_audit TO isokron_definer;

-- Revive a retracted record that is committed again by its id (the LangGraph store's put
-- after a delete): the caller has checked the namespace is writable; audited.
CREATE FUNCTION isokron.memory_revive_v1(p_workspace_id text, p_namespace text, p_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_root text;
    v_writable text[];
BEGIN
    SELECT a.writable, a.root_id INTO v_writable, v_root FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL OR NOT p_namespace = ANY (v_writable) THEN
        RAISE EXCEPTION 'workspace % may not write namespace %', quote_literal(p_workspace_id),
            quote_literal(p_namespace) USING ERRCODE = 'IKT02';
    END IF;
    UPDATE isokron.memory_records SET retracted_at = NULL
     WHERE root_id = v_root AND namespace = p_namespace AND id = p_id
       AND retracted_at IS NOT NULL;
    IF FOUND THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action)
        VALUES (v_root, p_id, p_namespace, p_workspace_id, 'revive');
    END IF;
    RETURN FOUND;
END
$$;
ALTER FUNCTION isokron.memory_revive_v1(text, text, uuid) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_revive_v1(text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_revive_v1(text, text, uuid) TO isokron_runtime;

CREATE FUNCTION isokron.memory_commit_v2(
    p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text,
    p_kind text, p_source text, p_pin boolean, p_expires_at timestamptz,
    p_valid_from timestamptz, p_valid_to timestamptz, p_user_id text) RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_access record;
    v_found record;
    v_other uuid;
    v_key text := isokron.memory_key_v1(p_content);
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
    IF NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                    WHERE m.root_id = v_access.root_id AND m.name = p_namespace) THEN
        INSERT INTO isokron.memory_namespaces (root_id, name, kind)
        VALUES (v_access.root_id, p_namespace, p_namespace_kind)
        ON CONFLICT (root_id, name) DO NOTHING;
    END IF;
    SELECT r.namespace, r.retracted_at, r.superseded_by INTO v_found
      FROM isokron.memory_records r
     WHERE r.root_id = v_access.root_id AND r.id = p_id
     ORDER BY r.namespace = p_namespace DESC LIMIT 1;
    IF v_found.namespace IS NOT NULL AND v_found.namespace <> p_namespace THEN
        RAISE EXCEPTION 'memory % already exists in another namespace (%)', p_id,
            v_found.namespace USING ERRCODE = 'IKT03';
    END IF;
    IF v_found.namespace IS NOT NULL THEN  -- an update by id
        IF v_found.superseded_by IS NOT NULL THEN
            RAISE EXCEPTION 'memory % was superseded by %: supersede the current record '
                'instead', p_id, v_found.superseded_by USING ERRCODE = 'IKS01';
        END IF;
        SELECT r.id INTO v_other FROM isokron.memory_records r
         WHERE r.root_id = v_access.root_id AND r.namespace = p_namespace
           AND r.content_key = v_key AND r.id <> p_id AND r.retracted_at IS NULL
           AND r.superseded_by IS NULL AND r.unmerged_duplicate_of IS NULL;
        IF v_other IS NOT NULL THEN
            RAISE EXCEPTION 'memory % would say what memory % of namespace % already says',
                p_id, v_other, p_namespace USING ERRCODE = 'IKD01';
        END IF;
        IF v_found.retracted_at IS NOT NULL THEN
            PERFORM isokron.memory_revive_v1(p_workspace_id, p_namespace, p_id);
        END IF;
        UPDATE isokron.memory_records r
           SET content = p_content, kind = p_kind, source = p_source, pin = p_pin,
               expires_at = p_expires_at, valid_from = coalesce(p_valid_from, r.valid_from),
               valid_to = p_valid_to, user_id = coalesce(p_user_id, r.user_id),
               updated_at = now(), last_seen_at = now()
         WHERE r.root_id = v_access.root_id AND r.namespace = p_namespace AND r.id = p_id
        RETURNING * INTO v_row;
    ELSE
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
             valid_to, user_id, written_by)
        VALUES (v_access.root_id, p_id, p_namespace, p_content, p_kind, p_source, p_pin,
                p_expires_at, coalesce(p_valid_from, now()), p_valid_to, p_user_id,
                p_workspace_id)
        ON CONFLICT (root_id, namespace, content_key)
           WHERE retracted_at IS NULL AND superseded_by IS NULL
             AND unmerged_duplicate_of IS NULL
        DO UPDATE SET seen_count = r.seen_count + 1, last_seen_at = now(),
                      pin = r.pin OR EXCLUDED.pin,
                      expires_at = CASE WHEN r.expires_at IS NULL
                                          OR EXCLUDED.expires_at IS NULL THEN NULL
                                        ELSE greatest(r.expires_at, EXCLUDED.expires_at) END
        RETURNING * INTO v_row;
    END IF;
    IF p_namespace LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_access.root_id, v_row.id, p_namespace, p_workspace_id,
                CASE WHEN v_row.id = p_id THEN 'commit' ELSE 'seen' END,
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN (isokron.memory_row_v1(v_row)::jsonb
            || jsonb_build_object('deduplicated', v_row.id <> p_id))::json;
END
$$;
GRANT EXECUTE ON FUNCTION isokron.memory_commit_v2(text, uuid, text, text, text, text, text,
    boolean, timestamptz, timestamptz, timestamptz, text) TO isokron_runtime;

-- Many commits in one call: new contents in one set-based statement (duplicates within the
-- batch and against the namespace collapse onto one row, seen_count counting each); a
-- commit by the id of an existing record goes through memory_commit_v2, one at a time,
-- each error reported for its item alone.
CREATE FUNCTION isokron.memory_commit_many_v2(
    p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[],
    p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[],
    p_expires_at timestamptz[], p_valid_from timestamptz[], p_valid_to timestamptz[],
    p_user_ids text[]) RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_writable text[];
    v_root text;
    v_slow bigint[];
    v_done jsonb;
    v_item record;
    v_state text;
    v_message text;
    v_out jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.writable, a.root_id INTO v_writable, v_root FROM isokron.namespace_access_v2() a;
    IF v_writable IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    -- Sort the items: refused (not writable, an id of another namespace), slow (the id of
    -- an existing record, or an id repeated in the batch: an update), and new.
    WITH input AS (
        SELECT u.ord, u.id, u.ns FROM unnest(p_ids, p_namespaces) WITH ORDINALITY
                                      AS u(id, ns, ord)
    ), sorted AS (
        SELECT i.ord, i.id, i.ns, e.namespace AS found,
               CASE WHEN NOT i.ns = ANY (v_writable) THEN 'IKT02'
                    WHEN e.namespace IS NOT NULL AND e.namespace <> i.ns THEN 'IKT03' END
                   AS code,
               e.namespace IS NOT NULL
               OR i.ord > min(i.ord) OVER (PARTITION BY i.id, i.ns) AS slow
          FROM input i
          LEFT JOIN LATERAL (SELECT r.namespace FROM isokron.memory_records r
                              WHERE r.root_id = v_root AND r.id = i.id
                              ORDER BY r.namespace = i.ns DESC LIMIT 1) e ON true
    )
    SELECT coalesce(array_agg(s.ord) FILTER (WHERE s.code IS NULL AND s.slow), '{}'),
           coalesce(jsonb_object_agg(s.ord, jsonb_build_object('error', jsonb_build_object(
               'code', s.code, 'message', CASE WHEN s.code = 'IKT02' THEN format(
                   'workspace %L may not write namespace %L (writable: %s)', p_workspace_id,
                   s.ns, array_to_string(v_writable, ', '))
               ELSE format('memory %s already exists in another namespace (%s)', s.id,
                           s.found) END))) FILTER (WHERE s.code IS NOT NULL), '{}')
      INTO v_slow, v_done FROM sorted s;
    INSERT INTO isokron.memory_namespaces (root_id, name, kind)
    SELECT DISTINCT v_root, u.ns, u.nk
      FROM unnest(p_namespaces, p_namespace_kinds) WITH ORDINALITY AS u(ns, nk, ord)
     WHERE NOT v_done ? u.ord::text
       AND NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                        WHERE m.root_id = v_root AND m.name = u.ns)
    ON CONFLICT (root_id, name) DO NOTHING;
    -- The new contents in one statement: duplicates within the batch collapse onto the first
    -- (seen_count counting each), duplicates of a live record onto that record.
    WITH input AS (
        SELECT u.*, isokron.memory_key_v1(u.content) AS key
          FROM unnest(p_ids, p_namespaces, p_contents, p_kinds, p_sources, p_pins,
                      p_expires_at, p_valid_from, p_valid_to, p_user_ids) WITH ORDINALITY
               AS u(id, ns, content, kind, source, pin, exp, vfrom, vto, uid, ord)
         WHERE NOT v_done ? u.ord::text AND NOT u.ord = ANY (v_slow)
    ), groups AS (
        SELECT DISTINCT ON (i.ns, i.key) i.*, count(*) OVER (PARTITION BY i.ns, i.key) AS n
          FROM input i
         ORDER BY i.ns, i.key, i.ord
    ), written AS (
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
             valid_to, user_id, written_by, seen_count)
        SELECT v_root, g.id, g.ns, g.content, g.kind, g.source, g.pin, g.exp,
               coalesce(g.vfrom, now()), g.vto, g.uid, p_workspace_id, g.n
          FROM groups g
        ON CONFLICT (root_id, namespace, content_key)
           WHERE retracted_at IS NULL AND superseded_by IS NULL
             AND unmerged_duplicate_of IS NULL
        DO UPDATE SET seen_count = r.seen_count + EXCLUDED.seen_count, last_seen_at = now(),
                      pin = r.pin OR EXCLUDED.pin,
                      expires_at = CASE WHEN r.expires_at IS NULL
                                          OR EXCLUDED.expires_at IS NULL THEN NULL
                                        ELSE greatest(r.expires_at, EXCLUDED.expires_at) END
        RETURNING r.*
    ), audited AS (
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT v_root, w.id, i.ns, p_workspace_id,
               CASE WHEN w.id = i.id THEN 'commit' ELSE 'seen' END,
               encode(sha256(convert_to(i.content, 'UTF8')), 'hex')
          FROM input i JOIN written w ON w.namespace = i.ns AND w.content_key = i.key
         WHERE i.ns LIKE 'org:%'
    )
    SELECT v_done || coalesce(jsonb_object_agg(i.ord, jsonb_build_object('row',
               isokron.memory_row_v1(w::isokron.memory_records)::jsonb
               || jsonb_build_object('deduplicated', w.id <> i.id))), '{}')
      INTO v_done
      FROM input i JOIN written w ON w.namespace = i.ns AND w.content_key = i.key;
    -- Updates by id, in order, each on its own: an error refuses that item alone (a quota
    -- refuses the call: the caller then writes its items one by one).
    FOR v_item IN
        SELECT u.* FROM unnest(p_ids, p_namespaces, p_namespace_kinds, p_contents, p_kinds,
                               p_sources, p_pins, p_expires_at, p_valid_from, p_valid_to,
                               p_user_ids) WITH ORDINALITY
                        AS u(id, ns, nk, content, kind, source, pin, exp, vfrom, vto, uid, ord)
         WHERE u.ord = ANY (v_slow) ORDER BY u.ord
    LOOP
        BEGIN
            v_done := v_done || jsonb_build_object(v_item.ord::text, jsonb_build_object(
                'row', isokron.memory_commit_v2(p_workspace_id, v_item.id, v_item.ns,
                    v_item.nk, v_item.content, v_item.kind, v_item.source, v_item.pin,
                    v_item.exp, v_item.vfrom, v_item.vto, v_item.uid)::jsonb));
        EXCEPTION WHEN sqlstate 'IKQ01' THEN
            RAISE;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            v_done := v_done || jsonb_build_object(v_item.ord::text, jsonb_build_object(
                'error', jsonb_build_object('code', v_state, 'message', v_message)));
        END;
    END LOOP;
    SELECT jsonb_agg(v_done -> n::text ORDER BY n) INTO v_out
      FROM generate_series(1, coalesce(cardinality(p_ids), 0)) n;
    RETURN coalesce(v_out, '[]'::jsonb)::json;
END
$$;
GRANT EXECUTE ON FUNCTION isokron.memory_commit_many_v2(text, uuid[], text[], text[], text[],
    text[], text[], boolean[], timestamptz[], timestamptz[], timestamptz[], text[])
    TO isokron_runtime;

CREATE FUNCTION isokron.memory_supersede_v1(
    p_workspace_id text, p_old_id uuid, p_id uuid, p_content text, p_source text,
    p_valid_from timestamptz, p_user_id text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_readable text[];
    v_writable text[];
    v_root text;
    v_old isokron.memory_records;
    v_new isokron.memory_records;
    v_from timestamptz := coalesce(p_valid_from, now());
    v_other uuid;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable, a.root_id INTO v_readable, v_writable, v_root
      FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    SELECT * INTO v_old FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.id = p_old_id AND r.namespace = ANY (v_readable)
     FOR UPDATE;
    IF NOT FOUND OR v_old.retracted_at IS NOT NULL THEN
        RAISE EXCEPTION 'memory % does not exist%', p_old_id,
            CASE WHEN FOUND THEN ' (it was retracted)' ELSE '' END USING ERRCODE = 'IKN02';
    END IF;
    IF NOT v_old.namespace = ANY (v_writable) THEN
        RAISE EXCEPTION 'workspace % may not supersede memory % (namespace % is not one it '
            'can write)', quote_literal(p_workspace_id), p_old_id, quote_literal(v_old.namespace)
            USING ERRCODE = 'IKT02';
    END IF;
    IF v_old.superseded_by IS NOT NULL THEN
        RAISE EXCEPTION 'memory % was already superseded by %', p_old_id, v_old.superseded_by
            USING ERRCODE = 'IKS01';
    END IF;
    IF v_from <= v_old.valid_from THEN
        RAISE EXCEPTION 'valid_from % must be after the old record''s valid_from %', v_from,
            v_old.valid_from USING ERRCODE = '22023';
    END IF;
    IF isokron.memory_key_v1(p_content) = v_old.content_key THEN
        RAISE EXCEPTION 'the new content says what memory % already says', p_old_id
            USING ERRCODE = '22023';
    END IF;
    SELECT r.id INTO v_other FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.namespace = v_old.namespace
       AND r.content_key = isokron.memory_key_v1(p_content) AND r.retracted_at IS NULL
       AND r.superseded_by IS NULL AND r.unmerged_duplicate_of IS NULL;
    IF v_other IS NOT NULL THEN
        RAISE EXCEPTION 'the new content says what memory % of namespace % already says',
            v_other, v_old.namespace USING ERRCODE = 'IKD01';
    END IF;
    UPDATE isokron.memory_records r
       SET superseded_by = p_id, superseded_at = now(), prior_valid_to = r.valid_to,
           valid_to = CASE WHEN r.valid_to IS NULL OR r.valid_to > v_from THEN v_from
                           ELSE r.valid_to END
     WHERE r.root_id = v_root AND r.namespace = v_old.namespace AND r.id = p_old_id
    RETURNING * INTO v_old;
    INSERT INTO isokron.memory_records
        (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
         supersedes, user_id, written_by)
    VALUES (v_root, p_id, v_old.namespace, p_content, v_old.kind, p_source, v_old.pin,
            v_old.expires_at, v_from, p_old_id, p_user_id, p_workspace_id)
    RETURNING * INTO v_new;
    IF v_old.namespace LIKE 'org:%' OR v_old.namespace LIKE 'team:%' THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_root, p_id, v_old.namespace, p_workspace_id, 'supersede',
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN json_build_object('new', isokron.memory_row_v1(v_new),
                             'old', isokron.memory_row_v1(v_old));
END
$$;
ALTER FUNCTION isokron.memory_supersede_v1(text, uuid, uuid, text, text, timestamptz, text)
    OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_supersede_v1(text, uuid, uuid, text, text, timestamptz,
    text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_supersede_v1(text, uuid, uuid, text, text,
    timestamptz, text) TO isokron_runtime;

-- Forget: a team or org memory is retracted (kept for as_of, audited), a memory of the
-- workspace's own (or a custom) namespace is deleted. Returns the namespace and the action.
CREATE FUNCTION isokron.memory_forget_v1(p_workspace_id text, p_id uuid, p_namespace text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_readable text[];
    v_writable text[];
    v_root text;
    v_row record;
    v_action text;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable, a.root_id INTO v_readable, v_writable, v_root
      FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    SELECT r.namespace, r.content, r.retracted_at INTO v_row FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.id = p_id AND r.namespace = ANY (v_readable)
     ORDER BY r.namespace = ANY (v_writable) DESC,
              r.namespace IS NOT DISTINCT FROM p_namespace DESC
     LIMIT 1 FOR UPDATE;
    IF NOT FOUND OR v_row.retracted_at IS NOT NULL
       OR (p_namespace IS NOT NULL AND v_row.namespace <> p_namespace
           AND v_row.namespace = ANY (v_writable)) THEN
        RAISE EXCEPTION 'memory % does not exist%', p_id,
            CASE WHEN p_namespace IS NOT NULL THEN format(' in namespace %L', p_namespace)
                 ELSE '' END USING ERRCODE = 'IKN02';
    END IF;
    IF NOT v_row.namespace = ANY (v_writable)
       OR (p_namespace IS NOT NULL AND v_row.namespace <> p_namespace) THEN
        RAISE EXCEPTION 'workspace % may not forget memory % (it is not in a namespace this '
            'workspace can write)', quote_literal(p_workspace_id), p_id USING ERRCODE = 'IKT02';
    END IF;
    IF v_row.namespace LIKE 'team:%' OR v_row.namespace LIKE 'org:%' THEN
        UPDATE isokron.memory_records SET retracted_at = now()
         WHERE root_id = v_root AND namespace = v_row.namespace AND id = p_id;
        v_action := 'retract';
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_root, p_id, v_row.namespace, p_workspace_id, 'forget',
                encode(sha256(convert_to(v_row.content, 'UTF8')), 'hex'));
    ELSE
        DELETE FROM isokron.memory_records
         WHERE root_id = v_root AND namespace = v_row.namespace AND id = p_id;
        v_action := 'delete';
    END IF;
    RETURN json_build_object('namespace', v_row.namespace, 'action', v_action);
END
$$;
ALTER FUNCTION isokron.memory_forget_v1(text, uuid, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_forget_v1(text, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_forget_v1(text, uuid, text) TO isokron_runtime;

-- The lineage of one record (both ways along supersedes / superseded_by), oldest first;
-- every version, retracted or not, in the namespaces the workspace can read.
CREATE FUNCTION isokron.memory_history_v1(p_workspace_id text, p_id uuid) RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_out json;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RETURN NULL;
    END IF;
    WITH RECURSIVE back AS (
        SELECT r.namespace, r.id, r.supersedes, 0 AS depth FROM isokron.memory_records r
         WHERE r.root_id = v_root AND r.id = p_id AND r.namespace = ANY (v_readable)
        UNION ALL
        SELECT r.namespace, r.id, r.supersedes, b.depth - 1 FROM back b
          JOIN isokron.memory_records r
            ON r.root_id = v_root AND r.namespace = b.namespace AND r.id = b.supersedes
         WHERE b.depth > -1000
    ), forth AS (
        SELECT r.namespace, r.id, r.superseded_by, 0 AS depth FROM isokron.memory_records r
         WHERE r.root_id = v_root AND r.id = p_id AND r.namespace = ANY (v_readable)
        UNION ALL
        SELECT r.namespace, r.id, r.superseded_by, f.depth + 1 FROM forth f
          JOIN isokron.memory_records r
            ON r.root_id = v_root AND r.namespace = f.namespace AND r.id = f.superseded_by
         WHERE f.depth < 1000
    ), lineage AS (
        SELECT namespace, id, depth FROM back UNION SELECT namespace, id, depth FROM forth
    )
    SELECT json_agg(isokron.memory_row_v1(r) ORDER BY l.depth) INTO v_out
      FROM lineage l
      JOIN isokron.memory_records r
        ON r.root_id = v_root AND r.namespace = l.namespace AND r.id = l.id;
    RETURN coalesce(v_out, '[]'::json);
END
$$;
GRANT EXECUTE ON FUNCTION isokron.memory_history_v1(text, uuid) TO isokron_runtime;

-- Search keys from the GIN index, the visible records only (memory_fts_keys_v1 with the
-- validity rule; p_tx / p_valid as in memory_visible_v1).
CREATE FUNCTION isokron.memory_fts_keys_v2(p_namespaces text[], p_query text, p_kinds text[],
                                           p_limit integer, p_tx timestamptz,
                                           p_valid timestamptz)
RETURNS TABLE(namespace text, id uuid, rank real)
LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 20
SET plan_cache_mode = force_custom_plan
SET search_path = pg_catalog, pg_temp
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
       AND (r.expires_at IS NULL OR r.expires_at > p_tx)
       AND isokron.memory_visible_v1(r.recorded_at, r.retracted_at, r.valid_from, r.valid_to,
                                     r.prior_valid_to, r.superseded_at, p_tx, p_valid)
       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
     ORDER BY r.pin DESC, 3 DESC, r.created_at DESC
     LIMIT p_limit;
END
$$;
ALTER FUNCTION isokron.memory_fts_keys_v2(text[], text, text[], integer, timestamptz,
    timestamptz) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_fts_keys_v2(text[], text, text[], integer, timestamptz,
    timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_fts_keys_v2(text[], text, text[], integer,
    timestamptz, timestamptz) TO isokron_runtime;

-- memory_search_v1 with the validity rule: current records by default; p_as_of
-- (transaction time) and p_valid_at (valid time) for what was believed / true then.
CREATE FUNCTION isokron.memory_search_v2(p_workspace_id text, p_namespaces text[],
                                         p_kinds text[], p_limit integer, p_mode text,
                                         p_query text, p_as_of timestamptz,
                                         p_valid_at timestamptz)
RETURNS json
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_rows json;
    v_tx timestamptz := coalesce(p_as_of, now());
    v_valid timestamptz := coalesce(p_valid_at, p_as_of, now());
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
        RETURN json_build_object('readable', to_json(v_readable), 'rows', '[]'::json);
    END IF;
    IF p_mode = 'recent' AND p_as_of IS NULL AND p_valid_at IS NULL THEN
        -- The usual case: one index-ordered lookup per namespace over the unretracted rows
        -- (memory_records_current_idx), newest first.
        SELECT json_agg(isokron.memory_row_v1(x) ORDER BY x.pin DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.*
                  FROM unnest(v_wanted) AS ns(name)
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = v_root AND n.name = ns.name
                   AND (n.expires_at IS NULL OR n.expires_at > now())
                 CROSS JOIN LATERAL (
                    SELECT * FROM isokron.memory_records r
                     WHERE r.root_id = v_root AND r.namespace = ns.name
                       AND r.retracted_at IS NULL
                       AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
                       AND (r.expires_at IS NULL OR r.expires_at > now())
                       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                     ORDER BY r.pin DESC, r.created_at DESC
                     LIMIT p_limit) r
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSIF p_mode = 'recent' THEN
        SELECT json_agg(isokron.memory_row_v1(x) ORDER BY x.pin DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.*
                  FROM unnest(v_wanted) AS ns(name)
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = v_root AND n.name = ns.name
                   AND (n.expires_at IS NULL OR n.expires_at > v_tx)
                 CROSS JOIN LATERAL (
                    SELECT * FROM isokron.memory_records r
                     WHERE r.root_id = v_root AND r.namespace = ns.name
                       AND isokron.memory_visible_v1(r.recorded_at, r.retracted_at,
                               r.valid_from, r.valid_to, r.prior_valid_to, r.superseded_at,
                               v_tx, v_valid)
                       AND (r.expires_at IS NULL OR r.expires_at > v_tx)
                       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                     ORDER BY r.pin DESC, r.created_at DESC
                     LIMIT p_limit) r
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSIF p_mode = 'fts' THEN
        SELECT json_agg(isokron.memory_row_v1(r) ORDER BY r.pin DESC, k.rank DESC,
                        r.created_at DESC)
          INTO v_rows
          FROM isokron.memory_fts_keys_v2(
                   ARRAY(SELECT n.name FROM isokron.memory_namespaces n
                          WHERE n.root_id = v_root AND n.name = ANY (v_wanted)
                            AND (n.expires_at IS NULL OR n.expires_at > v_tx)),
                   p_query, p_kinds, p_limit, v_tx, v_valid) k
          JOIN isokron.memory_records r
            ON r.root_id = v_root AND r.namespace = k.namespace AND r.id = k.id;
    ELSIF p_mode = 'like' THEN
        SELECT json_agg(isokron.memory_row_v1(x) ORDER BY x.pin DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.*
                  FROM isokron.memory_records r
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = r.root_id AND n.name = r.namespace
                 WHERE r.root_id = v_root
                   AND r.namespace = ANY (v_wanted)
                   AND isokron.memory_visible_v1(r.recorded_at, r.retracted_at, r.valid_from,
                           r.valid_to, r.prior_valid_to, r.superseded_at, v_tx, v_valid)
                   AND (r.expires_at IS NULL OR r.expires_at > v_tx)
                   AND (n.expires_at IS NULL OR n.expires_at > v_tx)
                   AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                   AND r.content ILIKE '%' || p_query || '%' ESCAPE '\'
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSE
        RAISE EXCEPTION 'unknown search mode %', quote_literal(p_mode)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN json_build_object('readable', to_json(v_readable),
                             'rows', coalesce(v_rows, '[]'::json));
END
$$;
GRANT EXECUTE ON FUNCTION isokron.memory_search_v2(text, text[], text[], integer, text, text,
    timestamptz, timestamptz) TO isokron_runtime;

-- Legacy duplicates the migration marked: report them; fold them on request (the owner's
-- or operator's step: `isokron memory dedup [--merge]`).
CREATE FUNCTION isokron.memory_duplicates_v1(p_merge boolean)
RETURNS TABLE(root_id text, namespace text, keeper uuid, duplicates bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_merge THEN
        UPDATE isokron.memory_records k
           SET seen_count = k.seen_count + d.n, last_seen_at = greatest(k.last_seen_at, d.last)
          FROM (SELECT r.root_id, r.namespace, r.unmerged_duplicate_of AS keeper,
                       sum(r.seen_count) AS n, max(r.last_seen_at) AS last
                  FROM isokron.memory_records r WHERE r.unmerged_duplicate_of IS NOT NULL
                 GROUP BY 1, 2, 3) d
         WHERE k.root_id = d.root_id AND k.namespace = d.namespace AND k.id = d.keeper;
        RETURN QUERY
        WITH gone AS (
            DELETE FROM isokron.memory_records r WHERE r.unmerged_duplicate_of IS NOT NULL
            RETURNING r.root_id, r.namespace, r.unmerged_duplicate_of
        )
        SELECT g.root_id, g.namespace, g.unmerged_duplicate_of, count(*)
          FROM gone g GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.root_id, r.namespace, r.unmerged_duplicate_of, count(*)
      FROM isokron.memory_records r WHERE r.unmerged_duplicate_of IS NOT NULL
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
END
$$;
ALTER FUNCTION isokron.memory_duplicates_v1(boolean) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_duplicates_v1(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_duplicates_v1(boolean) TO isokron_sweeper;

-- Export what the tree currently holds as true: retracted and superseded records (history)
-- and the duplicates an upgrade marked stay behind, so an import never revives a retracted
-- fact; valid time travels with each memory.
CREATE FUNCTION isokron.export_memory_v2(p_workspace_id text) RETURNS SETOF json
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
                             'created_at', r.created_at, 'valid_from', r.valid_from,
                             'valid_to', r.valid_to)
      FROM isokron.memory_records r
     WHERE r.namespace IN (SELECT name FROM names)
       AND r.retracted_at IS NULL AND r.superseded_by IS NULL
       AND r.unmerged_duplicate_of IS NULL;
END
$$;
ALTER FUNCTION isokron.export_memory_v2(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.export_memory_v2(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.export_memory_v2(text) TO isokron_sweeper;
