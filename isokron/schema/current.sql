-- isokron: the whole schema its migrations leave, in one file.
-- Generated from a freshly migrated database; do not edit by hand. Regenerate with
--     isokron schema dump --out isokron/schema/current.sql --catalog-out isokron/schema/catalog.json
-- Load it into an empty database; roles are created when the cluster lacks them.

-- Roles are cluster-wide: create the ones this schema names if they are missing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isokron_context') THEN
        CREATE ROLE isokron_context NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isokron_definer') THEN
        CREATE ROLE isokron_definer NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isokron_runtime') THEN
        CREATE ROLE isokron_runtime NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isokron_sweeper') THEN
        CREATE ROLE isokron_sweeper NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- A loader that is not a superuser must be a member to hand objects over.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT isokron_context TO %I', current_user);
        EXECUTE format('GRANT isokron_definer TO %I', current_user);
    END IF;
END
$$;

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: hivex_foundation; Type: SCHEMA; Schema: -
--

CREATE SCHEMA hivex_foundation;

--
-- Name: isokron; Type: SCHEMA; Schema: -
--

CREATE SCHEMA isokron;

--
-- Name: kronicle; Type: SCHEMA; Schema: -
--

CREATE SCHEMA kronicle;

--
-- Name: scratchpad_kind; Type: TYPE; Schema: kronicle
--

CREATE TYPE kronicle.scratchpad_kind AS ENUM (
    'reasoning_trail',
    'hypothesis',
    'discarded_option',
    'override_rationale',
    'self_critique',
    'route_decision',
    'compacted_summary'
);

--
-- Name: scratchpad_visibility_scope; Type: TYPE; Schema: kronicle
--

CREATE TYPE kronicle.scratchpad_visibility_scope AS ENUM (
    'agent_private',
    'cross_agent_dereferenceable'
);

--
-- Name: append_event_v1(text, text, jsonb, uuid); Type: FUNCTION; Schema: hivex_foundation
--

CREATE FUNCTION hivex_foundation.append_event_v1(p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    v_tenant      uuid;
    v_head_seq    bigint;
    v_head_hash   text;
    v_anchor_seq  bigint;
    v_anchor_hash text;
    v_count       bigint;
    v_seq         bigint;
    v_prev        text;
    v_hash        text;
    v_payload     jsonb := coalesce(p_payload, '{}'::jsonb);
    v_id          uuid := gen_random_uuid();
    v_at          timestamptz := now();
    v_limits      record;
    v_bytes       bigint;
BEGIN
    IF p_workspace_id IS NULL
       OR p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'append_event_v1: workspace % is not the transaction''s workspace',
            quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01',
                  HINT = 'set app.current_workspace_id with set_config(..., true) first';
    END IF;
    IF p_event_type IS NULL OR p_event_type !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' THEN
        RAISE EXCEPTION 'invalid event_type %', quote_nullable(p_event_type)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.events_per_tenant, l.event_bytes INTO v_limits
      FROM isokron.quota_limits_v2(p_workspace_id) l;
    v_bytes := octet_length(v_payload::text);
    IF v_bytes > v_limits.event_bytes THEN
        RAISE EXCEPTION 'quota_event_bytes exceeded: limit %', v_limits.event_bytes
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('an event of %s bytes for workspace %s', v_bytes,
                                  p_workspace_id);
    END IF;
    IF p_actor_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM public.actor_registry a
         WHERE a.actor_id = p_actor_id AND a.workspace_id = p_workspace_id) THEN
        RAISE EXCEPTION 'append_event_v1: actor % is not registered in workspace %',
            p_actor_id, quote_nullable(p_workspace_id) USING ERRCODE = 'IKT01';
    END IF;
    -- The tenant row lock serialises appends per tenant, so seq has no gaps.
    SELECT t.tenant_id INTO v_tenant
      FROM hivex_foundation.tenant t
     WHERE t.clerk_org_id = p_workspace_id
       FOR UPDATE;
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'unknown workspace %', quote_nullable(p_workspace_id)
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT e.seq, e.this_event_hash INTO v_head_seq, v_head_hash
      FROM hivex_foundation.event_log e
     WHERE e.tenant_id = v_tenant
     ORDER BY e.seq DESC
     LIMIT 1;
    SELECT a.last_seq, a.last_hash, a.event_count INTO v_anchor_seq, v_anchor_hash, v_count
      FROM hivex_foundation.chain_anchor a
     WHERE a.tenant_id = v_tenant;
    IF coalesce(v_count, 0) + 1 > v_limits.events_per_tenant THEN
        RAISE EXCEPTION 'quota_events_per_tenant exceeded: limit %', v_limits.events_per_tenant
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('workspace %s holds %s events', p_workspace_id,
                                  coalesce(v_count, 0));
    END IF;
    -- Chain from the anchor: a log whose head is behind it (a cut tail) or rewritten keeps
    -- the gap or mismatch visible. Only a log past the anchor (rows written around this
    -- function) is chained from its own head; verify reports those rows.
    IF v_anchor_seq IS NOT NULL AND v_anchor_seq >= coalesce(v_head_seq, 0) THEN
        v_seq := v_anchor_seq + 1;
        v_prev := v_anchor_hash;
    ELSE
        v_seq := coalesce(v_head_seq, 0) + 1;
        v_prev := v_head_hash;
    END IF;
    v_hash := hivex_foundation.event_hash_v2(v_prev, v_id, v_tenant, v_seq, p_event_type,
                                             v_payload, p_actor_id, v_at);
    INSERT INTO hivex_foundation.event_log
        (event_id, tenant_id, seq, event_type, payload, actor_id, occurred_at,
         prev_event_hash, this_event_hash, hash_version)
    VALUES (v_id, v_tenant, v_seq, p_event_type, v_payload, p_actor_id, v_at,
            v_prev, v_hash, 2);
    IF v_anchor_seq IS NULL THEN
        INSERT INTO hivex_foundation.chain_anchor (tenant_id, last_seq, last_hash, event_count)
        VALUES (v_tenant, v_seq, v_hash, 1);
    ELSE
        UPDATE hivex_foundation.chain_anchor a
           SET last_seq = v_seq, last_hash = v_hash, event_count = v_count + 1
         WHERE a.tenant_id = v_tenant;
    END IF;
    RETURN v_id;
END
$_$;

ALTER FUNCTION hivex_foundation.append_event_v1(p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid) OWNER TO isokron_definer;

--
-- Name: chain_anchor_forward_v1(); Type: FUNCTION; Schema: hivex_foundation
--

CREATE FUNCTION hivex_foundation.chain_anchor_forward_v1() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.tenant_id = OLD.tenant_id AND NEW.last_seq > OLD.last_seq
       AND NEW.event_count > OLD.event_count THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'hivex_foundation.chain_anchor only moves forward (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

--
-- Name: event_hash_v1(text, uuid, bigint, text, jsonb); Type: FUNCTION; Schema: hivex_foundation
--

CREATE FUNCTION hivex_foundation.event_hash_v1(p_prev text, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT encode(sha256(convert_to(concat_ws('|', coalesce(p_prev, ''), p_tenant::text,
        p_seq::text, p_type, p_payload::text), 'UTF8')), 'hex')
$$;

--
-- Name: event_hash_v2(text, uuid, uuid, bigint, text, jsonb, uuid, timestamp with time zone); Type: FUNCTION; Schema: hivex_foundation
--

CREATE FUNCTION hivex_foundation.event_hash_v2(p_prev text, p_event uuid, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb, p_actor uuid, p_at timestamp with time zone) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_fields text[] := ARRAY[p_event::text, p_tenant::text, p_seq::text, p_type,
                             p_payload::text, p_actor::text,
                             trunc(extract(epoch FROM p_at) * 1000000)::text, p_prev];
    v_bytes  bytea := convert_to('hivex.event.v2', 'UTF8');
    v_field  text;
    v_octets bytea;
BEGIN
    FOREACH v_field IN ARRAY v_fields LOOP
        IF v_field IS NULL THEN
            v_bytes := v_bytes || convert_to('~', 'UTF8');
        ELSE
            v_octets := convert_to(v_field, 'UTF8');
            v_bytes := v_bytes || convert_to(length(v_octets)::text || ':', 'UTF8') || v_octets;
        END IF;
    END LOOP;
    RETURN encode(sha256(v_bytes), 'hex');
END
$$;

--
-- Name: event_log_reject_mutation(); Type: FUNCTION; Schema: hivex_foundation
--

CREATE FUNCTION hivex_foundation.event_log_reject_mutation() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'hivex_foundation.event_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

--
-- Name: verify_chain_v1(text); Type: FUNCTION; Schema: hivex_foundation
--

CREATE FUNCTION hivex_foundation.verify_chain_v1(p_workspace_id text) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT v.broken_seq FROM hivex_foundation.verify_chain_v2(p_workspace_id) v $$;

--
-- Name: verify_chain_v2(text); Type: FUNCTION; Schema: hivex_foundation
--

CREATE FUNCTION hivex_foundation.verify_chain_v2(p_workspace_id text) RETURNS TABLE(broken_seq bigint, reason text)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_tenant   uuid;
    v_expected bigint := 1;
    v_prev     text := NULL;
    v_seen_v2  boolean := false;
    v_anchor   record;
    r          record;
BEGIN
    -- Under RLS only the transaction's own workspace is visible: any other would read as
    -- an empty, intact chain. Refuse it (a caller RLS does not apply to sees every chain).
    IF row_security_active('hivex_foundation.event_log'::regclass)
       AND p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'verify_chain_v2: workspace % is not the transaction''s workspace',
            quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01',
                  HINT = 'set app.current_workspace_id with set_config(..., true) first';
    END IF;
    SELECT t.tenant_id INTO v_tenant
      FROM hivex_foundation.tenant t WHERE t.clerk_org_id = p_workspace_id;
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'verify_chain_v2: unknown workspace %', quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01';
    END IF;
    FOR r IN
        SELECT e.event_id, e.seq, e.event_type, e.payload, e.actor_id, e.occurred_at,
               e.prev_event_hash, e.this_event_hash, e.hash_version
          FROM hivex_foundation.event_log e
         WHERE e.tenant_id = v_tenant
         ORDER BY e.seq
    LOOP
        IF r.seq <> v_expected THEN
            broken_seq := least(r.seq, v_expected);
            reason := format('seq %s is missing (the next event is seq %s)', v_expected, r.seq);
        ELSIF r.prev_event_hash IS DISTINCT FROM v_prev THEN
            broken_seq := r.seq;
            reason := CASE WHEN r.seq = 1 THEN 'the first event names a previous hash'
                           ELSE format('its prev_event_hash is not the hash of seq %s', r.seq - 1)
                      END;
        ELSIF r.hash_version = 1 AND v_seen_v2 THEN
            broken_seq := r.seq;
            reason := 'a v1 event after v2 events';
        ELSIF r.hash_version = 1 AND r.this_event_hash IS DISTINCT FROM
                hivex_foundation.event_hash_v1(r.prev_event_hash, v_tenant, r.seq,
                                               r.event_type, r.payload) THEN
            broken_seq := r.seq;
            reason := 'its hash does not match its type and payload (v1)';
        ELSIF r.hash_version = 2 AND r.this_event_hash IS DISTINCT FROM
                hivex_foundation.event_hash_v2(r.prev_event_hash, r.event_id, v_tenant, r.seq,
                                               r.event_type, r.payload, r.actor_id,
                                               r.occurred_at) THEN
            broken_seq := r.seq;
            reason := 'its hash does not match its id, type, payload, actor or time (v2)';
        END IF;
        IF broken_seq IS NOT NULL THEN
            RETURN NEXT;
            RETURN;
        END IF;
        v_seen_v2 := v_seen_v2 OR r.hash_version = 2;
        v_prev := r.this_event_hash;
        v_expected := v_expected + 1;
    END LOOP;
    -- v_expected - 1 events, gap-free from seq 1, each hashing to what it says
    SELECT a.last_seq, a.last_hash, a.event_count INTO v_anchor
      FROM hivex_foundation.chain_anchor a WHERE a.tenant_id = v_tenant;
    IF v_anchor.last_seq IS NULL THEN
        IF v_expected > 1 THEN
            broken_seq := v_expected - 1;
            reason := format('the chain of %s events has no anchor', v_expected - 1);
        END IF;
    ELSIF v_anchor.last_seq > v_expected - 1 THEN
        broken_seq := v_expected;
        reason := format('tail cut: %s, its anchor is at seq %s',
                         CASE WHEN v_expected = 1 THEN 'no event is left'
                              ELSE format('the chain ends at seq %s', v_expected - 1) END,
                         v_anchor.last_seq);
    ELSIF v_anchor.last_seq < v_expected - 1 THEN
        broken_seq := v_anchor.last_seq + 1;
        reason := format('events past its anchor (seq %s): not appended by append_event_v1',
                         v_anchor.last_seq);
    ELSIF v_anchor.last_hash IS DISTINCT FROM v_prev THEN
        broken_seq := v_anchor.last_seq;
        reason := 'its hash differs from the anchor''s';
    ELSIF v_anchor.event_count <> v_expected - 1 THEN
        broken_seq := v_anchor.last_seq;
        reason := format('the anchor counts %s events, the chain holds %s',
                         v_anchor.event_count, v_expected - 1);
    END IF;
    IF broken_seq IS NOT NULL THEN
        RETURN NEXT;
    END IF;
END
$$;

--
-- Name: append_messages_v1(text, text, uuid, uuid[], text[], text[], text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.append_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_ids uuid[], p_roles text[], p_contents text[], p_tool_calls text[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_base integer;
    v_added integer;
BEGIN
    PERFORM set_config('app.current_tenant_id', p_tenant_id, true);
    PERFORM set_config('app.current_user_id', p_user_id, true);
    -- The row lock serialises appends to one session, so seq has no gaps.
    PERFORM 1 FROM isokron.agent_sessions s
      WHERE s.tenant_id = p_tenant_id AND s.user_id = p_user_id AND s.id = p_session_id
      FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % not found', p_session_id USING ERRCODE = 'IKN01';
    END IF;
    SELECT coalesce(max(m.seq), 0) INTO v_base FROM isokron.agent_messages m
     WHERE m.tenant_id = p_tenant_id AND m.user_id = p_user_id AND m.session_id = p_session_id;
    -- Replayed ids (already stored for this tenant and user) are not added again.
    INSERT INTO isokron.agent_messages (id, session_id, seq, role, content, tool_calls,
                                        tenant_id, user_id)
    SELECT f.id, p_session_id, v_base + row_number() OVER (ORDER BY f.ord), f.role, f.content,
           f.tool_calls::jsonb, p_tenant_id, p_user_id
      FROM unnest(p_ids, p_roles, p_contents, p_tool_calls) WITH ORDINALITY
           AS f(id, role, content, tool_calls, ord)
     WHERE NOT EXISTS (SELECT 1 FROM isokron.agent_messages m
                        WHERE m.tenant_id = p_tenant_id AND m.user_id = p_user_id
                          AND m.id = f.id);
    GET DIAGNOSTICS v_added = ROW_COUNT;
    IF v_added > 0 THEN
        UPDATE isokron.agent_sessions SET updated_at = now()
         WHERE tenant_id = p_tenant_id AND user_id = p_user_id AND id = p_session_id;
    END IF;
    RETURN coalesce((
        SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq)
          FROM (SELECT id, session_id, seq, role, content, tool_calls::text AS tool_calls, tenant_id, user_id,
                       created_at
                  FROM isokron.agent_messages
                 WHERE tenant_id = p_tenant_id AND user_id = p_user_id
                   AND id = ANY (p_ids)) m), '[]'::jsonb);
END
$$;

--
-- Name: applied_migrations_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.applied_migrations_v1() RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT name FROM isokron.schema_migrations ORDER BY name $$;

ALTER FUNCTION isokron.applied_migrations_v1() OWNER TO isokron_definer;

--
-- Name: clear_messages_v1(text, text, uuid); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.clear_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

--
-- Name: context_claims_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_claims_v1() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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

ALTER FUNCTION isokron.context_claims_v1() OWNER TO isokron_context;

--
-- Name: context_keys_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_keys_v1() RETURNS TABLE(fingerprint text, created_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT k.fingerprint, k.created_at FROM isokron.context_keys k ORDER BY k.created_at $$;

ALTER FUNCTION isokron.context_keys_v1() OWNER TO isokron_context;

--
-- Name: context_mode_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_mode_v1() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT CASE WHEN EXISTS (SELECT 1 FROM isokron.context_keys) THEN 'signed'
                  ELSE 'plain' END $$;

ALTER FUNCTION isokron.context_mode_v1() OWNER TO isokron_context;

--
-- Name: context_refused_v1(text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_refused_v1(p_message text, p_hint text) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RAISE EXCEPTION '%', p_message USING ERRCODE = 'IKC01', HINT = coalesce(p_hint, '');
END
$$;

--
-- Name: context_signed_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_signed_v1() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT false $$;

ALTER FUNCTION isokron.context_signed_v1() OWNER TO isokron_context;

--
-- Name: context_tenant_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_tenant_v1() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT CASE WHEN isokron.context_signed_v1()
                  THEN isokron.context_claims_v1() OPERATOR(pg_catalog.->>) 'tnt'
                  ELSE pg_catalog.current_setting('app.current_tenant_id', true) END $$;

--
-- Name: context_user_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_user_v1() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT CASE WHEN isokron.context_signed_v1()
                  THEN isokron.context_claims_v1() OPERATOR(pg_catalog.->>) 'sub'
                  ELSE pg_catalog.current_setting('app.current_user_id', true) END $$;

--
-- Name: context_workspace_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.context_workspace_v1() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT CASE WHEN isokron.context_signed_v1()
                  THEN isokron.context_claims_v1() OPERATOR(pg_catalog.->>) 'wsp'
                  ELSE pg_catalog.current_setting('app.current_workspace_id', true) END $$;

--
-- Name: create_recall_vectors_v1(text, integer); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.create_recall_vectors_v1(p_schema text, p_dims integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    v_half boolean := p_dims IS NOT NULL
                      AND to_regtype(quote_ident(p_schema) || '.halfvec') IS NOT NULL;
    v_type text := CASE WHEN v_half THEN format('%I.halfvec(%s)', p_schema, p_dims)
                        ELSE format('%I.vector', p_schema) END;
    v_memory text := CASE WHEN v_half THEN format('(r.embedding::%s)', v_type)
                          ELSE 'r.embedding' END;
    v_message text := CASE WHEN v_half THEN format('(m.embedding::%s)', v_type)
                           ELSE 'm.embedding' END;
BEGIN
    -- Nearest vectors of p_model to the query vector, for what the transaction's settings
    -- may read (the filters recall_v1 applies): the HNSW index scans in distance order and
    -- keeps scanning (iterative scan) until enough rows pass the filters, at most 20,000
    -- index tuples per source whatever the table's size. Planned for each call's scope
    -- (force_custom_plan, with the scope's statistics below): a large scope scans the
    -- index, a small one ranks its few rows exactly. A row without a vector (NULL
    -- distance) or with a vector of norm zero (NaN) is dropped after the scan.
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION isokron.recall_vectors_v1(p_vector text, p_model text,
                                                     p_namespaces text[], p_limit integer,
                                                     p_messages boolean)
RETURNS TABLE (source text, id uuid, content text, created_at timestamptz, distance real,
               namespace text, session_id uuid, role text, pin boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET hnsw.ef_search = 40
SET hnsw.iterative_scan = relaxed_order
SET hnsw.max_scan_tuples = 20000
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_v %1$I.vector := p_vector::%1$I.vector;
    v_q %4$s := v_v;
    v_tenant text := (SELECT isokron.context_tenant_v1());
    v_user text := (SELECT isokron.context_user_v1());
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_model IS NULL OR %1$I.vector_norm(v_v) = 0 THEN
        RETURN;  -- a query vector of norm zero has no nearest rows
    END IF;
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    RETURN QUERY
    WITH near_memory AS MATERIALIZED (
        SELECT r.id, r.content, r.created_at, %2$s OPERATOR(%1$I.<=>) v_q AS d,
               r.namespace, r.pin
          FROM isokron.memory_records r
          JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
         WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
           AND r.embedding_model = p_model
           AND (r.expires_at IS NULL OR r.expires_at > now())
           AND (n.expires_at IS NULL OR n.expires_at > now())
         ORDER BY %2$s OPERATOR(%1$I.<=>) v_q
         LIMIT p_limit
    ), near_messages AS MATERIALIZED (
        SELECT m.id, m.content, m.created_at, %3$s OPERATOR(%1$I.<=>) v_q AS d,
               m.session_id, m.role
          FROM isokron.agent_messages m
         WHERE p_messages AND m.tenant_id = v_tenant AND m.user_id = v_user
           AND m.embedding_model = p_model
         ORDER BY %3$s OPERATOR(%1$I.<=>) v_q
         LIMIT p_limit
    )
    SELECT x.* FROM (
        SELECT 'memory'::text, nm.id, nm.content, nm.created_at, nm.d::real, nm.namespace,
               NULL::uuid, NULL::text, nm.pin FROM near_memory nm WHERE nm.d <> 'NaN'
        UNION ALL
        SELECT 'message', mm.id, mm.content, mm.created_at, mm.d::real, NULL, mm.session_id,
               mm.role, false FROM near_messages mm WHERE mm.d <> 'NaN') x
    ORDER BY 5, 4 DESC LIMIT p_limit;
END
$$;
ALTER FUNCTION isokron.recall_vectors_v1(text, text, text[], integer, boolean)
    OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.recall_vectors_v1(text, text, text[], integer, boolean)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.recall_vectors_v1(text, text, text[], integer, boolean)
    TO isokron_runtime;
$f$, p_schema, v_memory, v_message, v_type);
END
$_$;

--
-- Name: create_vector_functions_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.create_vector_functions_v1(p_schema text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
BEGIN
    -- The one writer of vectors (for store_embeddings_v1, scoped, and
    -- backfill_embeddings_v1, any row; granted to neither role): first refuse what would
    -- poison a ranking (arrays of different lengths, a NULL element, a vector of norm zero:
    -- its cosine distance is NaN, which sorts first; a missing or oversized model id), then
    -- write only where the content is still the text that was embedded (its md5) and,
    -- unless p_any, only inside the scope given. Returns the rows updated.
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION isokron.write_embeddings_v1(
    p_source text, p_ids uuid[], p_vectors text[], p_hashes text[], p_model text,
    p_any boolean, p_root text, p_namespaces text[], p_tenant text, p_user text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_n integer;
BEGIN
    IF p_model IS NULL OR p_model = '' OR char_length(p_model) > 200 THEN
        RAISE EXCEPTION 'embeddings need a model id of 1 to 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_vectors)
       OR cardinality(p_ids) IS DISTINCT FROM cardinality(p_hashes) THEN
        RAISE EXCEPTION 'embeddings: ids, vectors and hashes must have the same length'
            USING ERRCODE = '22023';
    END IF;
    IF array_position(p_ids, NULL) IS NOT NULL OR array_position(p_vectors, NULL) IS NOT NULL
       OR array_position(p_hashes, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'embeddings: no id, vector or hash may be NULL' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(p_vectors) v WHERE %1$I.vector_norm(v::%1$I.vector) = 0) THEN
        RAISE EXCEPTION 'embeddings: a vector of norm zero has no direction'
            USING ERRCODE = '22023';
    END IF;
    IF p_source = 'memory' THEN
        UPDATE isokron.memory_records r
           SET embedding = x.v::%1$I.vector, embedding_model = p_model
          FROM unnest(p_ids, p_vectors, p_hashes) x(id, v, h)
         WHERE r.id = x.id AND md5(r.content) = x.h
           AND (p_any OR (r.root_id = p_root AND r.namespace = ANY (p_namespaces)));
    ELSIF p_source = 'message' THEN
        UPDATE isokron.agent_messages m
           SET embedding = x.v::%1$I.vector, embedding_model = p_model
          FROM unnest(p_ids, p_vectors, p_hashes) x(id, v, h)
         WHERE m.id = x.id AND md5(m.content) = x.h
           AND (p_any OR (m.tenant_id = p_tenant AND m.user_id = p_user));
    ELSE
        RAISE EXCEPTION 'embeddings: source must be memory or message, got %%',
            quote_nullable(p_source) USING ERRCODE = '22023';
    END IF;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
ALTER FUNCTION isokron.write_embeddings_v1(text, uuid[], text[], text[], text, boolean, text,
                                           text[], text, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.write_embeddings_v1(text, uuid[], text[], text[], text,
                                                   boolean, text, text[], text, text)
    FROM PUBLIC;
$f$, p_schema);

    -- Store vectors for rows the caller may write, the scope taken from the transaction's
    -- settings: memories of the workspace's writable namespaces in its tree (a namespace
    -- it only reads is its writers' to embed), the tenant's and user's own messages.
    EXECUTE $f$
CREATE OR REPLACE FUNCTION isokron.store_embeddings_v1(p_source text, p_ids uuid[],
                                                       p_vectors text[], p_hashes text[],
                                                       p_model text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_root text;
    v_writable text[];
BEGIN
    SELECT a.root_id, a.writable INTO v_root, v_writable FROM isokron.namespace_access_v2() a;
    RETURN isokron.write_embeddings_v1(
        p_source, p_ids, p_vectors, p_hashes, p_model, false, v_root, v_writable,
        (SELECT isokron.context_tenant_v1()),
        (SELECT isokron.context_user_v1()));
END
$$;
ALTER FUNCTION isokron.store_embeddings_v1(text, uuid[], text[], text[], text)
    OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.store_embeddings_v1(text, uuid[], text[], text[], text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.store_embeddings_v1(text, uuid[], text[], text[], text)
    TO isokron_runtime;
$f$;

    -- The backfill (an operator's job, never granted to the runtime role): what has no
    -- vector of p_model, in (source, id) order after the given key, and storing vectors
    -- for any row.
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION isokron.embedding_backlog_v1(p_model text, p_after_source text,
                                                        p_after_id uuid, p_limit integer)
RETURNS TABLE (source text, id uuid, content text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM (
        (SELECT 'memory'::text, r.id, r.content FROM isokron.memory_records r
          WHERE r.embedding_model IS DISTINCT FROM p_model
            AND ('memory', r.id) > (coalesce(p_after_source, ''), coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'))
          ORDER BY r.id LIMIT p_limit)
        UNION ALL
        (SELECT 'message'::text, m.id, m.content FROM isokron.agent_messages m
          WHERE m.embedding_model IS DISTINCT FROM p_model AND m.content IS NOT NULL
            AND ('message', m.id) > (coalesce(p_after_source, ''), coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'))
          ORDER BY m.id LIMIT p_limit)) x
    ORDER BY 1, 2 LIMIT p_limit
$$;
ALTER FUNCTION isokron.embedding_backlog_v1(text, text, uuid, integer) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.embedding_backlog_v1(text, text, uuid, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION isokron.embedding_counts_v1(p_model text)
RETURNS TABLE (source text, total bigint, missing bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'memory'::text, count(*), count(*) FILTER (WHERE r.embedding_model IS DISTINCT FROM p_model)
      FROM isokron.memory_records r
    UNION ALL
    SELECT 'message', count(*), count(*) FILTER (WHERE m.embedding_model IS DISTINCT FROM p_model)
      FROM isokron.agent_messages m WHERE m.content IS NOT NULL
$$;
ALTER FUNCTION isokron.embedding_counts_v1(text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.embedding_counts_v1(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION isokron.backfill_embeddings_v1(p_source text, p_ids uuid[],
                                                          p_vectors text[], p_hashes text[],
                                                          p_model text)
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT isokron.write_embeddings_v1(p_source, p_ids, p_vectors, p_hashes, p_model, true,
                                       NULL, NULL, NULL, NULL)
$$;
ALTER FUNCTION isokron.backfill_embeddings_v1(text, uuid[], text[], text[], text)
    OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.backfill_embeddings_v1(text, uuid[], text[], text[], text)
    FROM PUBLIC;

-- Vectors of another dimension than the one the columns take from now on are dropped
-- (the backfill embeds those rows again).
CREATE OR REPLACE FUNCTION isokron.drop_other_dims_v1(p_dims integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_a bigint;
    v_b bigint;
BEGIN
    UPDATE isokron.memory_records r SET embedding = NULL, embedding_model = NULL
     WHERE r.embedding IS NOT NULL AND %1$I.vector_dims(r.embedding) <> p_dims;
    GET DIAGNOSTICS v_a = ROW_COUNT;
    UPDATE isokron.agent_messages m SET embedding = NULL, embedding_model = NULL
     WHERE m.embedding IS NOT NULL AND %1$I.vector_dims(m.embedding) <> p_dims;
    GET DIAGNOSTICS v_b = ROW_COUNT;
    RETURN v_a + v_b;
END
$$;
ALTER FUNCTION isokron.drop_other_dims_v1(integer) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.drop_other_dims_v1(integer) FROM PUBLIC;
$f$, p_schema);
    PERFORM isokron.create_recall_vectors_v1(p_schema, NULL);
END
$_$;

--
-- Name: delete_namespace_v1(text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.delete_namespace_v1(p_workspace_id text, p_name text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_root text;
    v_count bigint;
BEGIN
    IF p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'delete_namespace_v1: workspace % is not the transaction''s workspace',
            quote_nullable(p_workspace_id) USING ERRCODE = 'IKT01';
    END IF;
    IF NOT p_name = ANY (isokron.owned_namespaces_v1()) THEN
        RAISE EXCEPTION 'workspace % may not delete namespace % (only its owner may: %)',
            quote_literal(p_workspace_id), quote_literal(p_name),
            array_to_string(isokron.owned_namespaces_v1(), ', ') USING ERRCODE = 'IKT02';
    END IF;
    SELECT n.root_id INTO v_root FROM isokron.memory_namespaces n WHERE n.name = p_name;
    IF v_root IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO v_count FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.namespace = p_name;
    DELETE FROM isokron.memory_namespaces n WHERE n.name = p_name;
    IF p_name LIKE 'team:%' OR p_name LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (root_id, namespace, workspace_id, action)
        VALUES (v_root, p_name, p_workspace_id, 'delete_namespace');
    END IF;
    RETURN v_count;
END
$$;

ALTER FUNCTION isokron.delete_namespace_v1(p_workspace_id text, p_name text) OWNER TO isokron_definer;

--
-- Name: enable_vectors_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.enable_vectors_v1() RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_schema text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        RETURN false;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'pgvector is available but may not be created here: %', SQLERRM;
        RETURN false;
    END;
    SELECT n.nspname INTO v_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    EXECUTE format('ALTER TABLE isokron.memory_records ADD COLUMN IF NOT EXISTS embedding %I.vector',
                   v_schema);
    IF to_regclass('isokron.agent_messages') IS NOT NULL THEN
        EXECUTE format('ALTER TABLE isokron.agent_messages '
                       'ADD COLUMN IF NOT EXISTS embedding %I.vector', v_schema);
        EXECUTE 'GRANT UPDATE (embedding) ON isokron.memory_records, isokron.agent_messages '
                'TO isokron_definer';
        PERFORM isokron.create_vector_functions_v1(v_schema);
    END IF;
    RETURN true;
END
$$;

--
-- Name: episodic_append_one_v1(text, uuid, uuid, text, text, text, text, text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.episodic_append_one_v1(p_workspace_id text, p_agent_id uuid, p_id uuid, p_type text, p_sender text, p_recipient text, p_body text, p_receipt text, p_hash text) RETURNS timestamp with time zone
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

--
-- Name: episodic_append_v1(text, uuid, uuid[], text[], text[], text[], text[], text[], text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.episodic_append_v1(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

--
-- Name: episodic_append_v2(text, uuid, uuid[], text[], text[], text[], text[], text[], text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.episodic_append_v2(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) RETURNS json
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
               WITH ORDINALITY AS u(id, event_type, sender, recipient, body, receipt, hash, ord)
         ORDER BY u.ord  -- seq follows the order given
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

--
-- Name: episodic_append_v3(text, uuid, uuid[], text[], text[], text[], text[], text[], text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.episodic_append_v3(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) RETURNS json
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

--
-- Name: episodic_list_v1(text, uuid, text, timestamp with time zone, integer); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.episodic_list_v1(p_workspace_id text, p_agent_id uuid, p_event_type text, p_since timestamp with time zone, p_limit integer) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
            SELECT jsonb_agg(to_jsonb(e) ORDER BY e.created_at DESC, e.seq DESC)
              FROM (SELECT id, agent_id, created_at, event_type, sender, recipient,
                           body::text AS body, inference_receipt_id, audit_event_hash, seq
                      FROM isokron.agent_episodic_events x
                     WHERE x.workspace_id = p_workspace_id AND x.agent_id = p_agent_id
                       AND x.created_at >= coalesce(p_since, '-infinity')
                     ORDER BY x.created_at DESC, x.seq DESC
                     LIMIT p_limit) e), '[]'::jsonb));
    END IF;
    RETURN jsonb_build_object('owned', true, 'rows', coalesce((
        SELECT jsonb_agg(to_jsonb(e) ORDER BY e.created_at DESC, e.seq DESC)
          FROM (SELECT id, agent_id, created_at, event_type, sender, recipient,
                       body::text AS body, inference_receipt_id, audit_event_hash, seq
                  FROM isokron.agent_episodic_events x
                 WHERE x.workspace_id = p_workspace_id AND x.agent_id = p_agent_id
                   AND x.event_type = p_event_type
                   AND x.created_at >= coalesce(p_since, '-infinity')
                 ORDER BY x.created_at DESC, x.seq DESC
                 LIMIT p_limit) e), '[]'::jsonb));
END
$$;

--
-- Name: erase_self_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.erase_self_v1() RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_tenant text := (SELECT isokron.context_tenant_v1());
    v_user text := (SELECT isokron.context_user_v1());
BEGIN
    IF coalesce(v_tenant, '') = '' OR coalesce(v_user, '') = '' THEN
        RAISE EXCEPTION 'no tenant and user in this transaction''s context: an erasure '
            'through the runtime erases the context''s own user only' USING ERRCODE = '42501';
    END IF;
    RETURN isokron.erase_user_core_v1(v_tenant, v_user, 'self:' || session_user::text);
END
$$;

ALTER FUNCTION isokron.erase_self_v1() OWNER TO isokron_definer;

--
-- Name: erase_user_core_v1(text, text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.erase_user_core_v1(p_workspace_id text, p_user_id text, p_operator text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_root text;
    v_sessions uuid[];
    v_memories uuid[];
    v_namespaces text[];
    v_counts jsonb := '{}';
    v_n bigint;
    v_ns text;
    v_prev isokron.erasure_receipts;
    v_r isokron.erasure_receipts;
BEGIN
    IF coalesce(p_workspace_id, '') = '' OR coalesce(p_user_id, '') = '' THEN
        RAISE EXCEPTION 'an erasure needs a workspace and a user (got %, %)',
            coalesce(quote_literal(p_workspace_id), 'NULL'),
            coalesce(quote_literal(p_user_id), 'NULL') USING ERRCODE = '22023';
    END IF;
    -- One erasure at a time: the receipts form one chain.
    PERFORM pg_advisory_xact_lock(7026, 0);
    WITH RECURSIVE up(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = p_workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, u.depth + 1 FROM isokron.workspaces w
          JOIN up u ON w.workspace_id = u.parent WHERE u.depth < 50
    )
    SELECT u.id INTO v_root FROM up u ORDER BY u.depth DESC LIMIT 1;
    -- A tenant isokron knows nothing of (a mistyped workspace) gets an error, not a receipt
    -- that would read as proof: it is a workspace, or it has sessions or quota counters.
    IF v_root IS NULL
       AND NOT EXISTS (SELECT 1 FROM isokron.agent_sessions s
                        WHERE s.tenant_id = p_workspace_id)
       AND NOT EXISTS (SELECT 1 FROM isokron.quota_usage q
                        WHERE q.key1 = p_workspace_id AND q.scope IN ('user', 'session')) THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces, and no session has '
            'it as its tenant)', quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;

    SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}') INTO v_sessions
      FROM isokron.agent_sessions s
     WHERE s.tenant_id = p_workspace_id AND s.user_id = p_user_id;
    SELECT coalesce(array_agg(r.id ORDER BY r.id), '{}'),
           coalesce(array_agg(DISTINCT r.namespace), '{}')
      INTO v_memories, v_namespaces
      FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.written_by = p_workspace_id AND r.user_id = p_user_id;

    DELETE FROM isokron.agent_episodic_events e
     WHERE e.workspace_id = p_workspace_id AND e.body ? 'session'
       AND e.body ->> 'session' = ANY (v_sessions::text[]);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('agent_episodic_events', v_n);
    DELETE FROM isokron.agent_messages m
     WHERE m.tenant_id = p_workspace_id AND m.user_id = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('agent_messages', v_n);
    DELETE FROM isokron.agent_sessions s
     WHERE s.tenant_id = p_workspace_id AND s.user_id = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('agent_sessions', v_n);
    UPDATE isokron.memory_audit a SET content_sha256 = NULL
     WHERE a.root_id = v_root AND a.memory_id = ANY (v_memories)
       AND a.content_sha256 IS NOT NULL;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('memory_audit_cleared', v_n);
    DELETE FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.id = ANY (v_memories)
       AND r.written_by = p_workspace_id AND r.user_id = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('memory_records', v_n);
    DELETE FROM isokron.recall_lexicon x
     WHERE x.source = 's' AND x.key1 = p_workspace_id AND x.key2 = p_user_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    DELETE FROM isokron.recall_corpora x
     WHERE x.source = 's' AND x.key1 = p_workspace_id AND x.key2 = p_user_id;
    v_counts := v_counts || jsonb_build_object('recall_lexicon', v_n);
    FOREACH v_ns IN ARRAY v_namespaces LOOP
        PERFORM isokron.refresh_recall_corpus_v1('m', v_root, v_ns);
    END LOOP;
    DELETE FROM isokron.quota_usage q
     WHERE q.key1 = p_workspace_id AND q.key2 = p_user_id AND q.scope IN ('user', 'session');
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('quota_usage', v_n);

    SELECT * INTO v_prev FROM isokron.erasure_receipts ORDER BY seq DESC LIMIT 1;
    v_r.id := gen_random_uuid();
    v_r.seq := coalesce(v_prev.seq, 0) + 1;
    v_r.workspace_id := p_workspace_id;
    v_r.salt := replace(gen_random_uuid()::text, '-', '');
    v_r.subject := isokron.erasure_subject_v1(v_r.salt, p_workspace_id, p_user_id);
    v_r.counts := v_counts;
    v_r.session_ids := v_sessions;
    v_r.memory_ids := v_memories;
    v_r.operator := p_operator;
    v_r.erased_at := now();
    v_r.prev_hash := v_prev.hash;
    v_r.hash := isokron.erasure_hash_v1(v_r);
    INSERT INTO isokron.erasure_receipts SELECT v_r.*;
    RETURN json_build_object('id', v_r.id, 'seq', v_r.seq, 'workspace_id', v_r.workspace_id,
                             'counts', v_r.counts, 'operator', v_r.operator,
                             'erased_at', v_r.erased_at, 'prev_hash', v_r.prev_hash,
                             'hash', v_r.hash);
END
$$;

ALTER FUNCTION isokron.erase_user_core_v1(p_workspace_id text, p_user_id text, p_operator text) OWNER TO isokron_definer;

--
-- Name: erase_user_v1(text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.erase_user_v1(p_workspace_id text, p_user_id text) RETURNS json
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT isokron.erase_user_core_v1(p_workspace_id, p_user_id, session_user::text)
$$;

ALTER FUNCTION isokron.erase_user_v1(p_workspace_id text, p_user_id text) OWNER TO isokron_definer;

--
-- Name: erase_verify_v1(uuid); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.erase_verify_v1(p_receipt uuid) RETURNS json
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_r isokron.erasure_receipts;
    v_root text;
    v_users text[];
    v_broken bigint;
    v_remains jsonb;
BEGIN
    SELECT * INTO v_r FROM isokron.erasure_receipts WHERE id = p_receipt;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no erasure receipt %', p_receipt USING ERRCODE = 'IKN02';
    END IF;
    -- The chain: each receipt's hash recomputed, each prev_hash the previous one's hash.
    SELECT min(x.seq) INTO v_broken
      FROM (SELECT e.seq, e.hash, e.prev_hash, isokron.erasure_hash_v1(e) AS fresh,
                   lag(e.hash) OVER (ORDER BY e.seq) AS before,
                   lag(e.seq) OVER (ORDER BY e.seq) AS seq_before
              FROM isokron.erasure_receipts e WHERE e.seq <= v_r.seq) x
     WHERE x.hash <> x.fresh OR x.prev_hash IS DISTINCT FROM x.before
        OR x.seq <> coalesce(x.seq_before, 0) + 1;
    WITH RECURSIVE up(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = v_r.workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, u.depth + 1 FROM isokron.workspaces w
          JOIN up u ON w.workspace_id = u.parent WHERE u.depth < 50
    )
    SELECT u.id INTO v_root FROM up u ORDER BY u.depth DESC LIMIT 1;
    -- The user ids of the tenant whose salted hash is the receipt's subject.
    SELECT coalesce(array_agg(c.u), '{}') INTO v_users
      FROM (SELECT s.user_id AS u FROM isokron.agent_sessions s
             WHERE s.tenant_id = v_r.workspace_id
            UNION SELECT m.user_id FROM isokron.agent_messages m
             WHERE m.tenant_id = v_r.workspace_id
            UNION SELECT r.user_id FROM isokron.memory_records r
             WHERE r.root_id = v_root AND r.written_by = v_r.workspace_id
               AND r.user_id IS NOT NULL
            UNION SELECT q.key2 FROM isokron.quota_usage q
             WHERE q.key1 = v_r.workspace_id AND q.scope IN ('user', 'session')
            UNION SELECT x.key2 FROM isokron.recall_corpora x
             WHERE x.source = 's' AND x.key1 = v_r.workspace_id
            UNION SELECT x.key2 FROM isokron.recall_lexicon x
             WHERE x.source = 's' AND x.key1 = v_r.workspace_id) c
     WHERE isokron.erasure_subject_v1(v_r.salt, v_r.workspace_id, c.u) = v_r.subject;
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'agent_sessions', nullif((SELECT count(*) FROM isokron.agent_sessions s
                                   WHERE s.tenant_id = v_r.workspace_id
                                     AND (s.user_id = ANY (v_users)
                                          OR s.id = ANY (v_r.session_ids))), 0),
        'agent_messages', nullif((SELECT count(*) FROM isokron.agent_messages m
                                   WHERE m.tenant_id = v_r.workspace_id
                                     AND (m.user_id = ANY (v_users)
                                          OR m.session_id = ANY (v_r.session_ids))), 0),
        'agent_episodic_events', nullif((SELECT count(*) FROM isokron.agent_episodic_events e
                                          WHERE e.workspace_id = v_r.workspace_id
                                            AND e.body ? 'session'
                                            AND e.body ->> 'session'
                                                = ANY (v_r.session_ids::text[])), 0),
        'memory_records', nullif((SELECT count(*) FROM isokron.memory_records r
                                   WHERE r.root_id = v_root
                                     AND (r.id = ANY (v_r.memory_ids)
                                          OR (r.written_by = v_r.workspace_id
                                              AND r.user_id = ANY (v_users)))), 0),
        'memory_audit', nullif((SELECT count(*) FROM isokron.memory_audit a
                                 WHERE a.root_id = v_root AND a.memory_id = ANY (v_r.memory_ids)
                                   AND a.content_sha256 IS NOT NULL), 0),
        'recall_lexicon', nullif((SELECT count(*) FROM isokron.recall_lexicon x
                                   WHERE x.source = 's' AND x.key1 = v_r.workspace_id
                                     AND x.key2 = ANY (v_users)), 0),
        'recall_corpora', nullif((SELECT count(*) FROM isokron.recall_corpora x
                                   WHERE x.source = 's' AND x.key1 = v_r.workspace_id
                                     AND x.key2 = ANY (v_users)), 0),
        'quota_usage', nullif((SELECT count(*) FROM isokron.quota_usage q
                                WHERE q.key1 = v_r.workspace_id
                                  AND q.scope IN ('user', 'session')
                                  AND q.key2 = ANY (v_users)), 0))) INTO v_remains;
    RETURN json_build_object(
        'id', v_r.id, 'seq', v_r.seq, 'workspace_id', v_r.workspace_id, 'counts', v_r.counts,
        'operator', v_r.operator, 'erased_at', v_r.erased_at, 'prev_hash', v_r.prev_hash,
        'hash', v_r.hash, 'chain_intact', v_broken IS NULL, 'broken_at', v_broken, 'remains', v_remains,
        'clean', v_broken IS NULL AND v_remains = '{}'::jsonb);
END
$$;

ALTER FUNCTION isokron.erase_verify_v1(p_receipt uuid) OWNER TO isokron_definer;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: erasure_receipts; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.erasure_receipts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    seq bigint NOT NULL,
    workspace_id text NOT NULL,
    subject text NOT NULL,
    salt text NOT NULL,
    counts jsonb NOT NULL,
    session_ids uuid[] NOT NULL,
    memory_ids uuid[] NOT NULL,
    operator text NOT NULL,
    erased_at timestamp with time zone NOT NULL,
    prev_hash text,
    hash text NOT NULL,
    CONSTRAINT erasure_receipts_counts_check CHECK ((jsonb_typeof(counts) = 'object'::text)),
    CONSTRAINT erasure_receipts_seq_check CHECK ((seq >= 1))
);

ALTER TABLE ONLY isokron.erasure_receipts FORCE ROW LEVEL SECURITY;

--
-- Name: erasure_hash_v1(isokron.erasure_receipts); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.erasure_hash_v1(r isokron.erasure_receipts) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT encode(sha256(convert_to(string_agg(char_length(f) || ':' || f, '|' ORDER BY n),
                                    'UTF8')), 'hex')
      FROM unnest(ARRAY[
               coalesce(r.prev_hash, ''), r.id::text, r.seq::text, r.workspace_id, r.subject,
               r.salt, r.counts::text, array_to_string(r.session_ids, ','),
               array_to_string(r.memory_ids, ','), r.operator,
               (extract(epoch FROM r.erased_at) * 1000000)::bigint::text])
           WITH ORDINALITY AS x(f, n)
$$;

--
-- Name: erasure_subject_v1(text, text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.erasure_subject_v1(p_salt text, p_workspace_id text, p_user_id text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT encode(sha256(convert_to(p_salt || chr(31) || p_workspace_id || chr(31)
                                    || p_user_id, 'UTF8')), 'hex')
$$;

--
-- Name: export_memory_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.export_memory_v1(p_workspace_id text) RETURNS SETOF json
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_root text;
BEGIN
    WITH RECURSIVE up(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = p_workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, u.depth + 1 FROM isokron.workspaces w
          JOIN up u ON w.workspace_id = u.parent WHERE u.depth < 50
    )
    SELECT u.id INTO v_root FROM up u ORDER BY u.depth DESC LIMIT 1;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    RETURN QUERY
    WITH RECURSIVE tree(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = v_root
        UNION ALL
        SELECT w.workspace_id, w.parent_id, t.depth + 1 FROM isokron.workspaces w
          JOIN tree t ON w.parent_id = t.id WHERE t.depth < 50
    ), names AS (
        SELECT 'workspace:' || t.id AS name FROM tree t
        UNION SELECT 'team:' || coalesce(t.parent, t.id) FROM tree t
        UNION SELECT 'org:' || v_root
    )
    SELECT json_build_object('type', 'workspace', 'workspace_id', t.id, 'parent_id', t.parent)
      FROM tree t
    UNION ALL
    SELECT json_build_object('type', 'namespace', 'name', n.name, 'kind', n.kind,
                             'expires_at', n.expires_at, 'metadata', n.metadata)
      FROM isokron.memory_namespaces n WHERE n.name IN (SELECT name FROM names)
    UNION ALL
    SELECT json_build_object('type', 'memory', 'id', r.id, 'namespace', r.namespace,
                             'content', r.content, 'kind', r.kind, 'source', r.source,
                             'pin', r.pin, 'expires_at', r.expires_at,
                             'created_at', r.created_at)
      FROM isokron.memory_records r WHERE r.namespace IN (SELECT name FROM names);
END
$$;

ALTER FUNCTION isokron.export_memory_v1(p_workspace_id text) OWNER TO isokron_definer;

--
-- Name: export_memory_v2(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.export_memory_v2(p_workspace_id text) RETURNS SETOF json
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_root text;
BEGIN
    WITH RECURSIVE up(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = p_workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, u.depth + 1 FROM isokron.workspaces w
          JOIN up u ON w.workspace_id = u.parent WHERE u.depth < 50
    )
    SELECT u.id INTO v_root FROM up u ORDER BY u.depth DESC LIMIT 1;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    RETURN QUERY
    WITH RECURSIVE tree(id, parent, depth) AS (
        SELECT w.workspace_id, w.parent_id, 0 FROM isokron.workspaces w
         WHERE w.workspace_id = v_root
        UNION ALL
        SELECT w.workspace_id, w.parent_id, t.depth + 1 FROM isokron.workspaces w
          JOIN tree t ON w.parent_id = t.id WHERE t.depth < 50
    ), names AS (
        SELECT 'workspace:' || t.id AS name FROM tree t
        UNION SELECT 'team:' || coalesce(t.parent, t.id) FROM tree t
        UNION SELECT 'org:' || v_root
    )
    SELECT json_build_object('type', 'workspace', 'workspace_id', t.id, 'parent_id', t.parent)
      FROM tree t
    UNION ALL
    SELECT json_build_object('type', 'namespace', 'name', n.name, 'kind', n.kind,
                             'expires_at', n.expires_at, 'metadata', n.metadata)
      FROM isokron.memory_namespaces n WHERE n.name IN (SELECT name FROM names)
    UNION ALL
    SELECT json_build_object('type', 'memory', 'id', r.id, 'namespace', r.namespace,
                             'content', r.content, 'kind', r.kind, 'source', r.source,
                             'pin', r.pin, 'expires_at', r.expires_at,
                             'created_at', r.created_at, 'valid_from', r.valid_from,
                             'valid_to', r.valid_to)
      FROM isokron.memory_records r
     WHERE r.namespace IN (SELECT name FROM names)
       AND r.retracted_at IS NULL AND r.superseded_by IS NULL
       AND r.unmerged_duplicate_of IS NULL;
END
$$;

ALTER FUNCTION isokron.export_memory_v2(p_workspace_id text) OWNER TO isokron_definer;

--
-- Name: fill_record_root_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.fill_record_root_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    NEW.root_id := isokron.namespace_root_v1(NEW.namespace);
    RETURN NEW;
END
$$;

ALTER FUNCTION isokron.fill_record_root_tg() OWNER TO isokron_definer;

--
-- Name: guard_workspace_root_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.guard_workspace_root_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_old text;
    v_new text;
BEGIN
    v_old := CASE WHEN TG_OP = 'INSERT' THEN NEW.workspace_id
                  ELSE isokron.workspace_root_v1(OLD.workspace_id) END;
    v_new := CASE WHEN NEW.parent_id IS NULL THEN NEW.workspace_id
                  ELSE isokron.workspace_root_v1(NEW.parent_id) END;
    IF v_old IS DISTINCT FROM v_new AND EXISTS (
            SELECT 1 FROM isokron.memory_namespaces n WHERE n.root_id = v_old) THEN
        RAISE EXCEPTION 'workspace % would move from tree % to tree % while memory is stored '
                        'under %; export it, purge it and import it under the new tree',
            quote_literal(NEW.workspace_id), quote_literal(v_old), quote_literal(v_new),
            quote_literal(v_old) USING ERRCODE = 'IKI01';
    END IF;
    RETURN NEW;
END
$$;

ALTER FUNCTION isokron.guard_workspace_root_tg() OWNER TO isokron_definer;

--
-- Name: import_memory_v2(text, json); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.import_memory_v2(p_root text, p_items json) RETURNS TABLE(workspaces bigint, namespaces bigint, memories bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    v_w bigint;
    v_n bigint;
    v_m bigint;
    v_bad text;
    v_root_parent text;
BEGIN
    IF p_root IS NULL OR p_root !~ '^[A-Za-z0-9_.\-]{1,128}$' THEN
        RAISE EXCEPTION 'refusing the import: % is not a workspace id', quote_nullable(p_root)
            USING ERRCODE = 'IKI01';
    END IF;
    SELECT w.parent_id INTO v_root_parent FROM isokron.workspaces w WHERE w.workspace_id = p_root;
    IF v_root_parent IS NOT NULL THEN
        RAISE EXCEPTION 'refusing the import: workspace % is not the root of a tree (its parent is %)',
            quote_literal(p_root), quote_literal(v_root_parent) USING ERRCODE = 'IKI01';
    END IF;
    SELECT format('item %s has type %s', n, coalesce(quote_literal(i->>'type'), 'none'))
      INTO v_bad
      FROM json_array_elements(p_items) WITH ORDINALITY AS t(i, n)
     WHERE coalesce(i->>'type', '') NOT IN ('workspace', 'namespace', 'memory')
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing the import: %', v_bad USING ERRCODE = 'IKI01';
    END IF;
    -- workspaces: p_root itself (as a root), or a child of a workspace already in the tree
    -- or placed by this batch; parents first.
    WITH RECURSIVE items AS (
        SELECT i->>'workspace_id' AS id, i->>'parent_id' AS parent
          FROM json_array_elements(p_items) i WHERE i->>'type' = 'workspace'
    ), placed(id, parent, depth) AS (
        SELECT it.id, it.parent, 0 FROM items it
         WHERE (it.id = p_root AND it.parent IS NULL)
            OR (it.parent IS NOT NULL AND isokron.workspace_root_v1(it.parent) = p_root)
        UNION ALL
        SELECT it.id, it.parent, p.depth + 1
          FROM items it JOIN placed p ON it.parent = p.id
         WHERE p.depth < 50
    )
    SELECT format('workspace %s (parent %s) is not in the tree of %s',
                  coalesce(quote_literal(it.id), 'null'), coalesce(quote_literal(it.parent), 'none'),
                  quote_literal(p_root))
      INTO v_bad
      FROM items it
     WHERE it.id IS NULL OR NOT EXISTS (SELECT 1 FROM placed p WHERE p.id = it.id)
        OR EXISTS (SELECT 1 FROM isokron.workspaces w WHERE w.workspace_id = it.id
                    AND (w.parent_id IS DISTINCT FROM it.parent
                         OR isokron.workspace_root_v1(w.workspace_id) IS DISTINCT FROM p_root))
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing the import: %', v_bad USING ERRCODE = 'IKI01';
    END IF;
    SELECT format('memory %s: %s', coalesce(i->>'id', '(no id)'), CASE
               WHEN coalesce(i->>'source', 'user') NOT IN ('agent', 'runtime', 'user')
                   THEN 'source ' || quote_literal(i->>'source')
                        || ' is not one of agent, runtime, user'
               WHEN coalesce(i->>'kind', 'fact') NOT IN ('fact', 'summary', 'checkpoint')
                   THEN 'kind ' || quote_literal(i->>'kind')
                        || ' is not one of fact, summary, checkpoint'
               ELSE 'created_at ' || (i->>'created_at') || ' is in the future' END)
      INTO v_bad
      FROM json_array_elements(p_items) i
     WHERE i->>'type' = 'memory'
       AND (coalesce(i->>'source', 'user') NOT IN ('agent', 'runtime', 'user')
            OR coalesce(i->>'kind', 'fact') NOT IN ('fact', 'summary', 'checkpoint')
            OR (i->>'created_at')::timestamptz > now())
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing the import: %', v_bad USING ERRCODE = 'IKI01';
    END IF;
    WITH RECURSIVE items AS (
        SELECT i->>'workspace_id' AS id, i->>'parent_id' AS parent
          FROM json_array_elements(p_items) i WHERE i->>'type' = 'workspace'
    ), placed(id, parent, depth) AS (
        SELECT it.id, it.parent, 0 FROM items it
         WHERE (it.id = p_root AND it.parent IS NULL)
            OR (it.parent IS NOT NULL AND isokron.workspace_root_v1(it.parent) = p_root)
        UNION ALL
        SELECT it.id, it.parent, p.depth + 1
          FROM items it JOIN placed p ON it.parent = p.id
         WHERE p.depth < 50
    ), ins AS (
        INSERT INTO isokron.workspaces (workspace_id, parent_id)
        SELECT p.id, p.parent FROM placed p ORDER BY p.depth
        ON CONFLICT DO NOTHING RETURNING 1
    )
    SELECT count(*) INTO v_w FROM ins;
    SELECT format('%s %s belongs to tree %s, not to %s', i->>'type',
                  quote_nullable(coalesce(i->>'name', i->>'namespace')),
                  quote_nullable(isokron.namespace_root_v1(coalesce(i->>'name', i->>'namespace'))),
                  quote_literal(p_root))
      INTO v_bad
      FROM json_array_elements(p_items) i
     WHERE i->>'type' IN ('namespace', 'memory')
       AND isokron.namespace_root_v1(coalesce(i->>'name', i->>'namespace'))
           IS DISTINCT FROM p_root
     LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'refusing the import: %', v_bad USING ERRCODE = 'IKI01';
    END IF;
    WITH ins AS (
        INSERT INTO isokron.memory_namespaces (name, kind, expires_at, metadata)
        SELECT i->>'name', i->>'kind', (i->>'expires_at')::timestamptz,
               coalesce(i->'metadata', '{}')::jsonb
          FROM json_array_elements(p_items) i WHERE i->>'type' = 'namespace'
        ON CONFLICT DO NOTHING RETURNING name, root_id
    ), audited AS (
        INSERT INTO isokron.memory_audit (root_id, namespace, workspace_id, action)
        SELECT ins.root_id, ins.name, p_root, 'import_namespace' FROM ins
         WHERE ins.name LIKE 'org:%' OR ins.name LIKE 'team:%'
    )
    SELECT count(*) INTO v_n FROM ins;
    WITH ins AS (
        INSERT INTO isokron.memory_records (id, namespace, content, kind, source, pin,
                                            expires_at, created_at, imported_at)
        SELECT (i->>'id')::uuid, i->>'namespace', i->>'content',
               coalesce(i->>'kind', 'fact'), coalesce(i->>'source', 'user'),
               coalesce((i->>'pin')::boolean, false), (i->>'expires_at')::timestamptz,
               coalesce((i->>'created_at')::timestamptz, now()), now()
          FROM json_array_elements(p_items) i WHERE i->>'type' = 'memory'
        ON CONFLICT DO NOTHING RETURNING id, namespace, content, root_id
    ), audited AS (
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT ins.root_id, ins.id, ins.namespace, p_root, 'import',
               encode(sha256(convert_to(ins.content, 'UTF8')), 'hex')
          FROM ins WHERE ins.namespace LIKE 'org:%'
    )
    SELECT count(*) INTO v_m FROM ins;
    RETURN QUERY SELECT v_w, v_n, v_m;
END
$_$;

ALTER FUNCTION isokron.import_memory_v2(p_root text, p_items json) OWNER TO isokron_definer;

--
-- Name: in_context_v1(text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.in_context_v1(p_token text, p_value text) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF p_token IS NOT NULL THEN
        PERFORM set_config('isokron.context_token', p_token, true);
    END IF;
    RETURN p_value;
END
$$;

--
-- Name: install_context_key_v1(text, bytea, bytea); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.install_context_key_v1(p_fingerprint text, p_inner bytea, p_outer bytea) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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

ALTER FUNCTION isokron.install_context_key_v1(p_fingerprint text, p_inner bytea, p_outer bytea) OWNER TO isokron_context;

--
-- Name: list_messages_v1(text, text, uuid, integer, integer, integer); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.list_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_after_seq integer, p_limit integer, p_last integer) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM set_config('app.current_tenant_id', p_tenant_id, true);
    PERFORM set_config('app.current_user_id', p_user_id, true);
    PERFORM 1 FROM isokron.agent_sessions s
      WHERE s.tenant_id = p_tenant_id AND s.user_id = p_user_id AND s.id = p_session_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'session % not found', p_session_id USING ERRCODE = 'IKN01';
    END IF;
    IF p_last IS NOT NULL THEN
        RETURN coalesce((
            SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq)
              FROM (SELECT id, session_id, seq, role, content, tool_calls::text AS tool_calls, tenant_id, user_id,
                           created_at
                      FROM isokron.agent_messages
                     WHERE tenant_id = p_tenant_id AND user_id = p_user_id
                       AND session_id = p_session_id AND seq > p_after_seq
                     ORDER BY seq DESC
                     LIMIT p_last) m), '[]'::jsonb);
    END IF;
    RETURN coalesce((
        SELECT jsonb_agg(to_jsonb(m) ORDER BY m.seq)
          FROM (SELECT id, session_id, seq, role, content, tool_calls::text AS tool_calls, tenant_id, user_id,
                       created_at
                  FROM isokron.agent_messages
                 WHERE tenant_id = p_tenant_id AND user_id = p_user_id
                   AND session_id = p_session_id AND seq > p_after_seq
                 ORDER BY seq
                 LIMIT p_limit) m), '[]'::jsonb);
END
$$;

--
-- Name: memory_claimed_guard_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_claimed_guard_tg() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF pg_has_role(current_user, 'isokron_runtime', 'MEMBER')
       AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'memory % was written on behalf of another user: it may not be '
            'taken over (commit a memory of your own)', OLD.id USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;

--
-- Name: memory_commit_many_v1(text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamp with time zone[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_commit_many_v1(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_writable text[];
    v_root text;
    v_out jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.writable, a.root_id INTO v_writable, v_root FROM isokron.namespace_access_v2() a;
    IF v_writable IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    -- One statement: the foreign key from records to namespaces is checked at its end.
    WITH input AS (
        SELECT u.ord, u.id, u.ns, u.nk, u.content, u.kind, u.source, u.pin, u.exp
          FROM unnest(p_ids, p_namespaces, p_namespace_kinds, p_contents, p_kinds, p_sources,
                      p_pins, p_expires_at) WITH ORDINALITY
               AS u(id, ns, nk, content, kind, source, pin, exp, ord)
    ), checked AS (
        SELECT i.*, e.elsewhere,
               CASE WHEN NOT i.ns = ANY (v_writable) THEN 'IKT02'
                    WHEN e.elsewhere IS NOT NULL THEN 'IKT03' END AS code
          FROM input i
          LEFT JOIN LATERAL (SELECT r.namespace AS elsewhere FROM isokron.memory_records r
                              WHERE r.root_id = v_root AND r.id = i.id AND r.namespace <> i.ns
                              LIMIT 1) e ON true
    ), namespaces AS (
        INSERT INTO isokron.memory_namespaces (root_id, name, kind)
        SELECT DISTINCT v_root, c.ns, c.nk FROM checked c
         WHERE c.code IS NULL
           AND NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                            WHERE m.root_id = v_root AND m.name = c.ns)
        ON CONFLICT (root_id, name) DO NOTHING
    ), written AS (
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at)
        SELECT DISTINCT ON (c.ns, c.id) v_root, c.id, c.ns, c.content, c.kind, c.source, c.pin,
               c.exp
          FROM checked c
         WHERE c.code IS NULL
         ORDER BY c.ns, c.id, c.ord DESC
        ON CONFLICT (root_id, namespace, id) DO UPDATE
           SET content = EXCLUDED.content, kind = EXCLUDED.kind, source = EXCLUDED.source,
               pin = EXCLUDED.pin, expires_at = EXCLUDED.expires_at, updated_at = now()
        RETURNING r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                  r.created_at
    ), audited AS (
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT v_root, c.id, c.ns, p_workspace_id, 'commit',
               encode(sha256(convert_to(c.content, 'UTF8')), 'hex')
          FROM checked c
         WHERE c.code IS NULL AND c.ns LIKE 'org:%'
    )
    SELECT jsonb_agg(CASE
               WHEN c.code = 'IKT02' THEN jsonb_build_object('error', jsonb_build_object(
                   'code', c.code, 'message', format(
                       'workspace %L may not write namespace %L (writable: %s)',
                       p_workspace_id, c.ns, array_to_string(v_writable, ', '))))
               WHEN c.code = 'IKT03' THEN jsonb_build_object('error', jsonb_build_object(
                   'code', c.code, 'message', format(
                       'memory %s already exists in another namespace (%s)', c.id,
                       c.elsewhere)))
               ELSE jsonb_build_object('row', to_jsonb(w)) END ORDER BY c.ord)
      INTO v_out
      FROM checked c
      LEFT JOIN written w ON w.namespace = c.ns AND w.id = c.id AND c.code IS NULL;
    RETURN coalesce(v_out, '[]'::jsonb);
END
$$;

--
-- Name: memory_commit_many_v2(text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamp with time zone[], timestamp with time zone[], timestamp with time zone[], text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_commit_many_v2(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]) RETURNS json
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_writable text[];
    v_root text;
    v_slow bigint[];
    v_done jsonb;
    v_item record;
    v_state text;
    v_message text;
    v_out jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.writable, a.root_id INTO v_writable, v_root FROM isokron.namespace_access_v2() a;
    IF v_writable IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    -- Sort the items: refused (not writable, an id of another namespace), slow (the id of
    -- an existing record, or an id repeated in the batch: an update), and new.
    WITH input AS (
        SELECT u.ord, u.id, u.ns FROM unnest(p_ids, p_namespaces) WITH ORDINALITY
                                      AS u(id, ns, ord)
    ), sorted AS (
        SELECT i.ord, i.id, i.ns, e.namespace AS found,
               CASE WHEN NOT i.ns = ANY (v_writable) THEN 'IKT02'
                    WHEN e.namespace IS NOT NULL AND e.namespace <> i.ns THEN 'IKT03' END
                   AS code,
               e.namespace IS NOT NULL
               OR i.ord > min(i.ord) OVER (PARTITION BY i.id, i.ns) AS slow
          FROM input i
          LEFT JOIN LATERAL (SELECT r.namespace FROM isokron.memory_records r
                              WHERE r.root_id = v_root AND r.id = i.id
                              ORDER BY r.namespace = i.ns DESC LIMIT 1) e ON true
    )
    SELECT coalesce(array_agg(s.ord) FILTER (WHERE s.code IS NULL AND s.slow), '{}'),
           coalesce(jsonb_object_agg(s.ord, jsonb_build_object('error', jsonb_build_object(
               'code', s.code, 'message', CASE WHEN s.code = 'IKT02' THEN format(
                   'workspace %L may not write namespace %L (writable: %s)', p_workspace_id,
                   s.ns, array_to_string(v_writable, ', '))
               ELSE format('memory %s already exists in another namespace (%s)', s.id,
                           s.found) END))) FILTER (WHERE s.code IS NOT NULL), '{}')
      INTO v_slow, v_done FROM sorted s;
    INSERT INTO isokron.memory_namespaces (root_id, name, kind)
    SELECT DISTINCT v_root, u.ns, u.nk
      FROM unnest(p_namespaces, p_namespace_kinds) WITH ORDINALITY AS u(ns, nk, ord)
     WHERE NOT v_done ? u.ord::text
       AND NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                        WHERE m.root_id = v_root AND m.name = u.ns)
    ON CONFLICT (root_id, name) DO NOTHING;
    -- The new contents in one statement: duplicates within the batch collapse onto the first
    -- (seen_count counting each), duplicates of a live record onto that record.
    WITH input AS (
        SELECT u.*, isokron.memory_key_v1(u.content) AS key
          FROM unnest(p_ids, p_namespaces, p_contents, p_kinds, p_sources, p_pins,
                      p_expires_at, p_valid_from, p_valid_to, p_user_ids) WITH ORDINALITY
               AS u(id, ns, content, kind, source, pin, exp, vfrom, vto, uid, ord)
         WHERE NOT v_done ? u.ord::text AND NOT u.ord = ANY (v_slow)
    ), groups AS (
        SELECT DISTINCT ON (i.ns, i.key) i.*, count(*) OVER (PARTITION BY i.ns, i.key) AS n
          FROM input i
         ORDER BY i.ns, i.key, i.ord
    ), written AS (
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
             valid_to, user_id, written_by, seen_count)
        SELECT v_root, g.id, g.ns, g.content, g.kind, g.source, g.pin, g.exp,
               coalesce(g.vfrom, now()), g.vto, g.uid, p_workspace_id, g.n
          FROM groups g
        ON CONFLICT (root_id, namespace, content_key)
           WHERE retracted_at IS NULL AND superseded_by IS NULL
             AND unmerged_duplicate_of IS NULL
        DO UPDATE SET seen_count = r.seen_count + EXCLUDED.seen_count, last_seen_at = now(),
                      pin = r.pin OR EXCLUDED.pin,
                      expires_at = CASE WHEN r.expires_at IS NULL
                                          OR EXCLUDED.expires_at IS NULL THEN NULL
                                        ELSE greatest(r.expires_at, EXCLUDED.expires_at) END
        RETURNING r.*
    ), audited AS (
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT v_root, w.id, i.ns, p_workspace_id,
               CASE WHEN w.id = i.id THEN 'commit' ELSE 'seen' END,
               encode(sha256(convert_to(i.content, 'UTF8')), 'hex')
          FROM input i JOIN written w ON w.namespace = i.ns AND w.content_key = i.key
         WHERE i.ns LIKE 'org:%'
    )
    SELECT v_done || coalesce(jsonb_object_agg(i.ord, jsonb_build_object('row',
               isokron.memory_row_v1(w::isokron.memory_records)::jsonb
               || jsonb_build_object('deduplicated', w.id <> i.id))), '{}')
      INTO v_done
      FROM input i JOIN written w ON w.namespace = i.ns AND w.content_key = i.key;
    -- Updates by id, in order, each on its own: an error refuses that item alone (a quota
    -- refuses the call: the caller then writes its items one by one).
    FOR v_item IN
        SELECT u.* FROM unnest(p_ids, p_namespaces, p_namespace_kinds, p_contents, p_kinds,
                               p_sources, p_pins, p_expires_at, p_valid_from, p_valid_to,
                               p_user_ids) WITH ORDINALITY
                        AS u(id, ns, nk, content, kind, source, pin, exp, vfrom, vto, uid, ord)
         WHERE u.ord = ANY (v_slow) ORDER BY u.ord
    LOOP
        BEGIN
            v_done := v_done || jsonb_build_object(v_item.ord::text, jsonb_build_object(
                'row', isokron.memory_commit_v2(p_workspace_id, v_item.id, v_item.ns,
                    v_item.nk, v_item.content, v_item.kind, v_item.source, v_item.pin,
                    v_item.exp, v_item.vfrom, v_item.vto, v_item.uid)::jsonb));
        EXCEPTION WHEN sqlstate 'IKQ01' THEN
            RAISE;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            v_done := v_done || jsonb_build_object(v_item.ord::text, jsonb_build_object(
                'error', jsonb_build_object('code', v_state, 'message', v_message)));
        END;
    END LOOP;
    SELECT jsonb_agg(v_done -> n::text ORDER BY n) INTO v_out
      FROM generate_series(1, coalesce(cardinality(p_ids), 0)) n;
    RETURN coalesce(v_out, '[]'::jsonb)::json;
END
$$;

--
-- Name: memory_commit_many_v3(text, uuid[], text[], text[], text[], text[], text[], boolean[], timestamp with time zone[], timestamp with time zone[], timestamp with time zone[], text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_commit_many_v3(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_writable text[];
    v_readable text[];
    v_root text;
    v_slow bigint[];
    v_done jsonb;
    v_item record;
    v_state text;
    v_message text;
    v_out jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.writable, a.root_id, a.readable INTO v_writable, v_root, v_readable
      FROM isokron.namespace_access_v2() a;
    IF v_writable IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    IF p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'workspace % is not the workspace of this transaction''s context',
            quote_literal(p_workspace_id) USING ERRCODE = '42501';
    END IF;
    -- Sort the items: refused (not writable, an id of another namespace), slow (the id of
    -- an existing record, or an id repeated in the batch: an update), and new.
    WITH input AS (
        SELECT u.ord, u.id, u.ns FROM unnest(p_ids, p_namespaces) WITH ORDINALITY
                                      AS u(id, ns, ord)
    ), sorted AS (
        SELECT i.ord, i.id, i.ns, e.namespace AS found,
               CASE WHEN NOT i.ns = ANY (v_writable) THEN 'IKT02'
                    WHEN e.namespace IS NOT NULL AND e.namespace <> i.ns THEN 'IKT03' END
                   AS code,
               e.namespace IS NOT NULL
               OR i.ord > min(i.ord) OVER (PARTITION BY i.id, i.ns) AS slow
          FROM input i
          LEFT JOIN LATERAL (SELECT r.namespace FROM isokron.memory_records r
                              WHERE r.root_id = v_root AND r.id = i.id
                                AND r.namespace = ANY (v_readable)
                              ORDER BY r.namespace = i.ns DESC LIMIT 1) e ON true
    )
    SELECT coalesce(array_agg(s.ord) FILTER (WHERE s.code IS NULL AND s.slow), '{}'),
           coalesce(jsonb_object_agg(s.ord, jsonb_build_object('error', jsonb_build_object(
               'code', s.code, 'message', CASE WHEN s.code = 'IKT02' THEN format(
                   'workspace %L may not write namespace %L (writable: %s)', p_workspace_id,
                   s.ns, array_to_string(v_writable, ', '))
               ELSE format('memory %s already exists in another namespace (%s)', s.id,
                           s.found) END))) FILTER (WHERE s.code IS NOT NULL), '{}')
      INTO v_slow, v_done FROM sorted s;
    INSERT INTO isokron.memory_namespaces (root_id, name, kind)
    SELECT DISTINCT v_root, u.ns, u.nk
      FROM unnest(p_namespaces, p_namespace_kinds) WITH ORDINALITY AS u(ns, nk, ord)
     WHERE NOT v_done ? u.ord::text
       AND NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                        WHERE m.root_id = v_root AND m.name = u.ns)
    ON CONFLICT (root_id, name) DO NOTHING;
    -- The new contents in one statement: duplicates within the batch collapse onto the first
    -- (seen_count counting each), duplicates of a live record onto that record.
    WITH input AS (
        SELECT u.*, isokron.memory_key_v1(u.content) AS key
          FROM unnest(p_ids, p_namespaces, p_contents, p_kinds, p_sources, p_pins,
                      p_expires_at, p_valid_from, p_valid_to, p_user_ids) WITH ORDINALITY
               AS u(id, ns, content, kind, source, pin, exp, vfrom, vto, uid, ord)
         WHERE NOT v_done ? u.ord::text AND NOT u.ord = ANY (v_slow)
    ), groups AS (
        SELECT DISTINCT ON (i.ns, i.key) i.*, count(*) OVER (PARTITION BY i.ns, i.key) AS n
          FROM input i
         ORDER BY i.ns, i.key, i.ord
    ), written AS (
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
             valid_to, user_id, written_by, seen_count)
        SELECT v_root, g.id, g.ns, g.content, g.kind, g.source, g.pin, g.exp,
               coalesce(g.vfrom, now()), g.vto, g.uid, p_workspace_id, g.n
          FROM groups g
        ON CONFLICT (root_id, namespace, content_key)
           WHERE retracted_at IS NULL AND superseded_by IS NULL
             AND unmerged_duplicate_of IS NULL
        DO UPDATE SET seen_count = r.seen_count + EXCLUDED.seen_count, last_seen_at = now(),
                      pin = r.pin OR EXCLUDED.pin,
                      expires_at = CASE WHEN r.expires_at IS NULL
                                          OR EXCLUDED.expires_at IS NULL THEN NULL
                                        ELSE greatest(r.expires_at, EXCLUDED.expires_at) END
        RETURNING r.*
    ), audited AS (
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT v_root, w.id, i.ns, p_workspace_id,
               CASE WHEN w.id = i.id THEN 'commit' ELSE 'seen' END,
               encode(sha256(convert_to(i.content, 'UTF8')), 'hex')
          FROM input i JOIN written w ON w.namespace = i.ns AND w.content_key = i.key
         WHERE i.ns LIKE 'org:%'
    )
    SELECT v_done || coalesce(jsonb_object_agg(i.ord, jsonb_build_object('row',
               isokron.memory_row_v1(w::isokron.memory_records)::jsonb
               || jsonb_build_object('deduplicated', w.id <> i.id))), '{}')
      INTO v_done
      FROM input i JOIN written w ON w.namespace = i.ns AND w.content_key = i.key;
    -- Updates by id, in order, each on its own: an error refuses that item alone (a quota
    -- refuses the call: the caller then writes its items one by one).
    FOR v_item IN
        SELECT u.* FROM unnest(p_ids, p_namespaces, p_namespace_kinds, p_contents, p_kinds,
                               p_sources, p_pins, p_expires_at, p_valid_from, p_valid_to,
                               p_user_ids) WITH ORDINALITY
                        AS u(id, ns, nk, content, kind, source, pin, exp, vfrom, vto, uid, ord)
         WHERE u.ord = ANY (v_slow) ORDER BY u.ord
    LOOP
        BEGIN
            v_done := v_done || jsonb_build_object(v_item.ord::text, jsonb_build_object(
                'row', isokron.memory_commit_v3(p_workspace_id, v_item.id, v_item.ns,
                    v_item.nk, v_item.content, v_item.kind, v_item.source, v_item.pin,
                    v_item.exp, v_item.vfrom, v_item.vto, v_item.uid)::jsonb));
        EXCEPTION WHEN sqlstate 'IKQ01' THEN
            RAISE;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
            v_done := v_done || jsonb_build_object(v_item.ord::text, jsonb_build_object(
                'error', jsonb_build_object('code', v_state, 'message', v_message)));
        END;
    END LOOP;
    SELECT jsonb_agg(v_done -> n::text ORDER BY n) INTO v_out
      FROM generate_series(1, coalesce(cardinality(p_ids), 0)) n;
    RETURN coalesce(v_out, '[]'::jsonb)::json;
END
$$;

ALTER FUNCTION isokron.memory_commit_many_v3(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]) OWNER TO isokron_definer;

--
-- Name: memory_commit_v1(text, uuid, text, text, text, text, text, boolean, timestamp with time zone); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_commit_v1(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_access record;
    v_elsewhere text;
    v_row isokron.memory_records;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable, a.root_id INTO v_access FROM isokron.namespace_access_v2() a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    IF NOT p_namespace = ANY (v_access.writable) THEN
        RAISE EXCEPTION 'workspace % may not write namespace % (writable: %)',
            quote_literal(p_workspace_id), quote_literal(p_namespace),
            array_to_string(v_access.writable, ', ') USING ERRCODE = 'IKT02';
    END IF;
    -- Most commits go to a namespace that exists: a read is cheaper than a speculative insert.
    IF NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                    WHERE m.root_id = v_access.root_id AND m.name = p_namespace) THEN
        INSERT INTO isokron.memory_namespaces (root_id, name, kind)
        VALUES (v_access.root_id, p_namespace, p_namespace_kind)
        ON CONFLICT (root_id, name) DO NOTHING;
    END IF;
    SELECT r.namespace INTO v_elsewhere FROM isokron.memory_records r
     WHERE r.root_id = v_access.root_id AND r.id = p_id AND r.namespace <> p_namespace LIMIT 1;
    IF v_elsewhere IS NOT NULL THEN
        RAISE EXCEPTION 'memory % already exists in another namespace (%)', p_id, v_elsewhere
            USING ERRCODE = 'IKT03';
    END IF;
    INSERT INTO isokron.memory_records AS r
        (root_id, id, namespace, content, kind, source, pin, expires_at)
    VALUES (v_access.root_id, p_id, p_namespace, p_content, p_kind, p_source, p_pin,
            p_expires_at)
    ON CONFLICT (root_id, namespace, id) DO UPDATE
       SET content = EXCLUDED.content, kind = EXCLUDED.kind, source = EXCLUDED.source,
           pin = EXCLUDED.pin, expires_at = EXCLUDED.expires_at, updated_at = now()
    RETURNING * INTO v_row;
    IF p_namespace LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_access.root_id, p_id, p_namespace, p_workspace_id, 'commit',
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN jsonb_build_object('id', v_row.id, 'namespace', v_row.namespace,
                              'content', v_row.content, 'kind', v_row.kind,
                              'source', v_row.source, 'pin', v_row.pin,
                              'expires_at', v_row.expires_at, 'created_at', v_row.created_at);
END
$$;

--
-- Name: memory_commit_v2(text, uuid, text, text, text, text, text, boolean, timestamp with time zone, timestamp with time zone, timestamp with time zone, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_commit_v2(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text) RETURNS json
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_access record;
    v_found record;
    v_other uuid;
    v_key text := isokron.memory_key_v1(p_content);
    v_row isokron.memory_records;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable, a.root_id INTO v_access FROM isokron.namespace_access_v2() a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    IF NOT p_namespace = ANY (v_access.writable) THEN
        RAISE EXCEPTION 'workspace % may not write namespace % (writable: %)',
            quote_literal(p_workspace_id), quote_literal(p_namespace),
            array_to_string(v_access.writable, ', ') USING ERRCODE = 'IKT02';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                    WHERE m.root_id = v_access.root_id AND m.name = p_namespace) THEN
        INSERT INTO isokron.memory_namespaces (root_id, name, kind)
        VALUES (v_access.root_id, p_namespace, p_namespace_kind)
        ON CONFLICT (root_id, name) DO NOTHING;
    END IF;
    SELECT r.namespace, r.retracted_at, r.superseded_by INTO v_found
      FROM isokron.memory_records r
     WHERE r.root_id = v_access.root_id AND r.id = p_id
     ORDER BY r.namespace = p_namespace DESC LIMIT 1;
    IF v_found.namespace IS NOT NULL AND v_found.namespace <> p_namespace THEN
        RAISE EXCEPTION 'memory % already exists in another namespace (%)', p_id,
            v_found.namespace USING ERRCODE = 'IKT03';
    END IF;
    IF v_found.namespace IS NOT NULL THEN  -- an update by id
        IF v_found.superseded_by IS NOT NULL THEN
            RAISE EXCEPTION 'memory % was superseded by %: supersede the current record '
                'instead', p_id, v_found.superseded_by USING ERRCODE = 'IKS01';
        END IF;
        SELECT r.id INTO v_other FROM isokron.memory_records r
         WHERE r.root_id = v_access.root_id AND r.namespace = p_namespace
           AND r.content_key = v_key AND r.id <> p_id AND r.retracted_at IS NULL
           AND r.superseded_by IS NULL AND r.unmerged_duplicate_of IS NULL;
        IF v_other IS NOT NULL THEN
            RAISE EXCEPTION 'memory % would say what memory % of namespace % already says',
                p_id, v_other, p_namespace USING ERRCODE = 'IKD01';
        END IF;
        IF v_found.retracted_at IS NOT NULL THEN
            PERFORM isokron.memory_revive_v1(p_workspace_id, p_namespace, p_id);
        END IF;
        UPDATE isokron.memory_records r
           SET content = p_content, kind = p_kind, source = p_source, pin = p_pin,
               expires_at = p_expires_at, valid_from = coalesce(p_valid_from, r.valid_from),
               valid_to = p_valid_to, user_id = coalesce(p_user_id, r.user_id),
               updated_at = now(), last_seen_at = now()
         WHERE r.root_id = v_access.root_id AND r.namespace = p_namespace AND r.id = p_id
        RETURNING * INTO v_row;
    ELSE
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
             valid_to, user_id, written_by)
        VALUES (v_access.root_id, p_id, p_namespace, p_content, p_kind, p_source, p_pin,
                p_expires_at, coalesce(p_valid_from, now()), p_valid_to, p_user_id,
                p_workspace_id)
        ON CONFLICT (root_id, namespace, content_key)
           WHERE retracted_at IS NULL AND superseded_by IS NULL
             AND unmerged_duplicate_of IS NULL
        DO UPDATE SET seen_count = r.seen_count + 1, last_seen_at = now(),
                      pin = r.pin OR EXCLUDED.pin,
                      expires_at = CASE WHEN r.expires_at IS NULL
                                          OR EXCLUDED.expires_at IS NULL THEN NULL
                                        ELSE greatest(r.expires_at, EXCLUDED.expires_at) END
        RETURNING * INTO v_row;
    END IF;
    IF p_namespace LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_access.root_id, v_row.id, p_namespace, p_workspace_id,
                CASE WHEN v_row.id = p_id THEN 'commit' ELSE 'seen' END,
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN (isokron.memory_row_v1(v_row)::jsonb
            || jsonb_build_object('deduplicated', v_row.id <> p_id))::json;
END
$$;

--
-- Name: memory_commit_v3(text, uuid, text, text, text, text, text, boolean, timestamp with time zone, timestamp with time zone, timestamp with time zone, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_commit_v3(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_access record;
    v_found record;
    v_other uuid;
    v_key text := isokron.memory_key_v1(p_content);
    v_row isokron.memory_records;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable, a.root_id INTO v_access FROM isokron.namespace_access_v2() a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    IF p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'workspace % is not the workspace of this transaction''s context',
            quote_literal(p_workspace_id) USING ERRCODE = '42501';
    END IF;
    IF NOT p_namespace = ANY (v_access.writable) THEN
        RAISE EXCEPTION 'workspace % may not write namespace % (writable: %)',
            quote_literal(p_workspace_id), quote_literal(p_namespace),
            array_to_string(v_access.writable, ', ') USING ERRCODE = 'IKT02';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM isokron.memory_namespaces m
                    WHERE m.root_id = v_access.root_id AND m.name = p_namespace) THEN
        INSERT INTO isokron.memory_namespaces (root_id, name, kind)
        VALUES (v_access.root_id, p_namespace, p_namespace_kind)
        ON CONFLICT (root_id, name) DO NOTHING;
    END IF;
    SELECT r.namespace, r.retracted_at, r.superseded_by, r.user_id INTO v_found
      FROM isokron.memory_records r
     WHERE r.root_id = v_access.root_id AND r.id = p_id
       AND r.namespace = ANY (v_access.readable)  -- as v2's RLS saw it: never a sibling's
     ORDER BY r.namespace = p_namespace DESC LIMIT 1;
    IF v_found.namespace IS NOT NULL AND v_found.namespace <> p_namespace THEN
        RAISE EXCEPTION 'memory % already exists in another namespace (%)', p_id,
            v_found.namespace USING ERRCODE = 'IKT03';
    END IF;
    IF v_found.namespace IS NOT NULL THEN  -- an update by id
        IF v_found.user_id IS NOT NULL AND p_user_id IS DISTINCT FROM v_found.user_id
           AND p_user_id IS NOT NULL THEN
            RAISE EXCEPTION 'memory % was written on behalf of another user: it may not be '
                'taken over (commit a memory of your own)', p_id USING ERRCODE = '42501';
        END IF;
        IF v_found.superseded_by IS NOT NULL THEN
            RAISE EXCEPTION 'memory % was superseded by %: supersede the current record '
                'instead', p_id, v_found.superseded_by USING ERRCODE = 'IKS01';
        END IF;
        SELECT r.id INTO v_other FROM isokron.memory_records r
         WHERE r.root_id = v_access.root_id AND r.namespace = p_namespace
           AND r.content_key = v_key AND r.id <> p_id AND r.retracted_at IS NULL
           AND r.superseded_by IS NULL AND r.unmerged_duplicate_of IS NULL;
        IF v_other IS NOT NULL THEN
            RAISE EXCEPTION 'memory % would say what memory % of namespace % already says',
                p_id, v_other, p_namespace USING ERRCODE = 'IKD01';
        END IF;
        IF v_found.retracted_at IS NOT NULL THEN
            PERFORM isokron.memory_revive_v1(p_workspace_id, p_namespace, p_id);
        END IF;
        UPDATE isokron.memory_records r
           SET content = p_content, kind = p_kind, source = p_source, pin = p_pin,
               expires_at = p_expires_at, valid_from = coalesce(p_valid_from, r.valid_from),
               valid_to = p_valid_to, user_id = coalesce(p_user_id, r.user_id),
               updated_at = now(), last_seen_at = now()
         WHERE r.root_id = v_access.root_id AND r.namespace = p_namespace AND r.id = p_id
        RETURNING * INTO v_row;
    ELSE
        INSERT INTO isokron.memory_records AS r
            (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
             valid_to, user_id, written_by)
        VALUES (v_access.root_id, p_id, p_namespace, p_content, p_kind, p_source, p_pin,
                p_expires_at, coalesce(p_valid_from, now()), p_valid_to, p_user_id,
                p_workspace_id)
        ON CONFLICT (root_id, namespace, content_key)
           WHERE retracted_at IS NULL AND superseded_by IS NULL
             AND unmerged_duplicate_of IS NULL
        DO UPDATE SET seen_count = r.seen_count + 1, last_seen_at = now(),
                      pin = r.pin OR EXCLUDED.pin,
                      expires_at = CASE WHEN r.expires_at IS NULL
                                          OR EXCLUDED.expires_at IS NULL THEN NULL
                                        ELSE greatest(r.expires_at, EXCLUDED.expires_at) END
        RETURNING * INTO v_row;
    END IF;
    IF p_namespace LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_access.root_id, v_row.id, p_namespace, p_workspace_id,
                CASE WHEN v_row.id = p_id THEN 'commit' ELSE 'seen' END,
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN json_build_object(
        'id', v_row.id, 'namespace', v_row.namespace, 'content', v_row.content,
        'kind', v_row.kind, 'source', v_row.source, 'pin', v_row.pin,
        'expires_at', v_row.expires_at, 'created_at', v_row.created_at,
        'recorded_at', v_row.recorded_at, 'retracted_at', v_row.retracted_at,
        'valid_from', v_row.valid_from, 'valid_to', v_row.valid_to,
        'supersedes', v_row.supersedes, 'superseded_by', v_row.superseded_by,
        'seen_count', v_row.seen_count, 'last_seen_at', v_row.last_seen_at,
        'duplicate_of', v_row.duplicate_of, 'user_id', v_row.user_id,
        'deduplicated', v_row.id <> p_id);
END
$$;

ALTER FUNCTION isokron.memory_commit_v3(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text) OWNER TO isokron_definer;

--
-- Name: memory_duplicates_v1(boolean); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_duplicates_v1(p_merge boolean) RETURNS TABLE(root_id text, namespace text, keeper uuid, duplicates bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF p_merge THEN
        UPDATE isokron.memory_records k
           SET seen_count = k.seen_count + d.n, last_seen_at = greatest(k.last_seen_at, d.last)
          FROM (SELECT r.root_id, r.namespace, r.unmerged_duplicate_of AS keeper,
                       sum(r.seen_count) AS n, max(r.last_seen_at) AS last
                  FROM isokron.memory_records r WHERE r.unmerged_duplicate_of IS NOT NULL
                 GROUP BY 1, 2, 3) d
         WHERE k.root_id = d.root_id AND k.namespace = d.namespace AND k.id = d.keeper;
        RETURN QUERY
        WITH gone AS (
            DELETE FROM isokron.memory_records r WHERE r.unmerged_duplicate_of IS NOT NULL
            RETURNING r.root_id, r.namespace, r.unmerged_duplicate_of
        )
        SELECT g.root_id, g.namespace, g.unmerged_duplicate_of, count(*)
          FROM gone g GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.root_id, r.namespace, r.unmerged_duplicate_of, count(*)
      FROM isokron.memory_records r WHERE r.unmerged_duplicate_of IS NOT NULL
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
END
$$;

ALTER FUNCTION isokron.memory_duplicates_v1(p_merge boolean) OWNER TO isokron_definer;

--
-- Name: memory_embedding_stale_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_embedding_stale_v1() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    NEW.embedding_model := NULL;
    RETURN NEW;
END
$$;

--
-- Name: memory_forget_v1(text, uuid, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_forget_v1(p_workspace_id text, p_id uuid, p_namespace text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_writable text[];
    v_root text;
    v_row record;
    v_action text;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable, a.root_id INTO v_readable, v_writable, v_root
      FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    SELECT r.namespace, r.content, r.retracted_at INTO v_row FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.id = p_id AND r.namespace = ANY (v_readable)
     ORDER BY r.namespace = ANY (v_writable) DESC,
              r.namespace IS NOT DISTINCT FROM p_namespace DESC
     LIMIT 1 FOR UPDATE;
    IF NOT FOUND OR v_row.retracted_at IS NOT NULL
       OR (p_namespace IS NOT NULL AND v_row.namespace <> p_namespace
           AND v_row.namespace = ANY (v_writable)) THEN
        RAISE EXCEPTION 'memory % does not exist%', p_id,
            CASE WHEN p_namespace IS NOT NULL THEN format(' in namespace %L', p_namespace)
                 ELSE '' END USING ERRCODE = 'IKN02';
    END IF;
    IF NOT v_row.namespace = ANY (v_writable)
       OR (p_namespace IS NOT NULL AND v_row.namespace <> p_namespace) THEN
        RAISE EXCEPTION 'workspace % may not forget memory % (it is not in a namespace this '
            'workspace can write)', quote_literal(p_workspace_id), p_id USING ERRCODE = 'IKT02';
    END IF;
    IF v_row.namespace LIKE 'team:%' OR v_row.namespace LIKE 'org:%' THEN
        UPDATE isokron.memory_records SET retracted_at = now()
         WHERE root_id = v_root AND namespace = v_row.namespace AND id = p_id;
        v_action := 'retract';
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_root, p_id, v_row.namespace, p_workspace_id, 'forget',
                encode(sha256(convert_to(v_row.content, 'UTF8')), 'hex'));
    ELSE
        DELETE FROM isokron.memory_records
         WHERE root_id = v_root AND namespace = v_row.namespace AND id = p_id;
        v_action := 'delete';
    END IF;
    RETURN json_build_object('namespace', v_row.namespace, 'action', v_action);
END
$$;

ALTER FUNCTION isokron.memory_forget_v1(p_workspace_id text, p_id uuid, p_namespace text) OWNER TO isokron_definer;

--
-- Name: memory_fts_keys_v1(text[], text, text[], integer); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_fts_keys_v1(p_namespaces text[], p_query text, p_kinds text[], p_limit integer) RETURNS TABLE(namespace text, id uuid, rank real)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 20
    SET plan_cache_mode TO 'force_custom_plan'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_q tsquery := websearch_to_tsquery('english', isokron.search_text_v1(p_query));
BEGIN
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_readable IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.namespace, r.id, ts_rank_cd(r.search_tsv, v_q) AS rank
      FROM isokron.memory_records r
     WHERE r.search_tsv @@ v_q
       AND r.root_id = v_root
       AND r.namespace = ANY (p_namespaces)
       AND r.namespace = ANY (v_readable)
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
     ORDER BY r.pin DESC, 3 DESC, r.created_at DESC
     LIMIT p_limit;
END
$$;

ALTER FUNCTION isokron.memory_fts_keys_v1(p_namespaces text[], p_query text, p_kinds text[], p_limit integer) OWNER TO isokron_definer;

--
-- Name: memory_fts_keys_v2(text[], text, text[], integer, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_fts_keys_v2(p_namespaces text[], p_query text, p_kinds text[], p_limit integer, p_tx timestamp with time zone, p_valid timestamp with time zone) RETURNS TABLE(namespace text, id uuid, rank real)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 20
    SET plan_cache_mode TO 'force_custom_plan'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_q tsquery := websearch_to_tsquery('english', isokron.search_text_v1(p_query));
BEGIN
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_readable IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r.namespace, r.id, ts_rank_cd(r.search_tsv, v_q) AS rank
      FROM isokron.memory_records r
     WHERE r.search_tsv @@ v_q
       AND r.root_id = v_root
       AND r.namespace = ANY (p_namespaces)
       AND r.namespace = ANY (v_readable)
       AND (r.expires_at IS NULL OR r.expires_at > p_tx)
       AND isokron.memory_visible_v1(r.recorded_at, r.retracted_at, r.valid_from, r.valid_to,
                                     r.prior_valid_to, r.superseded_at, p_tx, p_valid)
       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
     ORDER BY r.pin DESC, 3 DESC, r.created_at DESC
     LIMIT p_limit;
END
$$;

ALTER FUNCTION isokron.memory_fts_keys_v2(p_namespaces text[], p_query text, p_kinds text[], p_limit integer, p_tx timestamp with time zone, p_valid timestamp with time zone) OWNER TO isokron_definer;

--
-- Name: memory_history_v1(text, uuid); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_history_v1(p_workspace_id text, p_id uuid) RETURNS json
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_out json;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RETURN NULL;
    END IF;
    WITH RECURSIVE back AS (
        SELECT r.namespace, r.id, r.supersedes, 0 AS depth FROM isokron.memory_records r
         WHERE r.root_id = v_root AND r.id = p_id AND r.namespace = ANY (v_readable)
        UNION ALL
        SELECT r.namespace, r.id, r.supersedes, b.depth - 1 FROM back b
          JOIN isokron.memory_records r
            ON r.root_id = v_root AND r.namespace = b.namespace AND r.id = b.supersedes
         WHERE b.depth > -1000
    ), forth AS (
        SELECT r.namespace, r.id, r.superseded_by, 0 AS depth FROM isokron.memory_records r
         WHERE r.root_id = v_root AND r.id = p_id AND r.namespace = ANY (v_readable)
        UNION ALL
        SELECT r.namespace, r.id, r.superseded_by, f.depth + 1 FROM forth f
          JOIN isokron.memory_records r
            ON r.root_id = v_root AND r.namespace = f.namespace AND r.id = f.superseded_by
         WHERE f.depth < 1000
    ), lineage AS (
        SELECT namespace, id, depth FROM back UNION SELECT namespace, id, depth FROM forth
    )
    SELECT json_agg(isokron.memory_row_v1(r) ORDER BY l.depth) INTO v_out
      FROM lineage l
      JOIN isokron.memory_records r
        ON r.root_id = v_root AND r.namespace = l.namespace AND r.id = l.id;
    RETURN coalesce(v_out, '[]'::json);
END
$$;

--
-- Name: memory_key_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_key_v1(p_content text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
    SELECT encode(sha256(convert_to(
        regexp_replace(
            btrim(regexp_replace(lower(normalize(p_content, NFKC)), '\s+', ' ', 'g')),
            '[[:punct:][:space:]]+$', ''),
        'UTF8')), 'hex')
$_$;

--
-- Name: memory_lifecycle_guard_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_lifecycle_guard_tg() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF pg_has_role(current_user, 'isokron_runtime', 'MEMBER')
       AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'a memory''s recorded_at, retracted_at and lineage are written by '
            'isokron''s functions only (forget, supersede)' USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$;

--
-- Name: memory_revive_v1(text, text, uuid); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_revive_v1(p_workspace_id text, p_namespace text, p_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_root text;
    v_writable text[];
BEGIN
    SELECT a.writable, a.root_id INTO v_writable, v_root FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL OR NOT p_namespace = ANY (v_writable) THEN
        RAISE EXCEPTION 'workspace % may not write namespace %', quote_literal(p_workspace_id),
            quote_literal(p_namespace) USING ERRCODE = 'IKT02';
    END IF;
    UPDATE isokron.memory_records SET retracted_at = NULL
     WHERE root_id = v_root AND namespace = p_namespace AND id = p_id
       AND retracted_at IS NOT NULL;
    IF FOUND THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action)
        VALUES (v_root, p_id, p_namespace, p_workspace_id, 'revive');
    END IF;
    RETURN FOUND;
END
$$;

ALTER FUNCTION isokron.memory_revive_v1(p_workspace_id text, p_namespace text, p_id uuid) OWNER TO isokron_definer;

--
-- Name: search_text_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.search_text_v1(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT translate(p_text, '/\', '  ') $$;

--
-- Name: memory_records; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.memory_records (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    namespace text NOT NULL,
    content text NOT NULL,
    kind text DEFAULT 'fact'::text NOT NULL,
    source text DEFAULT 'agent'::text NOT NULL,
    pin boolean DEFAULT false NOT NULL,
    expires_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    root_id text NOT NULL,
    embedding_model text,
    imported_at timestamp with time zone,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, isokron.search_text_v1(COALESCE(content, ''::text)))) STORED,
    content_key text GENERATED ALWAYS AS (isokron.memory_key_v1(content)) STORED,
    seen_count integer DEFAULT 1 NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    retracted_at timestamp with time zone,
    valid_from timestamp with time zone DEFAULT now() NOT NULL,
    valid_to timestamp with time zone,
    prior_valid_to timestamp with time zone,
    supersedes uuid,
    superseded_by uuid,
    superseded_at timestamp with time zone,
    duplicate_of uuid,
    unmerged_duplicate_of uuid,
    user_id text,
    written_by text,
    CONSTRAINT memory_records_content_check CHECK ((btrim(content) <> ''::text)),
    CONSTRAINT memory_records_kind_check CHECK ((kind = ANY (ARRAY['fact'::text, 'summary'::text, 'checkpoint'::text]))),
    CONSTRAINT memory_records_lineage_check CHECK ((((superseded_by IS NULL) = (superseded_at IS NULL)) AND (superseded_by IS DISTINCT FROM id) AND (supersedes IS DISTINCT FROM id))),
    CONSTRAINT memory_records_retracted_check CHECK (((retracted_at IS NULL) OR (retracted_at >= recorded_at))),
    CONSTRAINT memory_records_seen_count_check CHECK ((seen_count >= 1)),
    CONSTRAINT memory_records_source_check CHECK ((source = ANY (ARRAY['agent'::text, 'runtime'::text, 'user'::text]))),
    CONSTRAINT memory_records_user_check CHECK (((user_id IS NULL) OR ((user_id <> ''::text) AND (char_length(user_id) <= 256)))),
    CONSTRAINT memory_records_valid_check CHECK (((valid_to IS NULL) OR (valid_to > valid_from)))
);

ALTER TABLE ONLY isokron.memory_records FORCE ROW LEVEL SECURITY;

--
-- Name: memory_row_v1(isokron.memory_records); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_row_v1(r isokron.memory_records) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT json_build_object(
        'id', r.id, 'namespace', r.namespace, 'content', r.content, 'kind', r.kind,
        'source', r.source, 'pin', r.pin, 'expires_at', r.expires_at,
        'created_at', r.created_at, 'recorded_at', r.recorded_at,
        'retracted_at', r.retracted_at, 'valid_from', r.valid_from, 'valid_to', r.valid_to,
        'supersedes', r.supersedes, 'superseded_by', r.superseded_by,
        'seen_count', r.seen_count, 'last_seen_at', r.last_seen_at,
        'duplicate_of', r.duplicate_of, 'user_id', r.user_id)
$$;

--
-- Name: memory_search_v1(text, text[], text[], integer, text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_search_v1(p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text, p_query text) RETURNS jsonb
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_rows jsonb;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_readable IS NULL THEN
        RETURN NULL;
    END IF;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    IF cardinality(v_wanted) = 0 THEN
        RETURN jsonb_build_object('readable', to_jsonb(v_readable), 'rows', '[]'::jsonb);
    END IF;
    IF p_mode = 'recent' THEN
        SELECT jsonb_agg(to_jsonb(x) ORDER BY x.pin DESC, x.created_at DESC) INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at
                  FROM unnest(v_wanted) AS ns(name)
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = v_root AND n.name = ns.name
                   AND (n.expires_at IS NULL OR n.expires_at > now())
                 CROSS JOIN LATERAL (
                    SELECT * FROM isokron.memory_records r
                     WHERE r.root_id = v_root AND r.namespace = ns.name
                       AND (r.expires_at IS NULL OR r.expires_at > now())
                       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                     ORDER BY r.pin DESC, r.created_at DESC
                     LIMIT p_limit) r
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSIF p_mode = 'fts' THEN
        -- Candidates from the GIN index (see memory_fts_keys_v1), rows by key under RLS.
        SELECT jsonb_agg(to_jsonb(x) - 'rank' ORDER BY x.pin DESC, x.rank DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at, k.rank
                  FROM isokron.memory_fts_keys_v1(
                           ARRAY(SELECT n.name FROM isokron.memory_namespaces n
                                  WHERE n.root_id = v_root AND n.name = ANY (v_wanted)
                                    AND (n.expires_at IS NULL OR n.expires_at > now())),
                           p_query, p_kinds, p_limit) k
                  JOIN isokron.memory_records r
                    ON r.root_id = v_root AND r.namespace = k.namespace AND r.id = k.id) x;
    ELSIF p_mode = 'like' THEN
        SELECT jsonb_agg(to_jsonb(x) ORDER BY x.pin DESC, x.created_at DESC) INTO v_rows
          FROM (SELECT r.id, r.namespace, r.content, r.kind, r.source, r.pin, r.expires_at,
                       r.created_at
                  FROM isokron.memory_records r
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = r.root_id AND n.name = r.namespace
                 WHERE r.root_id = v_root
                   AND r.namespace = ANY (v_wanted)
                   AND (r.expires_at IS NULL OR r.expires_at > now())
                   AND (n.expires_at IS NULL OR n.expires_at > now())
                   AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                   AND r.content ILIKE '%' || p_query || '%' ESCAPE '\'
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSE
        RAISE EXCEPTION 'unknown search mode %', quote_literal(p_mode)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN jsonb_build_object('readable', to_jsonb(v_readable),
                              'rows', coalesce(v_rows, '[]'::jsonb));
END
$$;

--
-- Name: memory_search_v2(text, text[], text[], integer, text, text, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_search_v2(p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text, p_query text, p_as_of timestamp with time zone, p_valid_at timestamp with time zone) RETURNS json
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_rows json;
    v_tx timestamptz := coalesce(p_as_of, now());
    v_valid timestamptz := coalesce(p_valid_at, p_as_of, now());
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    IF v_readable IS NULL THEN
        RETURN NULL;
    END IF;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    IF cardinality(v_wanted) = 0 THEN
        RETURN json_build_object('readable', to_json(v_readable), 'rows', '[]'::json);
    END IF;
    IF p_mode = 'recent' AND p_as_of IS NULL AND p_valid_at IS NULL THEN
        -- The usual case: one index-ordered lookup per namespace over the unretracted rows
        -- (memory_records_current_idx), newest first.
        SELECT json_agg(isokron.memory_row_v1(x) ORDER BY x.pin DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.*
                  FROM unnest(v_wanted) AS ns(name)
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = v_root AND n.name = ns.name
                   AND (n.expires_at IS NULL OR n.expires_at > now())
                 CROSS JOIN LATERAL (
                    SELECT * FROM isokron.memory_records r
                     WHERE r.root_id = v_root AND r.namespace = ns.name
                       AND r.retracted_at IS NULL
                       AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
                       AND (r.expires_at IS NULL OR r.expires_at > now())
                       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                     ORDER BY r.pin DESC, r.created_at DESC
                     LIMIT p_limit) r
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSIF p_mode = 'recent' THEN
        SELECT json_agg(isokron.memory_row_v1(x) ORDER BY x.pin DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.*
                  FROM unnest(v_wanted) AS ns(name)
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = v_root AND n.name = ns.name
                   AND (n.expires_at IS NULL OR n.expires_at > v_tx)
                 CROSS JOIN LATERAL (
                    SELECT * FROM isokron.memory_records r
                     WHERE r.root_id = v_root AND r.namespace = ns.name
                       AND isokron.memory_visible_v1(r.recorded_at, r.retracted_at,
                               r.valid_from, r.valid_to, r.prior_valid_to, r.superseded_at,
                               v_tx, v_valid)
                       AND (r.expires_at IS NULL OR r.expires_at > v_tx)
                       AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                     ORDER BY r.pin DESC, r.created_at DESC
                     LIMIT p_limit) r
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSIF p_mode = 'fts' THEN
        SELECT json_agg(isokron.memory_row_v1(r) ORDER BY r.pin DESC, k.rank DESC,
                        r.created_at DESC)
          INTO v_rows
          FROM isokron.memory_fts_keys_v2(
                   ARRAY(SELECT n.name FROM isokron.memory_namespaces n
                          WHERE n.root_id = v_root AND n.name = ANY (v_wanted)
                            AND (n.expires_at IS NULL OR n.expires_at > v_tx)),
                   p_query, p_kinds, p_limit, v_tx, v_valid) k
          JOIN isokron.memory_records r
            ON r.root_id = v_root AND r.namespace = k.namespace AND r.id = k.id;
    ELSIF p_mode = 'like' THEN
        SELECT json_agg(isokron.memory_row_v1(x) ORDER BY x.pin DESC, x.created_at DESC)
          INTO v_rows
          FROM (SELECT r.*
                  FROM isokron.memory_records r
                  JOIN isokron.memory_namespaces n
                    ON n.root_id = r.root_id AND n.name = r.namespace
                 WHERE r.root_id = v_root
                   AND r.namespace = ANY (v_wanted)
                   AND isokron.memory_visible_v1(r.recorded_at, r.retracted_at, r.valid_from,
                           r.valid_to, r.prior_valid_to, r.superseded_at, v_tx, v_valid)
                   AND (r.expires_at IS NULL OR r.expires_at > v_tx)
                   AND (n.expires_at IS NULL OR n.expires_at > v_tx)
                   AND (p_kinds IS NULL OR r.kind = ANY (p_kinds))
                   AND r.content ILIKE '%' || p_query || '%' ESCAPE '\'
                 ORDER BY r.pin DESC, r.created_at DESC
                 LIMIT p_limit) x;
    ELSE
        RAISE EXCEPTION 'unknown search mode %', quote_literal(p_mode)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN json_build_object('readable', to_json(v_readable),
                             'rows', coalesce(v_rows, '[]'::json));
END
$$;

--
-- Name: memory_supersede_v1(text, uuid, uuid, text, text, timestamp with time zone, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_supersede_v1(p_workspace_id text, p_old_id uuid, p_id uuid, p_content text, p_source text, p_valid_from timestamp with time zone, p_user_id text) RETURNS json
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_writable text[];
    v_root text;
    v_old isokron.memory_records;
    v_new isokron.memory_records;
    v_from timestamptz := coalesce(p_valid_from, now());
    v_other uuid;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable, a.writable, a.root_id INTO v_readable, v_writable, v_root
      FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    SELECT * INTO v_old FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.id = p_old_id AND r.namespace = ANY (v_readable)
     FOR UPDATE;
    IF NOT FOUND OR v_old.retracted_at IS NOT NULL THEN
        RAISE EXCEPTION 'memory % does not exist%', p_old_id,
            CASE WHEN FOUND THEN ' (it was retracted)' ELSE '' END USING ERRCODE = 'IKN02';
    END IF;
    IF NOT v_old.namespace = ANY (v_writable) THEN
        RAISE EXCEPTION 'workspace % may not supersede memory % (namespace % is not one it '
            'can write)', quote_literal(p_workspace_id), p_old_id, quote_literal(v_old.namespace)
            USING ERRCODE = 'IKT02';
    END IF;
    IF v_old.superseded_by IS NOT NULL THEN
        RAISE EXCEPTION 'memory % was already superseded by %', p_old_id, v_old.superseded_by
            USING ERRCODE = 'IKS01';
    END IF;
    IF v_from <= v_old.valid_from THEN
        RAISE EXCEPTION 'valid_from % must be after the old record''s valid_from %', v_from,
            v_old.valid_from USING ERRCODE = '22023';
    END IF;
    IF isokron.memory_key_v1(p_content) = v_old.content_key THEN
        RAISE EXCEPTION 'the new content says what memory % already says', p_old_id
            USING ERRCODE = '22023';
    END IF;
    SELECT r.id INTO v_other FROM isokron.memory_records r
     WHERE r.root_id = v_root AND r.namespace = v_old.namespace
       AND r.content_key = isokron.memory_key_v1(p_content) AND r.retracted_at IS NULL
       AND r.superseded_by IS NULL AND r.unmerged_duplicate_of IS NULL;
    IF v_other IS NOT NULL THEN
        RAISE EXCEPTION 'the new content says what memory % of namespace % already says',
            v_other, v_old.namespace USING ERRCODE = 'IKD01';
    END IF;
    UPDATE isokron.memory_records r
       SET superseded_by = p_id, superseded_at = now(), prior_valid_to = r.valid_to,
           valid_to = CASE WHEN r.valid_to IS NULL OR r.valid_to > v_from THEN v_from
                           ELSE r.valid_to END
     WHERE r.root_id = v_root AND r.namespace = v_old.namespace AND r.id = p_old_id
    RETURNING * INTO v_old;
    INSERT INTO isokron.memory_records
        (root_id, id, namespace, content, kind, source, pin, expires_at, valid_from,
         supersedes, user_id, written_by)
    VALUES (v_root, p_id, v_old.namespace, p_content, v_old.kind, p_source, v_old.pin,
            v_old.expires_at, v_from, p_old_id, p_user_id, p_workspace_id)
    RETURNING * INTO v_new;
    IF v_old.namespace LIKE 'org:%' OR v_old.namespace LIKE 'team:%' THEN
        INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id, action,
                                          content_sha256)
        VALUES (v_root, p_id, v_old.namespace, p_workspace_id, 'supersede',
                encode(sha256(convert_to(p_content, 'UTF8')), 'hex'));
    END IF;
    RETURN json_build_object('new', isokron.memory_row_v1(v_new),
                             'old', isokron.memory_row_v1(v_old));
END
$$;

ALTER FUNCTION isokron.memory_supersede_v1(p_workspace_id text, p_old_id uuid, p_id uuid, p_content text, p_source text, p_valid_from timestamp with time zone, p_user_id text) OWNER TO isokron_definer;

--
-- Name: memory_visible_v1(timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_visible_v1(p_recorded timestamp with time zone, p_retracted timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_prior_valid_to timestamp with time zone, p_superseded_at timestamp with time zone, p_tx timestamp with time zone, p_valid timestamp with time zone) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT p_recorded <= p_tx
       AND (p_retracted IS NULL OR p_retracted > p_tx)
       AND p_valid_from <= p_valid
       AND coalesce(CASE WHEN p_superseded_at > p_tx THEN p_prior_valid_to ELSE p_valid_to END
                    > p_valid, true)
$$;

--
-- Name: memory_writer_guard_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.memory_writer_guard_tg() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_writer text;
    v_bad text;
BEGIN
    IF NOT pg_has_role(current_user, 'isokron_runtime', 'MEMBER')
       OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RETURN NULL;
    END IF;
    v_writer := (SELECT isokron.context_workspace_v1());
    SELECT a.written_by INTO v_bad FROM added a
     WHERE (a.written_by IS NOT NULL OR a.user_id IS NOT NULL)
       AND a.written_by IS DISTINCT FROM v_writer
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a memory''s written_by is the workspace that writes it (%), not %',
            coalesce(quote_literal(v_writer), 'none'), coalesce(quote_literal(v_bad), 'NULL')
            USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END
$$;

--
-- Name: namespace_access_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.namespace_access_v1() RETURNS TABLE(workspace_id text, readable text[], writable text[])
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT a.workspace_id, a.readable, a.writable FROM isokron.namespace_access_v2() a $$;

ALTER FUNCTION isokron.namespace_access_v1() OWNER TO isokron_definer;

--
-- Name: namespace_access_v2(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.namespace_access_v2() RETURNS TABLE(workspace_id text, readable text[], writable text[], root_id text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    WITH RECURSIVE chain AS (
        SELECT w.workspace_id, w.parent_id, 0 AS depth
          FROM isokron.workspaces w
         WHERE w.workspace_id = (SELECT isokron.context_workspace_v1())
        UNION ALL
        SELECT w.workspace_id, w.parent_id, c.depth + 1
          FROM isokron.workspaces w
          JOIN chain c ON w.workspace_id = c.parent_id
         WHERE c.depth < 50
    ), self AS (
        SELECT c.workspace_id, c.parent_id FROM chain c WHERE c.depth = 0
    ), root AS (
        SELECT c.workspace_id FROM chain c ORDER BY c.depth DESC LIMIT 1
    )
    SELECT s.workspace_id,
           ARRAY['workspace:' || s.workspace_id,
                 'team:' || coalesce(s.parent_id, s.workspace_id),
                 'org:' || r.workspace_id],
           ARRAY['workspace:' || s.workspace_id,
                 'team:' || coalesce(s.parent_id, s.workspace_id)]
           || CASE WHEN s.parent_id IS NULL THEN ARRAY['org:' || r.workspace_id]
                   ELSE ARRAY[]::text[] END,
           r.workspace_id
      FROM self s CROSS JOIN root r
$$;

ALTER FUNCTION isokron.namespace_access_v2() OWNER TO isokron_definer;

--
-- Name: namespace_root_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.namespace_root_v1(p_name text) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT CASE WHEN split_part(p_name, ':', 1) IN ('workspace', 'team', 'org')
                THEN isokron.workspace_root_v1(substr(p_name, strpos(p_name, ':') + 1))
                ELSE p_name END
$$;

ALTER FUNCTION isokron.namespace_root_v1(p_name text) OWNER TO isokron_definer;

--
-- Name: owned_namespaces_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.owned_namespaces_v1() RETURNS text[]
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT CASE WHEN w.workspace_id IS NULL THEN '{}'::text[]
                ELSE ARRAY['workspace:' || w.workspace_id, 'team:' || w.workspace_id]
                     || CASE WHEN w.parent_id IS NULL THEN ARRAY['org:' || w.workspace_id]
                             ELSE '{}'::text[] END END
      FROM (SELECT (SELECT isokron.context_workspace_v1()) AS ws) c
      LEFT JOIN isokron.workspaces w ON w.workspace_id = c.ws
$$;

ALTER FUNCTION isokron.owned_namespaces_v1() OWNER TO isokron_definer;

--
-- Name: patch_namespace_v1(text, text, boolean, timestamp with time zone, jsonb); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.patch_namespace_v1(p_workspace_id text, p_name text, p_set_expiry boolean, p_expires_at timestamp with time zone, p_metadata jsonb) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_row isokron.memory_namespaces;
BEGIN
    IF p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'patch_namespace_v1: workspace % is not the transaction''s workspace',
            quote_nullable(p_workspace_id) USING ERRCODE = 'IKT01';
    END IF;
    IF NOT p_name = ANY (isokron.owned_namespaces_v1()) THEN
        RAISE EXCEPTION 'workspace % may not change namespace % (only its owner may: %)',
            quote_literal(p_workspace_id), quote_literal(p_name),
            array_to_string(isokron.owned_namespaces_v1(), ', ') USING ERRCODE = 'IKT02';
    END IF;
    UPDATE isokron.memory_namespaces n
       SET expires_at = CASE WHEN p_set_expiry THEN p_expires_at ELSE n.expires_at END,
           metadata = coalesce(p_metadata, n.metadata)
     WHERE n.name = p_name
    RETURNING n.* INTO v_row;
    IF v_row.name IS NULL THEN
        RETURN NULL;
    END IF;
    IF p_name LIKE 'team:%' OR p_name LIKE 'org:%' THEN
        INSERT INTO isokron.memory_audit (root_id, namespace, workspace_id, action)
        VALUES (v_row.root_id, p_name, p_workspace_id, 'patch_namespace');
    END IF;
    RETURN jsonb_build_object('name', v_row.name, 'kind', v_row.kind,
                              'expires_at', v_row.expires_at, 'metadata', v_row.metadata,
                              'created_at', v_row.created_at);
END
$$;

ALTER FUNCTION isokron.patch_namespace_v1(p_workspace_id text, p_name text, p_set_expiry boolean, p_expires_at timestamp with time zone, p_metadata jsonb) OWNER TO isokron_definer;

--
-- Name: pop_message_v1(text, text, uuid); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.pop_message_v1(p_tenant_id text, p_user_id text, p_session_id uuid) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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

--
-- Name: prepare_embeddings_v1(integer); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.prepare_embeddings_v1(p_dims integer) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    v_schema text;
    v_typmod integer;
    v_changed boolean := false;
    v_half boolean;
    v_key text;
BEGIN
    IF p_dims IS NULL OR p_dims < 1 OR p_dims > 2000 THEN
        RAISE EXCEPTION 'embedding dimensions must be between 1 and 2000 (HNSW), got %',
            coalesce(p_dims::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    SELECT n.nspname INTO v_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    IF v_schema IS NULL OR to_regprocedure('isokron.drop_other_dims_v1(integer)') IS NULL THEN
        RAISE EXCEPTION 'pgvector is not enabled on this database (see isokron.enable_vectors_v1())'
            USING ERRCODE = '0A000';
    END IF;
    SELECT a.atttypmod INTO v_typmod FROM pg_attribute a
     WHERE a.attrelid = 'isokron.memory_records'::regclass AND a.attname = 'embedding';
    IF v_typmod IS DISTINCT FROM p_dims THEN
        PERFORM isokron.drop_other_dims_v1(p_dims);
        DROP INDEX IF EXISTS isokron.memory_records_embedding_hnsw;
        DROP INDEX IF EXISTS isokron.agent_messages_embedding_hnsw;
        EXECUTE format('ALTER TABLE isokron.memory_records ALTER COLUMN embedding TYPE %1$I.vector(%2$s)',
                       v_schema, p_dims);
        EXECUTE format('ALTER TABLE isokron.agent_messages ALTER COLUMN embedding TYPE %1$I.vector(%2$s)',
                       v_schema, p_dims);
        v_changed := true;
    END IF;
    -- Indexed at half precision when pgvector has halfvec (0.7 and later).
    v_half := to_regtype(quote_ident(v_schema) || '.halfvec') IS NOT NULL;
    v_key := CASE WHEN v_half THEN format('((embedding::%1$I.halfvec(%2$s)) %1$I.halfvec_cosine_ops)',
                                          v_schema, p_dims)
                  ELSE format('(embedding %I.vector_cosine_ops)', v_schema) END;
    IF to_regclass('isokron.memory_records_embedding_hnsw') IS NULL THEN
        EXECUTE 'CREATE INDEX memory_records_embedding_hnsw ON isokron.memory_records '
                'USING hnsw ' || v_key;
        v_changed := true;
    END IF;
    IF to_regclass('isokron.agent_messages_embedding_hnsw') IS NULL THEN
        EXECUTE 'CREATE INDEX agent_messages_embedding_hnsw ON isokron.agent_messages '
                'USING hnsw ' || v_key;
        v_changed := true;
    END IF;
    PERFORM isokron.create_recall_vectors_v1(v_schema, p_dims);
    RETURN v_changed;
END
$_$;

--
-- Name: purge_workspace_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.purge_workspace_v1(p_workspace_id text) RETURNS TABLE(namespace text, memories bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_mine text[];
    v_name text;
    v_others boolean;
    v_count bigint;
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    SELECT a.readable INTO v_mine FROM isokron.namespace_access_v1() a;
    IF v_mine IS NULL THEN
        RAISE EXCEPTION 'unknown workspace % (not in isokron.workspaces)',
            quote_literal(p_workspace_id) USING ERRCODE = 'IKN01';
    END IF;
    FOREACH v_name IN ARRAY v_mine LOOP
        v_others := false;
        -- Does another workspace still read it? (The ACL's rules, from the tree.)
        IF v_name LIKE 'team:%' THEN
            SELECT EXISTS (
                SELECT 1 FROM isokron.workspaces w
                 WHERE w.workspace_id <> p_workspace_id
                   AND (w.parent_id = substr(v_name, 6)
                        OR (w.workspace_id = substr(v_name, 6) AND w.parent_id IS NULL)))
              INTO v_others;
        ELSIF v_name LIKE 'org:%' THEN
            WITH RECURSIVE tree(id, depth) AS (
                SELECT substr(v_name, 5), 0
                UNION ALL
                SELECT w.workspace_id, t.depth + 1 FROM isokron.workspaces w
                  JOIN tree t ON w.parent_id = t.id WHERE t.depth < 50
            )
            SELECT EXISTS (SELECT 1 FROM tree t JOIN isokron.workspaces w
                             ON w.workspace_id = t.id WHERE t.id <> p_workspace_id)
              INTO v_others;
        END IF;
        CONTINUE WHEN v_others;
        SELECT count(*) INTO v_count FROM isokron.memory_records r WHERE r.namespace = v_name;
        DELETE FROM isokron.memory_namespaces n WHERE n.name = v_name;
        IF FOUND THEN
            IF v_name LIKE 'org:%' THEN
                INSERT INTO isokron.memory_audit (namespace, workspace_id, action)
                VALUES (v_name, p_workspace_id, 'purge_namespace');
            END IF;
            namespace := v_name;
            memories := v_count;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;

ALTER FUNCTION isokron.purge_workspace_v1(p_workspace_id text) OWNER TO isokron_definer;

--
-- Name: quota_limits_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_limits_v1(p_workspace_id text) RETURNS TABLE(sessions_per_user bigint, messages_per_session bigint, session_bytes bigint, message_bytes bigint, memory_rows bigint, memory_bytes bigint, result_bytes bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT coalesce(w.sessions_per_user, d.sessions_per_user),
           coalesce(w.messages_per_session, d.messages_per_session),
           coalesce(w.session_bytes, d.session_bytes),
           coalesce(w.message_bytes, d.message_bytes),
           coalesce(w.memory_rows, d.memory_rows),
           coalesce(w.memory_bytes, d.memory_bytes),
           coalesce(w.result_bytes, d.result_bytes)
      FROM (SELECT 1) one
      LEFT JOIN isokron.quota_limits d ON d.workspace_id = '*'
      LEFT JOIN isokron.quota_limits w ON w.workspace_id = p_workspace_id
                                      AND p_workspace_id <> '*'
$$;

ALTER FUNCTION isokron.quota_limits_v1(p_workspace_id text) OWNER TO isokron_definer;

--
-- Name: quota_limits_v2(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_limits_v2(p_workspace_id text) RETURNS TABLE(sessions_per_user bigint, messages_per_session bigint, session_bytes bigint, message_bytes bigint, memory_rows bigint, memory_bytes bigint, result_bytes bigint, sessions_per_tenant bigint, events_per_tenant bigint, event_bytes bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT coalesce(w.sessions_per_user, d.sessions_per_user),
           coalesce(w.messages_per_session, d.messages_per_session),
           coalesce(w.session_bytes, d.session_bytes),
           coalesce(w.message_bytes, d.message_bytes),
           coalesce(w.memory_rows, d.memory_rows),
           coalesce(w.memory_bytes, d.memory_bytes),
           coalesce(w.result_bytes, d.result_bytes),
           coalesce(w.sessions_per_tenant, d.sessions_per_tenant),
           coalesce(w.events_per_tenant, d.events_per_tenant),
           coalesce(w.event_bytes, d.event_bytes)
      FROM (SELECT 1) one
      LEFT JOIN isokron.quota_limits d ON d.workspace_id = '*'
      LEFT JOIN isokron.quota_limits w ON w.workspace_id = p_workspace_id
                                      AND p_workspace_id <> '*'
$$;

ALTER FUNCTION isokron.quota_limits_v2(p_workspace_id text) OWNER TO isokron_definer;

--
-- Name: quota_memory_add_v1(json); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_memory_add_v1(p_delta json) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v record;
BEGIN
    WITH g AS (
        SELECT d.root_id, d.namespace, d.n, d.b
          FROM json_to_recordset(p_delta) AS d(root_id text, namespace text, n bigint, b bigint)
         WHERE d.n <> 0 OR d.b <> 0
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items, bytes)
        SELECT 'namespace', g.root_id, g.namespace, g.n, g.b FROM g ORDER BY 2, 3
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE
           SET items = u.items + EXCLUDED.items, bytes = u.bytes + EXCLUDED.bytes
        RETURNING u.key1, u.key2, u.items, u.bytes
    )
    SELECT q.quota, q.lim, q.used, up.key2 AS namespace INTO v
      FROM up
      JOIN g ON g.root_id = up.key1 AND g.namespace = up.key2
      CROSS JOIN LATERAL isokron.quota_limits_v1(up.key1) l
      CROSS JOIN LATERAL (VALUES
          (1, 'quota_memory_rows', l.memory_rows, up.items, g.n),
          (2, 'quota_memory_bytes', l.memory_bytes, up.bytes, g.b)) q(ord, quota, lim, used, grew)
     WHERE q.used > q.lim AND q.grew > 0
     ORDER BY q.ord
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% exceeded: limit %', v.quota, v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('namespace %s would reach %s', v.namespace, v.used);
    END IF;
END
$$;

ALTER FUNCTION isokron.quota_memory_add_v1(p_delta json) OWNER TO isokron_definer;

--
-- Name: quota_memory_changed_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_memory_changed_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_delta json;
    v record;
    v_type text;
    v_per integer;
BEGIN
    -- A statement that changed no row: every INSERT … ON CONFLICT DO UPDATE fires the
    -- UPDATE trigger too (memory commits all are), with empty transition tables when no
    -- row conflicted, and the INSERT trigger with an empty one when every row did.
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM removed) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM added) THEN  -- an UPDATE's old rows are its new rows
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        -- the common case, written out: no detour through JSON
        WITH g AS (
            SELECT a.root_id, a.namespace, count(*) AS n,
                   sum(octet_length(a.content) + octet_length(a.metadata::text))::bigint AS b
              FROM added a GROUP BY 1, 2
        ), up AS (
            INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items, bytes)
            SELECT 'namespace', g.root_id, g.namespace, g.n, g.b FROM g ORDER BY 2, 3
            ON CONFLICT (key1, scope, key2, key3) DO UPDATE
               SET items = u.items + EXCLUDED.items, bytes = u.bytes + EXCLUDED.bytes
            RETURNING u.key1, u.key2, u.items, u.bytes
        )
        SELECT q.quota, q.lim, q.used, up.key2 AS namespace INTO v
          FROM up
          CROSS JOIN LATERAL isokron.quota_limits_v1(up.key1) l
          CROSS JOIN LATERAL (VALUES
              (1, 'quota_memory_rows', l.memory_rows, up.items),
              (2, 'quota_memory_bytes', l.memory_bytes, up.bytes)) q(ord, quota, lim, used)
         WHERE q.used > q.lim
         ORDER BY q.ord
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION '% exceeded: limit %', v.quota, v.lim
                USING ERRCODE = 'IKQ01',
                      DETAIL = format('namespace %s would reach %s', v.namespace, v.used);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT json_agg(g) INTO v_delta FROM (
            SELECT r.root_id, r.namespace, -count(*) AS n,
                   -sum(octet_length(r.content) + octet_length(r.metadata::text))::bigint AS b
              FROM removed r GROUP BY 1, 2) g;
    ELSE
        SELECT json_agg(g) INTO v_delta FROM (
            SELECT c.root_id, c.namespace, sum(c.n)::bigint AS n, sum(c.b)::bigint AS b
              FROM (SELECT a.root_id, a.namespace, 1 AS n,
                           octet_length(a.content) + octet_length(a.metadata::text) AS b
                      FROM added a
                    UNION ALL
                    SELECT r.root_id, r.namespace, -1,
                           -(octet_length(r.content) + octet_length(r.metadata::text))
                      FROM removed r) c
             GROUP BY 1, 2
            HAVING sum(c.n) <> 0 OR sum(c.b) <> 0) g;
    END IF;
    IF v_delta IS NOT NULL THEN
        PERFORM isokron.quota_memory_add_v1(v_delta);
    END IF;
    -- The embedding (pgvector, optional: read by name where the column exists). Its bytes
    -- go to the same counters: the vector's own size (8 bytes of header, 4 a dimension;
    -- halfvec 2), the same whether the stored value is inline or toasted. Static queries
    -- (planned once per session; a dynamic statement was planned at every write, a third
    -- of a commit's time): the dimension is the length of the vector cast to real[]
    -- (pgvector's casts need no schema), taken only where the column is there.
    SELECT t.typname INTO v_type
      FROM pg_attribute c JOIN pg_type t ON t.oid = c.atttypid
     WHERE c.attrelid = TG_RELID AND c.attname = 'embedding' AND NOT c.attisdropped;
    IF v_type IN ('vector', 'halfvec') THEN
        v_per := CASE v_type WHEN 'halfvec' THEN 2 ELSE 4 END;
        IF TG_OP = 'INSERT' THEN
            SELECT json_agg(g) INTO v_delta FROM (
                SELECT x.root_id, x.namespace, 0 AS n,
                       sum(8 + v_per * cardinality(x.embedding::real[]))::bigint AS b
                  FROM added x WHERE x.embedding IS NOT NULL GROUP BY 1, 2) g;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT json_agg(g) INTO v_delta FROM (
                SELECT x.root_id, x.namespace, 0 AS n,
                       -sum(8 + v_per * cardinality(x.embedding::real[]))::bigint AS b
                  FROM removed x WHERE x.embedding IS NOT NULL GROUP BY 1, 2) g;
        ELSE
            SELECT json_agg(g) INTO v_delta FROM (
                SELECT c.root_id, c.namespace, 0 AS n, sum(c.b)::bigint AS b
                  FROM (SELECT x.root_id, x.namespace,
                               8 + v_per * cardinality(x.embedding::real[]) AS b
                          FROM added x WHERE x.embedding IS NOT NULL
                        UNION ALL
                        SELECT x.root_id, x.namespace,
                               -(8 + v_per * cardinality(x.embedding::real[]))
                          FROM removed x WHERE x.embedding IS NOT NULL) c
                 GROUP BY 1, 2 HAVING sum(c.b) <> 0) g;
        END IF;
        IF v_delta IS NOT NULL THEN
            PERFORM isokron.quota_memory_add_v1(v_delta);
        END IF;
    ELSIF v_type IS NOT NULL THEN
        -- another type of column (not pgvector's): its stored size, as before
        EXECUTE format(
            'SELECT json_agg(g) FROM (SELECT c.root_id, c.namespace, 0 AS n, '
            'sum(c.b)::bigint AS b FROM (%s) c GROUP BY 1, 2 HAVING sum(c.b) <> 0) g',
            concat_ws(' UNION ALL ',
                CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN
                    'SELECT x.root_id, x.namespace, pg_column_size(x.embedding) AS b '
                    'FROM added x WHERE x.embedding IS NOT NULL' END,
                CASE WHEN TG_OP IN ('DELETE', 'UPDATE') THEN
                    'SELECT x.root_id, x.namespace, -pg_column_size(x.embedding) AS b '
                    'FROM removed x WHERE x.embedding IS NOT NULL' END)) INTO v_delta;
        IF v_delta IS NOT NULL THEN
            PERFORM isokron.quota_memory_add_v1(v_delta);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

ALTER FUNCTION isokron.quota_memory_changed_tg() OWNER TO isokron_definer;

--
-- Name: quota_messages_added_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_messages_added_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v record;
BEGIN
    WITH sized AS (
        SELECT a.tenant_id, a.user_id, a.session_id,
               coalesce(octet_length(a.content), 0)
               + coalesce(octet_length(a.tool_calls::text), 0) AS b
          FROM added a
    ), g AS (
        SELECT s.tenant_id, s.user_id, s.session_id::text AS session_id, count(*) AS n,
               sum(s.b)::bigint AS b, max(s.b)::bigint AS biggest
          FROM sized s GROUP BY 1, 2, 3
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, key3, items, bytes)
        SELECT 'session', g.tenant_id, g.user_id, g.session_id, g.n, g.b FROM g
         ORDER BY 2, 3, 4
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE
           SET items = u.items + EXCLUDED.items, bytes = u.bytes + EXCLUDED.bytes
        RETURNING u.key1, u.key2, u.key3, u.items, u.bytes
    )
    SELECT q.quota, q.lim, q.used, up.key3 AS session INTO v
      FROM up
      JOIN g ON g.tenant_id = up.key1 AND g.user_id = up.key2 AND g.session_id = up.key3
      CROSS JOIN LATERAL isokron.quota_limits_v1(up.key1) l
      CROSS JOIN LATERAL (VALUES
          (1, 'quota_message_bytes', l.message_bytes, g.biggest),
          (2, 'quota_messages_per_session', l.messages_per_session, up.items),
          (3, 'quota_session_bytes', l.session_bytes, up.bytes)) q(ord, quota, lim, used)
     WHERE q.used > q.lim
     ORDER BY q.ord
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% exceeded: limit %', v.quota, v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('session %s would reach %s', v.session, v.used);
    END IF;
    RETURN NULL;
END
$$;

ALTER FUNCTION isokron.quota_messages_added_tg() OWNER TO isokron_definer;

--
-- Name: quota_messages_removed_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_messages_removed_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    UPDATE isokron.quota_usage u
       SET items = greatest(u.items - g.n, 0), bytes = greatest(u.bytes - g.b, 0)
      FROM (SELECT r.tenant_id, r.user_id, r.session_id::text AS session_id, count(*) AS n,
                   sum(coalesce(octet_length(r.content), 0)
                       + coalesce(octet_length(r.tool_calls::text), 0))::bigint AS b
              FROM removed r GROUP BY 1, 2, 3) g
     WHERE u.key1 = g.tenant_id AND u.scope = 'session' AND u.key2 = g.user_id
       AND u.key3 = g.session_id;
    RETURN NULL;
END
$$;

ALTER FUNCTION isokron.quota_messages_removed_tg() OWNER TO isokron_definer;

--
-- Name: quota_session_bytes_v1(text, text, jsonb); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_session_bytes_v1(p_agent_name text, p_title text, p_state jsonb) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT (coalesce(octet_length(p_agent_name), 0) + coalesce(octet_length(p_title), 0)
            + coalesce(octet_length(p_state::text), 0))::bigint
$$;

--
-- Name: quota_session_grow_v1(json); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_session_grow_v1(p_delta json) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v record;
BEGIN
    UPDATE isokron.quota_usage u SET bytes = greatest(u.bytes + d.b, 0)
      FROM json_to_recordset(p_delta) AS d(tenant_id text, user_id text, session_id text,
                                           b bigint)
     WHERE d.b < 0 AND u.key1 = d.tenant_id AND u.scope = 'session' AND u.key2 = d.user_id
       AND u.key3 = d.session_id;
    WITH g AS (
        SELECT d.tenant_id, d.user_id, d.session_id, d.b
          FROM json_to_recordset(p_delta) AS d(tenant_id text, user_id text, session_id text,
                                               b bigint)
         WHERE d.b > 0
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, key3, bytes)
        SELECT 'session', g.tenant_id, g.user_id, g.session_id, g.b FROM g ORDER BY 2, 3, 4
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes
        RETURNING u.key1, u.key2, u.key3, u.bytes
    )
    SELECT up.key3 AS session, up.bytes AS used, l.session_bytes AS lim INTO v
      FROM up
      CROSS JOIN LATERAL isokron.quota_limits_v2(up.key1) l
     WHERE up.bytes > l.session_bytes
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quota_session_bytes exceeded: limit %', v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('session %s would reach %s', v.session, v.used);
    END IF;
END
$$;

ALTER FUNCTION isokron.quota_session_grow_v1(p_delta json) OWNER TO isokron_definer;

--
-- Name: quota_session_keys_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_session_keys_tg() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF (NEW.tenant_id, NEW.user_id, NEW.id) IS DISTINCT FROM (OLD.tenant_id, OLD.user_id, OLD.id)
    THEN
        RAISE EXCEPTION 'a session''s tenant, user and id never change' USING ERRCODE = 'IKT01';
    END IF;
    RETURN NEW;
END
$$;

--
-- Name: quota_sessions_added_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_sessions_added_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v record;
    v_delta json;
BEGIN
    -- the tenant's total first (one lock order: tenant, user, session)
    WITH t AS (
        SELECT a.tenant_id, count(*) AS n FROM added a GROUP BY 1
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items)
        SELECT 'tenant', t.tenant_id, '', t.n FROM t ORDER BY 2
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET items = u.items + EXCLUDED.items
        RETURNING u.key1, u.items
    )
    SELECT up.key1, up.items, l.sessions_per_tenant AS lim INTO v
      FROM up CROSS JOIN LATERAL isokron.quota_limits_v2(up.key1) l
     WHERE up.items > l.sessions_per_tenant
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quota_sessions_per_tenant exceeded: limit %', v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('tenant %s would hold %s sessions', v.key1, v.items);
    END IF;
    WITH g AS (
        SELECT a.tenant_id, a.user_id, count(*) AS n FROM added a GROUP BY 1, 2
    ), up AS (
        INSERT INTO isokron.quota_usage AS u (scope, key1, key2, items)
        SELECT 'user', g.tenant_id, g.user_id, g.n FROM g ORDER BY 2, 3
        ON CONFLICT (key1, scope, key2, key3) DO UPDATE SET items = u.items + EXCLUDED.items
        RETURNING u.key1, u.key2, u.items
    )
    SELECT up.key1, up.key2, up.items, l.sessions_per_user AS lim INTO v
      FROM up CROSS JOIN LATERAL isokron.quota_limits_v2(up.key1) l
     WHERE up.items > l.sessions_per_user
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'quota_sessions_per_user exceeded: limit %', v.lim
            USING ERRCODE = 'IKQ01',
                  DETAIL = format('user %s of tenant %s would hold %s sessions', v.key2,
                                  v.key1, v.items);
    END IF;
    SELECT json_agg(g) INTO v_delta FROM (
        SELECT a.tenant_id, a.user_id, a.id::text AS session_id,
               isokron.quota_session_bytes_v1(a.agent_name, a.title, a.state) AS b
          FROM added a) g;
    IF v_delta IS NOT NULL THEN
        PERFORM isokron.quota_session_grow_v1(v_delta);
    END IF;
    RETURN NULL;
END
$$;

ALTER FUNCTION isokron.quota_sessions_added_tg() OWNER TO isokron_definer;

--
-- Name: quota_sessions_removed_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_sessions_removed_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    UPDATE isokron.quota_usage u SET items = greatest(u.items - g.n, 0)
      FROM (SELECT r.tenant_id, count(*) AS n FROM removed r GROUP BY 1) g
     WHERE u.key1 = g.tenant_id AND u.scope = 'tenant' AND u.key2 = '' AND u.key3 = '';
    UPDATE isokron.quota_usage u SET items = greatest(u.items - g.n, 0)
      FROM (SELECT r.tenant_id, r.user_id, count(*) AS n FROM removed r GROUP BY 1, 2) g
     WHERE u.key1 = g.tenant_id AND u.scope = 'user' AND u.key2 = g.user_id AND u.key3 = '';
    DELETE FROM isokron.quota_usage u USING removed r
     WHERE u.key1 = r.tenant_id AND u.scope = 'session' AND u.key2 = r.user_id
       AND u.key3 = r.id::text;
    RETURN NULL;
END
$$;

ALTER FUNCTION isokron.quota_sessions_removed_tg() OWNER TO isokron_definer;

--
-- Name: quota_sessions_updated_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.quota_sessions_updated_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_delta json;
BEGIN
    -- a session's keys never change (quota_session_keys), so old and new pair on them
    SELECT json_agg(g) INTO v_delta FROM (
        SELECT a.tenant_id, a.user_id, a.id::text AS session_id,
               isokron.quota_session_bytes_v1(a.agent_name, a.title, a.state)
               - isokron.quota_session_bytes_v1(r.agent_name, r.title, r.state) AS b
          FROM added a
          JOIN removed r ON r.tenant_id = a.tenant_id AND r.user_id = a.user_id
                        AND r.id = a.id
         WHERE (a.agent_name, a.title, a.state) IS DISTINCT FROM
               (r.agent_name, r.title, r.state)) g
     WHERE g.b <> 0;
    IF v_delta IS NOT NULL THEN
        PERFORM isokron.quota_session_grow_v1(v_delta);
    END IF;
    RETURN NULL;
END
$$;

ALTER FUNCTION isokron.quota_sessions_updated_tg() OWNER TO isokron_definer;

--
-- Name: read_context_v1(text, text, integer, integer, text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.read_context_v1(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[] DEFAULT NULL::text[]) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_all     boolean := p_parts IS NULL;
    v_out     jsonb := '{}'::jsonb;
    v_pattern text;
BEGIN
    IF p_workspace_id IS NULL OR btrim(p_workspace_id) = '' THEN
        RAISE EXCEPTION 'read_context_v1: workspace id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    IF v_all OR 'charter' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('charter', (
            SELECT jsonb_build_object(
                       'id', c.id, 'workspace_id', c.workspace_id,
                       'schema_version', c.schema_version, 'content_md', c.content_md,
                       'content_jsonb', c.content_jsonb, 'content_hash', c.content_hash,
                       'created_at', c.created_at)
              FROM public.kora_role_charter c
             WHERE c.workspace_id = p_workspace_id AND c.superseded_at IS NULL));
    END IF;
    IF v_all OR 'policies' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('policies', coalesce((
            SELECT jsonb_agg(jsonb_build_array(p.policy_path, p.policy_value)
                             ORDER BY p.policy_path)
              FROM public.kora_policy_registry p
             WHERE p.workspace_id = p_workspace_id), '[]'::jsonb));
    END IF;
    IF v_all OR 'capabilities' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('capabilities', coalesce((
            SELECT jsonb_agg(jsonb_build_array(m.cap_name, m.granted))
              FROM public.actor_capability_matrix m
             WHERE m.actor_kind = p_actor_kind), '[]'::jsonb));
    END IF;
    IF v_all OR 'own_scratchpad' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('own_scratchpad', coalesce((
            SELECT jsonb_agg(to_jsonb(s) ORDER BY s.created_at DESC, s.scratchpad_entry_id DESC)
              FROM (SELECT e.scratchpad_entry_id, a.actor_kind, a.display_name,
                           e.scratchpad_kind, e.visibility_scope, e.content_inline,
                           e.content_uri, e.content_hash, e.created_at
                      FROM kronicle.agent_scratchpad_entries e
                      JOIN public.actor_registry a ON a.actor_id = e.actor_id
                     WHERE e.workspace_id = p_workspace_id AND e.status = 'active'
                       AND a.actor_kind = p_actor_kind
                     ORDER BY e.created_at DESC, e.scratchpad_entry_id DESC
                     LIMIT p_scratchpad_limit) s), '[]'::jsonb));
    END IF;
    IF v_all OR 'cross_scratchpad' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('cross_scratchpad', coalesce((
            SELECT jsonb_agg(to_jsonb(s) ORDER BY s.created_at DESC, s.scratchpad_entry_id DESC)
              FROM (SELECT e.scratchpad_entry_id, a.actor_kind, a.display_name,
                           e.scratchpad_kind, e.visibility_scope, e.content_inline,
                           e.content_uri, e.content_hash, e.created_at
                      FROM kronicle.agent_scratchpad_entries e
                      JOIN public.actor_registry a ON a.actor_id = e.actor_id
                     WHERE e.workspace_id = p_workspace_id AND e.status = 'active'
                       AND a.actor_kind <> p_actor_kind
                       AND e.visibility_scope = 'cross_agent_dereferenceable'
                     ORDER BY e.created_at DESC, e.scratchpad_entry_id DESC
                     LIMIT p_scratchpad_limit) s), '[]'::jsonb));
    END IF;
    IF v_all OR 'recent_events' = ANY (p_parts) THEN
        v_pattern := replace(replace(replace(p_actor_kind, '\', '\\'), '%', '\%'), '_', '\_')
                     || '.%';
        v_out := v_out || jsonb_build_object('recent_events', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'event_id', r.event_id, 'event_type', r.event_type,
                       'occurred_at', r.occurred_at,
                       'payload_summary', CASE WHEN char_length(r.pretty) > 300
                                               THEN left(r.pretty, 300) || '…'
                                               ELSE r.pretty END)
                             ORDER BY r.seq DESC)
              FROM (SELECT e.event_id, e.event_type, e.occurred_at, e.seq,
                           jsonb_pretty(e.payload) AS pretty
                      FROM (SELECT x.event_id, x.event_type, x.occurred_at, x.seq, x.payload
                              FROM hivex_foundation.event_log x
                             WHERE x.tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                                                   WHERE t.clerk_org_id = p_workspace_id)
                               AND x.event_type LIKE v_pattern ESCAPE '\'
                             ORDER BY x.seq DESC
                             LIMIT p_event_limit) e) r), '[]'::jsonb));
    END IF;
    IF v_all OR 'constitution' = ANY (p_parts) THEN
        v_out := v_out || jsonb_build_object('constitution', (
            SELECT jsonb_build_object('revision_id', w.revision_id,
                                      'revision_number', w.revision_number,
                                      'rules_hash', encode(w.rules_hash, 'hex'))
              FROM kronicle.workspace_constitution_revisions w
             WHERE w.workspace_id = p_workspace_id
             ORDER BY w.revision_number DESC
             LIMIT 1));
    END IF;
    RETURN v_out;
END
$$;

--
-- Name: read_context_v2(text, text, integer, integer, text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.read_context_v2(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[] DEFAULT NULL::text[]) RETURNS json
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_all     boolean := p_parts IS NULL;
    v_out     text := '';
    v_lo      text;
    v_hi      text;
    v_tenant  uuid;
BEGIN
    IF p_workspace_id IS NULL OR btrim(p_workspace_id) = '' THEN
        RAISE EXCEPTION 'read_context_v2: workspace id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    IF v_all OR 'charter' = ANY (p_parts) THEN
        v_out := v_out || ',"charter":' || coalesce(((
            SELECT json_build_object(
                       'id', c.id, 'workspace_id', c.workspace_id,
                       'schema_version', c.schema_version, 'content_md', c.content_md,
                       'content_jsonb', c.content_jsonb, 'content_hash', c.content_hash,
                       'created_at', c.created_at)
              FROM public.kora_role_charter c
             WHERE c.workspace_id = p_workspace_id AND c.superseded_at IS NULL))::text, 'null');
    END IF;
    IF v_all OR 'policies' = ANY (p_parts) THEN
        v_out := v_out || ',"policies":' || coalesce((coalesce((
            SELECT json_agg(json_build_array(p.policy_path, p.policy_value)
                             ORDER BY p.policy_path)
              FROM public.kora_policy_registry p
             WHERE p.workspace_id = p_workspace_id), '[]'::json))::text, 'null');
    END IF;
    IF v_all OR 'capabilities' = ANY (p_parts) THEN
        v_out := v_out || ',"capabilities":' || coalesce((coalesce((
            SELECT json_agg(json_build_array(m.cap_name, m.granted))
              FROM public.actor_capability_matrix m
             WHERE m.actor_kind = p_actor_kind), '[]'::json))::text, 'null');
    END IF;
    IF v_all OR 'own_scratchpad' = ANY (p_parts) THEN
        v_out := v_out || ',"own_scratchpad":' || coalesce((coalesce((
            SELECT json_agg(s ORDER BY s.created_at DESC, s.scratchpad_entry_id DESC)
              FROM (SELECT e.scratchpad_entry_id, a.actor_kind, a.display_name,
                           e.scratchpad_kind, e.visibility_scope, e.content_inline,
                           e.content_uri, e.content_hash, e.created_at
                      FROM public.actor_registry a
                     CROSS JOIN LATERAL (
                        SELECT x.* FROM kronicle.agent_scratchpad_entries x
                         WHERE x.actor_id = a.actor_id AND x.status = 'active'
                           AND x.workspace_id = p_workspace_id
                         ORDER BY x.created_at DESC, x.scratchpad_entry_id DESC
                         LIMIT p_scratchpad_limit) e
                     WHERE a.workspace_id = p_workspace_id AND a.actor_kind = p_actor_kind
                     ORDER BY e.created_at DESC, e.scratchpad_entry_id DESC
                     LIMIT p_scratchpad_limit) s), '[]'::json))::text, 'null');
    END IF;
    IF v_all OR 'cross_scratchpad' = ANY (p_parts) THEN
        v_out := v_out || ',"cross_scratchpad":' || coalesce((coalesce((
            SELECT json_agg(s ORDER BY s.created_at DESC, s.scratchpad_entry_id DESC)
              FROM (SELECT e.scratchpad_entry_id, a.actor_kind, a.display_name,
                           e.scratchpad_kind, e.visibility_scope, e.content_inline,
                           e.content_uri, e.content_hash, e.created_at
                      FROM public.actor_registry a
                     CROSS JOIN LATERAL (
                        SELECT x.* FROM kronicle.agent_scratchpad_entries x
                         WHERE x.actor_id = a.actor_id AND x.status = 'active'
                           AND x.visibility_scope = 'cross_agent_dereferenceable'
                           AND x.workspace_id = p_workspace_id
                         ORDER BY x.created_at DESC, x.scratchpad_entry_id DESC
                         LIMIT p_scratchpad_limit) e
                     WHERE a.workspace_id = p_workspace_id AND a.actor_kind <> p_actor_kind
                     ORDER BY e.created_at DESC, e.scratchpad_entry_id DESC
                     LIMIT p_scratchpad_limit) s), '[]'::json))::text, 'null');
    END IF;
    IF v_all OR 'recent_events' = ANY (p_parts) THEN
        -- The actor's event types are a range of the (tenant, type) index: walk its distinct
        -- types (a loose index scan), take each type's newest events, keep the newest of all.
        v_lo := p_actor_kind || '.';
        v_hi := p_actor_kind || '/';
        SELECT t.tenant_id INTO v_tenant FROM hivex_foundation.tenant t
         WHERE t.clerk_org_id = p_workspace_id;
        v_out := v_out || ',"recent_events":' || coalesce((coalesce((
            WITH RECURSIVE types(event_type) AS (
                (SELECT x.event_type FROM hivex_foundation.event_log x
                  WHERE x.tenant_id = v_tenant AND x.event_type ~>=~ v_lo
                    AND x.event_type ~<~ v_hi
                  ORDER BY x.event_type USING ~<~ LIMIT 1)
                UNION ALL
                SELECT (SELECT x.event_type FROM hivex_foundation.event_log x
                         WHERE x.tenant_id = v_tenant AND x.event_type ~>~ types.event_type
                           AND x.event_type ~<~ v_hi
                         ORDER BY x.event_type USING ~<~ LIMIT 1)
                  FROM types WHERE types.event_type IS NOT NULL
            )
            SELECT json_agg(json_build_object(
                       'event_id', r.event_id, 'event_type', r.event_type,
                       'occurred_at', r.occurred_at,
                       'payload_summary', CASE WHEN char_length(r.pretty) > 300
                                               THEN left(r.pretty, 300) || '…'
                                               ELSE r.pretty END)
                             ORDER BY r.seq DESC)
              FROM (SELECT e.event_id, e.event_type, e.occurred_at, e.seq,
                           jsonb_pretty(e.payload) AS pretty
                      FROM (SELECT x.event_id, x.event_type, x.occurred_at, x.seq, x.payload
                              FROM types
                             CROSS JOIN LATERAL (
                                SELECT y.event_id, y.event_type, y.occurred_at, y.seq, y.payload
                                  FROM hivex_foundation.event_log y
                                 WHERE y.tenant_id = v_tenant
                                   AND y.event_type = types.event_type
                                 ORDER BY y.seq DESC
                                 LIMIT p_event_limit) x
                             WHERE types.event_type IS NOT NULL
                             ORDER BY x.seq DESC
                             LIMIT p_event_limit) e) r), '[]'::json))::text, 'null');
    END IF;
    IF v_all OR 'constitution' = ANY (p_parts) THEN
        v_out := v_out || ',"constitution":' || coalesce(((
            SELECT json_build_object('revision_id', w.revision_id,
                                      'revision_number', w.revision_number,
                                      'rules_hash', encode(w.rules_hash, 'hex'))
              FROM kronicle.workspace_constitution_revisions w
             WHERE w.workspace_id = p_workspace_id
             ORDER BY w.revision_number DESC
             LIMIT 1))::text, 'null');
    END IF;
    RETURN ('{' || substr(v_out, 2) || '}')::json;
END
$$;

--
-- Name: readable_namespaces_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.readable_namespaces_v1() RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT coalesce((SELECT a.readable FROM isokron.namespace_access_v1() a), '{}') $$;

--
-- Name: recall_corpora_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.recall_corpora_v1() RETURNS TABLE(source text, key1 text, key2 text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_root text;
    v_readable text[];
    v_tenant text := coalesce((SELECT isokron.context_tenant_v1()), '');
    v_user text := coalesce((SELECT isokron.context_user_v1()), '');
BEGIN
    SELECT a.root_id, a.readable INTO v_root, v_readable FROM isokron.namespace_access_v2() a;
    IF v_root IS NOT NULL THEN
        RETURN QUERY SELECT 'm'::text, v_root, ns FROM unnest(v_readable) ns;
    END IF;
    IF v_tenant <> '' AND v_user <> '' THEN
        RETURN QUERY SELECT 's'::text, v_tenant, v_user;
    END IF;
END
$$;

ALTER FUNCTION isokron.recall_corpora_v1() OWNER TO isokron_definer;

--
-- Name: recall_for_v1(text, text, text, text[], integer); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.recall_for_v1(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer) RETURNS TABLE(source text, id uuid, content text, created_at timestamp with time zone, score real, namespace text, session_id uuid, role text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_root text;
    v_readable text[];
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    PERFORM set_config('app.current_tenant_id', CASE WHEN p_user_id IS NULL THEN ''
                                                     ELSE p_workspace_id END, true);
    PERFORM set_config('app.current_user_id', coalesce(p_user_id, ''), true);
    SELECT a.root_id, a.readable INTO v_root, v_readable FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace %', quote_literal(p_workspace_id)
            USING ERRCODE = 'IKN01';
    END IF;
    IF char_length(btrim(p_query)) >= 2 THEN
        RETURN QUERY SELECT * FROM isokron.recall_v1(btrim(p_query), p_namespaces, p_limit,
                                                      p_user_id IS NOT NULL);
        RETURN;
    END IF;
    RETURN QUERY
    SELECT x.* FROM (
        SELECT 'memory'::text, r.id, r.content, r.created_at, 1.0::real, r.namespace,
               NULL::uuid, NULL::text
          FROM isokron.memory_records r
          JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
         WHERE r.root_id = v_root
           AND r.namespace = ANY (v_readable)
           AND (p_namespaces IS NULL OR r.namespace = ANY (p_namespaces))
           AND (r.expires_at IS NULL OR r.expires_at > now())
           AND (n.expires_at IS NULL OR n.expires_at > now())
           AND strpos(lower(r.content), lower(btrim(p_query))) > 0
        UNION ALL
        SELECT 'message', m.id, m.content, m.created_at, 1.0::real, NULL, m.session_id, m.role
          FROM isokron.agent_messages m
         WHERE p_user_id IS NOT NULL AND m.tenant_id = p_workspace_id
           AND m.user_id = p_user_id AND strpos(lower(m.content), lower(btrim(p_query))) > 0
    ) x ORDER BY 4 DESC LIMIT p_limit;
END
$$;

--
-- Name: recall_for_v2(text, text, text, text[], integer, text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.recall_for_v2(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text) RETURNS TABLE(source text, id uuid, content text, created_at timestamp with time zone, score real, namespace text, session_id uuid, role text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    c_depth integer := greatest(30, p_limit);  -- candidates per side
    c_lexical constant double precision := 0.6;
BEGIN
    IF p_vector IS NULL OR p_model IS NULL OR char_length(btrim(p_query)) < 2 THEN
        RETURN QUERY SELECT * FROM isokron.recall_for_v1(p_workspace_id, p_user_id, p_query,
                                                          p_namespaces, p_limit);
        RETURN;
    END IF;
    -- The scope, as recall_for_v1 sets it; an unknown workspace is IKN01.
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    PERFORM set_config('app.current_tenant_id', CASE WHEN p_user_id IS NULL THEN ''
                                                     ELSE p_workspace_id END, true);
    PERFORM set_config('app.current_user_id', coalesce(p_user_id, ''), true);
    IF NOT EXISTS (SELECT 1 FROM isokron.namespace_access_v2()) THEN
        RAISE EXCEPTION 'unknown workspace %', quote_literal(p_workspace_id)
            USING ERRCODE = 'IKN01';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH lexical AS MATERIALIZED (
        SELECT l.*, (l.score - min(l.score) OVER ())
                    / nullif(max(l.score) OVER () - min(l.score) OVER (), 0) AS norm
          FROM isokron.recall_v1(btrim(p_query), p_namespaces, c_depth,
                                 p_user_id IS NOT NULL) l
    ), vector AS MATERIALIZED (
        SELECT v.*, (max(v.distance) OVER () - v.distance)
                    / nullif(max(v.distance) OVER () - min(v.distance) OVER (), 0) AS norm
          FROM isokron.recall_vectors_v1(p_vector, p_model, p_namespaces, c_depth,
                                         p_user_id IS NOT NULL) v
    ), fused AS (
        SELECT coalesce(l.source, v.source) AS source, coalesce(l.id, v.id) AS id,
               coalesce(l.content, v.content) AS content,
               coalesce(l.created_at, v.created_at) AS created_at,
               CASE WHEN l.id IS NULL THEN 0 ELSE c_lexical * coalesce(l.norm, 1) END
               + CASE WHEN v.id IS NULL THEN 0
                      ELSE (1 - c_lexical) * coalesce(v.norm, 1)
                           * CASE WHEN v.pin THEN 1.5 ELSE 1 END END AS score,
               coalesce(l.namespace, v.namespace) AS namespace,
               coalesce(l.session_id, v.session_id) AS session_id,
               coalesce(l.role, v.role) AS role
          FROM lexical l FULL JOIN vector v ON v.source = l.source AND v.id = l.id
    )
    SELECT f.source, f.id, f.content, f.created_at, f.score::real, f.namespace, f.session_id,
           f.role
      FROM fused f
     ORDER BY f.score DESC, f.created_at DESC, f.id
     LIMIT p_limit;
END
$$;

--
-- Name: recall_for_v3(text, text, text, text[], integer, text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.recall_for_v3(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text) RETURNS TABLE(source text, id uuid, content text, created_at timestamp with time zone, score real, namespace text, session_id uuid, role text)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    c_depth integer := greatest(30, p_limit);  -- candidates per side
    c_lexical constant double precision := 0.6;
    v_root text;
    v_readable text[];
BEGIN
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    PERFORM set_config('app.current_tenant_id', CASE WHEN p_user_id IS NULL THEN ''
                                                     ELSE p_workspace_id END, true);
    PERFORM set_config('app.current_user_id', coalesce(p_user_id, ''), true);
    SELECT a.root_id, a.readable INTO v_root, v_readable FROM isokron.namespace_access_v2() a;
    IF v_root IS NULL THEN
        RAISE EXCEPTION 'unknown workspace %', quote_literal(p_workspace_id)
            USING ERRCODE = 'IKN01';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    IF char_length(btrim(p_query)) < 2 THEN
        -- A one-letter query: substring matches, newest first.
        RETURN QUERY
        SELECT x.* FROM (
            SELECT 'memory'::text, r.id, r.content, r.created_at, 1.0::real, r.namespace,
                   NULL::uuid, NULL::text
              FROM isokron.memory_records r
              JOIN isokron.memory_namespaces n
                ON n.root_id = r.root_id AND n.name = r.namespace
             WHERE r.root_id = v_root
               AND r.namespace = ANY (v_readable)
               AND (p_namespaces IS NULL OR r.namespace = ANY (p_namespaces))
               AND (r.expires_at IS NULL OR r.expires_at > now())
               AND (n.expires_at IS NULL OR n.expires_at > now())
               AND r.retracted_at IS NULL AND r.unmerged_duplicate_of IS NULL
               AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
               AND strpos(lower(r.content), lower(btrim(p_query))) > 0
            UNION ALL
            SELECT 'message', m.id, m.content, m.created_at, 1.0::real, NULL, m.session_id,
                   m.role
              FROM isokron.agent_messages m
             WHERE p_user_id IS NOT NULL AND m.tenant_id = p_workspace_id
               AND m.user_id = p_user_id AND strpos(lower(m.content), lower(btrim(p_query))) > 0
        ) x ORDER BY 4 DESC LIMIT p_limit;
        RETURN;
    END IF;
    IF p_vector IS NULL OR p_model IS NULL THEN
        RETURN QUERY SELECT * FROM isokron.recall_v2(btrim(p_query), p_namespaces, p_limit,
                                                      p_user_id IS NOT NULL);
        RETURN;
    END IF;
    RETURN QUERY
    WITH lexical AS MATERIALIZED (
        SELECT l.*, (l.score - min(l.score) OVER ())
                    / nullif(max(l.score) OVER () - min(l.score) OVER (), 0) AS norm
          FROM isokron.recall_v2(btrim(p_query), p_namespaces, c_depth,
                                 p_user_id IS NOT NULL) l
    ), nearest AS MATERIALIZED (
        SELECT v.* FROM isokron.recall_vectors_v1(p_vector, p_model, p_namespaces,
                                                  2 * c_depth, p_user_id IS NOT NULL) v
         WHERE v.source <> 'memory'
            OR EXISTS (SELECT 1 FROM isokron.memory_records r
                        WHERE r.root_id = v_root AND r.namespace = v.namespace
                          AND r.id = v.id AND r.retracted_at IS NULL
                          AND r.unmerged_duplicate_of IS NULL AND r.valid_from <= now()
                          AND (r.valid_to IS NULL OR r.valid_to > now()))
         ORDER BY v.distance, v.created_at DESC
         LIMIT c_depth
    ), vector AS MATERIALIZED (
        SELECT v.*, (max(v.distance) OVER () - v.distance)
                    / nullif(max(v.distance) OVER () - min(v.distance) OVER (), 0) AS norm
          FROM nearest v
    ), fused AS (
        SELECT coalesce(l.source, v.source) AS source, coalesce(l.id, v.id) AS id,
               coalesce(l.content, v.content) AS content,
               coalesce(l.created_at, v.created_at) AS created_at,
               CASE WHEN l.id IS NULL THEN 0 ELSE c_lexical * coalesce(l.norm, 1) END
               + CASE WHEN v.id IS NULL THEN 0
                      ELSE (1 - c_lexical) * coalesce(v.norm, 1)
                           * CASE WHEN v.pin THEN 1.5 ELSE 1 END END AS score,
               coalesce(l.namespace, v.namespace) AS namespace,
               coalesce(l.session_id, v.session_id) AS session_id,
               coalesce(l.role, v.role) AS role
          FROM lexical l FULL JOIN vector v ON v.source = l.source AND v.id = l.id
    )
    SELECT f.source, f.id, f.content, f.created_at, f.score::real, f.namespace, f.session_id,
           f.role
      FROM fused f
     ORDER BY f.score DESC, f.created_at DESC, f.id
     LIMIT p_limit;
END
$$;

--
-- Name: recall_v1(text, text[], integer, boolean); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.recall_v1(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) RETURNS TABLE(source text, id uuid, content text, created_at timestamp with time zone, score real, namespace text, session_id uuid, role text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_lex text[];
    v_idf double precision[];
    v_df bigint[];
    v_docs bigint;
    v_avg double precision;
    v_all tsquery;
    v_sel tsquery;
    v_pairs tsquery;
    v_q tsquery[];
    v_tenant text := (SELECT isokron.context_tenant_v1());
    v_user text := (SELECT isokron.context_user_v1());
    c_cap constant integer := 150;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    SELECT array_agg(u.lexeme ORDER BY u.first_pos) INTO v_lex
      FROM (SELECT t.lexeme, min(p) AS first_pos
              FROM unnest(to_tsvector('english', isokron.search_text_v1(p_query))) t,
                   unnest(t.positions) p
             GROUP BY t.lexeme) u;
    IF v_lex IS NULL THEN
        RETURN;
    END IF;
    -- idf = ln(1 + (N - df + 0.5) / (df + 0.5)); a lexeme the statistics do not know yet
    -- weighs as a rare one.
    SELECT array_agg(ln(1 + (greatest(w.docs, w.df) - w.df + 0.5) / (w.df + 0.5))
                     ORDER BY array_position(v_lex, w.lexeme)),
           array_agg(w.df ORDER BY array_position(v_lex, w.lexeme)),
           max(w.docs), max(w.avg_len)
      INTO v_idf, v_df, v_docs, v_avg
      FROM isokron.recall_weights_v1(v_lex) w;
    IF v_docs IS NULL OR v_docs = 0 THEN
        v_idf := array_fill(1.0::double precision, ARRAY[cardinality(v_lex)]);
    END IF;
    v_avg := greatest(coalesce(v_avg, 0), 1);
    SELECT string_agg(isokron.tsquery_lexeme_v1(l) , ' | ')::tsquery INTO v_all FROM unnest(v_lex) l;
    -- Selective: lexemes in at most max(50, 0.1 %) of the documents (at least the rarest):
    -- they alone find candidates, so a query of common words stays bounded.
    SELECT string_agg(isokron.tsquery_lexeme_v1(s.l), ' | ')::tsquery INTO v_sel
      FROM (SELECT x.l, x.i FROM unnest(v_lex, v_df) WITH ORDINALITY AS x(l, df, i)
             WHERE x.df <= greatest(50, coalesce(v_docs, 0) / 1000)
            UNION
            (SELECT x.l, x.i FROM unnest(v_lex, v_df) WITH ORDINALITY AS x(l, df, i)
              ORDER BY x.df, x.i LIMIT 1)) s;
    IF v_docs IS NULL OR v_docs = 0 THEN
        v_sel := v_all;  -- no statistics yet: every lexeme finds candidates
    ELSIF v_sel IS DISTINCT FROM v_all
          AND NOT EXISTS (SELECT 1 FROM isokron.memory_records r
                           WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
                             AND r.search_tsv @@ v_sel)
          AND NOT (p_messages AND EXISTS (SELECT 1 FROM isokron.agent_messages m
                                           WHERE m.tenant_id = v_tenant AND m.user_id = v_user
                                             AND m.search_tsv @@ v_sel)) THEN
        v_sel := v_all;  -- never empty while any lexeme matches
    END IF;
    IF cardinality(v_lex) > 1 THEN
        SELECT string_agg('(' || isokron.tsquery_lexeme_v1(v_lex[i]) || ' <-> ' || isokron.tsquery_lexeme_v1(v_lex[i + 1])
                          || ')', ' | ')::tsquery INTO v_pairs
          FROM generate_series(1, cardinality(v_lex) - 1) i;
    END IF;
    v_q := ARRAY(SELECT isokron.tsquery_lexeme_v1(l)::tsquery FROM unnest(v_lex) l);
    RETURN QUERY
    WITH candidates AS (
        (SELECT 'memory'::text AS source, r.id, r.content, r.created_at, r.search_tsv,
                r.namespace, NULL::uuid AS session_id, NULL::text AS role, r.pin
           FROM isokron.memory_records r
           JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
          WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
            AND r.search_tsv @@ v_sel
            AND (r.expires_at IS NULL OR r.expires_at > now())
            AND (n.expires_at IS NULL OR n.expires_at > now())
          LIMIT c_cap)
        UNION ALL
        (SELECT 'message', m.id, m.content, m.created_at, m.search_tsv, NULL, m.session_id,
                m.role, false
           FROM isokron.agent_messages m
          WHERE p_messages AND m.tenant_id = v_tenant AND m.user_id = v_user
            AND m.search_tsv @@ v_sel AND m.content IS NOT NULL
          LIMIT c_cap)
    ), scored AS (
        -- BM25 with a term frequency of one (a turn rarely repeats a word): each matched
        -- lexeme adds its idf, scaled by the document's length against the mean.
        SELECT c.*, (SELECT sum(v_idf[i]) FROM generate_subscripts(v_q, 1) i
                      WHERE c.search_tsv @@ v_q[i])
               * 2.2 / (1 + 1.2 * (0.25 + 0.75 * length(c.search_tsv) / v_avg))
               * CASE WHEN v_pairs IS NOT NULL AND c.search_tsv @@ v_pairs THEN 1.25 ELSE 1 END
              * CASE WHEN c.pin THEN 1.5 ELSE 1 END AS bm25
          FROM candidates c
    )
    SELECT s.source, s.id, s.content, s.created_at, s.bm25::real, s.namespace, s.session_id,
           s.role
      FROM scored s
     ORDER BY s.bm25 DESC, s.created_at DESC, s.id
     LIMIT p_limit;
END
$$;

ALTER FUNCTION isokron.recall_v1(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) OWNER TO isokron_definer;

--
-- Name: recall_v2(text, text[], integer, boolean); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.recall_v2(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) RETURNS TABLE(source text, id uuid, content text, created_at timestamp with time zone, score real, namespace text, session_id uuid, role text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_readable text[];
    v_root text;
    v_wanted text[];
    v_lex text[];
    v_idf double precision[];
    v_df bigint[];
    v_docs bigint;
    v_avg double precision;
    v_all tsquery;
    v_sel tsquery;
    v_pairs tsquery;
    v_q tsquery[];
    v_tenant text := (SELECT isokron.context_tenant_v1());
    v_user text := (SELECT isokron.context_user_v1());
    c_cap constant integer := 150;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    SELECT a.readable, a.root_id INTO v_readable, v_root FROM isokron.namespace_access_v2() a;
    v_wanted := CASE WHEN p_namespaces IS NULL THEN v_readable
                     ELSE ARRAY(SELECT n FROM unnest(p_namespaces) n WHERE n = ANY (v_readable))
                END;
    SELECT array_agg(u.lexeme ORDER BY u.first_pos) INTO v_lex
      FROM (SELECT t.lexeme, min(p) AS first_pos
              FROM unnest(to_tsvector('english', isokron.search_text_v1(p_query))) t,
                   unnest(t.positions) p
             GROUP BY t.lexeme) u;
    IF v_lex IS NULL THEN
        RETURN;
    END IF;
    -- idf = ln(1 + (N - df + 0.5) / (df + 0.5)); a lexeme the statistics do not know yet
    -- weighs as a rare one.
    SELECT array_agg(ln(1 + (greatest(w.docs, w.df) - w.df + 0.5) / (w.df + 0.5))
                     ORDER BY array_position(v_lex, w.lexeme)),
           array_agg(w.df ORDER BY array_position(v_lex, w.lexeme)),
           max(w.docs), max(w.avg_len)
      INTO v_idf, v_df, v_docs, v_avg
      FROM isokron.recall_weights_v1(v_lex) w;
    IF v_docs IS NULL OR v_docs = 0 THEN
        v_idf := array_fill(1.0::double precision, ARRAY[cardinality(v_lex)]);
    END IF;
    v_avg := greatest(coalesce(v_avg, 0), 1);
    SELECT string_agg(isokron.tsquery_lexeme_v1(l) , ' | ')::tsquery INTO v_all FROM unnest(v_lex) l;
    -- Selective: lexemes in at most max(50, 0.1 %) of the documents (at least the rarest):
    -- they alone find candidates, so a query of common words stays bounded.
    SELECT string_agg(isokron.tsquery_lexeme_v1(s.l), ' | ')::tsquery INTO v_sel
      FROM (SELECT x.l, x.i FROM unnest(v_lex, v_df) WITH ORDINALITY AS x(l, df, i)
             WHERE x.df <= greatest(50, coalesce(v_docs, 0) / 1000)
            UNION
            (SELECT x.l, x.i FROM unnest(v_lex, v_df) WITH ORDINALITY AS x(l, df, i)
              ORDER BY x.df, x.i LIMIT 1)) s;
    IF v_docs IS NULL OR v_docs = 0 THEN
        v_sel := v_all;  -- no statistics yet: every lexeme finds candidates
    ELSIF v_sel IS DISTINCT FROM v_all
          AND NOT EXISTS (SELECT 1 FROM isokron.memory_records r
                           WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
                             AND r.search_tsv @@ v_sel AND r.retracted_at IS NULL
                             AND r.valid_from <= now()
                             AND (r.valid_to IS NULL OR r.valid_to > now()))
          AND NOT (p_messages AND EXISTS (SELECT 1 FROM isokron.agent_messages m
                                           WHERE m.tenant_id = v_tenant AND m.user_id = v_user
                                             AND m.search_tsv @@ v_sel)) THEN
        v_sel := v_all;  -- never empty while any lexeme matches
    END IF;
    IF cardinality(v_lex) > 1 THEN
        SELECT string_agg('(' || isokron.tsquery_lexeme_v1(v_lex[i]) || ' <-> ' || isokron.tsquery_lexeme_v1(v_lex[i + 1])
                          || ')', ' | ')::tsquery INTO v_pairs
          FROM generate_series(1, cardinality(v_lex) - 1) i;
    END IF;
    v_q := ARRAY(SELECT isokron.tsquery_lexeme_v1(l)::tsquery FROM unnest(v_lex) l);
    RETURN QUERY
    WITH candidates AS (
        (SELECT 'memory'::text AS source, r.id, r.content, r.created_at, r.search_tsv,
                r.namespace, NULL::uuid AS session_id, NULL::text AS role, r.pin
           FROM isokron.memory_records r
           JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
          WHERE r.root_id = v_root AND r.namespace = ANY (v_wanted)
            AND r.search_tsv @@ v_sel
            AND (r.expires_at IS NULL OR r.expires_at > now())
            AND r.retracted_at IS NULL AND r.unmerged_duplicate_of IS NULL
            AND r.valid_from <= now() AND (r.valid_to IS NULL OR r.valid_to > now())
            AND (n.expires_at IS NULL OR n.expires_at > now())
          LIMIT c_cap)
        UNION ALL
        (SELECT 'message', m.id, m.content, m.created_at, m.search_tsv, NULL, m.session_id,
                m.role, false
           FROM isokron.agent_messages m
          WHERE p_messages AND m.tenant_id = v_tenant AND m.user_id = v_user
            AND m.search_tsv @@ v_sel AND m.content IS NOT NULL
          LIMIT c_cap)
    ), scored AS (
        -- BM25 with a term frequency of one (a turn rarely repeats a word): each matched
        -- lexeme adds its idf, scaled by the document's length against the mean.
        SELECT c.*, (SELECT sum(v_idf[i]) FROM generate_subscripts(v_q, 1) i
                      WHERE c.search_tsv @@ v_q[i])
               * 2.2 / (1 + 1.2 * (0.25 + 0.75 * length(c.search_tsv) / v_avg))
               * CASE WHEN v_pairs IS NOT NULL AND c.search_tsv @@ v_pairs THEN 1.25 ELSE 1 END
              * CASE WHEN c.pin THEN 1.5 ELSE 1 END AS bm25
          FROM candidates c
    )
    SELECT s.source, s.id, s.content, s.created_at, s.bm25::real, s.namespace, s.session_id,
           s.role
      FROM scored s
     ORDER BY s.bm25 DESC, s.created_at DESC, s.id
     LIMIT p_limit;
END
$$;

ALTER FUNCTION isokron.recall_v2(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) OWNER TO isokron_definer;

--
-- Name: recall_weights_v1(text[]); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.recall_weights_v1(p_lexemes text[]) RETURNS TABLE(lexeme text, df bigint, docs bigint, avg_len double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_source text[];
    v_key1 text[];
    v_key2 text[];
    v_docs bigint;
    v_avg double precision;
BEGIN
    -- plpgsql, not SQL: its plans are cached per connection (a SQL function with SECURITY
    -- DEFINER is planned again on every call).
    SELECT array_agg(c.source), array_agg(c.key1), array_agg(c.key2)
      INTO v_source, v_key1, v_key2 FROM isokron.recall_corpora_v1() c;
    SELECT coalesce(sum(k.docs), 0)::bigint,
           coalesce(sum(k.docs * k.avg_len) / nullif(sum(k.docs), 0), 0)
      INTO v_docs, v_avg
      FROM unnest(v_source, v_key1, v_key2) c(source, key1, key2)
      JOIN isokron.recall_corpora k
        ON k.source = c.source AND k.key1 = c.key1 AND k.key2 = c.key2;
    -- Primary-key lookups (corpus, lexeme = ANY): no statistics needed for the plan.
    RETURN QUERY
    SELECT q.l, coalesce(f.df, 0)::bigint, v_docs, v_avg
      FROM unnest(p_lexemes) q(l)
      LEFT JOIN (SELECT x.lexeme, sum(x.df) AS df
                   FROM unnest(v_source, v_key1, v_key2) c(source, key1, key2)
                   JOIN isokron.recall_lexicon x
                     ON x.source = c.source AND x.key1 = c.key1 AND x.key2 = c.key2
                    AND x.lexeme = ANY (p_lexemes)
                  GROUP BY x.lexeme) f ON f.lexeme = q.l;
END
$$;

ALTER FUNCTION isokron.recall_weights_v1(p_lexemes text[]) OWNER TO isokron_definer;

--
-- Name: refresh_recall_corpus_v1(text, text, text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.refresh_recall_corpus_v1(p_source text, p_key1 text, p_key2 text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_docs bigint;
    v_avg double precision;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_source || chr(31) || p_key1 || chr(31)
                                                   || p_key2, 7020));
    IF p_source = 'm' THEN
        SELECT count(*), coalesce(avg(length(r.search_tsv)), 0) INTO v_docs, v_avg
          FROM isokron.memory_records r
          JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
         WHERE r.root_id = p_key1 AND r.namespace = p_key2
           AND (r.expires_at IS NULL OR r.expires_at > now())
           AND (n.expires_at IS NULL OR n.expires_at > now());
        WITH fresh AS MATERIALIZED (
            SELECT l AS lexeme, count(*)::integer AS df
              FROM isokron.memory_records r
              JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace,
                   unnest(tsvector_to_array(r.search_tsv)) l
             WHERE r.root_id = p_key1 AND r.namespace = p_key2
               AND (r.expires_at IS NULL OR r.expires_at > now())
               AND (n.expires_at IS NULL OR n.expires_at > now())
             GROUP BY l
        ), gone AS (
            DELETE FROM isokron.recall_lexicon x
             WHERE x.source = p_source AND x.key1 = p_key1 AND x.key2 = p_key2
               AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.lexeme = x.lexeme)
        )
        INSERT INTO isokron.recall_lexicon (source, key1, key2, lexeme, df)
        SELECT p_source, p_key1, p_key2, f.lexeme, f.df FROM fresh f ORDER BY f.lexeme
        ON CONFLICT (source, key1, key2, lexeme) DO UPDATE SET df = excluded.df
         WHERE isokron.recall_lexicon.df IS DISTINCT FROM excluded.df;
    ELSE
        SELECT count(*), coalesce(avg(length(m.search_tsv)), 0) INTO v_docs, v_avg
          FROM isokron.agent_messages m WHERE m.tenant_id = p_key1 AND m.user_id = p_key2;
        WITH fresh AS MATERIALIZED (
            SELECT l AS lexeme, count(*)::integer AS df
              FROM isokron.agent_messages m, unnest(tsvector_to_array(m.search_tsv)) l
             WHERE m.tenant_id = p_key1 AND m.user_id = p_key2
             GROUP BY l
        ), gone AS (
            DELETE FROM isokron.recall_lexicon x
             WHERE x.source = p_source AND x.key1 = p_key1 AND x.key2 = p_key2
               AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.lexeme = x.lexeme)
        )
        INSERT INTO isokron.recall_lexicon (source, key1, key2, lexeme, df)
        SELECT p_source, p_key1, p_key2, f.lexeme, f.df FROM fresh f ORDER BY f.lexeme
        ON CONFLICT (source, key1, key2, lexeme) DO UPDATE SET df = excluded.df
         WHERE isokron.recall_lexicon.df IS DISTINCT FROM excluded.df;
    END IF;
    IF v_docs = 0 THEN
        DELETE FROM isokron.recall_corpora k
         WHERE k.source = p_source AND k.key1 = p_key1 AND k.key2 = p_key2;
    ELSE
        INSERT INTO isokron.recall_corpora (source, key1, key2, docs, avg_len, refreshed_at)
        VALUES (p_source, p_key1, p_key2, v_docs, v_avg, clock_timestamp())
        ON CONFLICT (source, key1, key2) DO UPDATE
           SET docs = excluded.docs, avg_len = excluded.avg_len,
               refreshed_at = excluded.refreshed_at;
    END IF;
    RETURN v_docs;
END
$$;

ALTER FUNCTION isokron.refresh_recall_corpus_v1(p_source text, p_key1 text, p_key2 text) OWNER TO isokron_definer;

--
-- Name: refresh_recall_stats_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.refresh_recall_stats_v1() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    c record;
    v_docs bigint := 0;
BEGIN
    FOR c IN SELECT * FROM isokron.recall_corpora_v1() LOOP
        v_docs := v_docs + isokron.refresh_recall_corpus_v1(c.source, c.key1, c.key2);
    END LOOP;
    RETURN v_docs;
END
$$;

ALTER FUNCTION isokron.refresh_recall_stats_v1() OWNER TO isokron_definer;

--
-- Name: refresh_stale_recall_stats_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.refresh_stale_recall_stats_v1() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    c record;
    v_n integer := 0;
BEGIN
    FOR c IN
        WITH live AS (
            SELECT 'm'::text AS source, r.root_id AS key1, r.namespace AS key2,
                   count(*) AS docs, max(greatest(r.created_at, r.updated_at)) AS newest
              FROM isokron.memory_records r
              JOIN isokron.memory_namespaces n ON n.root_id = r.root_id AND n.name = r.namespace
             WHERE (r.expires_at IS NULL OR r.expires_at > now())
               AND (n.expires_at IS NULL OR n.expires_at > now())
             GROUP BY r.root_id, r.namespace
            UNION ALL
            SELECT 's', m.tenant_id, m.user_id, count(*), max(m.created_at)
              FROM isokron.agent_messages m GROUP BY m.tenant_id, m.user_id)
        SELECT coalesce(l.source, k.source) AS source, coalesce(l.key1, k.key1) AS key1,
               coalesce(l.key2, k.key2) AS key2
          FROM live l
          FULL JOIN isokron.recall_corpora k
            ON k.source = l.source AND k.key1 = l.key1 AND k.key2 = l.key2
         WHERE k.source IS NULL OR l.source IS NULL OR l.docs <> k.docs
            OR l.newest > k.refreshed_at
    LOOP
        PERFORM isokron.refresh_recall_corpus_v1(c.source, c.key1, c.key2);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;

ALTER FUNCTION isokron.refresh_stale_recall_stats_v1() OWNER TO isokron_definer;

--
-- Name: remove_context_key_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.remove_context_key_v1(p_fingerprint text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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

ALTER FUNCTION isokron.remove_context_key_v1(p_fingerprint text) OWNER TO isokron_context;

--
-- Name: set_context_signed_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.set_context_signed_v1() RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    v_signed boolean := EXISTS (SELECT 1 FROM isokron.context_keys);
BEGIN
    EXECUTE format('CREATE OR REPLACE FUNCTION isokron.context_signed_v1() RETURNS boolean '
                   'LANGUAGE sql STABLE AS $f$ SELECT %s $f$',
                   CASE WHEN v_signed THEN 'true' ELSE 'false' END);
    RETURN v_signed;
END
$_$;

ALTER FUNCTION isokron.set_context_signed_v1() OWNER TO isokron_context;

--
-- Name: set_namespace_root_tg(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.set_namespace_root_tg() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    NEW.root_id := isokron.namespace_root_v1(NEW.name);
    RETURN NEW;
END
$$;

ALTER FUNCTION isokron.set_namespace_root_tg() OWNER TO isokron_definer;

--
-- Name: store_embeddings_v2(text, uuid[], text[], text[], text, double precision, boolean); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.store_embeddings_v2(p_source text, p_ids uuid[], p_vectors text[], p_hashes text[], p_model text, p_threshold double precision, p_merge boolean) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    v_n integer;
    v_root text;
    v_writable text[];
    v_schema text;
    v_new record;
    v_keeper uuid;
    v_near text;
BEGIN
    IF p_threshold IS NULL OR NOT (p_threshold > 0 AND p_threshold <= 1) THEN
        RAISE EXCEPTION 'the near-duplicate threshold must be in (0, 1], got %',
            coalesce(p_threshold::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    v_n := isokron.store_embeddings_v1(p_source, p_ids, p_vectors, p_hashes, p_model);
    IF p_source <> 'memory' OR coalesce(v_n, 0) = 0 THEN
        RETURN v_n;
    END IF;
    SELECT a.root_id, a.writable INTO v_root, v_writable FROM isokron.namespace_access_v2() a;
    SELECT n.nspname INTO v_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    IF v_root IS NULL OR v_schema IS NULL THEN
        RETURN v_n;
    END IF;
    -- The nearest older live memory of the same tree, namespace and model ($1 root,
    -- $2 namespace, $3 the new memory's id, $4 model, $5 threshold).
    v_near := format($q$
        SELECT k.id
          FROM isokron.memory_records n
          JOIN isokron.memory_records k
            ON k.root_id = n.root_id AND k.namespace = n.namespace AND k.id <> n.id
         WHERE n.root_id = $1 AND n.namespace = $2 AND n.id = $3
           AND n.retracted_at IS NULL AND n.superseded_by IS NULL
           AND n.unmerged_duplicate_of IS NULL AND n.embedding_model = $4
           AND k.embedding_model = $4
           AND k.retracted_at IS NULL AND k.superseded_by IS NULL
           AND k.unmerged_duplicate_of IS NULL
           AND (k.expires_at IS NULL OR k.expires_at > now())
           AND (k.created_at, k.id) < (n.created_at, n.id)
           AND %1$I.vector_dims(k.embedding) = %1$I.vector_dims(n.embedding)
           AND 1 - (k.embedding OPERATOR(%1$I.<=>) n.embedding) >= $5
         ORDER BY k.embedding OPERATOR(%1$I.<=>) n.embedding, k.created_at, k.id
         LIMIT 1 $q$, v_schema);
    FOR v_new IN
        SELECT r.namespace, r.id, r.duplicate_of
          FROM isokron.memory_records r
          JOIN unnest(p_ids, p_hashes) AS x(id, h) ON r.id = x.id AND md5(r.content) = x.h
         WHERE r.root_id = v_root AND r.namespace = ANY (v_writable)
           AND r.embedding_model = p_model
           AND r.retracted_at IS NULL AND r.superseded_by IS NULL
           AND r.unmerged_duplicate_of IS NULL
         ORDER BY r.created_at, r.id
    LOOP
        v_keeper := NULL;
        EXECUTE v_near INTO v_keeper USING v_root, v_new.namespace, v_new.id, p_model,
                                           p_threshold;
        IF v_keeper IS NULL THEN
            IF v_new.duplicate_of IS NOT NULL THEN  -- re-embedded, no longer near
                UPDATE isokron.memory_records SET duplicate_of = NULL
                 WHERE root_id = v_root AND namespace = v_new.namespace AND id = v_new.id
                   AND retracted_at IS NULL;
            END IF;
            CONTINUE;
        END IF;
        IF p_merge THEN
            UPDATE isokron.memory_records k
               SET seen_count = k.seen_count + n.seen_count,
                   last_seen_at = greatest(k.last_seen_at, n.last_seen_at),
                   pin = k.pin OR n.pin,
                   expires_at = CASE WHEN k.expires_at IS NULL OR n.expires_at IS NULL
                                     THEN NULL ELSE greatest(k.expires_at, n.expires_at) END
              FROM isokron.memory_records n
             WHERE k.root_id = v_root AND k.namespace = v_new.namespace AND k.id = v_keeper
               AND k.retracted_at IS NULL AND k.superseded_by IS NULL
               AND n.root_id = v_root AND n.namespace = v_new.namespace AND n.id = v_new.id;
            IF NOT FOUND THEN  -- the keeper was retracted or superseded meanwhile
                CONTINUE;
            END IF;
            UPDATE isokron.memory_records
               SET duplicate_of = v_keeper, retracted_at = now()
             WHERE root_id = v_root AND namespace = v_new.namespace AND id = v_new.id;
            IF v_new.namespace LIKE 'team:%' OR v_new.namespace LIKE 'org:%' THEN
                INSERT INTO isokron.memory_audit (root_id, memory_id, namespace, workspace_id,
                                                  action)
                VALUES (v_root, v_new.id, v_new.namespace,
                        (SELECT isokron.context_workspace_v1()), 'merge');
            END IF;
        ELSIF v_new.duplicate_of IS DISTINCT FROM v_keeper THEN
            UPDATE isokron.memory_records SET duplicate_of = v_keeper
             WHERE root_id = v_root AND namespace = v_new.namespace AND id = v_new.id;
        END IF;
    END LOOP;
    RETURN v_n;
END
$_$;

ALTER FUNCTION isokron.store_embeddings_v2(p_source text, p_ids uuid[], p_vectors text[], p_hashes text[], p_model text, p_threshold double precision, p_merge boolean) OWNER TO isokron_definer;

--
-- Name: sweep_delegations_v1(double precision); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.sweep_delegations_v1(p_stuck_threshold_s double precision) RETURNS TABLE(deadline_failures bigint, stuck_marked bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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

ALTER FUNCTION isokron.sweep_delegations_v1(p_stuck_threshold_s double precision) OWNER TO isokron_definer;

--
-- Name: sweep_memory_expiry_v1(double precision); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.sweep_memory_expiry_v1(p_grace_s double precision) RETURNS TABLE(memories_deleted bigint, namespaces_deleted bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_records bigint;
    v_namespaces bigint;
BEGIN
    IF p_grace_s IS NULL OR p_grace_s < 0 OR p_grace_s = 'Infinity'::double precision THEN
        RAISE EXCEPTION 'grace must be a non-negative number of seconds, got %',
            quote_nullable(p_grace_s) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH gone AS (
        DELETE FROM isokron.memory_records r
         WHERE r.expires_at < now() - make_interval(secs => p_grace_s)
        RETURNING r.id, r.namespace, r.content
    ), audited AS (
        INSERT INTO isokron.memory_audit (memory_id, namespace, workspace_id, action,
                                          content_sha256)
        SELECT g.id, g.namespace, substr(g.namespace, 5), 'expire',
               encode(sha256(convert_to(g.content, 'UTF8')), 'hex')
          FROM gone g WHERE g.namespace LIKE 'org:%'
    )
    SELECT count(*) INTO v_records FROM gone;
    WITH gone AS (
        DELETE FROM isokron.memory_namespaces n
         WHERE n.expires_at < now() - make_interval(secs => p_grace_s)
        RETURNING n.name
    ), audited AS (
        INSERT INTO isokron.memory_audit (namespace, workspace_id, action)
        SELECT g.name, substr(g.name, strpos(g.name, ':') + 1), 'expire_namespace'
          FROM gone g
         WHERE g.name LIKE 'org:%' OR g.name LIKE 'team:%'
    )
    SELECT count(*) INTO v_namespaces FROM gone;
    RETURN QUERY SELECT v_records, v_namespaces;
END
$$;

ALTER FUNCTION isokron.sweep_memory_expiry_v1(p_grace_s double precision) OWNER TO isokron_definer;

--
-- Name: tsquery_lexeme_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.tsquery_lexeme_v1(p_lexeme text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT '''' || replace(replace(p_lexeme, '\', '\\'), '''', '''''') || '''' $$;

--
-- Name: workspace_root_v1(text); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.workspace_root_v1(p_workspace_id text) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    WITH RECURSIVE chain AS (
        SELECT w.workspace_id, w.parent_id, 0 AS depth
          FROM isokron.workspaces w WHERE w.workspace_id = p_workspace_id
        UNION ALL
        SELECT w.workspace_id, w.parent_id, c.depth + 1
          FROM isokron.workspaces w JOIN chain c ON w.workspace_id = c.parent_id
         WHERE c.depth < 50
    )
    SELECT coalesce((SELECT c.workspace_id FROM chain c ORDER BY c.depth DESC LIMIT 1),
                    p_workspace_id)
$$;

ALTER FUNCTION isokron.workspace_root_v1(p_workspace_id text) OWNER TO isokron_definer;

--
-- Name: writable_namespaces_v1(); Type: FUNCTION; Schema: isokron
--

CREATE FUNCTION isokron.writable_namespaces_v1() RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$ SELECT coalesce((SELECT a.writable FROM isokron.namespace_access_v1() a), '{}') $$;

--
-- Name: write_agent_scratchpad_v1(text, text, kronicle.scratchpad_kind, kronicle.scratchpad_visibility_scope, text); Type: FUNCTION; Schema: kronicle
--

CREATE FUNCTION kronicle.write_agent_scratchpad_v1(p_workspace_id text, p_actor_kind text, p_kind kronicle.scratchpad_kind, p_scope kronicle.scratchpad_visibility_scope, p_content text) RETURNS TABLE(scratchpad_entry_id uuid, approved_event_id uuid)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_actor uuid;
    v_event uuid;
    v_entry uuid := gen_random_uuid();
BEGIN
    IF p_workspace_id IS NULL
       OR p_workspace_id IS DISTINCT FROM (SELECT isokron.context_workspace_v1()) THEN
        RAISE EXCEPTION 'write_agent_scratchpad_v1: workspace % is not the current one',
            quote_nullable(p_workspace_id)
            USING ERRCODE = 'IKT01',
                  HINT = 'set app.current_workspace_id with set_config(..., true) first';
    END IF;
    IF p_content IS NULL OR p_content = '' THEN
        RAISE EXCEPTION 'scratchpad content must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT coalesce((SELECT m.granted FROM public.actor_capability_matrix m
                      WHERE m.cap_name = 'cap_write_agent_scratchpad'
                        AND m.actor_kind = p_actor_kind), false) THEN
        RAISE EXCEPTION 'actor kind % lacks cap_write_agent_scratchpad', quote_nullable(p_actor_kind)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT a.actor_id INTO v_actor
      FROM public.actor_registry a
     WHERE a.workspace_id = p_workspace_id AND a.actor_kind = p_actor_kind
     ORDER BY a.created_at, a.actor_id
     LIMIT 1;
    IF v_actor IS NULL THEN
        RAISE EXCEPTION 'write_agent_scratchpad_v1: no % actor registered in workspace %',
            quote_nullable(p_actor_kind), quote_nullable(p_workspace_id) USING ERRCODE = 'IKT01';
    END IF;
    v_event := hivex_foundation.append_event_v1(
        p_workspace_id, p_actor_kind || '.scratchpad.written',
        jsonb_build_object('scratchpad_entry_id', v_entry, 'kind', p_kind, 'scope', p_scope),
        v_actor);
    INSERT INTO kronicle.agent_scratchpad_entries
        (scratchpad_entry_id, workspace_id, actor_id, scratchpad_kind, visibility_scope,
         content_inline, content_hash, approved_event_id)
    VALUES (v_entry, p_workspace_id, v_actor, p_kind, p_scope, p_content,
            encode(sha256(convert_to(p_content, 'UTF8')), 'hex'), v_event);
    RETURN QUERY SELECT v_entry, v_event;
END
$$;

ALTER FUNCTION kronicle.write_agent_scratchpad_v1(p_workspace_id text, p_actor_kind text, p_kind kronicle.scratchpad_kind, p_scope kronicle.scratchpad_visibility_scope, p_content text) OWNER TO isokron_definer;

--
-- Name: chain_anchor; Type: TABLE; Schema: hivex_foundation
--

CREATE TABLE hivex_foundation.chain_anchor (
    tenant_id uuid NOT NULL,
    last_seq bigint NOT NULL,
    last_hash text NOT NULL,
    event_count bigint NOT NULL,
    CONSTRAINT chain_anchor_event_count_check CHECK ((event_count >= 1)),
    CONSTRAINT chain_anchor_last_seq_check CHECK ((last_seq >= 1))
);

ALTER TABLE ONLY hivex_foundation.chain_anchor FORCE ROW LEVEL SECURITY;

--
-- Name: event_log; Type: TABLE; Schema: hivex_foundation
--

CREATE TABLE hivex_foundation.event_log (
    event_id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id uuid NOT NULL,
    seq bigint NOT NULL,
    event_type text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    actor_id uuid,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    prev_event_hash text,
    this_event_hash text NOT NULL,
    hash_version smallint DEFAULT 2 NOT NULL,
    CONSTRAINT event_log_hash_version_check CHECK ((hash_version = ANY (ARRAY[1, 2])))
);

ALTER TABLE ONLY hivex_foundation.event_log FORCE ROW LEVEL SECURITY;

--
-- Name: tenant; Type: TABLE; Schema: hivex_foundation
--

CREATE TABLE hivex_foundation.tenant (
    tenant_id uuid DEFAULT gen_random_uuid() NOT NULL,
    clerk_org_id text NOT NULL,
    display_name text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY hivex_foundation.tenant FORCE ROW LEVEL SECURITY;

--
-- Name: agent_episodic_events; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.agent_episodic_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    agent_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    event_type character varying(64) NOT NULL,
    sender character varying(128),
    recipient character varying(128),
    body jsonb DEFAULT '{}'::jsonb NOT NULL,
    inference_receipt_id character varying(64),
    audit_event_hash character varying(64),
    workspace_id text NOT NULL,
    seq bigint NOT NULL,
    CONSTRAINT agent_episodic_events_body_check CHECK ((jsonb_typeof(body) = 'object'::text)),
    CONSTRAINT agent_episodic_events_event_type_check CHECK (((event_type)::text <> ''::text))
);

ALTER TABLE ONLY isokron.agent_episodic_events FORCE ROW LEVEL SECURITY;

--
-- Name: agent_episodic_events_seq_seq; Type: SEQUENCE; Schema: isokron
--

ALTER TABLE isokron.agent_episodic_events ALTER COLUMN seq ADD GENERATED BY DEFAULT AS IDENTITY (
    SEQUENCE NAME isokron.agent_episodic_events_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: agent_messages; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.agent_messages (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    seq integer NOT NULL,
    role text NOT NULL,
    content text,
    tool_calls jsonb,
    tenant_id text NOT NULL,
    user_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    embedding_model text,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, isokron.search_text_v1(COALESCE(content, ''::text)))) STORED,
    CONSTRAINT agent_messages_role_check CHECK ((role = ANY (ARRAY['system'::text, 'user'::text, 'assistant'::text, 'tool'::text])))
);

ALTER TABLE ONLY isokron.agent_messages FORCE ROW LEVEL SECURITY;

--
-- Name: agent_sessions; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.agent_sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    tenant_id text NOT NULL,
    user_id text NOT NULL,
    agent_name text NOT NULL,
    title text,
    state jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY isokron.agent_sessions FORCE ROW LEVEL SECURITY;

--
-- Name: context_keys; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.context_keys (
    fingerprint text NOT NULL,
    inner_pad bytea NOT NULL,
    outer_pad bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT context_keys_fingerprint_check CHECK ((fingerprint ~ '^[0-9a-f]{16}$'::text)),
    CONSTRAINT context_keys_inner_pad_check CHECK ((length(inner_pad) = 64)),
    CONSTRAINT context_keys_outer_pad_check CHECK ((length(outer_pad) = 64))
);

ALTER TABLE ONLY isokron.context_keys FORCE ROW LEVEL SECURITY;

--
-- Name: delegations; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.delegations (
    delegation_id text NOT NULL,
    workspace_id text NOT NULL,
    caller_id uuid NOT NULL,
    callee_id uuid NOT NULL,
    task_preview text NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    last_heartbeat timestamp with time zone,
    deadline timestamp with time zone DEFAULT (now() + '06:00:00'::interval) NOT NULL,
    result_preview text,
    error_detail text,
    retry_count integer DEFAULT 0 NOT NULL,
    idempotency_key text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT delegations_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'dispatched'::text, 'in_progress'::text, 'completed'::text, 'failed'::text, 'stuck'::text]))),
    CONSTRAINT delegations_task_preview_check CHECK ((char_length(task_preview) <= 4096))
);

ALTER TABLE ONLY isokron.delegations FORCE ROW LEVEL SECURITY;

--
-- Name: memory_audit; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.memory_audit (
    id bigint NOT NULL,
    memory_id uuid,
    namespace text,
    workspace_id text,
    action text NOT NULL,
    content_sha256 text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    root_id text NOT NULL
);

ALTER TABLE ONLY isokron.memory_audit FORCE ROW LEVEL SECURITY;

--
-- Name: memory_audit_id_seq; Type: SEQUENCE; Schema: isokron
--

CREATE SEQUENCE isokron.memory_audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: memory_audit_id_seq; Type: SEQUENCE OWNED BY; Schema: isokron
--

ALTER SEQUENCE isokron.memory_audit_id_seq OWNED BY isokron.memory_audit.id;

--
-- Name: memory_namespaces; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.memory_namespaces (
    name text NOT NULL,
    kind text NOT NULL,
    expires_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    root_id text NOT NULL,
    CONSTRAINT memory_namespaces_kind_check CHECK ((kind = ANY (ARRAY['workspace'::text, 'team'::text, 'org'::text, 'custom'::text]))),
    CONSTRAINT memory_namespaces_name_check CHECK (((name ~ '^[a-z]+:[A-Za-z0-9_:.\-]+$'::text) AND (char_length(name) <= 256)))
);

ALTER TABLE ONLY isokron.memory_namespaces FORCE ROW LEVEL SECURITY;

--
-- Name: quota_limits; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.quota_limits (
    workspace_id text NOT NULL,
    sessions_per_user bigint,
    messages_per_session bigint,
    session_bytes bigint,
    message_bytes bigint,
    memory_rows bigint,
    memory_bytes bigint,
    result_bytes bigint,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    sessions_per_tenant bigint,
    events_per_tenant bigint,
    event_bytes bigint,
    CONSTRAINT quota_limits_event_bytes_check CHECK ((event_bytes >= 0)),
    CONSTRAINT quota_limits_events_per_tenant_check CHECK ((events_per_tenant >= 0)),
    CONSTRAINT quota_limits_memory_bytes_check CHECK ((memory_bytes >= 0)),
    CONSTRAINT quota_limits_memory_rows_check CHECK ((memory_rows >= 0)),
    CONSTRAINT quota_limits_message_bytes_check CHECK ((message_bytes >= 0)),
    CONSTRAINT quota_limits_messages_per_session_check CHECK ((messages_per_session >= 0)),
    CONSTRAINT quota_limits_result_bytes_check CHECK ((result_bytes >= 0)),
    CONSTRAINT quota_limits_session_bytes_check CHECK ((session_bytes >= 0)),
    CONSTRAINT quota_limits_sessions_per_tenant_check CHECK ((sessions_per_tenant >= 0)),
    CONSTRAINT quota_limits_sessions_per_user_check CHECK ((sessions_per_user >= 0)),
    CONSTRAINT quota_limits_workspace_id_check CHECK (((workspace_id = '*'::text) OR ((char_length(workspace_id) >= 1) AND (char_length(workspace_id) <= 128))))
);

ALTER TABLE ONLY isokron.quota_limits FORCE ROW LEVEL SECURITY;

--
-- Name: quota_usage; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.quota_usage (
    scope text NOT NULL,
    key1 text NOT NULL,
    key2 text NOT NULL,
    key3 text DEFAULT ''::text NOT NULL,
    items bigint DEFAULT 0 NOT NULL,
    bytes bigint DEFAULT 0 NOT NULL,
    CONSTRAINT quota_usage_scope_check CHECK ((scope = ANY (ARRAY['user'::text, 'session'::text, 'namespace'::text, 'tenant'::text])))
);

ALTER TABLE ONLY isokron.quota_usage FORCE ROW LEVEL SECURITY;

--
-- Name: recall_corpora; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.recall_corpora (
    source text NOT NULL,
    key1 text NOT NULL,
    key2 text NOT NULL,
    docs bigint NOT NULL,
    avg_len double precision NOT NULL,
    refreshed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT recall_corpora_source_check CHECK ((source = ANY (ARRAY['m'::text, 's'::text])))
);

ALTER TABLE ONLY isokron.recall_corpora FORCE ROW LEVEL SECURITY;

--
-- Name: recall_lexicon; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.recall_lexicon (
    source text NOT NULL,
    key1 text NOT NULL,
    key2 text NOT NULL,
    lexeme text NOT NULL,
    df integer NOT NULL,
    CONSTRAINT recall_lexicon_df_check CHECK ((df > 0)),
    CONSTRAINT recall_lexicon_source_check CHECK ((source = ANY (ARRAY['m'::text, 's'::text])))
);

ALTER TABLE ONLY isokron.recall_lexicon FORCE ROW LEVEL SECURITY;

--
-- Name: schema_migrations; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.schema_migrations (
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: workspaces; Type: TABLE; Schema: isokron
--

CREATE TABLE isokron.workspaces (
    workspace_id text NOT NULL,
    parent_id text,
    display_name text,
    status text DEFAULT 'active'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY isokron.workspaces FORCE ROW LEVEL SECURITY;

--
-- Name: agent_scratchpad_entries; Type: TABLE; Schema: kronicle
--

CREATE TABLE kronicle.agent_scratchpad_entries (
    scratchpad_entry_id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id text NOT NULL,
    actor_id uuid NOT NULL,
    scratchpad_kind kronicle.scratchpad_kind NOT NULL,
    visibility_scope kronicle.scratchpad_visibility_scope DEFAULT 'agent_private'::kronicle.scratchpad_visibility_scope NOT NULL,
    content_inline text,
    content_uri text,
    content_hash text NOT NULL,
    status text DEFAULT 'active'::text NOT NULL,
    approved_event_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agent_scratchpad_entries_one_content CHECK (((content_inline IS NULL) <> (content_uri IS NULL))),
    CONSTRAINT agent_scratchpad_entries_status_check CHECK ((status = ANY (ARRAY['active'::text, 'superseded'::text, 'invalidated'::text, 'tombstoned'::text])))
);

ALTER TABLE ONLY kronicle.agent_scratchpad_entries FORCE ROW LEVEL SECURITY;

--
-- Name: workspace_constitution_revisions; Type: TABLE; Schema: kronicle
--

CREATE TABLE kronicle.workspace_constitution_revisions (
    revision_id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id text NOT NULL,
    revision_number integer NOT NULL,
    rules_jsonb jsonb DEFAULT '[]'::jsonb NOT NULL,
    rules_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY kronicle.workspace_constitution_revisions FORCE ROW LEVEL SECURITY;

--
-- Name: actor_capability_matrix; Type: TABLE; Schema: public
--

CREATE TABLE public.actor_capability_matrix (
    cap_name text NOT NULL,
    actor_kind text NOT NULL,
    granted boolean NOT NULL,
    CONSTRAINT actor_capability_matrix_cap_name_check CHECK ((cap_name ~ '^cap_[a-z0-9_]+$'::text))
);

ALTER TABLE ONLY public.actor_capability_matrix FORCE ROW LEVEL SECURITY;

--
-- Name: actor_registry; Type: TABLE; Schema: public
--

CREATE TABLE public.actor_registry (
    actor_id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id text NOT NULL,
    actor_kind text NOT NULL,
    display_name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.actor_registry FORCE ROW LEVEL SECURITY;

--
-- Name: kora_policy_registry; Type: TABLE; Schema: public
--

CREATE TABLE public.kora_policy_registry (
    workspace_id text NOT NULL,
    policy_path text NOT NULL,
    policy_value jsonb NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

ALTER TABLE ONLY public.kora_policy_registry FORCE ROW LEVEL SECURITY;

--
-- Name: kora_role_charter; Type: TABLE; Schema: public
--

CREATE TABLE public.kora_role_charter (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    workspace_id text NOT NULL,
    schema_version text NOT NULL,
    content_md text,
    content_jsonb jsonb NOT NULL,
    content_hash text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    superseded_at timestamp with time zone
);

ALTER TABLE ONLY public.kora_role_charter FORCE ROW LEVEL SECURITY;

--
-- Name: memory_audit id; Type: DEFAULT; Schema: isokron
--

ALTER TABLE ONLY isokron.memory_audit ALTER COLUMN id SET DEFAULT nextval('isokron.memory_audit_id_seq'::regclass);

--
-- Name: chain_anchor chain_anchor_pkey; Type: CONSTRAINT; Schema: hivex_foundation
--

ALTER TABLE ONLY hivex_foundation.chain_anchor
    ADD CONSTRAINT chain_anchor_pkey PRIMARY KEY (tenant_id);

--
-- Name: event_log event_log_pkey; Type: CONSTRAINT; Schema: hivex_foundation
--

ALTER TABLE ONLY hivex_foundation.event_log
    ADD CONSTRAINT event_log_pkey PRIMARY KEY (event_id);

--
-- Name: event_log event_log_tenant_id_seq_key; Type: CONSTRAINT; Schema: hivex_foundation
--

ALTER TABLE ONLY hivex_foundation.event_log
    ADD CONSTRAINT event_log_tenant_id_seq_key UNIQUE (tenant_id, seq);

--
-- Name: tenant tenant_clerk_org_id_key; Type: CONSTRAINT; Schema: hivex_foundation
--

ALTER TABLE ONLY hivex_foundation.tenant
    ADD CONSTRAINT tenant_clerk_org_id_key UNIQUE (clerk_org_id);

--
-- Name: tenant tenant_pkey; Type: CONSTRAINT; Schema: hivex_foundation
--

ALTER TABLE ONLY hivex_foundation.tenant
    ADD CONSTRAINT tenant_pkey PRIMARY KEY (tenant_id);

--
-- Name: agent_episodic_events agent_episodic_events_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.agent_episodic_events
    ADD CONSTRAINT agent_episodic_events_pkey PRIMARY KEY (workspace_id, id);

--
-- Name: agent_messages agent_messages_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.agent_messages
    ADD CONSTRAINT agent_messages_pkey PRIMARY KEY (tenant_id, user_id, id);

--
-- Name: agent_messages agent_messages_session_seq_key; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.agent_messages
    ADD CONSTRAINT agent_messages_session_seq_key UNIQUE (tenant_id, user_id, session_id, seq);

--
-- Name: agent_sessions agent_sessions_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.agent_sessions
    ADD CONSTRAINT agent_sessions_pkey PRIMARY KEY (tenant_id, user_id, id);

--
-- Name: context_keys context_keys_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.context_keys
    ADD CONSTRAINT context_keys_pkey PRIMARY KEY (fingerprint);

--
-- Name: delegations delegations_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.delegations
    ADD CONSTRAINT delegations_pkey PRIMARY KEY (workspace_id, delegation_id);

--
-- Name: erasure_receipts erasure_receipts_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.erasure_receipts
    ADD CONSTRAINT erasure_receipts_pkey PRIMARY KEY (id);

--
-- Name: erasure_receipts erasure_receipts_seq_key; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.erasure_receipts
    ADD CONSTRAINT erasure_receipts_seq_key UNIQUE (seq);

--
-- Name: memory_audit memory_audit_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.memory_audit
    ADD CONSTRAINT memory_audit_pkey PRIMARY KEY (root_id, id);

--
-- Name: memory_namespaces memory_namespaces_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.memory_namespaces
    ADD CONSTRAINT memory_namespaces_pkey PRIMARY KEY (root_id, name);

--
-- Name: memory_records memory_records_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.memory_records
    ADD CONSTRAINT memory_records_pkey PRIMARY KEY (root_id, namespace, id);

--
-- Name: quota_limits quota_limits_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.quota_limits
    ADD CONSTRAINT quota_limits_pkey PRIMARY KEY (workspace_id);

--
-- Name: quota_usage quota_usage_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.quota_usage
    ADD CONSTRAINT quota_usage_pkey PRIMARY KEY (key1, scope, key2, key3);

--
-- Name: recall_corpora recall_corpora_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.recall_corpora
    ADD CONSTRAINT recall_corpora_pkey PRIMARY KEY (source, key1, key2);

--
-- Name: recall_lexicon recall_lexicon_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.recall_lexicon
    ADD CONSTRAINT recall_lexicon_pkey PRIMARY KEY (source, key1, key2, lexeme);

--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (name);

--
-- Name: workspaces workspaces_pkey; Type: CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.workspaces
    ADD CONSTRAINT workspaces_pkey PRIMARY KEY (workspace_id);

--
-- Name: agent_scratchpad_entries agent_scratchpad_entries_pkey; Type: CONSTRAINT; Schema: kronicle
--

ALTER TABLE ONLY kronicle.agent_scratchpad_entries
    ADD CONSTRAINT agent_scratchpad_entries_pkey PRIMARY KEY (scratchpad_entry_id);

--
-- Name: workspace_constitution_revisions workspace_constitution_revisio_workspace_id_revision_number_key; Type: CONSTRAINT; Schema: kronicle
--

ALTER TABLE ONLY kronicle.workspace_constitution_revisions
    ADD CONSTRAINT workspace_constitution_revisio_workspace_id_revision_number_key UNIQUE (workspace_id, revision_number);

--
-- Name: workspace_constitution_revisions workspace_constitution_revisions_pkey; Type: CONSTRAINT; Schema: kronicle
--

ALTER TABLE ONLY kronicle.workspace_constitution_revisions
    ADD CONSTRAINT workspace_constitution_revisions_pkey PRIMARY KEY (revision_id);

--
-- Name: actor_capability_matrix actor_capability_matrix_pkey; Type: CONSTRAINT; Schema: public
--

ALTER TABLE ONLY public.actor_capability_matrix
    ADD CONSTRAINT actor_capability_matrix_pkey PRIMARY KEY (cap_name, actor_kind);

--
-- Name: actor_registry actor_registry_pkey; Type: CONSTRAINT; Schema: public
--

ALTER TABLE ONLY public.actor_registry
    ADD CONSTRAINT actor_registry_pkey PRIMARY KEY (actor_id);

--
-- Name: actor_registry actor_registry_workspace_actor_key; Type: CONSTRAINT; Schema: public
--

ALTER TABLE ONLY public.actor_registry
    ADD CONSTRAINT actor_registry_workspace_actor_key UNIQUE (workspace_id, actor_id);

--
-- Name: actor_registry actor_registry_workspace_id_actor_kind_display_name_key; Type: CONSTRAINT; Schema: public
--

ALTER TABLE ONLY public.actor_registry
    ADD CONSTRAINT actor_registry_workspace_id_actor_kind_display_name_key UNIQUE (workspace_id, actor_kind, display_name);

--
-- Name: kora_policy_registry kora_policy_registry_pkey; Type: CONSTRAINT; Schema: public
--

ALTER TABLE ONLY public.kora_policy_registry
    ADD CONSTRAINT kora_policy_registry_pkey PRIMARY KEY (workspace_id, policy_path);

--
-- Name: kora_role_charter kora_role_charter_pkey; Type: CONSTRAINT; Schema: public
--

ALTER TABLE ONLY public.kora_role_charter
    ADD CONSTRAINT kora_role_charter_pkey PRIMARY KEY (id);

--
-- Name: event_log_tenant_type_idx; Type: INDEX; Schema: hivex_foundation
--

CREATE INDEX event_log_tenant_type_idx ON hivex_foundation.event_log USING btree (tenant_id, event_type text_pattern_ops, seq DESC);

--
-- Name: agent_episodic_events_agent_created_seq_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX agent_episodic_events_agent_created_seq_idx ON isokron.agent_episodic_events USING btree (agent_id, created_at DESC, seq DESC);

--
-- Name: agent_episodic_events_agent_type_created_seq_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX agent_episodic_events_agent_type_created_seq_idx ON isokron.agent_episodic_events USING btree (agent_id, event_type, created_at DESC, seq DESC);

--
-- Name: agent_episodic_events_session_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX agent_episodic_events_session_idx ON isokron.agent_episodic_events USING btree (workspace_id, ((body ->> 'session'::text))) WHERE (body ? 'session'::text);

--
-- Name: agent_messages_search_tsv_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX agent_messages_search_tsv_idx ON isokron.agent_messages USING gin (search_tsv);

--
-- Name: agent_sessions_tenant_user_updated_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX agent_sessions_tenant_user_updated_idx ON isokron.agent_sessions USING btree (tenant_id, user_id, updated_at DESC);

--
-- Name: delegations_callee_created_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX delegations_callee_created_idx ON isokron.delegations USING btree (callee_id, created_at DESC);

--
-- Name: delegations_caller_created_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX delegations_caller_created_idx ON isokron.delegations USING btree (caller_id, created_at DESC);

--
-- Name: delegations_caller_idempotency_key_idx; Type: INDEX; Schema: isokron
--

CREATE UNIQUE INDEX delegations_caller_idempotency_key_idx ON isokron.delegations USING btree (workspace_id, caller_id, idempotency_key) WHERE (idempotency_key IS NOT NULL);

--
-- Name: delegations_in_flight_heartbeat_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX delegations_in_flight_heartbeat_idx ON isokron.delegations USING btree (last_heartbeat NULLS FIRST) WHERE (status = ANY (ARRAY['queued'::text, 'dispatched'::text, 'in_progress'::text, 'stuck'::text]));

--
-- Name: memory_audit_namespace_created_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_audit_namespace_created_idx ON isokron.memory_audit USING btree (namespace, created_at DESC);

--
-- Name: memory_namespaces_expires_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_namespaces_expires_idx ON isokron.memory_namespaces USING btree (expires_at) WHERE (expires_at IS NOT NULL);

--
-- Name: memory_namespaces_name_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_namespaces_name_idx ON isokron.memory_namespaces USING btree (name);

--
-- Name: memory_records_current_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_records_current_idx ON isokron.memory_records USING btree (root_id, namespace, pin DESC, created_at DESC) WHERE (retracted_at IS NULL);

--
-- Name: memory_records_expires_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_records_expires_idx ON isokron.memory_records USING btree (expires_at) WHERE (expires_at IS NOT NULL);

--
-- Name: memory_records_id_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_records_id_idx ON isokron.memory_records USING btree (id);

--
-- Name: memory_records_live_key_idx; Type: INDEX; Schema: isokron
--

CREATE UNIQUE INDEX memory_records_live_key_idx ON isokron.memory_records USING btree (root_id, namespace, content_key) WHERE ((retracted_at IS NULL) AND (superseded_by IS NULL) AND (unmerged_duplicate_of IS NULL));

--
-- Name: memory_records_namespace_created_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_records_namespace_created_idx ON isokron.memory_records USING btree (namespace, pin DESC, created_at DESC);

--
-- Name: memory_records_search_tsv_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_records_search_tsv_idx ON isokron.memory_records USING gin (search_tsv);

--
-- Name: memory_records_user_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX memory_records_user_idx ON isokron.memory_records USING btree (root_id, written_by, user_id) WHERE (user_id IS NOT NULL);

--
-- Name: workspaces_parent_idx; Type: INDEX; Schema: isokron
--

CREATE INDEX workspaces_parent_idx ON isokron.workspaces USING btree (parent_id);

--
-- Name: agent_scratchpad_entries_active_actor_idx; Type: INDEX; Schema: kronicle
--

CREATE INDEX agent_scratchpad_entries_active_actor_idx ON kronicle.agent_scratchpad_entries USING btree (actor_id, created_at DESC, scratchpad_entry_id DESC) WHERE (status = 'active'::text);

--
-- Name: agent_scratchpad_entries_actor_idx; Type: INDEX; Schema: kronicle
--

CREATE INDEX agent_scratchpad_entries_actor_idx ON kronicle.agent_scratchpad_entries USING btree (actor_id, created_at DESC);

--
-- Name: agent_scratchpad_entries_cross_actor_idx; Type: INDEX; Schema: kronicle
--

CREATE INDEX agent_scratchpad_entries_cross_actor_idx ON kronicle.agent_scratchpad_entries USING btree (actor_id, created_at DESC, scratchpad_entry_id DESC) WHERE ((status = 'active'::text) AND (visibility_scope = 'cross_agent_dereferenceable'::kronicle.scratchpad_visibility_scope));

--
-- Name: agent_scratchpad_entries_ws_created_idx; Type: INDEX; Schema: kronicle
--

CREATE INDEX agent_scratchpad_entries_ws_created_idx ON kronicle.agent_scratchpad_entries USING btree (workspace_id, created_at DESC) WHERE (status = 'active'::text);

--
-- Name: actor_capability_matrix_kind_idx; Type: INDEX; Schema: public
--

CREATE INDEX actor_capability_matrix_kind_idx ON public.actor_capability_matrix USING btree (actor_kind);

--
-- Name: actor_registry_workspace_kind_idx; Type: INDEX; Schema: public
--

CREATE INDEX actor_registry_workspace_kind_idx ON public.actor_registry USING btree (workspace_id, actor_kind);

--
-- Name: kora_role_charter_one_active_idx; Type: INDEX; Schema: public
--

CREATE UNIQUE INDEX kora_role_charter_one_active_idx ON public.kora_role_charter USING btree (workspace_id) WHERE (superseded_at IS NULL);

--
-- Name: agent_messages_recall_scope; Type: STATISTICS; Schema: isokron
--

CREATE STATISTICS isokron.agent_messages_recall_scope (mcv) ON tenant_id, user_id, embedding_model FROM isokron.agent_messages;

--
-- Name: memory_records_recall_scope; Type: STATISTICS; Schema: isokron
--

CREATE STATISTICS isokron.memory_records_recall_scope (mcv) ON namespace, root_id, embedding_model FROM isokron.memory_records;

--
-- Name: chain_anchor chain_anchor_forward_only; Type: TRIGGER; Schema: hivex_foundation
--

CREATE TRIGGER chain_anchor_forward_only BEFORE DELETE OR UPDATE ON hivex_foundation.chain_anchor FOR EACH ROW EXECUTE FUNCTION hivex_foundation.chain_anchor_forward_v1();

--
-- Name: chain_anchor chain_anchor_no_truncate; Type: TRIGGER; Schema: hivex_foundation
--

CREATE TRIGGER chain_anchor_no_truncate BEFORE TRUNCATE ON hivex_foundation.chain_anchor FOR EACH STATEMENT EXECUTE FUNCTION hivex_foundation.chain_anchor_forward_v1();

--
-- Name: event_log event_log_append_only; Type: TRIGGER; Schema: hivex_foundation
--

CREATE TRIGGER event_log_append_only BEFORE DELETE OR UPDATE ON hivex_foundation.event_log FOR EACH ROW EXECUTE FUNCTION hivex_foundation.event_log_reject_mutation();

--
-- Name: event_log event_log_no_truncate; Type: TRIGGER; Schema: hivex_foundation
--

CREATE TRIGGER event_log_no_truncate BEFORE TRUNCATE ON hivex_foundation.event_log FOR EACH STATEMENT EXECUTE FUNCTION hivex_foundation.event_log_reject_mutation();

--
-- Name: memory_audit memory_audit_root; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_audit_root BEFORE INSERT OR UPDATE OF namespace, root_id ON isokron.memory_audit FOR EACH ROW EXECUTE FUNCTION isokron.fill_record_root_tg();

--
-- Name: memory_namespaces memory_namespaces_root; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_namespaces_root BEFORE INSERT OR UPDATE OF name, root_id ON isokron.memory_namespaces FOR EACH ROW EXECUTE FUNCTION isokron.set_namespace_root_tg();

--
-- Name: memory_records memory_records_duplicate_insert; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_duplicate_insert BEFORE INSERT ON isokron.memory_records FOR EACH ROW WHEN ((new.duplicate_of IS NOT NULL)) EXECUTE FUNCTION isokron.memory_lifecycle_guard_tg();

--
-- Name: memory_records memory_records_duplicate_update; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_duplicate_update BEFORE UPDATE OF duplicate_of ON isokron.memory_records FOR EACH ROW EXECUTE FUNCTION isokron.memory_lifecycle_guard_tg();

--
-- Name: memory_records memory_records_embedding_stale; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_embedding_stale BEFORE UPDATE OF content ON isokron.memory_records FOR EACH ROW WHEN ((old.content IS DISTINCT FROM new.content)) EXECUTE FUNCTION isokron.memory_embedding_stale_v1();

--
-- Name: memory_records memory_records_lifecycle_insert; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_lifecycle_insert BEFORE INSERT ON isokron.memory_records FOR EACH ROW WHEN (((new.retracted_at IS NOT NULL) OR (new.supersedes IS NOT NULL) OR (new.superseded_by IS NOT NULL) OR (new.superseded_at IS NOT NULL) OR (new.prior_valid_to IS NOT NULL) OR (new.unmerged_duplicate_of IS NOT NULL) OR (new.recorded_at <> now()))) EXECUTE FUNCTION isokron.memory_lifecycle_guard_tg();

--
-- Name: memory_records memory_records_lifecycle_update; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_lifecycle_update BEFORE UPDATE OF recorded_at, retracted_at, supersedes, superseded_by, superseded_at, prior_valid_to, unmerged_duplicate_of, written_by ON isokron.memory_records FOR EACH ROW EXECUTE FUNCTION isokron.memory_lifecycle_guard_tg();

--
-- Name: memory_records memory_records_root; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_root BEFORE INSERT ON isokron.memory_records FOR EACH ROW WHEN ((new.root_id IS NULL)) EXECUTE FUNCTION isokron.fill_record_root_tg();

--
-- Name: memory_records memory_records_user_claimed; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_user_claimed BEFORE UPDATE OF user_id ON isokron.memory_records FOR EACH ROW WHEN (((old.user_id IS NOT NULL) AND (new.user_id IS DISTINCT FROM old.user_id))) EXECUTE FUNCTION isokron.memory_claimed_guard_tg();

--
-- Name: memory_records memory_records_writer; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER memory_records_writer AFTER INSERT ON isokron.memory_records REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION isokron.memory_writer_guard_tg();

--
-- Name: memory_records quota_memory_added; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_memory_added AFTER INSERT ON isokron.memory_records REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_memory_changed_tg();

--
-- Name: memory_records quota_memory_removed; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_memory_removed AFTER DELETE ON isokron.memory_records REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_memory_changed_tg();

--
-- Name: memory_records quota_memory_updated; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_memory_updated AFTER UPDATE ON isokron.memory_records REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_memory_changed_tg();

--
-- Name: agent_messages quota_messages_added; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_messages_added AFTER INSERT ON isokron.agent_messages REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_messages_added_tg();

--
-- Name: agent_messages quota_messages_removed; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_messages_removed AFTER DELETE ON isokron.agent_messages REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_messages_removed_tg();

--
-- Name: agent_sessions quota_session_keys; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_session_keys BEFORE UPDATE OF tenant_id, user_id, id ON isokron.agent_sessions FOR EACH ROW EXECUTE FUNCTION isokron.quota_session_keys_tg();

--
-- Name: agent_sessions quota_sessions_added; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_sessions_added AFTER INSERT ON isokron.agent_sessions REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_added_tg();

--
-- Name: agent_sessions quota_sessions_removed; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_sessions_removed AFTER DELETE ON isokron.agent_sessions REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_removed_tg();

--
-- Name: agent_sessions quota_sessions_updated; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER quota_sessions_updated AFTER UPDATE ON isokron.agent_sessions REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION isokron.quota_sessions_updated_tg();

--
-- Name: workspaces workspaces_root_guard; Type: TRIGGER; Schema: isokron
--

CREATE TRIGGER workspaces_root_guard BEFORE INSERT OR UPDATE OF workspace_id, parent_id ON isokron.workspaces FOR EACH ROW EXECUTE FUNCTION isokron.guard_workspace_root_tg();

--
-- Name: chain_anchor chain_anchor_tenant_id_fkey; Type: FK CONSTRAINT; Schema: hivex_foundation
--

ALTER TABLE ONLY hivex_foundation.chain_anchor
    ADD CONSTRAINT chain_anchor_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES hivex_foundation.tenant(tenant_id);

--
-- Name: event_log event_log_tenant_id_fkey; Type: FK CONSTRAINT; Schema: hivex_foundation
--

ALTER TABLE ONLY hivex_foundation.event_log
    ADD CONSTRAINT event_log_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES hivex_foundation.tenant(tenant_id);

--
-- Name: agent_episodic_events agent_episodic_events_workspace_agent_fkey; Type: FK CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.agent_episodic_events
    ADD CONSTRAINT agent_episodic_events_workspace_agent_fkey FOREIGN KEY (workspace_id, agent_id) REFERENCES public.actor_registry(workspace_id, actor_id) ON DELETE CASCADE;

--
-- Name: agent_messages agent_messages_session_fkey; Type: FK CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.agent_messages
    ADD CONSTRAINT agent_messages_session_fkey FOREIGN KEY (tenant_id, user_id, session_id) REFERENCES isokron.agent_sessions(tenant_id, user_id, id) ON DELETE CASCADE;

--
-- Name: memory_records memory_records_namespace_fkey; Type: FK CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.memory_records
    ADD CONSTRAINT memory_records_namespace_fkey FOREIGN KEY (root_id, namespace) REFERENCES isokron.memory_namespaces(root_id, name) ON DELETE CASCADE;

--
-- Name: workspaces workspaces_parent_id_fkey; Type: FK CONSTRAINT; Schema: isokron
--

ALTER TABLE ONLY isokron.workspaces
    ADD CONSTRAINT workspaces_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES isokron.workspaces(workspace_id);

--
-- Name: agent_scratchpad_entries agent_scratchpad_entries_actor_id_fkey; Type: FK CONSTRAINT; Schema: kronicle
--

ALTER TABLE ONLY kronicle.agent_scratchpad_entries
    ADD CONSTRAINT agent_scratchpad_entries_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES public.actor_registry(actor_id);

--
-- Name: chain_anchor; Type: ROW SECURITY; Schema: hivex_foundation
--

ALTER TABLE hivex_foundation.chain_anchor ENABLE ROW LEVEL SECURITY;

--
-- Name: chain_anchor chain_anchor_append; Type: POLICY; Schema: hivex_foundation
--

CREATE POLICY chain_anchor_append ON hivex_foundation.chain_anchor FOR INSERT TO isokron_definer WITH CHECK ((tenant_id = ( SELECT t.tenant_id
   FROM hivex_foundation.tenant t
  WHERE (t.clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)))));

--
-- Name: chain_anchor chain_anchor_move; Type: POLICY; Schema: hivex_foundation
--

CREATE POLICY chain_anchor_move ON hivex_foundation.chain_anchor FOR UPDATE TO isokron_definer USING ((tenant_id = ( SELECT t.tenant_id
   FROM hivex_foundation.tenant t
  WHERE (t.clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1))))) WITH CHECK ((tenant_id = ( SELECT t.tenant_id
   FROM hivex_foundation.tenant t
  WHERE (t.clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)))));

--
-- Name: chain_anchor chain_anchor_workspace; Type: POLICY; Schema: hivex_foundation
--

CREATE POLICY chain_anchor_workspace ON hivex_foundation.chain_anchor FOR SELECT USING ((tenant_id = ( SELECT t.tenant_id
   FROM hivex_foundation.tenant t
  WHERE (t.clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)))));

--
-- Name: event_log; Type: ROW SECURITY; Schema: hivex_foundation
--

ALTER TABLE hivex_foundation.event_log ENABLE ROW LEVEL SECURITY;

--
-- Name: event_log event_log_append; Type: POLICY; Schema: hivex_foundation
--

CREATE POLICY event_log_append ON hivex_foundation.event_log FOR INSERT TO isokron_definer WITH CHECK ((tenant_id = ( SELECT t.tenant_id
   FROM hivex_foundation.tenant t
  WHERE (t.clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)))));

--
-- Name: event_log event_log_workspace; Type: POLICY; Schema: hivex_foundation
--

CREATE POLICY event_log_workspace ON hivex_foundation.event_log FOR SELECT USING ((tenant_id = ( SELECT t.tenant_id
   FROM hivex_foundation.tenant t
  WHERE (t.clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)))));

--
-- Name: tenant; Type: ROW SECURITY; Schema: hivex_foundation
--

ALTER TABLE hivex_foundation.tenant ENABLE ROW LEVEL SECURITY;

--
-- Name: tenant tenant_append_lock; Type: POLICY; Schema: hivex_foundation
--

CREATE POLICY tenant_append_lock ON hivex_foundation.tenant FOR UPDATE TO isokron_definer USING ((clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1))) WITH CHECK (false);

--
-- Name: tenant tenant_workspace; Type: POLICY; Schema: hivex_foundation
--

CREATE POLICY tenant_workspace ON hivex_foundation.tenant FOR SELECT USING ((clerk_org_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: agent_episodic_events; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.agent_episodic_events ENABLE ROW LEVEL SECURITY;

--
-- Name: agent_episodic_events agent_episodic_events_definer_erase; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_episodic_events_definer_erase ON isokron.agent_episodic_events FOR DELETE TO isokron_definer USING (true);

--
-- Name: agent_episodic_events agent_episodic_events_definer_read; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_episodic_events_definer_read ON isokron.agent_episodic_events FOR SELECT TO isokron_definer USING (true);

--
-- Name: agent_episodic_events agent_episodic_events_insert; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_episodic_events_insert ON isokron.agent_episodic_events FOR INSERT WITH CHECK ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: agent_episodic_events agent_episodic_events_select; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_episodic_events_select ON isokron.agent_episodic_events FOR SELECT USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: agent_messages; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.agent_messages ENABLE ROW LEVEL SECURITY;

--
-- Name: agent_messages agent_messages_definer_embed; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_messages_definer_embed ON isokron.agent_messages FOR UPDATE TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: agent_messages agent_messages_definer_erase; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_messages_definer_erase ON isokron.agent_messages FOR DELETE TO isokron_definer USING (true);

--
-- Name: agent_messages agent_messages_definer_stats; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_messages_definer_stats ON isokron.agent_messages FOR SELECT TO isokron_definer USING (true);

--
-- Name: agent_messages agent_messages_delete; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_messages_delete ON isokron.agent_messages FOR DELETE USING (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1))));

--
-- Name: agent_messages agent_messages_insert; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_messages_insert ON isokron.agent_messages FOR INSERT WITH CHECK (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1))));

--
-- Name: agent_messages agent_messages_select; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_messages_select ON isokron.agent_messages FOR SELECT USING (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1))));

--
-- Name: agent_sessions; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.agent_sessions ENABLE ROW LEVEL SECURITY;

--
-- Name: agent_sessions agent_sessions_definer_erase; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_sessions_definer_erase ON isokron.agent_sessions FOR DELETE TO isokron_definer USING (true);

--
-- Name: agent_sessions agent_sessions_definer_read; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_sessions_definer_read ON isokron.agent_sessions FOR SELECT TO isokron_definer USING (true);

--
-- Name: agent_sessions agent_sessions_delete; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_sessions_delete ON isokron.agent_sessions FOR DELETE USING (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1))));

--
-- Name: agent_sessions agent_sessions_insert; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_sessions_insert ON isokron.agent_sessions FOR INSERT WITH CHECK (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1))));

--
-- Name: agent_sessions agent_sessions_select; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_sessions_select ON isokron.agent_sessions FOR SELECT USING (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1))));

--
-- Name: agent_sessions agent_sessions_update; Type: POLICY; Schema: isokron
--

CREATE POLICY agent_sessions_update ON isokron.agent_sessions FOR UPDATE USING (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1)))) WITH CHECK (((tenant_id = ( SELECT isokron.context_tenant_v1() AS context_tenant_v1)) AND (user_id = ( SELECT isokron.context_user_v1() AS context_user_v1))));

--
-- Name: context_keys; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.context_keys ENABLE ROW LEVEL SECURITY;

--
-- Name: context_keys context_keys_verifier; Type: POLICY; Schema: isokron
--

CREATE POLICY context_keys_verifier ON isokron.context_keys TO isokron_context USING (true) WITH CHECK (true);

--
-- Name: delegations; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.delegations ENABLE ROW LEVEL SECURITY;

--
-- Name: delegations delegations_insert; Type: POLICY; Schema: isokron
--

CREATE POLICY delegations_insert ON isokron.delegations FOR INSERT WITH CHECK ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: delegations delegations_select; Type: POLICY; Schema: isokron
--

CREATE POLICY delegations_select ON isokron.delegations FOR SELECT USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: delegations delegations_sweep_select; Type: POLICY; Schema: isokron
--

CREATE POLICY delegations_sweep_select ON isokron.delegations FOR SELECT TO isokron_definer USING (true);

--
-- Name: delegations delegations_sweep_update; Type: POLICY; Schema: isokron
--

CREATE POLICY delegations_sweep_update ON isokron.delegations FOR UPDATE TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: delegations delegations_update; Type: POLICY; Schema: isokron
--

CREATE POLICY delegations_update ON isokron.delegations FOR UPDATE USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1))) WITH CHECK ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: erasure_receipts; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.erasure_receipts ENABLE ROW LEVEL SECURITY;

--
-- Name: erasure_receipts erasure_receipts_definer_append; Type: POLICY; Schema: isokron
--

CREATE POLICY erasure_receipts_definer_append ON isokron.erasure_receipts FOR INSERT TO isokron_definer WITH CHECK (true);

--
-- Name: erasure_receipts erasure_receipts_definer_read; Type: POLICY; Schema: isokron
--

CREATE POLICY erasure_receipts_definer_read ON isokron.erasure_receipts FOR SELECT TO isokron_definer USING (true);

--
-- Name: memory_audit; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.memory_audit ENABLE ROW LEVEL SECURITY;

--
-- Name: memory_audit memory_audit_definer_erase; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_audit_definer_erase ON isokron.memory_audit FOR UPDATE TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: memory_audit memory_audit_definer_expiry; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_audit_definer_expiry ON isokron.memory_audit FOR INSERT TO isokron_definer WITH CHECK (true);

--
-- Name: memory_audit memory_audit_definer_read; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_audit_definer_read ON isokron.memory_audit FOR SELECT TO isokron_definer USING (true);

--
-- Name: memory_audit memory_audit_insert; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_audit_insert ON isokron.memory_audit FOR INSERT WITH CHECK (((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)) AND (namespace = ANY (( SELECT isokron.writable_namespaces_v1() AS writable_namespaces_v1)::text[]))));

--
-- Name: memory_audit memory_audit_select; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_audit_select ON isokron.memory_audit FOR SELECT USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: memory_namespaces; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.memory_namespaces ENABLE ROW LEVEL SECURITY;

--
-- Name: memory_namespaces memory_namespaces_definer_expiry; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_namespaces_definer_expiry ON isokron.memory_namespaces TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: memory_namespaces memory_namespaces_definer_root; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_namespaces_definer_root ON isokron.memory_namespaces FOR SELECT TO isokron_definer USING (true);

--
-- Name: memory_namespaces memory_namespaces_delete; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_namespaces_delete ON isokron.memory_namespaces FOR DELETE USING ((name = ANY (( SELECT isokron.owned_namespaces_v1() AS owned_namespaces_v1)::text[])));

--
-- Name: memory_namespaces memory_namespaces_insert; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_namespaces_insert ON isokron.memory_namespaces FOR INSERT WITH CHECK ((name = ANY (( SELECT isokron.writable_namespaces_v1() AS writable_namespaces_v1)::text[])));

--
-- Name: memory_namespaces memory_namespaces_select; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_namespaces_select ON isokron.memory_namespaces FOR SELECT USING ((name = ANY (( SELECT isokron.readable_namespaces_v1() AS readable_namespaces_v1)::text[])));

--
-- Name: memory_namespaces memory_namespaces_update; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_namespaces_update ON isokron.memory_namespaces FOR UPDATE USING ((name = ANY (( SELECT isokron.owned_namespaces_v1() AS owned_namespaces_v1)::text[]))) WITH CHECK ((name = ANY (( SELECT isokron.owned_namespaces_v1() AS owned_namespaces_v1)::text[])));

--
-- Name: memory_records; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.memory_records ENABLE ROW LEVEL SECURITY;

--
-- Name: memory_records memory_records_definer_embed; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_definer_embed ON isokron.memory_records FOR UPDATE TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: memory_records memory_records_definer_expiry; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_definer_expiry ON isokron.memory_records FOR DELETE TO isokron_definer USING (true);

--
-- Name: memory_records memory_records_definer_import; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_definer_import ON isokron.memory_records FOR INSERT TO isokron_definer WITH CHECK (true);

--
-- Name: memory_records memory_records_definer_search; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_definer_search ON isokron.memory_records FOR SELECT TO isokron_definer USING (true);

--
-- Name: memory_records memory_records_delete; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_delete ON isokron.memory_records FOR DELETE USING (((namespace = ANY (( SELECT isokron.writable_namespaces_v1() AS writable_namespaces_v1)::text[])) AND (namespace !~~ 'team:%'::text) AND (namespace !~~ 'org:%'::text)));

--
-- Name: memory_records memory_records_insert; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_insert ON isokron.memory_records FOR INSERT WITH CHECK ((namespace = ANY (( SELECT isokron.writable_namespaces_v1() AS writable_namespaces_v1)::text[])));

--
-- Name: memory_records memory_records_select; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_select ON isokron.memory_records FOR SELECT USING ((namespace = ANY (( SELECT isokron.readable_namespaces_v1() AS readable_namespaces_v1)::text[])));

--
-- Name: memory_records memory_records_update; Type: POLICY; Schema: isokron
--

CREATE POLICY memory_records_update ON isokron.memory_records FOR UPDATE USING ((namespace = ANY (( SELECT isokron.writable_namespaces_v1() AS writable_namespaces_v1)::text[]))) WITH CHECK ((namespace = ANY (( SELECT isokron.writable_namespaces_v1() AS writable_namespaces_v1)::text[])));

--
-- Name: quota_limits; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.quota_limits ENABLE ROW LEVEL SECURITY;

--
-- Name: quota_limits quota_limits_owner; Type: POLICY; Schema: isokron
--

CREATE POLICY quota_limits_owner ON isokron.quota_limits TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: quota_usage; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.quota_usage ENABLE ROW LEVEL SECURITY;

--
-- Name: quota_usage quota_usage_definer; Type: POLICY; Schema: isokron
--

CREATE POLICY quota_usage_definer ON isokron.quota_usage TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: recall_corpora; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.recall_corpora ENABLE ROW LEVEL SECURITY;

--
-- Name: recall_corpora recall_corpora_definer; Type: POLICY; Schema: isokron
--

CREATE POLICY recall_corpora_definer ON isokron.recall_corpora TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: recall_lexicon; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.recall_lexicon ENABLE ROW LEVEL SECURITY;

--
-- Name: recall_lexicon recall_lexicon_definer; Type: POLICY; Schema: isokron
--

CREATE POLICY recall_lexicon_definer ON isokron.recall_lexicon TO isokron_definer USING (true) WITH CHECK (true);

--
-- Name: workspaces; Type: ROW SECURITY; Schema: isokron
--

ALTER TABLE isokron.workspaces ENABLE ROW LEVEL SECURITY;

--
-- Name: workspaces workspaces_definer_import; Type: POLICY; Schema: isokron
--

CREATE POLICY workspaces_definer_import ON isokron.workspaces FOR INSERT TO isokron_definer WITH CHECK (true);

--
-- Name: workspaces workspaces_select; Type: POLICY; Schema: isokron
--

CREATE POLICY workspaces_select ON isokron.workspaces FOR SELECT USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: workspaces workspaces_tree_walk; Type: POLICY; Schema: isokron
--

CREATE POLICY workspaces_tree_walk ON isokron.workspaces FOR SELECT TO isokron_definer USING (true);

--
-- Name: agent_scratchpad_entries; Type: ROW SECURITY; Schema: kronicle
--

ALTER TABLE kronicle.agent_scratchpad_entries ENABLE ROW LEVEL SECURITY;

--
-- Name: agent_scratchpad_entries agent_scratchpad_entries_workspace; Type: POLICY; Schema: kronicle
--

CREATE POLICY agent_scratchpad_entries_workspace ON kronicle.agent_scratchpad_entries USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: workspace_constitution_revisions; Type: ROW SECURITY; Schema: kronicle
--

ALTER TABLE kronicle.workspace_constitution_revisions ENABLE ROW LEVEL SECURITY;

--
-- Name: workspace_constitution_revisions workspace_constitution_revisions_workspace; Type: POLICY; Schema: kronicle
--

CREATE POLICY workspace_constitution_revisions_workspace ON kronicle.workspace_constitution_revisions USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: actor_capability_matrix; Type: ROW SECURITY; Schema: public
--

ALTER TABLE public.actor_capability_matrix ENABLE ROW LEVEL SECURITY;

--
-- Name: actor_capability_matrix actor_capability_matrix_read; Type: POLICY; Schema: public
--

CREATE POLICY actor_capability_matrix_read ON public.actor_capability_matrix FOR SELECT USING (true);

--
-- Name: actor_registry; Type: ROW SECURITY; Schema: public
--

ALTER TABLE public.actor_registry ENABLE ROW LEVEL SECURITY;

--
-- Name: actor_registry actor_registry_workspace; Type: POLICY; Schema: public
--

CREATE POLICY actor_registry_workspace ON public.actor_registry FOR SELECT USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: kora_policy_registry; Type: ROW SECURITY; Schema: public
--

ALTER TABLE public.kora_policy_registry ENABLE ROW LEVEL SECURITY;

--
-- Name: kora_policy_registry kora_policy_registry_workspace; Type: POLICY; Schema: public
--

CREATE POLICY kora_policy_registry_workspace ON public.kora_policy_registry USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: kora_role_charter; Type: ROW SECURITY; Schema: public
--

ALTER TABLE public.kora_role_charter ENABLE ROW LEVEL SECURITY;

--
-- Name: kora_role_charter kora_role_charter_workspace; Type: POLICY; Schema: public
--

CREATE POLICY kora_role_charter_workspace ON public.kora_role_charter FOR SELECT USING ((workspace_id = ( SELECT isokron.context_workspace_v1() AS context_workspace_v1)));

--
-- Name: SCHEMA hivex_foundation; Type: ACL; Schema: -
--

GRANT USAGE ON SCHEMA hivex_foundation TO isokron_runtime;
GRANT USAGE ON SCHEMA hivex_foundation TO isokron_definer;

--
-- Name: SCHEMA isokron; Type: ACL; Schema: -
--

GRANT USAGE ON SCHEMA isokron TO isokron_runtime;
GRANT USAGE ON SCHEMA isokron TO isokron_definer;
GRANT USAGE ON SCHEMA isokron TO isokron_sweeper;
GRANT ALL ON SCHEMA isokron TO isokron_context;

--
-- Name: SCHEMA kronicle; Type: ACL; Schema: -
--

GRANT USAGE ON SCHEMA kronicle TO isokron_runtime;
GRANT USAGE ON SCHEMA kronicle TO isokron_definer;

--
-- Name: SCHEMA public; Type: ACL; Schema: -
--

GRANT USAGE ON SCHEMA public TO isokron_runtime;
GRANT USAGE ON SCHEMA public TO isokron_definer;

--
-- Name: FUNCTION append_event_v1(p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid); Type: ACL; Schema: hivex_foundation
--

REVOKE ALL ON FUNCTION hivex_foundation.append_event_v1(p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION hivex_foundation.append_event_v1(p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid) TO isokron_runtime;

--
-- Name: FUNCTION chain_anchor_forward_v1(); Type: ACL; Schema: hivex_foundation
--

REVOKE ALL ON FUNCTION hivex_foundation.chain_anchor_forward_v1() FROM PUBLIC;

--
-- Name: FUNCTION event_hash_v1(p_prev text, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb); Type: ACL; Schema: hivex_foundation
--

GRANT ALL ON FUNCTION hivex_foundation.event_hash_v1(p_prev text, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb) TO isokron_runtime;

--
-- Name: FUNCTION event_hash_v2(p_prev text, p_event uuid, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb, p_actor uuid, p_at timestamp with time zone); Type: ACL; Schema: hivex_foundation
--

REVOKE ALL ON FUNCTION hivex_foundation.event_hash_v2(p_prev text, p_event uuid, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb, p_actor uuid, p_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION hivex_foundation.event_hash_v2(p_prev text, p_event uuid, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb, p_actor uuid, p_at timestamp with time zone) TO isokron_runtime;
GRANT ALL ON FUNCTION hivex_foundation.event_hash_v2(p_prev text, p_event uuid, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb, p_actor uuid, p_at timestamp with time zone) TO isokron_definer;

--
-- Name: FUNCTION verify_chain_v1(p_workspace_id text); Type: ACL; Schema: hivex_foundation
--

REVOKE ALL ON FUNCTION hivex_foundation.verify_chain_v1(p_workspace_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION hivex_foundation.verify_chain_v1(p_workspace_id text) TO isokron_runtime;

--
-- Name: FUNCTION verify_chain_v2(p_workspace_id text); Type: ACL; Schema: hivex_foundation
--

REVOKE ALL ON FUNCTION hivex_foundation.verify_chain_v2(p_workspace_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION hivex_foundation.verify_chain_v2(p_workspace_id text) TO isokron_runtime;

--
-- Name: FUNCTION append_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_ids uuid[], p_roles text[], p_contents text[], p_tool_calls text[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.append_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_ids uuid[], p_roles text[], p_contents text[], p_tool_calls text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.append_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_ids uuid[], p_roles text[], p_contents text[], p_tool_calls text[]) TO isokron_runtime;

--
-- Name: FUNCTION applied_migrations_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.applied_migrations_v1() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.applied_migrations_v1() TO isokron_runtime;

--
-- Name: FUNCTION clear_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.clear_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.clear_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid) TO isokron_runtime;

--
-- Name: FUNCTION context_keys_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.context_keys_v1() FROM PUBLIC;

--
-- Name: FUNCTION create_recall_vectors_v1(p_schema text, p_dims integer); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.create_recall_vectors_v1(p_schema text, p_dims integer) FROM PUBLIC;

--
-- Name: FUNCTION create_vector_functions_v1(p_schema text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.create_vector_functions_v1(p_schema text) FROM PUBLIC;

--
-- Name: FUNCTION delete_namespace_v1(p_workspace_id text, p_name text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.delete_namespace_v1(p_workspace_id text, p_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.delete_namespace_v1(p_workspace_id text, p_name text) TO isokron_runtime;

--
-- Name: FUNCTION episodic_append_one_v1(p_workspace_id text, p_agent_id uuid, p_id uuid, p_type text, p_sender text, p_recipient text, p_body text, p_receipt text, p_hash text); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.episodic_append_one_v1(p_workspace_id text, p_agent_id uuid, p_id uuid, p_type text, p_sender text, p_recipient text, p_body text, p_receipt text, p_hash text) TO isokron_runtime;

--
-- Name: FUNCTION episodic_append_v1(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.episodic_append_v1(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.episodic_append_v1(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) TO isokron_runtime;

--
-- Name: FUNCTION episodic_append_v2(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.episodic_append_v2(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.episodic_append_v2(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) TO isokron_runtime;

--
-- Name: FUNCTION episodic_append_v3(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.episodic_append_v3(p_workspace_id text, p_agent_id uuid, p_ids uuid[], p_types text[], p_senders text[], p_recipients text[], p_bodies text[], p_receipts text[], p_hashes text[]) TO isokron_runtime;

--
-- Name: FUNCTION episodic_list_v1(p_workspace_id text, p_agent_id uuid, p_event_type text, p_since timestamp with time zone, p_limit integer); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.episodic_list_v1(p_workspace_id text, p_agent_id uuid, p_event_type text, p_since timestamp with time zone, p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.episodic_list_v1(p_workspace_id text, p_agent_id uuid, p_event_type text, p_since timestamp with time zone, p_limit integer) TO isokron_runtime;

--
-- Name: FUNCTION erase_self_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.erase_self_v1() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.erase_self_v1() TO isokron_runtime;

--
-- Name: FUNCTION erase_user_core_v1(p_workspace_id text, p_user_id text, p_operator text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.erase_user_core_v1(p_workspace_id text, p_user_id text, p_operator text) FROM PUBLIC;

--
-- Name: FUNCTION erase_user_v1(p_workspace_id text, p_user_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.erase_user_v1(p_workspace_id text, p_user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.erase_user_v1(p_workspace_id text, p_user_id text) TO isokron_sweeper;

--
-- Name: FUNCTION erase_verify_v1(p_receipt uuid); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.erase_verify_v1(p_receipt uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.erase_verify_v1(p_receipt uuid) TO isokron_sweeper;

--
-- Name: TABLE erasure_receipts; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT ON TABLE isokron.erasure_receipts TO isokron_definer;

--
-- Name: FUNCTION export_memory_v1(p_workspace_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.export_memory_v1(p_workspace_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.export_memory_v1(p_workspace_id text) TO isokron_sweeper;

--
-- Name: FUNCTION export_memory_v2(p_workspace_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.export_memory_v2(p_workspace_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.export_memory_v2(p_workspace_id text) TO isokron_sweeper;

--
-- Name: FUNCTION fill_record_root_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.fill_record_root_tg() FROM PUBLIC;

--
-- Name: FUNCTION guard_workspace_root_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.guard_workspace_root_tg() FROM PUBLIC;

--
-- Name: FUNCTION import_memory_v2(p_root text, p_items json); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.import_memory_v2(p_root text, p_items json) FROM PUBLIC;

--
-- Name: FUNCTION install_context_key_v1(p_fingerprint text, p_inner bytea, p_outer bytea); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.install_context_key_v1(p_fingerprint text, p_inner bytea, p_outer bytea) FROM PUBLIC;

--
-- Name: FUNCTION list_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_after_seq integer, p_limit integer, p_last integer); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.list_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_after_seq integer, p_limit integer, p_last integer) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.list_messages_v1(p_tenant_id text, p_user_id text, p_session_id uuid, p_after_seq integer, p_limit integer, p_last integer) TO isokron_runtime;

--
-- Name: FUNCTION memory_commit_many_v1(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_commit_many_v1(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_commit_many_v1(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[]) TO isokron_runtime;

--
-- Name: FUNCTION memory_commit_many_v2(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.memory_commit_many_v2(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]) TO isokron_runtime;

--
-- Name: FUNCTION memory_commit_many_v3(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_commit_many_v3(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_commit_many_v3(p_workspace_id text, p_ids uuid[], p_namespaces text[], p_namespace_kinds text[], p_contents text[], p_kinds text[], p_sources text[], p_pins boolean[], p_expires_at timestamp with time zone[], p_valid_from timestamp with time zone[], p_valid_to timestamp with time zone[], p_user_ids text[]) TO isokron_runtime;

--
-- Name: FUNCTION memory_commit_v1(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_commit_v1(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_commit_v1(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone) TO isokron_runtime;

--
-- Name: FUNCTION memory_commit_v2(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.memory_commit_v2(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text) TO isokron_runtime;

--
-- Name: FUNCTION memory_commit_v3(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_commit_v3(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_commit_v3(p_workspace_id text, p_id uuid, p_namespace text, p_namespace_kind text, p_content text, p_kind text, p_source text, p_pin boolean, p_expires_at timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_user_id text) TO isokron_runtime;

--
-- Name: FUNCTION memory_duplicates_v1(p_merge boolean); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_duplicates_v1(p_merge boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_duplicates_v1(p_merge boolean) TO isokron_sweeper;

--
-- Name: FUNCTION memory_forget_v1(p_workspace_id text, p_id uuid, p_namespace text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_forget_v1(p_workspace_id text, p_id uuid, p_namespace text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_forget_v1(p_workspace_id text, p_id uuid, p_namespace text) TO isokron_runtime;

--
-- Name: FUNCTION memory_fts_keys_v1(p_namespaces text[], p_query text, p_kinds text[], p_limit integer); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_fts_keys_v1(p_namespaces text[], p_query text, p_kinds text[], p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_fts_keys_v1(p_namespaces text[], p_query text, p_kinds text[], p_limit integer) TO isokron_runtime;

--
-- Name: FUNCTION memory_fts_keys_v2(p_namespaces text[], p_query text, p_kinds text[], p_limit integer, p_tx timestamp with time zone, p_valid timestamp with time zone); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_fts_keys_v2(p_namespaces text[], p_query text, p_kinds text[], p_limit integer, p_tx timestamp with time zone, p_valid timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_fts_keys_v2(p_namespaces text[], p_query text, p_kinds text[], p_limit integer, p_tx timestamp with time zone, p_valid timestamp with time zone) TO isokron_runtime;

--
-- Name: FUNCTION memory_history_v1(p_workspace_id text, p_id uuid); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.memory_history_v1(p_workspace_id text, p_id uuid) TO isokron_runtime;

--
-- Name: FUNCTION memory_key_v1(p_content text); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.memory_key_v1(p_content text) TO isokron_runtime;

--
-- Name: FUNCTION memory_revive_v1(p_workspace_id text, p_namespace text, p_id uuid); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_revive_v1(p_workspace_id text, p_namespace text, p_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_revive_v1(p_workspace_id text, p_namespace text, p_id uuid) TO isokron_runtime;

--
-- Name: FUNCTION search_text_v1(p_text text); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.search_text_v1(p_text text) TO isokron_runtime;

--
-- Name: TABLE memory_records; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE isokron.memory_records TO isokron_runtime;
GRANT SELECT,INSERT,DELETE ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.content; Type: ACL; Schema: isokron
--

GRANT UPDATE(content) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.kind; Type: ACL; Schema: isokron
--

GRANT UPDATE(kind) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.source; Type: ACL; Schema: isokron
--

GRANT UPDATE(source) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.pin; Type: ACL; Schema: isokron
--

GRANT UPDATE(pin) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.expires_at; Type: ACL; Schema: isokron
--

GRANT UPDATE(expires_at) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.updated_at; Type: ACL; Schema: isokron
--

GRANT UPDATE(updated_at) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.embedding_model; Type: ACL; Schema: isokron
--

GRANT UPDATE(embedding_model) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.seen_count; Type: ACL; Schema: isokron
--

GRANT UPDATE(seen_count) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.last_seen_at; Type: ACL; Schema: isokron
--

GRANT UPDATE(last_seen_at) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.retracted_at; Type: ACL; Schema: isokron
--

GRANT UPDATE(retracted_at) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.valid_from; Type: ACL; Schema: isokron
--

GRANT UPDATE(valid_from) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.valid_to; Type: ACL; Schema: isokron
--

GRANT UPDATE(valid_to) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.prior_valid_to; Type: ACL; Schema: isokron
--

GRANT UPDATE(prior_valid_to) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.superseded_by; Type: ACL; Schema: isokron
--

GRANT UPDATE(superseded_by) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.superseded_at; Type: ACL; Schema: isokron
--

GRANT UPDATE(superseded_at) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.duplicate_of; Type: ACL; Schema: isokron
--

GRANT UPDATE(duplicate_of) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.unmerged_duplicate_of; Type: ACL; Schema: isokron
--

GRANT UPDATE(unmerged_duplicate_of) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.user_id; Type: ACL; Schema: isokron
--

GRANT UPDATE(user_id) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: COLUMN memory_records.written_by; Type: ACL; Schema: isokron
--

GRANT UPDATE(written_by) ON TABLE isokron.memory_records TO isokron_definer;

--
-- Name: FUNCTION memory_row_v1(r isokron.memory_records); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.memory_row_v1(r isokron.memory_records) TO isokron_runtime;

--
-- Name: FUNCTION memory_search_v1(p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text, p_query text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_search_v1(p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text, p_query text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_search_v1(p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text, p_query text) TO isokron_runtime;

--
-- Name: FUNCTION memory_search_v2(p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text, p_query text, p_as_of timestamp with time zone, p_valid_at timestamp with time zone); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.memory_search_v2(p_workspace_id text, p_namespaces text[], p_kinds text[], p_limit integer, p_mode text, p_query text, p_as_of timestamp with time zone, p_valid_at timestamp with time zone) TO isokron_runtime;

--
-- Name: FUNCTION memory_supersede_v1(p_workspace_id text, p_old_id uuid, p_id uuid, p_content text, p_source text, p_valid_from timestamp with time zone, p_user_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.memory_supersede_v1(p_workspace_id text, p_old_id uuid, p_id uuid, p_content text, p_source text, p_valid_from timestamp with time zone, p_user_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.memory_supersede_v1(p_workspace_id text, p_old_id uuid, p_id uuid, p_content text, p_source text, p_valid_from timestamp with time zone, p_user_id text) TO isokron_runtime;

--
-- Name: FUNCTION memory_visible_v1(p_recorded timestamp with time zone, p_retracted timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_prior_valid_to timestamp with time zone, p_superseded_at timestamp with time zone, p_tx timestamp with time zone, p_valid timestamp with time zone); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.memory_visible_v1(p_recorded timestamp with time zone, p_retracted timestamp with time zone, p_valid_from timestamp with time zone, p_valid_to timestamp with time zone, p_prior_valid_to timestamp with time zone, p_superseded_at timestamp with time zone, p_tx timestamp with time zone, p_valid timestamp with time zone) TO isokron_runtime;

--
-- Name: FUNCTION namespace_access_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.namespace_access_v1() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.namespace_access_v1() TO isokron_runtime;

--
-- Name: FUNCTION namespace_access_v2(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.namespace_access_v2() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.namespace_access_v2() TO isokron_runtime;

--
-- Name: FUNCTION namespace_root_v1(p_name text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.namespace_root_v1(p_name text) FROM PUBLIC;

--
-- Name: FUNCTION patch_namespace_v1(p_workspace_id text, p_name text, p_set_expiry boolean, p_expires_at timestamp with time zone, p_metadata jsonb); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.patch_namespace_v1(p_workspace_id text, p_name text, p_set_expiry boolean, p_expires_at timestamp with time zone, p_metadata jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.patch_namespace_v1(p_workspace_id text, p_name text, p_set_expiry boolean, p_expires_at timestamp with time zone, p_metadata jsonb) TO isokron_runtime;

--
-- Name: FUNCTION pop_message_v1(p_tenant_id text, p_user_id text, p_session_id uuid); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.pop_message_v1(p_tenant_id text, p_user_id text, p_session_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.pop_message_v1(p_tenant_id text, p_user_id text, p_session_id uuid) TO isokron_runtime;

--
-- Name: FUNCTION prepare_embeddings_v1(p_dims integer); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.prepare_embeddings_v1(p_dims integer) FROM PUBLIC;

--
-- Name: FUNCTION purge_workspace_v1(p_workspace_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.purge_workspace_v1(p_workspace_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.purge_workspace_v1(p_workspace_id text) TO isokron_sweeper;

--
-- Name: FUNCTION quota_limits_v1(p_workspace_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_limits_v1(p_workspace_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.quota_limits_v1(p_workspace_id text) TO isokron_runtime;

--
-- Name: FUNCTION quota_limits_v2(p_workspace_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_limits_v2(p_workspace_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.quota_limits_v2(p_workspace_id text) TO isokron_runtime;

--
-- Name: FUNCTION quota_memory_add_v1(p_delta json); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_memory_add_v1(p_delta json) FROM PUBLIC;

--
-- Name: FUNCTION quota_memory_changed_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_memory_changed_tg() FROM PUBLIC;

--
-- Name: FUNCTION quota_messages_added_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_messages_added_tg() FROM PUBLIC;

--
-- Name: FUNCTION quota_messages_removed_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_messages_removed_tg() FROM PUBLIC;

--
-- Name: FUNCTION quota_session_bytes_v1(p_agent_name text, p_title text, p_state jsonb); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_session_bytes_v1(p_agent_name text, p_title text, p_state jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.quota_session_bytes_v1(p_agent_name text, p_title text, p_state jsonb) TO isokron_definer;

--
-- Name: FUNCTION quota_session_grow_v1(p_delta json); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_session_grow_v1(p_delta json) FROM PUBLIC;

--
-- Name: FUNCTION quota_sessions_added_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_sessions_added_tg() FROM PUBLIC;

--
-- Name: FUNCTION quota_sessions_removed_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_sessions_removed_tg() FROM PUBLIC;

--
-- Name: FUNCTION quota_sessions_updated_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.quota_sessions_updated_tg() FROM PUBLIC;

--
-- Name: FUNCTION read_context_v1(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.read_context_v1(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.read_context_v1(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[]) TO isokron_runtime;

--
-- Name: FUNCTION read_context_v2(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.read_context_v2(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.read_context_v2(p_workspace_id text, p_actor_kind text, p_scratchpad_limit integer, p_event_limit integer, p_parts text[]) TO isokron_runtime;

--
-- Name: FUNCTION readable_namespaces_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.readable_namespaces_v1() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.readable_namespaces_v1() TO isokron_runtime;

--
-- Name: FUNCTION recall_corpora_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.recall_corpora_v1() FROM PUBLIC;

--
-- Name: FUNCTION recall_for_v1(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.recall_for_v1(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.recall_for_v1(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer) TO isokron_runtime;

--
-- Name: FUNCTION recall_for_v2(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.recall_for_v2(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.recall_for_v2(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text) TO isokron_runtime;

--
-- Name: FUNCTION recall_for_v3(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.recall_for_v3(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.recall_for_v3(p_workspace_id text, p_user_id text, p_query text, p_namespaces text[], p_limit integer, p_vector text, p_model text) TO isokron_runtime;

--
-- Name: FUNCTION recall_v1(p_query text, p_namespaces text[], p_limit integer, p_messages boolean); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.recall_v1(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.recall_v1(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) TO isokron_runtime;

--
-- Name: FUNCTION recall_v2(p_query text, p_namespaces text[], p_limit integer, p_messages boolean); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.recall_v2(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.recall_v2(p_query text, p_namespaces text[], p_limit integer, p_messages boolean) TO isokron_runtime;

--
-- Name: FUNCTION recall_weights_v1(p_lexemes text[]); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.recall_weights_v1(p_lexemes text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.recall_weights_v1(p_lexemes text[]) TO isokron_runtime;

--
-- Name: FUNCTION refresh_recall_corpus_v1(p_source text, p_key1 text, p_key2 text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.refresh_recall_corpus_v1(p_source text, p_key1 text, p_key2 text) FROM PUBLIC;

--
-- Name: FUNCTION refresh_recall_stats_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.refresh_recall_stats_v1() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.refresh_recall_stats_v1() TO isokron_runtime;

--
-- Name: FUNCTION refresh_stale_recall_stats_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.refresh_stale_recall_stats_v1() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.refresh_stale_recall_stats_v1() TO isokron_sweeper;

--
-- Name: FUNCTION remove_context_key_v1(p_fingerprint text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.remove_context_key_v1(p_fingerprint text) FROM PUBLIC;

--
-- Name: FUNCTION set_context_signed_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.set_context_signed_v1() FROM PUBLIC;

--
-- Name: FUNCTION set_namespace_root_tg(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.set_namespace_root_tg() FROM PUBLIC;

--
-- Name: FUNCTION store_embeddings_v2(p_source text, p_ids uuid[], p_vectors text[], p_hashes text[], p_model text, p_threshold double precision, p_merge boolean); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.store_embeddings_v2(p_source text, p_ids uuid[], p_vectors text[], p_hashes text[], p_model text, p_threshold double precision, p_merge boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.store_embeddings_v2(p_source text, p_ids uuid[], p_vectors text[], p_hashes text[], p_model text, p_threshold double precision, p_merge boolean) TO isokron_runtime;

--
-- Name: FUNCTION sweep_delegations_v1(p_stuck_threshold_s double precision); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.sweep_delegations_v1(p_stuck_threshold_s double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.sweep_delegations_v1(p_stuck_threshold_s double precision) TO isokron_sweeper;

--
-- Name: FUNCTION sweep_memory_expiry_v1(p_grace_s double precision); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.sweep_memory_expiry_v1(p_grace_s double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.sweep_memory_expiry_v1(p_grace_s double precision) TO isokron_sweeper;

--
-- Name: FUNCTION tsquery_lexeme_v1(p_lexeme text); Type: ACL; Schema: isokron
--

GRANT ALL ON FUNCTION isokron.tsquery_lexeme_v1(p_lexeme text) TO isokron_runtime;

--
-- Name: FUNCTION workspace_root_v1(p_workspace_id text); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.workspace_root_v1(p_workspace_id text) FROM PUBLIC;

--
-- Name: FUNCTION writable_namespaces_v1(); Type: ACL; Schema: isokron
--

REVOKE ALL ON FUNCTION isokron.writable_namespaces_v1() FROM PUBLIC;
GRANT ALL ON FUNCTION isokron.writable_namespaces_v1() TO isokron_runtime;

--
-- Name: FUNCTION write_agent_scratchpad_v1(p_workspace_id text, p_actor_kind text, p_kind kronicle.scratchpad_kind, p_scope kronicle.scratchpad_visibility_scope, p_content text); Type: ACL; Schema: kronicle
--

REVOKE ALL ON FUNCTION kronicle.write_agent_scratchpad_v1(p_workspace_id text, p_actor_kind text, p_kind kronicle.scratchpad_kind, p_scope kronicle.scratchpad_visibility_scope, p_content text) FROM PUBLIC;
GRANT ALL ON FUNCTION kronicle.write_agent_scratchpad_v1(p_workspace_id text, p_actor_kind text, p_kind kronicle.scratchpad_kind, p_scope kronicle.scratchpad_visibility_scope, p_content text) TO isokron_runtime;

--
-- Name: TABLE chain_anchor; Type: ACL; Schema: hivex_foundation
--

GRANT SELECT ON TABLE hivex_foundation.chain_anchor TO isokron_runtime;
GRANT SELECT,INSERT,UPDATE ON TABLE hivex_foundation.chain_anchor TO isokron_definer;

--
-- Name: TABLE event_log; Type: ACL; Schema: hivex_foundation
--

GRANT SELECT ON TABLE hivex_foundation.event_log TO isokron_runtime;
GRANT SELECT,INSERT ON TABLE hivex_foundation.event_log TO isokron_definer;

--
-- Name: TABLE tenant; Type: ACL; Schema: hivex_foundation
--

GRANT SELECT ON TABLE hivex_foundation.tenant TO isokron_runtime;
GRANT SELECT,UPDATE ON TABLE hivex_foundation.tenant TO isokron_definer;

--
-- Name: TABLE agent_episodic_events; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT ON TABLE isokron.agent_episodic_events TO isokron_runtime;
GRANT SELECT,DELETE ON TABLE isokron.agent_episodic_events TO isokron_definer;

--
-- Name: TABLE agent_messages; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE ON TABLE isokron.agent_messages TO isokron_runtime;
GRANT SELECT,DELETE ON TABLE isokron.agent_messages TO isokron_definer;

--
-- Name: COLUMN agent_messages.embedding_model; Type: ACL; Schema: isokron
--

GRANT UPDATE(embedding_model) ON TABLE isokron.agent_messages TO isokron_definer;

--
-- Name: TABLE agent_sessions; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE isokron.agent_sessions TO isokron_runtime;
GRANT SELECT,DELETE ON TABLE isokron.agent_sessions TO isokron_definer;

--
-- Name: TABLE context_keys; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE ON TABLE isokron.context_keys TO isokron_context;

--
-- Name: TABLE delegations; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,UPDATE ON TABLE isokron.delegations TO isokron_runtime;
GRANT SELECT,UPDATE ON TABLE isokron.delegations TO isokron_definer;

--
-- Name: TABLE memory_audit; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT ON TABLE isokron.memory_audit TO isokron_runtime;
GRANT SELECT,INSERT ON TABLE isokron.memory_audit TO isokron_definer;

--
-- Name: COLUMN memory_audit.content_sha256; Type: ACL; Schema: isokron
--

GRANT UPDATE(content_sha256) ON TABLE isokron.memory_audit TO isokron_definer;

--
-- Name: SEQUENCE memory_audit_id_seq; Type: ACL; Schema: isokron
--

GRANT USAGE ON SEQUENCE isokron.memory_audit_id_seq TO isokron_runtime;
GRANT USAGE ON SEQUENCE isokron.memory_audit_id_seq TO isokron_definer;

--
-- Name: TABLE memory_namespaces; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE isokron.memory_namespaces TO isokron_runtime;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE isokron.memory_namespaces TO isokron_definer;

--
-- Name: TABLE quota_limits; Type: ACL; Schema: isokron
--

GRANT SELECT ON TABLE isokron.quota_limits TO isokron_definer;

--
-- Name: TABLE quota_usage; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE isokron.quota_usage TO isokron_definer;

--
-- Name: TABLE recall_corpora; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE isokron.recall_corpora TO isokron_definer;

--
-- Name: TABLE recall_lexicon; Type: ACL; Schema: isokron
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE isokron.recall_lexicon TO isokron_definer;

--
-- Name: TABLE schema_migrations; Type: ACL; Schema: isokron
--

GRANT SELECT ON TABLE isokron.schema_migrations TO isokron_definer;

--
-- Name: TABLE workspaces; Type: ACL; Schema: isokron
--

GRANT SELECT ON TABLE isokron.workspaces TO isokron_runtime;
GRANT SELECT,INSERT ON TABLE isokron.workspaces TO isokron_definer;

--
-- Name: TABLE agent_scratchpad_entries; Type: ACL; Schema: kronicle
--

GRANT SELECT ON TABLE kronicle.agent_scratchpad_entries TO isokron_runtime;
GRANT SELECT,INSERT ON TABLE kronicle.agent_scratchpad_entries TO isokron_definer;

--
-- Name: TABLE workspace_constitution_revisions; Type: ACL; Schema: kronicle
--

GRANT SELECT ON TABLE kronicle.workspace_constitution_revisions TO isokron_runtime;

--
-- Name: TABLE actor_capability_matrix; Type: ACL; Schema: public
--

GRANT SELECT ON TABLE public.actor_capability_matrix TO isokron_runtime;
GRANT SELECT ON TABLE public.actor_capability_matrix TO isokron_definer;

--
-- Name: TABLE actor_registry; Type: ACL; Schema: public
--

GRANT SELECT ON TABLE public.actor_registry TO isokron_runtime;
GRANT SELECT ON TABLE public.actor_registry TO isokron_definer;

--
-- Name: TABLE kora_policy_registry; Type: ACL; Schema: public
--

GRANT SELECT ON TABLE public.kora_policy_registry TO isokron_runtime;

--
-- Name: TABLE kora_role_charter; Type: ACL; Schema: public
--

GRANT SELECT ON TABLE public.kora_role_charter TO isokron_runtime;

-- pgvector is optional (0003, 0021): add the embedding columns and their functions when the server has it.
RESET search_path;
SELECT isokron.enable_vectors_v1();

-- The migrations this schema is the result of: migrate() then has nothing to do.
INSERT INTO isokron.schema_migrations (name, checksum) VALUES
    ('0001_substrate', '31bab3c87479500cd459a96bc13fc523cab5c0f080a6c5b677f3a30ec1823e8d'),
    ('0002_isokron_stores', '4e5f64e6d95b78b12d9b9e5b5d76ac88fb8345dde02f28a8ac7b2380c16e6a63'),
    ('0003_memory_embeddings', 'db3a5c60187dbd16a410be9c2d7df649f846e3dcc5607282aebc5131e26e05d1'),
    ('0004_tenancy', '882286dbab7e94e1517dc757a8b1beae10341803e81b903709282cab5da707c9'),
    ('0005_read_context', '2eac3efb40be8cc3a6df0cf95ca1b9baafbfc08e65f2900a98412ace40d4d24f'),
    ('0006_store_functions', '2de1ceb42fd404a5e4b4d85d8b70278e95ca3aa77d17f88e8194b41b087f42e4'),
    ('0007_episodic_functions', '5e6ad2949861652d4b0ae9e8cbf3975634752a2eacf14e3148399c05c90e2bfb'),
    ('0008_memory_commit_many', '5ebc9bda45bcb4d372ee0a9ec8bb6fd8a0ed256cb50b8d8a32118a5c5daefe0e'),
    ('0009_bounded_identity_reads', 'afd30e06d46307e0af3798e3a758802eadbf52c691c08275077050f064b2d072'),
    ('0010_lean_writes', '779387432bb0af3c83c4c1d45844f1a6e2bbb9d64a1d21914ff5ecb05b52c197'),
    ('0011_memory_fts_index', '24544afad2b52b9e1698c4c006014a8f01dd7f38855c49ee0e9021dc73f7243c'),
    ('0012_delegation_transitions', '1005f50a56c1f4bb0170231d5c7dcc17133c4136a5d3293bdbe25db0f3973ee1'),
    ('0013_episodic_order', 'c03aba23eae5ce52ff5749351f52c3f16b27a6fe6d9de8db7091efdbc6ad8b36'),
    ('0014_session_lifecycle', '0ea2a7b3b067af09924ad2b77e4ad90adfeedfbe2155b79831207e2a6217c64a'),
    ('0015_memory_expiry', 'e8eed2c2a99d05ecce139b2855798a7d2968d821ef91ba9fe8ea51745c56a080'),
    ('0016_namespace_lifecycle', '782083a238a84e7d4bb1bac2ec30e4717fbfe9d7b6a1310d03af89505faa0443'),
    ('0017_memory_export', '4bd2839f0082e000930d9de7fabaf17f01ac86e7ea61b299c00e749bd1c4bf40'),
    ('0018_distribution_keys', '4ada576059aadc9eadfa3ea7285cd124097b9673ae8308c8d7052487261bd86e'),
    ('0019_session_items', '048571a057343c76c79dec94fe54d1ef73ebcd55573cbdd61a2734bc850f7a17'),
    ('0020_recall', '28a070db830a82babad1acdb8f262eefb27f0c11cb09285d9a86c70adb8a4f5e'),
    ('0021_embeddings', 'c05109093e3dfd425ea4214e6b405e13939626053e06b39e33f394dc3f6a9e35'),
    ('0022_boundaries', '990cd924908406cb0ffe37704bb780825fc2a0e7d6b502ec3228d94e815dcddd'),
    ('0023_lean_context', 'ea57eacf4105220295e854f9f8faa017273394c76a37e708a00cf4f1c5bbdeb6'),
    ('0024_context_fast', '86dd7e43151534d44bc0612c0ddd232c9a2fb62548185004ad021ae8136d2197'),
    ('0025_context_one_query', 'df97e800b6cdfe689eea032ed11741881ac05c8881f675a16b3f24f9c00558d3'),
    ('0026_context_lifetime', '372e322fd94c13efb13cec281f1db2628256769542bc3e56bd78dff9f5e7502d'),
    ('0027_chain_v2', '7c33bbb622f1a3b159f380a4457a836b93691f71e1cbb216030507f6e57beb73'),
    ('0028_quotas', 'd84e387741f3e8fabcd222302cb39b3482f1764782181853d12b451267cdd5ea'),
    ('0029_search_words', '3493255689cdfcfa96ea8db00c9db9d37e4a4318fe0bc1a033d758a41ffc63c8'),
    ('0030_quota_gaps', '1c6fbd0875f1f8ba95b646601db68a758a26bd531736b282e5cccb4e92e16ecf'),
    ('0031_memory_lifecycle', '83d03534809864a90197482189f218401c381168cce5de16c5bb25d5adfd09d0'),
    ('0032_memory_truth', 'd4e12bb5f9f039c26b5faab6825d413a6246bba7f1500eca0e2d164f473b8db7'),
    ('0033_recall_current', '9a3303c59f3e2b708a8670471835a97e8cd71af14712f193e62b2bf36e0b0b7c'),
    ('0034_erasure', 'b8e3aa95f8d48d3a3878a45e989e80207e6e21587f39517f22aafbff690b83ee'),
    ('0035_near_duplicates', 'ed5b7287c09baf3dced364c3614951f5a47518a7951fe77d5ea5ac96c0850038'),
    ('0036_memory_attribution', '0764d36ae27a927c5e54156c1818dd404425bfb063afe184207911334aaed61b'),
    ('0037_lean_episodes', '3e28b51bd66cbb6ca30571bf791ed0f0dc7f3b32d9fd23146570d25228031558'),
    ('0038_quota_static', '548258cc3e1b07b59839deb241e5fc9699c6b72e46c5abad7b67b12d33367244'),
    ('0039_commit_once', 'fb86f2048b703cb8ea99efe168c4dd364ce11bde9c52a6bd9568608b17338c58'),
    ('0040_episode_one', '8427363882c9a15787fbd7d88858b85a4f00b3b5f2d25e3d48b60981c16fda6d'),
    ('0041_quota_skip_empty', '59bac7d259d244c0222c349ce32184021de877f9e0ba08dcc2e87119b7137a34');
