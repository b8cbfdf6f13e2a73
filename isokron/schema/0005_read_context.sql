-- One round trip per cold warm-up: the seven identity reads in one function call.
--
-- SECURITY INVOKER: the caller's row-level security applies to every read. The function
-- sets app.current_workspace_id transaction-locally (for a call outside a transaction,
-- that is this statement only) and returns every part as one jsonb object. Each read is
-- bounded by an index and its LIMIT before any formatting (jsonb_pretty runs on the
-- returned events only). p_parts names the parts to read (a partial refresh); NULL reads
-- them all.
--
-- Parts: charter, policies, capabilities, own_scratchpad, cross_scratchpad,
-- recent_events, constitution. Recent events walk the unique (tenant_id, seq) index
-- backwards from the newest event and stop at the limit.

CREATE FUNCTION isokron.read_context_v1(
    p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer,
    p_parts text[] DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_all     boolean := p_parts IS NULL;
    v_out     jsonb := '{}'::jsonb;
    v_pattern text;
BEGIN
    IF p_workspace_id IS NULL OR btrim(p_workspace_id) = '' THEN
        RAISE EXCEPTION 'read_context_v1: workspace id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    IF v_all OR 'charter' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('charter', (
            SELECT jsonb_build_object(
                       'id', c.id, 'workspace_id', c.workspace_id,
                       'schema_version', c.schema_version, 'content_md', c.content_md,
                       'content_jsonb', c.content_jsonb, 'content_hash', c.content_hash,
                       'created_at', c.created_at)
              FROM public.kora_role_charter c
             WHERE c.workspace_id = p_workspace_id AND c.superseded_at IS NULL));
    END IF;
    IF v_all OR 'policies' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('policies', coalesce((
            SELECT jsonb_agg(jsonb_build_array(p.policy_path, p.policy_value)
                             ORDER BY p.policy_path)
              FROM public.kora_policy_registry p
             WHERE p.workspace_id = p_workspace_id), '[]'::jsonb));
    END IF;
    IF v_all OR 'capabilities' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('capabilities', coalesce((
            SELECT jsonb_agg(jsonb_build_array(m.cap_name, m.granted))
              FROM public.actor_capability_matrix m
             WHERE m.actor_kind = p_actor_kind), '[]'::jsonb));
    END IF;
    IF v_all OR 'own_scratchpad' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('own_scratchpad', coalesce((
            SELECT jsonb_agg(to_jsonb(s) ORDER BY s.created_at DESC, s.scratchpad_entry_id DESC)
              FROM (SELECT e.scratchpad_entry_id, a.actor_kind, a.display_name,
                           e.scratchpad_kind, e.visibility_scope, e.content_inline,
                           e.content_uri, e.content_hash, e.created_at
                      FROM kronicle.agent_scratchpad_entries e
                      JOIN public.actor_registry a ON a.actor_id = e.actor_id
                     WHERE e.workspace_id = p_workspace_id AND e.status = 'active'
                       AND a.actor_kind = p_actor_kind
                     ORDER BY e.created_at DESC, e.scratchpad_entry_id DESC
                     LIMIT p_scratchpad_limit) s), '[]'::jsonb));
    END IF;
    IF v_all OR 'cross_scratchpad' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('cross_scratchpad', coalesce((
            SELECT jsonb_agg(to_jsonb(s) ORDER BY s.created_at DESC, s.scratchpad_entry_id DESC)
              FROM (SELECT e.scratchpad_entry_id, a.actor_kind, a.display_name,
                           e.scratchpad_kind, e.visibility_scope, e.content_inline,
                           e.content_uri, e.content_hash, e.created_at
                      FROM kronicle.agent_scratchpad_entries e
                      JOIN public.actor_registry a ON a.actor_id = e.actor_id
                     WHERE e.workspace_id = p_workspace_id AND e.status = 'active'
                       AND a.actor_kind <> p_actor_kind
                       AND e.visibility_scope = 'cross_agent_dereferenceable'
                     ORDER BY e.created_at DESC, e.scratchpad_entry_id DESC
                     LIMIT p_scratchpad_limit) s), '[]'::jsonb));
    END IF;
    IF v_all OR 'recent_events' = ANY (p_parts) THEN
        v_pattern := replace(replace(replace(p_actor_kind, '\', '\\'), '%', '\%'), '_', '\_')
                     || '.%';
        v_out := v_out || jsonb_build_object('recent_events', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'event_id', r.event_id, 'event_type', r.event_type,
                       'occurred_at', r.occurred_at,
                       'payload_summary', CASE WHEN char_length(r.pretty) > 300
                                               THEN left(r.pretty, 300) || '…'
                                               ELSE r.pretty END)
                             ORDER BY r.seq DESC)
              FROM (SELECT e.event_id, e.event_type, e.occurred_at, e.seq,
                           jsonb_pretty(e.payload) AS pretty
                      FROM (SELECT x.event_id, x.event_type, x.occurred_at, x.seq, x.payload
                              FROM hivex_foundation.event_log x
                             WHERE x.tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                                                   WHERE t.clerk_org_id = p_workspace_id)
                               AND x.event_type LIKE v_pattern ESCAPE '\'
                             ORDER BY x.seq DESC
                             LIMIT p_event_limit) e) r), '[]'::jsonb));
    END IF;
    IF v_all OR 'constitution' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('constitution', (
            SELECT jsonb_build_object('revision_id', w.revision_id,
                                      'revision_number', w.revision_number,
                                      'rules_hash', encode(w.rules_hash, 'hex'))
              FROM kronicle.workspace_constitution_revisions w
             WHERE w.workspace_id = p_workspace_id
             ORDER BY w.revision_number DESC
             LIMIT 1));
    END IF;
    RETURN v_out;
END
$$;
REVOKE ALL ON FUNCTION isokron.read_context_v1(text, text, integer, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.read_context_v1(text, text, integer, integer, text[])
    TO isokron_runtime;
