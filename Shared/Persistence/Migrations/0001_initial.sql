-- 0001_initial: the vector store, the answer audit records and the transactional outbox (SPEC §6).
-- Applied by Migrator inside one transaction, under an advisory lock, and recorded in schema_migrations.

CREATE EXTENSION IF NOT EXISTS vector;

-- Chunks of ingested documents with their embeddings. chunk_id is computed by the writer as a hash of
-- (tenant, doc_id, seq, model), so redelivery upserts the same row and a new model writes new rows beside
-- the old ones. tenant '' means "no tenant" (the JWT claim is optional), so equality filters stay simple.
CREATE TABLE chunks (
    chunk_id        text        PRIMARY KEY,
    doc_id          text        NOT NULL,
    seq             integer     NOT NULL CHECK (seq >= 0),
    tenant          text        NOT NULL DEFAULT '',
    visibility      text        NOT NULL CHECK (visibility IN ('public', 'internal', 'confidential')),
    text            text        NOT NULL,
    content_sha256  text        NOT NULL,
    model           text        NOT NULL,
    embedding       vector(384) NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Approximate nearest neighbours by cosine distance (ORDER BY embedding <=> $1).
CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops);
-- Per-document reads and deletes within a tenant, in chunk order.
CREATE INDEX chunks_tenant_doc ON chunks (tenant, doc_id, seq);

-- Who received which answer: one row per query, written with its outbox event in one transaction.
CREATE TABLE answers (
    query_id        text        PRIMARY KEY,
    user_id         text        NOT NULL,
    tenant          text        NOT NULL DEFAULT '',
    tier            text        NOT NULL,
    question        text        NOT NULL,
    answer          text,
    citations       jsonb       NOT NULL DEFAULT '[]'::jsonb,
    model           text,
    prompt_version  text,
    prompt_hash     text,
    usage           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status          text        NOT NULL CHECK (status IN ('answered', 'refused', 'failed')),
    latency_ms      integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX answers_tenant_user_created ON answers (tenant, user_id, created_at);

-- Transactional outbox, Debezium outbox-event-router columns (id, aggregatetype, aggregateid, type, payload)
-- plus where to publish (topic, key, headers). position gives a total insertion order for the relay
-- (created_at is the transaction's start time, equal for rows of one transaction).
CREATE TABLE outbox (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    position        bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    aggregatetype   text        NOT NULL,
    aggregateid     text        NOT NULL,
    type            text        NOT NULL,
    payload         jsonb       NOT NULL,
    topic           text        NOT NULL,
    key             text,
    headers         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);

-- The relay's work queue: unpublished rows, oldest first. Stays small because published rows drop out.
CREATE INDEX outbox_unpublished ON outbox (created_at, position) WHERE published_at IS NULL;

-- Wake relays that LISTEN on 'outbox' when rows are committed (they also poll as a fallback).
CREATE FUNCTION outbox_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify
    AFTER INSERT ON outbox
    FOR EACH STATEMENT
    EXECUTE FUNCTION outbox_notify();
