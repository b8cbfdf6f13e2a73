-- isokron's own stores (SUBSTRATE.md, "isokron's own stores").

GRANT USAGE ON SCHEMA isokron TO isokron_runtime;
GRANT SELECT ON isokron.schema_migrations TO isokron_runtime;

-- per-agent episodic events: append-only ---------------------------------------
CREATE TABLE isokron.agent_episodic_events (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id             uuid NOT NULL REFERENCES public.actor_registry (actor_id) ON DELETE CASCADE,
    created_at           timestamptz NOT NULL DEFAULT now(),
    event_type           varchar(64) NOT NULL CHECK (event_type <> ''),
    sender               varchar(128),
    recipient            varchar(128),
    body                 jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(body) = 'object'),
    inference_receipt_id varchar(64),
    audit_event_hash     varchar(64)
);
CREATE INDEX agent_episodic_events_agent_created_idx
    ON isokron.agent_episodic_events (agent_id, created_at DESC);
CREATE INDEX agent_episodic_events_agent_type_created_idx
    ON isokron.agent_episodic_events (agent_id, event_type, created_at DESC);
GRANT SELECT, INSERT ON isokron.agent_episodic_events TO isokron_runtime;

-- delegation ledger --------------------------------------------------------------
CREATE TABLE isokron.delegations (
    delegation_id   text PRIMARY KEY,
    workspace_id    text NOT NULL,
    caller_id       uuid NOT NULL,
    callee_id       uuid NOT NULL,
    task_preview    text NOT NULL CHECK (char_length(task_preview) <= 4096),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'dispatched', 'in_progress', 'completed',
                                      'failed', 'stuck')),
    last_heartbeat  timestamptz,
    deadline        timestamptz NOT NULL DEFAULT now() + interval '6 hours',
    result_preview  text,
    error_detail    text,
    retry_count     integer NOT NULL DEFAULT 0,
    idempotency_key text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delegations_in_flight_heartbeat_idx
    ON isokron.delegations (last_heartbeat NULLS FIRST)
    WHERE status IN ('queued', 'dispatched', 'in_progress', 'stuck');
CREATE UNIQUE INDEX delegations_caller_idempotency_key_idx
    ON isokron.delegations (caller_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX delegations_caller_created_idx ON isokron.delegations (caller_id, created_at DESC);
CREATE INDEX delegations_callee_created_idx ON isokron.delegations (callee_id, created_at DESC);
GRANT SELECT, INSERT, UPDATE ON isokron.delegations TO isokron_runtime;

-- namespaced memory -------------------------------------------------------------------
CREATE TABLE isokron.workspaces (
    workspace_id text PRIMARY KEY,
    parent_id    text REFERENCES isokron.workspaces (workspace_id),
    display_name text,
    status       text NOT NULL DEFAULT 'active',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspaces_parent_idx ON isokron.workspaces (parent_id);

CREATE TABLE isokron.memory_namespaces (
    name       text PRIMARY KEY
               CHECK (name ~ '^[a-z]+:[A-Za-z0-9_:.\-]+$' AND char_length(name) <= 256),
    kind       text NOT NULL CHECK (kind IN ('workspace', 'team', 'org', 'custom')),
    expires_at timestamptz,
    metadata   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE isokron.memory_records (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    namespace  text NOT NULL REFERENCES isokron.memory_namespaces (name) ON DELETE CASCADE,
    content    text NOT NULL CHECK (btrim(content) <> ''),
    kind       text NOT NULL DEFAULT 'fact' CHECK (kind IN ('fact', 'summary', 'checkpoint')),
    source     text NOT NULL DEFAULT 'agent' CHECK (source IN ('agent', 'runtime', 'user')),
    pin        boolean NOT NULL DEFAULT false,
    expires_at timestamptz,
    metadata   jsonb NOT NULL DEFAULT '{}',
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memory_records_search_tsv_idx ON isokron.memory_records USING gin (search_tsv);
CREATE INDEX memory_records_namespace_created_idx
    ON isokron.memory_records (namespace, pin DESC, created_at DESC);

CREATE TABLE isokron.memory_audit (
    id             bigserial PRIMARY KEY,
    memory_id      uuid,
    namespace      text,
    workspace_id   text,
    action         text NOT NULL,
    content_sha256 text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memory_audit_namespace_created_idx ON isokron.memory_audit (namespace, created_at DESC);

GRANT SELECT ON isokron.workspaces TO isokron_runtime;
GRANT SELECT, INSERT, UPDATE ON isokron.memory_namespaces TO isokron_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON isokron.memory_records TO isokron_runtime;
GRANT SELECT, INSERT ON isokron.memory_audit TO isokron_runtime;
GRANT USAGE ON SEQUENCE isokron.memory_audit_id_seq TO isokron_runtime;

-- agent sessions and messages (RLS per tenant and user) -------------------------------
CREATE TABLE isokron.agent_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    agent_name text NOT NULL,
    title      text,
    state      jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_sessions_tenant_user_updated_idx
    ON isokron.agent_sessions (tenant_id, user_id, updated_at DESC);

CREATE TABLE isokron.agent_messages (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES isokron.agent_sessions (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    role       text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content    text,
    tool_calls jsonb,
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, seq)
);

ALTER TABLE isokron.agent_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.agent_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY agent_sessions_tenant_user ON isokron.agent_sessions
    USING (tenant_id = current_setting('app.current_tenant_id', true)
           AND user_id = current_setting('app.current_user_id', true));
ALTER TABLE isokron.agent_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE isokron.agent_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY agent_messages_tenant_user ON isokron.agent_messages
    USING (tenant_id = current_setting('app.current_tenant_id', true)
           AND user_id = current_setting('app.current_user_id', true));

GRANT SELECT, INSERT, UPDATE ON isokron.agent_sessions TO isokron_runtime;
GRANT SELECT, INSERT ON isokron.agent_messages TO isokron_runtime;
