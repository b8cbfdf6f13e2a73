-- Messages can be taken back by their owner: the most recent one (pop) or all of a
-- session's (clear), under the same row-level security as every other message call.
-- Both lock the session row first, as appends do, so a pop and an append never race
-- for the same seq.

CREATE POLICY agent_messages_delete ON isokron.agent_messages FOR DELETE
    USING (tenant_id = current_setting('app.current_tenant_id', true)
           AND user_id = current_setting('app.current_user_id', true));
GRANT DELETE ON isokron.agent_messages TO isokron_runtime;

CREATE FUNCTION isokron.pop_message_v1(p_tenant_id text, p_user_id text, p_session_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row jsonb;
BEGIN
    PERFORM set_config('app.current_tenant_id', p_tenant_id, true);
    PERFORM set_config('app.current_user_id', p_user_id, true);
    PERFORM 1 FROM isokron.agent_sessions s
      WHERE s.tenant_id = p_tenant_id AND s.user_id = p_user_id AND s.id = p_session_id
      FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % not found', p_session_id USING ERRCODE = 'IKN01';
    END IF;
    WITH gone AS (
        DELETE FROM isokron.agent_messages m
         WHERE m.tenant_id = p_tenant_id AND m.user_id = p_user_id
           AND m.session_id = p_session_id
           AND m.seq = (SELECT max(x.seq) FROM isokron.agent_messages x
                         WHERE x.tenant_id = p_tenant_id AND x.user_id = p_user_id
                           AND x.session_id = p_session_id)
        RETURNING m.id, m.session_id, m.seq, m.role, m.content, m.tool_calls::text AS tool_calls,
                  m.tenant_id, m.user_id, m.created_at
    )
    SELECT to_jsonb(g) INTO v_row FROM gone g;
    IF v_row IS NOT NULL THEN
        UPDATE isokron.agent_sessions SET updated_at = now()
         WHERE tenant_id = p_tenant_id AND user_id = p_user_id AND id = p_session_id;
    END IF;
    RETURN v_row;
END
$$;

CREATE FUNCTION isokron.clear_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    PERFORM set_config('app.current_tenant_id', p_tenant_id, true);
    PERFORM set_config('app.current_user_id', p_user_id, true);
    PERFORM 1 FROM isokron.agent_sessions s
      WHERE s.tenant_id = p_tenant_id AND s.user_id = p_user_id AND s.id = p_session_id
      FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % not found', p_session_id USING ERRCODE = 'IKN01';
    END IF;
    DELETE FROM isokron.agent_messages m
     WHERE m.tenant_id = p_tenant_id AND m.user_id = p_user_id AND m.session_id = p_session_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        UPDATE isokron.agent_sessions SET updated_at = now()
         WHERE tenant_id = p_tenant_id AND user_id = p_user_id AND id = p_session_id;
    END IF;
    RETURN v_count;
END
$$;

REVOKE ALL ON FUNCTION isokron.pop_message_v1(text, text, uuid),
    isokron.clear_messages_v1(text, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.pop_message_v1(text, text, uuid),
    isokron.clear_messages_v1(text, text, uuid) TO isokron_runtime;
