-- Leaner hot-path writes (same semantics as the v1 functions they succeed):
--   * results are built as json, not jsonb (they are only ever sent as text);
--   * episodic_append_v2 returns the inserted rows from RETURNING and re-reads only
--     replayed ids (an idempotent retry), instead of re-reading every row it wrote.
-- The v1 functions stay for callers of earlier versions.

CREATE FUNCTION isokron.episodic_append_v2(
    p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[],
    p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]
) RETURNS json
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rows json;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    IF NOT EXISTS (SELECT 1 FROM public.actor_registry a
                    WHERE a.actor_id = p_agent_id AND a.workspace_id = p_workspace_id) THEN
        RETURN json_build_object('owned', false, 'rows', '[]'::json);
    END IF;
    WITH written AS (
        INSERT INTO isokron.agent_episodic_events
            (id, workspace_id, agent_id, event_type, sender, recipient, body,
             inference_receipt_id, audit_event_hash)
        SELECT u.id, p_workspace_id, p_agent_id, u.event_type, u.sender, u.recipient,
               u.body::jsonb, u.receipt, u.hash
          FROM unnest(p_ids, p_types, p_senders, p_recipients, p_bodies, p_receipts, p_hashes)
               AS u(id, event_type, sender, recipient, body, receipt, hash)
        ON CONFLICT (workspace_id, id) DO NOTHING
        RETURNING id, agent_id, created_at, event_type, sender, recipient, body::text AS body,
                  inference_receipt_id, audit_event_hash
    ), replayed AS (
        -- The statement's snapshot does not see the rows just written: these are the ids
        -- that were stored before (a retry), returned as stored, for this agent only.
        SELECT x.id, x.agent_id, x.created_at, x.event_type, x.sender, x.recipient,
               x.body::text AS body, x.inference_receipt_id, x.audit_event_hash
          FROM isokron.agent_episodic_events x
         WHERE x.workspace_id = p_workspace_id AND x.id = ANY (p_ids)
           AND x.agent_id = p_agent_id
    )
    SELECT json_agg(r) INTO v_rows
      FROM (SELECT * FROM written UNION ALL SELECT * FROM replayed) r;
    RETURN json_build_object('owned', true, 'rows', coalesce(v_rows, '[]'::json));
END
$$;
REVOKE ALL ON FUNCTION isokron.episodic_append_v2(
    text, uuid, uuid[], text[], text[], text[], text[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.episodic_append_v2(
    text, uuid, uuid[], text[], text[], text[], text[], text[], text[]) TO isokron_runtime;
