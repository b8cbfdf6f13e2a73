-- Memory commits with one tree walk (issue 27): memory_commit_v2 / memory_commit_many_v2
-- ran as the runtime role, so after their own ACL check (namespace_access_v2) the
-- row-level security of memory_records walked the workspace tree again for the INSERT's
-- WITH CHECK, and the attribution triggers of 0036 ran on top. v3 are SECURITY DEFINER
-- functions (owned by isokron_definer, as supersede and forget are) that make every check
-- themselves, once: the namespace is one the context's workspace may write (the tree walked
-- once), the workspace named is the context's own (so written_by is what 0036 requires),
-- a commit by id may not take over another user's memory (as 0036's trigger refuses), and
-- the reply is built in one json_build_object. Everything else is v2's, line for line. The
-- runtime role keeps its own RLS for raw SQL; v2 stay installed.

GRANT UPDATE (content, kind, source, pin, expires_at, valid_from, valid_to, updated_at)
    ON isokron.memory_records TO isokron_definer;

CREATE FUNCTION isokron.memory_commit_v3(
    p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text,
    p_kind text, p_source text, p_pin boolean, p_expires_at timestamptz,
    p_valid_from timestamptz, p_valid_to timestamptz, p_user_id text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
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
    IF p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'workspace % is not the workspace of this transaction''s context',
            quote_literal(p_workspace_id) USING ERRCODE = '42501';
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
    SELECT r.namespace, r.retracted_at, r.superseded_by, r.user_id INTO v_found
      FROM isokron.memory_records r
     WHERE r.root_id = v_access.root_id AND r.id = p_id
       AND r.namespace = ANY (v_access.readable)  -- as v2's RLS saw it: never a sibling's
     ORDER BY r.namespace = p_namespace DESC LIMIT 1;
    IF v_found.namespace IS NOT NULL AND v_found.namespace <> p_namespace THEN
        RAISE EXCEPTION 'memory % already exists in another namespace (%)', p_id,
            v_found.namespace USING ERRCODE = 'IKT03';
    END IF;
    IF v_found.namespace IS NOT NULL THEN  -- an update by id
        IF v_found.user_id IS NOT NULL AND p_user_id IS DISTINCT FROM v_found.user_id
           AND p_user_id IS NOT NULL THEN
            RAISE EXCEPTION 'memory % was written on behalf of another user: it may not be '
                'taken over (commit a memory of your own)', p_id USING ERRCODE = '42501';
        END IF;
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
    RETURN json_build_object(
        'id', v_row.id, 'namespace', v_row.namespace, 'content', v_row.content,
        'kind', v_row.kind, 'source', v_row.source, 'pin', v_row.pin,
        'expires_at', v_row.expires_at, 'created_at', v_row.created_at,
        'recorded_at', v_row.recorded_at, 'retracted_at', v_row.retracted_at,
        'valid_from', v_row.valid_from, 'valid_to', v_row.valid_to,
        'supersedes', v_row.supersedes, 'superseded_by', v_row.superseded_by,
        'seen_count', v_row.seen_count, 'last_seen_at', v_row.last_seen_at,
        'duplicate_of', v_row.duplicate_of, 'user_id', v_row.user_id,
        'deduplicated', v_row.id <> p_id);
END
$$;
ALTER FUNCTION isokron.memory_commit_v3(text, uuid, text, text, text, text, text, boolean, timestamptz, timestamptz, timestamptz, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_commit_v3(text, uuid, text, text, text, text, text, boolean, timestamptz, timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_commit_v3(text, uuid, text, text, text, text, text, boolean, timestamptz, timestamptz, timestamptz, text) TO isokron_runtime;

CREATE FUNCTION isokron.memory_commit_many_v3(
    p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[],
    p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[],
    p_expires_at timestamptz[], p_valid_from timestamptz[], p_valid_to timestamptz[],
    p_user_ids text[]) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_writable text[];
    v_readable text[];
    v_root text;
    v_slow bigint[];
    v_done jsonb;
    v_item record;
    v_state text;
    v_message text;
    v_out jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.writable, a.root_id, a.readable INTO v_writable, v_root, v_readable
      FROM isokron.namespace_access_v2() a;
    IF v_writable IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    IF p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'workspace % is not the workspace of this transaction''s context',
            quote_literal(p_workspace_id) USING ERRCODE = '42501';
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
                                AND r.namespace = ANY (v_readable)
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
                'row', isokron.memory_commit_v3(p_workspace_id, v_item.id, v_item.ns,
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
ALTER FUNCTION isokron.memory_commit_many_v3(text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamptz[], timestamptz[], timestamptz[], text[]) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.memory_commit_many_v3(text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamptz[], timestamptz[], timestamptz[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.memory_commit_many_v3(text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamptz[], timestamptz[], timestamptz[], text[]) TO isokron_runtime;

