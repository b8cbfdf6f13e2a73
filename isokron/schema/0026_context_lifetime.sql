-- A tenant context token may be valid for at most a day: a token stolen from a signer that
-- gives long lifetimes (a misconfigured gateway) is refused rather than good forever.
CREATE OR REPLACE FUNCTION isokron.context_claims_v1() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (
        SELECT current_setting('isokron.context_token', true) AS token
    ), parts AS (
        SELECT t.token, split_part(t.token, '.', 2) AS body, split_part(t.token, '.', 3) AS sig,
               split_part(t.token, '.', 1) || '.' || split_part(t.token, '.', 2) AS signed
          FROM t
    ), keys AS (
        SELECT count(k.fingerprint) AS n,
               bool_or(rtrim(translate(encode(sha256(k.outer_pad || sha256(
                   k.inner_pad || convert_to(p.signed, 'UTF8'))), 'base64'), '+/', '-_'), '=')
                       = p.sig) AS ok
          FROM parts p LEFT JOIN isokron.context_keys k ON true
    )
    SELECT CASE
        WHEN k.n = 0 OR NOT isokron.context_signed_v1() THEN jsonb_strip_nulls(jsonb_build_object(
            'wsp', current_setting('app.current_workspace_id', true),
            'tnt', current_setting('app.current_tenant_id', true),
            'sub', current_setting('app.current_user_id', true)))
        WHEN p.token IS NULL OR p.token = '' THEN '{}'::jsonb
        WHEN length(p.token) > 4096 OR length(p.sig) <> 43 OR p.body = '' THEN
            isokron.context_refused_v1(
                'the tenant context token is malformed (not a compact HS256 JWT)', NULL)
        WHEN NOT k.ok THEN isokron.context_refused_v1(
            'the tenant context token''s signature does not verify with any installed context key',
            'the application signs with a key that `isokron context-key set` has not installed')
        WHEN c.claims IS NULL OR jsonb_typeof(c.claims -> 'exp') IS DISTINCT FROM 'number'
             OR (c.claims ->> 'exp')::numeric <= extract(epoch FROM now()) THEN
            isokron.context_refused_v1('the tenant context token expired at ' || coalesce(
                to_timestamp((c.claims ->> 'exp')::double precision)::text, 'an unknown time'),
                NULL)
        WHEN (c.claims ->> 'exp')::numeric > extract(epoch FROM now()) + 86400 THEN
            isokron.context_refused_v1(
                'the tenant context token is valid for more than a day (exp '
                || (c.claims ->> 'exp') || ')',
                'a signer should give a token minutes (context_token_ttl_s), never days')
        ELSE jsonb_strip_nulls(jsonb_build_object(
            'wsp', c.claims ->> 'wsp', 'tnt', c.claims ->> 'tnt', 'sub', c.claims ->> 'sub'))
        END
      FROM parts p CROSS JOIN keys k
      CROSS JOIN LATERAL (
          SELECT CASE WHEN k.ok THEN convert_from(decode(rpad(translate(p.body, '-_', '+/'),
                                          (length(p.body) + 3) / 4 * 4, '='), 'base64'),
                              'UTF8')::jsonb END AS claims) c
$$;
