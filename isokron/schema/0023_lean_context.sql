-- The lean functions (one statement, no transaction of the caller's: memory commits and
-- searches, episodes, session messages, the context read, recall) set the plain settings
-- from their arguments. With a context key installed those count for nothing, so a
-- signing caller passes its token through the first argument:
--     SELECT isokron.f(isokron.in_context_v1($N, $1), $2, ...)
-- An argument is evaluated before the function's body runs, so every policy and check in
-- it sees the signed context. A NULL token changes nothing (a database without a key).
CREATE FUNCTION isokron.in_context_v1(p_token text, p_value text) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_token IS NOT NULL THEN
        PERFORM set_config('isokron.context_token', p_token, true);
    END IF;
    RETURN p_value;
END
$$;
