-- Sessions can be removed by their owner (tenant and user), under the same RLS; their
-- messages go with them (the foreign key cascades).
CREATE POLICY agent_sessions_delete ON isokron.agent_sessions FOR DELETE
    USING (tenant_id = current_setting('app.current_tenant_id', true)
           AND user_id = current_setting('app.current_user_id', true));
GRANT DELETE ON isokron.agent_sessions TO isokron_runtime;
