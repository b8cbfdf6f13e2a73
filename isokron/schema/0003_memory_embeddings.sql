-- Optional cosine search over memory embeddings, when pgvector is installed on the server.
-- isokron.enable_vectors_v1() can be called again later (as the schema owner) if pgvector
-- is installed after this migration ran; it returns whether vector search is available.

CREATE FUNCTION isokron.enable_vectors_v1() RETURNS boolean
LANGUAGE plpgsql AS $$
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
    RETURN true;
END
$$;

SELECT isokron.enable_vectors_v1();
