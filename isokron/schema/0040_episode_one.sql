-- One episodic event in one statement (issue 27): an agent loop appends its events one at a
-- time, and episodic_append_v3 paid for the batch shape on every one of them (seven arrays
-- unnested and sorted, an ownership read before the insert, a JSON reply built and parsed).
-- v1 of the single form takes scalars and answers with the row's created_at, or NULL when
-- the id was stored before (a retry, or another agent's id: the caller then asks
-- episodic_append_v3, which tells the two apart).
--
-- The ownership check is the table's own: the row's workspace must be the context's (the
-- INSERT policy) and (workspace, agent) must be a row of actor_registry (the foreign key
-- agent_episodic_events_workspace_agent_fkey), which is what v3's read under the
-- actor_registry policy established. A violation is raised, not answered: the caller turns
-- that constraint's SQLSTATE 23503 into NotOwnedError, and nothing is stored.
CREATE FUNCTION isokron.episodic_append_one_v1(
    p_workspace_id text, p_agent_id uuid, p_id uuid, p_type text, p_sender text,
    p_recipient text, p_body text, p_receipt text, p_hash text) RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_created timestamptz;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    INSERT INTO isokron.agent_episodic_events
        (id, workspace_id, agent_id, event_type, sender, recipient, body,
         inference_receipt_id, audit_event_hash)
    VALUES (p_id, p_workspace_id, p_agent_id, p_type, p_sender, p_recipient, p_body::jsonb,
            p_receipt, p_hash)
    ON CONFLICT (workspace_id, id) DO NOTHING
    RETURNING created_at INTO v_created;
    RETURN v_created;
END
$$;
GRANT EXECUTE ON FUNCTION isokron.episodic_append_one_v1(text, uuid, uuid, text, text, text,
    text, text, text) TO isokron_runtime;
