-- Episodic append with a lean reply (issue 27): episodic_append_v2 sent every stored row
-- back (its body re-serialised) and looked up the batch's ids a second time to find
-- retries. The caller already holds everything it wrote but the id's created_at; v3
-- returns [id, created_at] per written row, and looks up earlier rows (a retry's, or
-- another agent's id) only when the insert skipped some. The checks are v2's: the agent
-- must be one of the workspace's (under the runtime's RLS on actor_registry), and the rows
-- pass the table's RLS and foreign key.
CREATE FUNCTION isokron.episodic_append_v3(
    p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[],
    p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_written json;
    v_count integer;
    v_replayed json;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    IF NOT EXISTS (SELECT 1 FROM public.actor_registry a
                    WHERE a.actor_id = p_agent_id AND a.workspace_id = p_workspace_id) THEN
        RETURN json_build_object('owned', false);
    END IF;
    WITH written AS (
        INSERT INTO isokron.agent_episodic_events
            (id, workspace_id, agent_id, event_type, sender, recipient, body,
             inference_receipt_id, audit_event_hash)
        SELECT u.id, p_workspace_id, p_agent_id, u.event_type, u.sender, u.recipient,
               u.body::jsonb, u.receipt, u.hash
          FROM unnest(p_ids, p_types, p_senders, p_recipients, p_bodies, p_receipts, p_hashes)
               WITH ORDINALITY AS u(id, event_type, sender, recipient, body, receipt, hash, ord)
         ORDER BY u.ord  -- seq follows the order given
        ON CONFLICT (workspace_id, id) DO NOTHING
        RETURNING id, created_at
    )
    SELECT json_agg(json_build_array(w.id, w.created_at)), count(*)
      INTO v_written, v_count FROM written w;
    IF v_count < cardinality(p_ids) THEN
        -- Ids stored before (a retry): returned as stored, for this agent only.
        SELECT json_agg(json_build_object(
                   'id', x.id, 'agent_id', x.agent_id, 'created_at', x.created_at,
                   'event_type', x.event_type, 'sender', x.sender, 'recipient', x.recipient,
                   'body', x.body::text, 'inference_receipt_id', x.inference_receipt_id,
                   'audit_event_hash', x.audit_event_hash))
          INTO v_replayed
          FROM isokron.agent_episodic_events x
         WHERE x.workspace_id = p_workspace_id AND x.id = ANY (p_ids)
           AND x.agent_id = p_agent_id
           AND NOT x.id IN (SELECT (e ->> 0)::uuid FROM json_array_elements(v_written) e);
    END IF;
    RETURN json_build_object('owned', true, 'written', coalesce(v_written, '[]'::json),
                             'replayed', coalesce(v_replayed, '[]'::json));
END
$$;
GRANT EXECUTE ON FUNCTION isokron.episodic_append_v3(text, uuid, uuid[], text[], text[],
    text[], text[], text[], text[]) TO isokron_runtime;
