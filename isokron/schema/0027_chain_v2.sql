-- Chain v2 (issue 24, item 6): every column of an event is hashed, and each tenant's head
-- is anchored, so a rewritten actor or time and a cut tail are caught by the ordinary
-- verify, not only against an operator's recorded heads.
--
-- 1. hivex_foundation.event_log gains hash_version (1 or 2). Every row written before this
--    migration is v1 and is kept exactly as it was (event_hash_v1: prev, tenant, seq, type,
--    payload). Rows appended from now on are v2: event_hash_v2 hashes every column that
--    carries meaning — event_id (scratchpad entries point at it), tenant_id, seq,
--    event_type, payload (jsonb's canonical text: keys sorted, duplicates gone), actor_id,
--    occurred_at (whole microseconds since the Unix epoch: the same under every TimeZone)
--    and prev_event_hash — after the tag 'hivex.event.v2', each field length-prefixed
--    (<octets>:<UTF-8 text>, NULL as '~'), so no two distinct rows encode alike.
-- 2. hivex_foundation.chain_anchor: one row per tenant (last_seq, last_hash, event_count),
--    moved by append_event_v1 in the appending transaction. Row-level security: the
--    runtime role reads its own tenant's row and holds no other privilege; only
--    isokron_definer (the append) inserts or updates it; a trigger lets it only move
--    forward and refuses DELETE and TRUNCATE to everyone. Existing chains are anchored at
--    their current head here.
-- 3. append_event_v1 is dropped and recreated, same signature (the substrate's write API),
--    new behaviour: it writes v2 rows, sets occurred_at itself (hashed), and chains from the
--    anchor unless the log's head is past it, so a cut tail stays a visible gap and a
--    rewritten head a visible mismatch instead of being covered by the next append.
-- 4. verify_chain_v2(workspace) RETURNS TABLE(broken_seq, reason), at most one row: walks
--    v1 and v2 rows (v2 may follow v1; a v1 row after a v2 row is a break), then compares
--    the chain's last row with the anchor (a cut tail, events past the anchor, a head that
--    differs, a count that differs, a chain without an anchor). verify_chain_v1 is dropped
--    and recreated as verify_chain_v2's broken_seq, so its callers get the new checks.
--
-- What the anchor cannot do: the schema owner (or a superuser) may rewrite rows and anchor
-- alike. An external record of the heads (`isokron doctor --record-chain-heads FILE`, then
-- `--chain-heads FILE`) is for that.

-- 1. v2 hashing ------------------------------------------------------------------------

-- Existing rows get 1 (the stored default of the new column); new rows 2.
ALTER TABLE hivex_foundation.event_log
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));
ALTER TABLE hivex_foundation.event_log ALTER COLUMN hash_version SET DEFAULT 2;

-- The v2 hash: the tag, then each field as its UTF-8 octet count, ':' and the octets, or
-- '~' for NULL. (PL/pgSQL: a third of the time of SQL helpers, which cannot be inlined
-- with a pinned search_path.)
CREATE FUNCTION hivex_foundation.event_hash_v2(
    p_prev text, p_event uuid, p_tenant uuid, p_seq bigint, p_type text, p_payload jsonb,
    p_actor uuid, p_at timestamptz
) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
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

-- 2. the anchor -------------------------------------------------------------------------

CREATE TABLE hivex_foundation.chain_anchor (
    tenant_id   uuid PRIMARY KEY REFERENCES hivex_foundation.tenant (tenant_id),
    last_seq    bigint NOT NULL CHECK (last_seq >= 1),
    last_hash   text NOT NULL,
    event_count bigint NOT NULL CHECK (event_count >= 1)
);

CREATE FUNCTION hivex_foundation.chain_anchor_forward_v1() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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
CREATE TRIGGER chain_anchor_forward_only
    BEFORE UPDATE OR DELETE ON hivex_foundation.chain_anchor
    FOR EACH ROW EXECUTE FUNCTION hivex_foundation.chain_anchor_forward_v1();
CREATE TRIGGER chain_anchor_no_truncate
    BEFORE TRUNCATE ON hivex_foundation.chain_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION hivex_foundation.chain_anchor_forward_v1();

-- Anchor every existing chain at its head (the owner sees every tenant's rows while the
-- log's RLS is not forced on it; forced again right after).
ALTER TABLE hivex_foundation.event_log NO FORCE ROW LEVEL SECURITY;
INSERT INTO hivex_foundation.chain_anchor (tenant_id, last_seq, last_hash, event_count)
SELECT DISTINCT ON (e.tenant_id) e.tenant_id, e.seq, e.this_event_hash,
       count(*) OVER (PARTITION BY e.tenant_id)
  FROM hivex_foundation.event_log e
 ORDER BY e.tenant_id, e.seq DESC;
ALTER TABLE hivex_foundation.event_log FORCE ROW LEVEL SECURITY;

ALTER TABLE hivex_foundation.chain_anchor ENABLE ROW LEVEL SECURITY;
ALTER TABLE hivex_foundation.chain_anchor FORCE ROW LEVEL SECURITY;
CREATE POLICY chain_anchor_workspace ON hivex_foundation.chain_anchor FOR SELECT
    USING (tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                         WHERE t.clerk_org_id = (SELECT isokron.context_workspace_v1())));
CREATE POLICY chain_anchor_append ON hivex_foundation.chain_anchor FOR INSERT
    TO isokron_definer
    WITH CHECK (tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                              WHERE t.clerk_org_id = (SELECT isokron.context_workspace_v1())));
CREATE POLICY chain_anchor_move ON hivex_foundation.chain_anchor FOR UPDATE
    TO isokron_definer
    USING (tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                         WHERE t.clerk_org_id = (SELECT isokron.context_workspace_v1())))
    WITH CHECK (tenant_id = (SELECT t.tenant_id FROM hivex_foundation.tenant t
                              WHERE t.clerk_org_id = (SELECT isokron.context_workspace_v1())));
REVOKE ALL ON hivex_foundation.chain_anchor FROM PUBLIC;
GRANT SELECT ON hivex_foundation.chain_anchor TO isokron_runtime;
GRANT SELECT, INSERT, UPDATE ON hivex_foundation.chain_anchor TO isokron_definer;

-- 3. the append -------------------------------------------------------------------------

DROP FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid);
CREATE FUNCTION hivex_foundation.append_event_v1(
    p_workspace_id text, p_event_type text, p_payload jsonb, p_actor_id uuid
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
ALTER FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid) OWNER TO isokron_definer;

-- 4. the verify -------------------------------------------------------------------------

CREATE FUNCTION hivex_foundation.verify_chain_v2(p_workspace_id text)
RETURNS TABLE (broken_seq bigint, reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tenant   uuid;
    v_expected bigint := 1;
    v_prev     text := NULL;
    v_seen_v2  boolean := false;
    v_anchor   record;
    r          record;
BEGIN
    SELECT t.tenant_id INTO v_tenant
      FROM hivex_foundation.tenant t WHERE t.clerk_org_id = p_workspace_id;
    IF v_tenant IS NULL THEN
        RETURN;
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

DROP FUNCTION hivex_foundation.verify_chain_v1(text);
CREATE FUNCTION hivex_foundation.verify_chain_v1(p_workspace_id text) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT v.broken_seq FROM hivex_foundation.verify_chain_v2(p_workspace_id) v $$;

-- privileges -----------------------------------------------------------------------------
REVOKE ALL ON FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid),
    hivex_foundation.verify_chain_v1(text), hivex_foundation.verify_chain_v2(text),
    hivex_foundation.event_hash_v2(text, uuid, uuid, bigint, text, jsonb, uuid, timestamptz),
    hivex_foundation.chain_anchor_forward_v1() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hivex_foundation.append_event_v1(text, text, jsonb, uuid),
    hivex_foundation.verify_chain_v1(text), hivex_foundation.verify_chain_v2(text),
    hivex_foundation.event_hash_v2(text, uuid, uuid, bigint, text, jsonb, uuid, timestamptz)
    TO isokron_runtime;
GRANT EXECUTE ON FUNCTION
    hivex_foundation.event_hash_v2(text, uuid, uuid, bigint, text, jsonb, uuid, timestamptz)
    TO isokron_definer;
