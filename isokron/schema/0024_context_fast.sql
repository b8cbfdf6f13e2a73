-- The tenant context at the cost of the plain settings when no key is installed, and one
-- verification per reference when one is.
--
-- Whether a key is installed is not looked up on every policy evaluation: it is the body
-- of isokron.context_signed_v1(), a constant that installing the first key and removing
-- the last one rewrite (install_context_key_v1 / remove_context_key_v1, as isokron_context,
-- which owns it). The context functions are plain SQL without a SET clause, so the planner
-- inlines them into every policy: without a key, `workspace_id = (SELECT
-- isokron.context_workspace_v1())` is `workspace_id = current_setting(…)` again. Replacing a
-- function invalidates every cached plan that inlined it, in every session, so a key takes
-- effect at once, also for plans cached before.

-- isokron_context rewrites the constant (CREATE OR REPLACE needs CREATE on the schema).
GRANT CREATE ON SCHEMA isokron TO isokron_context;

CREATE FUNCTION isokron.context_signed_v1() RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT false $$;
ALTER FUNCTION isokron.context_signed_v1() OWNER TO isokron_context;

-- Rewrite the constant to say whether a key is installed (isokron_context only).
CREATE FUNCTION isokron.set_context_signed_v1() RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_signed boolean := EXISTS (SELECT 1 FROM isokron.context_keys);
BEGIN
    EXECUTE format('CREATE OR REPLACE FUNCTION isokron.context_signed_v1() RETURNS boolean '
                   'LANGUAGE sql STABLE AS $f$ SELECT %s $f$',
                   CASE WHEN v_signed THEN 'true' ELSE 'false' END);
    RETURN v_signed;
END
$$;
ALTER FUNCTION isokron.set_context_signed_v1() OWNER TO isokron_context;
REVOKE ALL ON FUNCTION isokron.set_context_signed_v1() FROM PUBLIC;
SELECT isokron.set_context_signed_v1();

CREATE OR REPLACE FUNCTION isokron.install_context_key_v1(p_fingerprint text, p_inner bytea,
                                                          p_outer bytea) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_added boolean;
BEGIN
    INSERT INTO isokron.context_keys (fingerprint, inner_pad, outer_pad)
    VALUES (p_fingerprint, p_inner, p_outer)
    ON CONFLICT (fingerprint) DO NOTHING;
    v_added := FOUND;
    PERFORM isokron.set_context_signed_v1();
    RETURN v_added;
END
$$;
CREATE OR REPLACE FUNCTION isokron.remove_context_key_v1(p_fingerprint text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_removed boolean;
BEGIN
    DELETE FROM isokron.context_keys WHERE fingerprint = p_fingerprint;
    v_removed := FOUND;
    PERFORM isokron.set_context_signed_v1();
    RETURN v_removed;
END
$$;

-- One query per verification (the keys, the signature and the claims together).
CREATE OR REPLACE FUNCTION isokron.context_claims_v1() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_token text := current_setting('isokron.context_token', true);
    v_keys bigint;
    v_ok boolean;
    v_claims jsonb;
BEGIN
    IF v_token IS NULL OR v_token = '' THEN
        IF isokron.context_signed_v1() THEN
            RETURN '{}'::jsonb;  -- the plain settings count for nothing once a key is installed
        END IF;
        RETURN jsonb_strip_nulls(jsonb_build_object(
            'wsp', current_setting('app.current_workspace_id', true),
            'tnt', current_setting('app.current_tenant_id', true),
            'sub', current_setting('app.current_user_id', true)));
    END IF;
    IF length(v_token) > 4096
       OR v_token !~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$' THEN
        RAISE EXCEPTION 'the tenant context token is malformed (not a compact HS256 JWT)'
            USING ERRCODE = 'IKC01';
    END IF;
    SELECT count(*), bool_or(rtrim(translate(encode(sha256(k.outer_pad || sha256(
               k.inner_pad || convert_to(split_part(v_token, '.', 1) || '.'
                                         || split_part(v_token, '.', 2), 'UTF8'))),
               'base64'), '+/', '-_'), '=') = split_part(v_token, '.', 3))
      INTO v_keys, v_ok
      FROM isokron.context_keys k;
    IF v_keys = 0 THEN  -- no key: a token is not needed, and not believed either
        RETURN jsonb_strip_nulls(jsonb_build_object(
            'wsp', current_setting('app.current_workspace_id', true),
            'tnt', current_setting('app.current_tenant_id', true),
            'sub', current_setting('app.current_user_id', true)));
    END IF;
    IF NOT v_ok THEN
        RAISE EXCEPTION 'the tenant context token''s signature does not verify with any installed context key'
            USING ERRCODE = 'IKC01',
                  HINT = 'the application signs with a key that `isokron context-key set` has not installed';
    END IF;
    v_claims := convert_from(decode(rpad(translate(split_part(v_token, '.', 2), '-_', '+/'),
                                         (length(split_part(v_token, '.', 2)) + 3) / 4 * 4, '='),
                                    'base64'), 'UTF8')::jsonb;
    IF jsonb_typeof(v_claims -> 'exp') IS DISTINCT FROM 'number'
       OR (v_claims ->> 'exp')::numeric <= extract(epoch FROM now()) THEN
        RAISE EXCEPTION 'the tenant context token expired at %',
            coalesce(to_timestamp((v_claims ->> 'exp')::double precision)::text, 'an unknown time')
            USING ERRCODE = 'IKC01';
    END IF;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'wsp', v_claims ->> 'wsp', 'tnt', v_claims ->> 'tnt', 'sub', v_claims ->> 'sub'));
END
$$;

-- Inlined into the policies: no SET clause, every name qualified.
CREATE OR REPLACE FUNCTION isokron.context_workspace_v1() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN isokron.context_signed_v1()
                  THEN isokron.context_claims_v1() OPERATOR(pg_catalog.->>) 'wsp'
                  ELSE pg_catalog.current_setting('app.current_workspace_id', true) END $$;
CREATE OR REPLACE FUNCTION isokron.context_tenant_v1() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN isokron.context_signed_v1()
                  THEN isokron.context_claims_v1() OPERATOR(pg_catalog.->>) 'tnt'
                  ELSE pg_catalog.current_setting('app.current_tenant_id', true) END $$;
CREATE OR REPLACE FUNCTION isokron.context_user_v1() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN isokron.context_signed_v1()
                  THEN isokron.context_claims_v1() OPERATOR(pg_catalog.->>) 'sub'
                  ELSE pg_catalog.current_setting('app.current_user_id', true) END $$;
