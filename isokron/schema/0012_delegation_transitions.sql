-- Delegations follow the original ledger's transition table: only an in_progress
-- delegation (one an agent picked up and then went silent on) can be marked stuck.
-- A queued or dispatched row without heartbeats was never started: its deadline fails
-- it. isokron keeps its recovery from stuck (stuck -> in_progress | completed | failed).
CREATE OR REPLACE FUNCTION isokron.sweep_delegations_v1(p_stuck_threshold_s double precision)
RETURNS TABLE (deadline_failures bigint, stuck_marked bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_failed bigint;
    v_stuck  bigint;
BEGIN
    IF p_stuck_threshold_s IS NULL OR NOT p_stuck_threshold_s > 0
       OR p_stuck_threshold_s = 'Infinity'::double precision THEN
        RAISE EXCEPTION 'stuck threshold must be a positive number of seconds, got %',
            quote_nullable(p_stuck_threshold_s) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE isokron.delegations
       SET status = 'failed', error_detail = 'deadline exceeded by sweeper', updated_at = now()
     WHERE status IN ('queued', 'dispatched', 'in_progress', 'stuck') AND deadline < now();
    GET DIAGNOSTICS v_failed = ROW_COUNT;
    UPDATE isokron.delegations
       SET status = 'stuck',
           error_detail = 'no heartbeat for '
                          || round(extract(epoch FROM now() - last_heartbeat))::bigint || 's',
           updated_at = now()
     WHERE status IN ('queued', 'dispatched', 'in_progress', 'stuck') -- the partial index
       AND status = 'in_progress'
       AND last_heartbeat < now() - make_interval(secs => p_stuck_threshold_s);
    GET DIAGNOSTICS v_stuck = ROW_COUNT;
    RETURN QUERY SELECT v_failed, v_stuck;
END
$$;
