-- 0002_outbox_relay: what the outbox relay (Services/outbox-relay) needs to claim, order and clean up rows.
-- Applied by Migrator inside one transaction, under an advisory lock, and recorded in schema_migrations.

-- The claim's scan: unpublished rows in position (insertion) order.
CREATE INDEX outbox_unpublished_position ON outbox (position) WHERE published_at IS NULL;

-- The claim's second step: every unpublished row of the aggregates a relay holds, oldest first.
CREATE INDEX outbox_unpublished_aggregate ON outbox (aggregatetype, aggregateid, position) WHERE published_at IS NULL;

-- Retention: published rows, oldest publication first.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Headers become Kafka headers, whose values are strings (SPEC §3): a row that breaks this is refused when it is
-- written (in the writer's transaction), instead of stopping the relay later.
ALTER TABLE outbox ADD CONSTRAINT outbox_headers_string_object
    CHECK (jsonb_typeof(headers) = 'object' AND NOT jsonb_path_exists(headers, '$.* ? (@.type() != "string")'));
