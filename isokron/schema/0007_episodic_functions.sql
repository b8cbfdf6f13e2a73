-- Episodic events in one round trip (see 0006): append a batch, list newest first.
-- Ownership is checked in the same statement that writes: no owner row, no insert.
-- Both return {"owned": bool, "rows": [...]}; rows carry body as JSON text.

CREATE FUNCTION isokron.episodic_append_v1(
    p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[],
    p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owned boolean;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    v_owned := EXISTS (SELECT 1 FROM public.actor_registry a
                        WHERE a.actor_id = p_agent_id AND a.workspace_id = p_workspace_id);
    IF NOT v_owned THEN
        RETURN jsonb_build_object('owned', false, 'rows', '[]'::jsonb);
    END IF;
    INSERT INTO isokron.agent_episodic_events
        (id, workspace_id, agent_id, event_type, sender, recipient, body, inference_receipt_id,
         audit_event_hash)
    SELECT u.id, p_workspace_id, p_agent_id, u.event_type, u.sender, u.recipient,
           u.body::jsonb, u.receipt, u.hash
      FROM unnest(p_ids, p_types, p_senders, p_recipients, p_bodies, p_receipts, p_hashes)
           AS u(id, event_type, sender, recipient, body, receipt, hash)
    ON CONFLICT (workspace_id, id) DO NOTHING;
    -- New rows and replays (ids that already existed) come back as stored, for this agent.
    RETURN jsonb_build_object('owned', true, 'rows', coalesce((
        SELECT jsonb_agg(to_jsonb(e))
          FROM (SELECT id, agent_id, created_at, event_type, sender, recipient,
                       body::text AS body, inference_receipt_id, audit_event_hash
                  FROM isokron.agent_episodic_events
                 WHERE workspace_id = p_workspace_id AND id = ANY (p_ids)
                   AND agent_id = p_agent_id) e), '[]'::jsonb));
END
$$;

-- Newest first; events appended in one call share created_at, so id breaks the tie.
CREATE FUNCTION isokron.episodic_list_v1(
    p_workspace_id text, p_agent_id uuid, p_event_type text, p_since timestamptz,
    p_limit integer
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    IF NOT EXISTS (SELECT 1 FROM public.actor_registry a
                    WHERE a.actor_id = p_agent_id AND a.workspace_id = p_workspace_id) THEN
        RETURN jsonb_build_object('owned', false, 'rows', '[]'::jsonb);
    END IF;
    -- Two static statements (with and without a type), each served by its own index.
    IF p_event_type IS NULL THEN
        RETURN jsonb_build_object('owned', true, 'rows', coalesce((
            SELECT jsonb_agg(to_jsonb(e) ORDER BY e.created_at DESC, e.id DESC)
              FROM (SELECT id, agent_id, created_at, event_type, sender, recipient,
                           body::text AS body, inference_receipt_id, audit_event_hash
                      FROM isokron.agent_episodic_events x
                     WHERE x.workspace_id = p_workspace_id AND x.agent_id = p_agent_id
                       AND x.created_at >= coalesce(p_since, '-infinity')
                     ORDER BY x.created_at DESC, x.id DESC
                     LIMIT p_limit) e), '[]'::jsonb));
    END IF;
    RETURN jsonb_build_object('owned', true, 'rows', coalesce((
        SELECT jsonb_agg(to_jsonb(e) ORDER BY e.created_at DESC, e.id DESC)
          FROM (SELECT id, agent_id, created_at, event_type, sender, recipient,
                       body::text AS body, inference_receipt_id, audit_event_hash
                  FROM isokron.agent_episodic_events x
                 WHERE x.workspace_id = p_workspace_id AND x.agent_id = p_agent_id
                   AND x.event_type = p_event_type
                   AND x.created_at >= coalesce(p_since, '-infinity')
                 ORDER BY x.created_at DESC, x.id DESC
                 LIMIT p_limit) e), '[]'::jsonb));
END
$$;

REVOKE ALL ON FUNCTION
    isokron.episodic_append_v1(text, uuid, uuid[], text[], text[], text[], text[], text[], text[]),
    isokron.episodic_list_v1(text, uuid, text, timestamptz, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    isokron.episodic_append_v1(text, uuid, uuid[], text[], text[], text[], text[], text[], text[]),
    isokron.episodic_list_v1(text, uuid, text, timestamptz, integer)
    TO isokron_runtime;
