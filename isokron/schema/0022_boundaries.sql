-- Boundaries that hold under attack (issue 23).
--
-- 1. A tenant context a hijacked connection cannot forge. Every policy and function reads
--    the transaction's context through isokron.context_claims_v1(): without an installed
--    context key that is the plain settings (app.current_workspace_id, app.current_tenant_id,
--    app.current_user_id), exactly as before; once the operator has installed a key
--    (`isokron context-key set`), it is only what a token in isokron.context_token says,
--    and only when its HMAC-SHA256 signature verifies with an installed key and it has not
--    expired. The keys live in a table only isokron_context (NOLOGIN, not a superuser) can
--    read; the runtime role cannot. The plain settings are then ignored.
-- 2. Row-level security on the substrate tables isokron ships (actors, charters, the
--    capability matrix, tenants, the event log), ENABLEd and FORCEd, keyed by the context.
-- 3. Every SECURITY DEFINER function owned by a NOLOGIN role that is not a superuser.
-- 4. A team namespace's lifecycle (patch, delete) belongs to the team's owner, and every
--    lifecycle change of a shared namespace is audited.
-- 5. Imports name their target tree, are validated in full, marked, audited, and only the
--    schema owner may run them (the path that redacts: isokron.stores.import_memory).

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
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT isokron_context TO %I', current_user);
    END IF;
END
$$;
GRANT USAGE ON SCHEMA isokron TO isokron_context;

-- 1. The context ------------------------------------------------------------------------

-- An installed key: its fingerprint (the first 16 hex digits of sha256(sha256(key))) and
-- the two HMAC pads (key XOR 0x36…, key XOR 0x5c…, RFC 2104), never the key in clear.
CREATE TABLE isokron.context_keys (
    fingerprint text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    inner_pad bytea NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad bytea NOT NULL CHECK (length(outer_pad) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE isokron.context_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.context_keys FORCE ROW LEVEL SECURITY;
REVOKE ALL ON isokron.context_keys FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON isokron.context_keys TO isokron_context;
CREATE POLICY context_keys_verifier ON isokron.context_keys TO isokron_context
    USING (true) WITH CHECK (true);

-- The verified context of this transaction as {"wsp", "tnt", "sub"} (absent keys: not set).
-- Raises IKC01 for a token that is malformed, signed by no installed key, or expired.
CREATE FUNCTION isokron.context_claims_v1() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_token text;
    v_signed text;
    v_body text;
    v_claims jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM isokron.context_keys) THEN
        RETURN jsonb_strip_nulls(jsonb_build_object(
            'wsp', current_setting('app.current_workspace_id', true),
            'tnt', current_setting('app.current_tenant_id', true),
            'sub', current_setting('app.current_user_id', true)));
    END IF;
    v_token := current_setting('isokron.context_token', true);
    IF v_token IS NULL OR v_token = '' THEN
        RETURN '{}'::jsonb;  -- the plain settings count for nothing once a key is installed
    END IF;
    IF length(v_token) > 4096
       OR v_token !~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$' THEN
        RAISE EXCEPTION 'the tenant context token is malformed (not a compact HS256 JWT)'
            USING ERRCODE = 'IKC01';
    END IF;
    v_signed := split_part(v_token, '.', 1) || '.' || split_part(v_token, '.', 2);
    IF NOT EXISTS (
        SELECT 1 FROM isokron.context_keys k
         WHERE rtrim(translate(encode(sha256(k.outer_pad || sha256(
                   k.inner_pad || convert_to(v_signed, 'UTF8'))), 'base64'), '+/', '-_'), '=')
               = split_part(v_token, '.', 3)) THEN
        RAISE EXCEPTION 'the tenant context token''s signature does not verify with any installed context key'
            USING ERRCODE = 'IKC01',
                  HINT = 'the application signs with a key that `isokron context-key set` has not installed';
    END IF;
    v_body := translate(split_part(v_token, '.', 2), '-_', '+/');
    v_claims := convert_from(decode(rpad(v_body, (length(v_body) + 3) / 4 * 4, '='), 'base64'),
                             'UTF8')::jsonb;
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
ALTER FUNCTION isokron.context_claims_v1() OWNER TO isokron_context;

CREATE FUNCTION isokron.context_workspace_v1() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT isokron.context_claims_v1() ->> 'wsp' $$;
CREATE FUNCTION isokron.context_tenant_v1() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT isokron.context_claims_v1() ->> 'tnt' $$;
CREATE FUNCTION isokron.context_user_v1() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT isokron.context_claims_v1() ->> 'sub' $$;

-- 'signed' once a key is installed, else 'plain' (says nothing about the keys themselves).
CREATE FUNCTION isokron.context_mode_v1() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN EXISTS (SELECT 1 FROM isokron.context_keys) THEN 'signed'
                  ELSE 'plain' END $$;
ALTER FUNCTION isokron.context_mode_v1() OWNER TO isokron_context;

-- The operator's key management (the schema owner; granted to nobody).
CREATE FUNCTION isokron.install_context_key_v1(p_fingerprint text, p_inner bytea,
                                               p_outer bytea) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    WITH ins AS (
        INSERT INTO isokron.context_keys (fingerprint, inner_pad, outer_pad)
        VALUES (p_fingerprint, p_inner, p_outer)
        ON CONFLICT (fingerprint) DO NOTHING RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM ins)
$$;
CREATE FUNCTION isokron.remove_context_key_v1(p_fingerprint text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    WITH del AS (DELETE FROM isokron.context_keys WHERE fingerprint = p_fingerprint
                 RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM del)
$$;
CREATE FUNCTION isokron.context_keys_v1() RETURNS TABLE(fingerprint text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT k.fingerprint, k.created_at FROM isokron.context_keys k ORDER BY k.created_at $$;
ALTER FUNCTION isokron.install_context_key_v1(text, bytea, bytea) OWNER TO isokron_context;
ALTER FUNCTION isokron.remove_context_key_v1(text) OWNER TO isokron_context;
ALTER FUNCTION isokron.context_keys_v1() OWNER TO isokron_context;
REVOKE ALL ON FUNCTION isokron.install_context_key_v1(text, bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION isokron.remove_context_key_v1(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION isokron.context_keys_v1() FROM PUBLIC;

-- Every function and policy that read the plain settings reads the context instead: the
-- same text with each current_setting('app.…', true) swapped for the context function, as
-- a scalar subquery (evaluated once per statement, an InitPlan, not once per row).
DO $$
DECLARE
    r record;
    v_def text;
    v_using text;
    v_check text;
    v_swap CONSTANT text[][] := ARRAY[
        ARRAY['current_setting(''app.current_workspace_id'', true)',
              '(SELECT isokron.context_workspace_v1())'],
        ARRAY['current_setting(''app.current_tenant_id'', true)',
              '(SELECT isokron.context_tenant_v1())'],
        ARRAY['current_setting(''app.current_user_id'', true)',
              '(SELECT isokron.context_user_v1())'],
        ARRAY['current_setting(''app.current_workspace_id''::text, true)',
              '( SELECT isokron.context_workspace_v1())'],
        ARRAY['current_setting(''app.current_tenant_id''::text, true)',
              '( SELECT isokron.context_tenant_v1())'],
        ARRAY['current_setting(''app.current_user_id''::text, true)',
              '( SELECT isokron.context_user_v1())']];
    i int;
BEGIN
    FOR r IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('isokron', 'kronicle', 'hivex_foundation', 'public')
                AND p.prosrc LIKE '%current_setting(''app.%'
                AND p.oid <> 'isokron.context_claims_v1()'::regprocedure
    LOOP
        v_def := pg_get_functiondef(r.oid);
        FOR i IN 1 .. 3 LOOP
            v_def := replace(v_def, v_swap[i][1], v_swap[i][2]);
        END LOOP;
        EXECUTE v_def;
    END LOOP;
    FOR r IN SELECT pol.polname, c.relname, n.nspname,
                    pg_get_expr(pol.polqual, pol.polrelid) AS q,
                    pg_get_expr(pol.polwithcheck, pol.polrelid) AS w
               FROM pg_policy pol
               JOIN pg_class c ON c.oid = pol.polrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname IN ('isokron', 'kronicle', 'hivex_foundation', 'public')
    LOOP
        v_using := r.q;
        v_check := r.w;
        FOR i IN 4 .. 6 LOOP
            v_using := replace(v_using, v_swap[i][1], v_swap[i][2]);
            v_check := replace(v_check, v_swap[i][1], v_swap[i][2]);
        END LOOP;
        IF v_using IS DISTINCT FROM r.q OR v_check IS DISTINCT FROM r.w THEN
            EXECUTE format('ALTER POLICY %I ON %I.%I', r.polname, r.nspname, r.relname)
                || CASE WHEN v_using IS NOT NULL THEN ' USING (' || v_using || ')' ELSE '' END
                || CASE WHEN v_check IS NOT NULL THEN ' WITH CHECK (' || v_check || ')'
                        ELSE '' END;
        END IF;
    END LOOP;
END
$$;

-- The vector functions are generated (enable_vectors_v1); their generators were swapped
-- above, and those already generated too. Nothing may read the plain settings but the
-- context itself: a function or policy that still does is a bypass.
DO $$
DECLARE
    v_left text;
BEGIN
    SELECT string_agg(p.oid::regprocedure::text, ', ') INTO v_left
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('isokron', 'kronicle', 'hivex_foundation', 'public')
       AND p.prosrc LIKE '%current_setting(''app.%'
       AND p.oid <> 'isokron.context_claims_v1()'::regprocedure;
    IF v_left IS NULL THEN
        SELECT string_agg(pol.polname, ', ') INTO v_left
          FROM pg_policy pol
         WHERE coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') LIKE '%current_setting(%'
            OR coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '') LIKE '%current_setting(%';
    END IF;
    IF v_left IS NOT NULL THEN
        RAISE EXCEPTION 'still reading the plain settings: %', v_left;
    END IF;
END
$$;

-- 2. Row-level security on the substrate tables ------------------------------------------

ALTER TABLE public.actor_registry ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.actor_registry FORCE ROW LEVEL SECURITY;
CREATE POLICY actor_registry_workspace ON public.actor_registry FOR SELECT
    USING (workspace_id = (SELECT isokron.context_workspace_v1()));

ALTER TABLE public.kora_role_charter ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.kora_role_charter FORCE ROW LEVEL SECURITY;
CREATE POLICY kora_role_charter_workspace ON public.kora_role_charter FOR SELECT
    USING (workspace_id = (SELECT isokron.context_workspace_v1()));

-- Global reference data (per actor kind, no workspace): readable by all, written by none
-- but its owner.
ALTER TABLE public.actor_capability_matrix ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.actor_capability_matrix FORCE ROW LEVEL SECURITY;
CREATE POLICY actor_capability_matrix_read ON public.actor_capability_matrix FOR SELECT
    USING (true);

ALTER TABLE hivex_foundation.tenant ENABLE ROW LEVEL SECURITY;
ALTER TABLE hivex_foundation.tenant FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_workspace ON hivex_foundation.tenant FOR SELECT
    USING (clerk_org_id = (SELECT isokron.context_workspace_v1()));
-- append_event_v1 locks its tenant's row (FOR UPDATE) to serialise the chain.
CREATE POLICY tenant_append_lock ON hivex_foundation.tenant FOR UPDATE TO isokron_definer
    USING (clerk_org_id = (SELECT isokron.context_workspace_v1())) WITH CHECK (false);

ALTER TABLE hivex_foundation.event_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE hivex_foundation.event_log FORCE ROW LEVEL SECURITY;
CREATE POLICY event_log_workspace ON hivex_foundation.event_log FOR SELECT
    USING (tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                         WHERE t.clerk_org_id = (SELECT isokron.context_workspace_v1())));
CREATE POLICY event_log_append ON hivex_foundation.event_log FOR INSERT TO isokron_definer
    WITH CHECK (tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                              WHERE t.clerk_org_id = (SELECT isokron.context_workspace_v1())));

-- 3. The two substrate write functions were owned by whoever migrated (often a superuser,
-- which bypasses every policy): they now run as isokron_definer, under the policies above.
GRANT USAGE ON SCHEMA hivex_foundation, kronicle, public TO isokron_definer;
GRANT SELECT ON public.actor_registry, public.actor_capability_matrix TO isokron_definer;
GRANT SELECT, UPDATE ON hivex_foundation.tenant TO isokron_definer;
GRANT SELECT, INSERT ON hivex_foundation.event_log TO isokron_definer;
GRANT SELECT, INSERT ON kronicle.agent_scratchpad_entries TO isokron_definer;
ALTER FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid) OWNER TO isokron_definer;
ALTER FUNCTION kronicle.write_agent_scratchpad_v1(text, text, kronicle.scratchpad_kind,
    kronicle.scratchpad_visibility_scope, text) OWNER TO isokron_definer;

-- 4. Team namespaces belong to the team's owner ------------------------------------------

-- What the transaction's workspace owns: its own namespace, the team of which it is the
-- parent (team:<self>), and org:<root> when it is the root.
CREATE FUNCTION isokron.owned_namespaces_v1() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN w.workspace_id IS NULL THEN '{}'::text[]
                ELSE ARRAY['workspace:' || w.workspace_id, 'team:' || w.workspace_id]
                     || CASE WHEN w.parent_id IS NULL THEN ARRAY['org:' || w.workspace_id]
                             ELSE '{}'::text[] END END
      FROM (SELECT (SELECT isokron.context_workspace_v1()) AS ws) c
      LEFT JOIN isokron.workspaces w ON w.workspace_id = c.ws
$$;
ALTER FUNCTION isokron.owned_namespaces_v1() OWNER TO isokron_definer;

-- A namespace row may be changed or removed only by its owner (a child writes team:<parent>
-- memories, but cannot expire or delete the namespace).
ALTER POLICY memory_namespaces_update ON isokron.memory_namespaces
    USING (name = ANY ((SELECT isokron.owned_namespaces_v1())::text[]))
    WITH CHECK (name = ANY ((SELECT isokron.owned_namespaces_v1())::text[]));
ALTER POLICY memory_namespaces_delete ON isokron.memory_namespaces
    USING (name = ANY ((SELECT isokron.owned_namespaces_v1())::text[]));

-- Patch / delete a namespace the workspace owns, audited for team: and org:. The owner of
-- team:<self> need not read it (a mid-tree workspace reads its parent's team), so the count
-- and the cascade run here.
CREATE FUNCTION isokron.patch_namespace_v1(p_workspace_id text, p_name text,
                                           p_set_expiry boolean, p_expires_at timestamptz,
                                           p_metadata jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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
CREATE FUNCTION isokron.delete_namespace_v1(p_workspace_id text, p_name text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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
ALTER FUNCTION isokron.patch_namespace_v1(text, text, boolean, timestamptz, jsonb)
    OWNER TO isokron_definer;
ALTER FUNCTION isokron.delete_namespace_v1(text, text) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.patch_namespace_v1(text, text, boolean, timestamptz, jsonb),
    isokron.delete_namespace_v1(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION isokron.patch_namespace_v1(text, text, boolean, timestamptz, jsonb),
    isokron.delete_namespace_v1(text, text) TO isokron_runtime;
GRANT UPDATE, DELETE ON isokron.memory_namespaces TO isokron_definer;
GRANT DELETE ON isokron.memory_records TO isokron_definer;
GRANT INSERT ON isokron.memory_audit TO isokron_definer;
GRANT USAGE ON SEQUENCE isokron.memory_audit_id_seq TO isokron_definer;

-- The sweep audits a team namespace's expiry as it does an org's.
DO $$
DECLARE
    v_def text := pg_get_functiondef('isokron.sweep_memory_expiry_v1(double precision)'::regprocedure);
    v_new text;
BEGIN
    v_new := replace(v_def,
        'SELECT g.name, substr(g.name, 5), ''expire_namespace'' FROM gone g
         WHERE g.name LIKE ''org:%''',
        'SELECT g.name, substr(g.name, strpos(g.name, '':'') + 1), ''expire_namespace''
          FROM gone g
         WHERE g.name LIKE ''org:%'' OR g.name LIKE ''team:%''');
    IF v_new = v_def THEN
        RAISE EXCEPTION 'sweep_memory_expiry_v1 is not the function 0015 created';
    END IF;
    EXECUTE v_new;
END
$$;

-- 5. Imports stay in their tree ----------------------------------------------------------

-- Imported memories are marked (NULL: written live).
ALTER TABLE isokron.memory_records ADD COLUMN imported_at timestamptz;

DROP FUNCTION isokron.import_memory_v1(json);

-- Import one batch of exported items into the tree rooted at p_root, in the caller's
-- transaction (a whole file is one transaction of batches: all or nothing). Refuses, before
-- writing anything of the batch, any item outside the tree: a workspace that is not p_root
-- or a descendant of it (existing, or earlier in the file), a namespace or memory whose tree
-- is another; a memory dated in the future or with an unknown kind or source. Org writes are
-- audited as live ones are ('import'). Owner only: the stores' import_memory redacts first.
CREATE FUNCTION isokron.import_memory_v2(p_root text, p_items json)
RETURNS TABLE(workspaces bigint, namespaces bigint, memories bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
ALTER FUNCTION isokron.import_memory_v2(text, json) OWNER TO isokron_definer;
REVOKE ALL ON FUNCTION isokron.import_memory_v2(text, json) FROM PUBLIC;
