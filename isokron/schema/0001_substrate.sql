-- The reference substrate: read tables, chain log, write functions (SUBSTRATE.md).

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'isokron_runtime') THEN
        CREATE ROLE isokron_runtime NOLOGIN;
    END IF;
EXCEPTION
    -- Roles are cluster-wide: another database's migration may have just made it.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE SCHEMA IF NOT EXISTS kronicle;
CREATE SCHEMA IF NOT EXISTS hivex_foundation;

-- actors ---------------------------------------------------------------------
CREATE TABLE public.actor_registry (
    actor_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id text NOT NULL,
    actor_kind   text NOT NULL,
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, actor_kind, display_name)
);
CREATE INDEX actor_registry_workspace_kind_idx ON public.actor_registry (workspace_id, actor_kind);

-- role charter (no RLS: the workspace filter is the isolation) ---------------
CREATE TABLE public.kora_role_charter (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id   text NOT NULL,
    schema_version text NOT NULL,
    content_md     text,
    content_jsonb  jsonb NOT NULL,
    content_hash   text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    superseded_at  timestamptz
);
CREATE UNIQUE INDEX kora_role_charter_one_active_idx
    ON public.kora_role_charter (workspace_id) WHERE superseded_at IS NULL;

-- policy registry (RLS) -------------------------------------------------------
CREATE TABLE public.kora_policy_registry (
    workspace_id text NOT NULL,
    policy_path  text NOT NULL,
    policy_value jsonb NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, policy_path)
);
ALTER TABLE public.kora_policy_registry ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.kora_policy_registry FORCE ROW LEVEL SECURITY;
CREATE POLICY kora_policy_registry_workspace ON public.kora_policy_registry
    USING (workspace_id = current_setting('app.current_workspace_id', true));

-- capability matrix -----------------------------------------------------------
CREATE TABLE public.actor_capability_matrix (
    cap_name   text NOT NULL CHECK (cap_name ~ '^cap_[a-z0-9_]+$'),
    actor_kind text NOT NULL,
    granted    boolean NOT NULL,
    PRIMARY KEY (cap_name, actor_kind)
);
CREATE INDEX actor_capability_matrix_kind_idx ON public.actor_capability_matrix (actor_kind);

-- scratchpad (RLS) -------------------------------------------------------------
CREATE TYPE kronicle.scratchpad_kind AS ENUM (
    'reasoning_trail', 'hypothesis', 'discarded_option', 'override_rationale',
    'self_critique', 'route_decision', 'compacted_summary'
);
CREATE TYPE kronicle.scratchpad_visibility_scope AS ENUM (
    'agent_private', 'cross_agent_dereferenceable'
);
CREATE TABLE kronicle.agent_scratchpad_entries (
    scratchpad_entry_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id        text NOT NULL,
    actor_id            uuid NOT NULL REFERENCES public.actor_registry (actor_id),
    scratchpad_kind     kronicle.scratchpad_kind NOT NULL,
    visibility_scope    kronicle.scratchpad_visibility_scope NOT NULL DEFAULT 'agent_private',
    content_inline      text,
    content_uri         text,
    content_hash        text NOT NULL,
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'superseded', 'invalidated', 'tombstoned')),
    approved_event_id   uuid NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_scratchpad_entries_one_content
        CHECK ((content_inline IS NULL) <> (content_uri IS NULL))
);
CREATE INDEX agent_scratchpad_entries_ws_created_idx
    ON kronicle.agent_scratchpad_entries (workspace_id, created_at DESC)
    WHERE status = 'active';
CREATE INDEX agent_scratchpad_entries_actor_idx
    ON kronicle.agent_scratchpad_entries (actor_id, created_at DESC);
ALTER TABLE kronicle.agent_scratchpad_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE kronicle.agent_scratchpad_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY agent_scratchpad_entries_workspace ON kronicle.agent_scratchpad_entries
    USING (workspace_id = current_setting('app.current_workspace_id', true));

-- tenants and the hash-chained event log ---------------------------------------
CREATE TABLE hivex_foundation.tenant (
    tenant_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    clerk_org_id text UNIQUE NOT NULL,
    display_name text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE hivex_foundation.event_log (
    event_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES hivex_foundation.tenant (tenant_id),
    seq             bigint NOT NULL,
    event_type      text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    actor_id        uuid,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    prev_event_hash text,
    this_event_hash text NOT NULL,
    UNIQUE (tenant_id, seq)
);
CREATE INDEX event_log_tenant_type_idx
    ON hivex_foundation.event_log (tenant_id, event_type text_pattern_ops, seq DESC);

CREATE FUNCTION hivex_foundation.event_log_reject_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hivex_foundation.event_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER event_log_append_only
    BEFORE UPDATE OR DELETE ON hivex_foundation.event_log
    FOR EACH ROW EXECUTE FUNCTION hivex_foundation.event_log_reject_mutation();
CREATE TRIGGER event_log_no_truncate
    BEFORE TRUNCATE ON hivex_foundation.event_log
    FOR EACH STATEMENT EXECUTE FUNCTION hivex_foundation.event_log_reject_mutation();

CREATE FUNCTION hivex_foundation.event_hash_v1(
    p_prev text, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(concat_ws('|', coalesce(p_prev, ''), p_tenant::text,
        p_seq::text, p_type, p_payload::text), 'UTF8')), 'hex')
$$;

CREATE FUNCTION hivex_foundation.append_event_v1(
    p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tenant  uuid;
    v_seq     bigint;
    v_prev    text;
    v_payload jsonb := coalesce(p_payload, '{}'::jsonb);
    v_id      uuid := gen_random_uuid();
BEGIN
    IF p_event_type IS NULL OR p_event_type !~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' THEN
        RAISE EXCEPTION 'invalid event_type %', quote_nullable(p_event_type)
            USING ERRCODE = 'invalid_parameter_value';
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
    SELECT e.seq, e.this_event_hash INTO v_seq, v_prev
      FROM hivex_foundation.event_log e
     WHERE e.tenant_id = v_tenant
     ORDER BY e.seq DESC
     LIMIT 1;
    v_seq := coalesce(v_seq, 0) + 1;
    INSERT INTO hivex_foundation.event_log
        (event_id, tenant_id, seq, event_type, payload, actor_id, prev_event_hash, this_event_hash)
    VALUES (v_id, v_tenant, v_seq, p_event_type, v_payload, p_actor_id, v_prev,
            hivex_foundation.event_hash_v1(v_prev, v_tenant, v_seq, p_event_type, v_payload));
    RETURN v_id;
END
$$;

CREATE FUNCTION hivex_foundation.verify_chain_v1(p_workspace_id text) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_expected_seq  bigint := 1;
    v_prev          text := NULL;
    r               record;
BEGIN
    FOR r IN
        SELECT e.seq, e.tenant_id, e.event_type, e.payload, e.prev_event_hash, e.this_event_hash
          FROM hivex_foundation.event_log e
          JOIN hivex_foundation.tenant t ON t.tenant_id = e.tenant_id
         WHERE t.clerk_org_id = p_workspace_id
         ORDER BY e.seq
    LOOP
        IF r.seq <> v_expected_seq
           OR r.prev_event_hash IS DISTINCT FROM v_prev
           OR r.this_event_hash IS DISTINCT FROM hivex_foundation.event_hash_v1(
                  r.prev_event_hash, r.tenant_id, r.seq, r.event_type, r.payload) THEN
            RETURN least(r.seq, v_expected_seq);
        END IF;
        v_prev := r.this_event_hash;
        v_expected_seq := v_expected_seq + 1;
    END LOOP;
    RETURN NULL;
END
$$;

-- constitution (RLS) -----------------------------------------------------------
CREATE TABLE kronicle.workspace_constitution_revisions (
    revision_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    text NOT NULL,
    revision_number integer NOT NULL,
    rules_jsonb     jsonb NOT NULL DEFAULT '[]',
    rules_hash      bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, revision_number)
);
ALTER TABLE kronicle.workspace_constitution_revisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE kronicle.workspace_constitution_revisions FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_constitution_revisions_workspace
    ON kronicle.workspace_constitution_revisions
    USING (workspace_id = current_setting('app.current_workspace_id', true));

-- the scratchpad write function (used by the substrate transport) ---------------
CREATE FUNCTION kronicle.write_agent_scratchpad_v1(
    p_workspace_id text, p_actor_kind text, p_kind kronicle.scratchpad_kind,
    p_scope kronicle.scratchpad_visibility_scope, p_content text
) RETURNS TABLE (scratchpad_entry_id uuid, approved_event_id uuid)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor uuid;
    v_event uuid;
    v_entry uuid := gen_random_uuid();
BEGIN
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
        RAISE EXCEPTION 'no % actor registered in workspace %', p_actor_kind,
            quote_nullable(p_workspace_id) USING ERRCODE = 'no_data_found';
    END IF;
    v_event := hivex_foundation.append_event_v1(
        p_workspace_id, p_actor_kind || '.scratchpad.written',
        jsonb_build_object('scratchpad_entry_id', v_entry, 'kind', p_kind, 'scope', p_scope),
        v_actor);
    PERFORM set_config('app.current_workspace_id', p_workspace_id, true);
    INSERT INTO kronicle.agent_scratchpad_entries
        (scratchpad_entry_id, workspace_id, actor_id, scratchpad_kind, visibility_scope,
         content_inline, content_hash, approved_event_id)
    VALUES (v_entry, p_workspace_id, v_actor, p_kind, p_scope, p_content,
            encode(sha256(convert_to(p_content, 'UTF8')), 'hex'), v_event);
    RETURN QUERY SELECT v_entry, v_event;
END
$$;

-- privileges --------------------------------------------------------------------
REVOKE ALL ON FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION hivex_foundation.verify_chain_v1(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION kronicle.write_agent_scratchpad_v1(
    text, text, kronicle.scratchpad_kind, kronicle.scratchpad_visibility_scope, text) FROM PUBLIC;

GRANT USAGE ON SCHEMA public, kronicle, hivex_foundation TO isokron_runtime;
GRANT SELECT ON public.actor_registry, public.kora_role_charter, public.kora_policy_registry,
    public.actor_capability_matrix, kronicle.agent_scratchpad_entries,
    hivex_foundation.tenant, hivex_foundation.event_log,
    kronicle.workspace_constitution_revisions TO isokron_runtime;
GRANT EXECUTE ON FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid),
    hivex_foundation.verify_chain_v1(text),
    hivex_foundation.event_hash_v1(text, uuid, bigint, text, jsonb),
    kronicle.write_agent_scratchpad_v1(text, text, kronicle.scratchpad_kind,
        kronicle.scratchpad_visibility_scope, text)
    TO isokron_runtime;
