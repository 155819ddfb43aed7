-- Delivery state per (event, hook), so a failing hook is retried alone.
CREATE TABLE webhook_deliveries (
    event_id         uuid NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
    hook             text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    delivered_at     timestamptz,
    last_error       text,
    dead             boolean NOT NULL DEFAULT false,
    PRIMARY KEY (event_id, hook)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;

-- Events written under the one-row state keep it on a single '*' delivery ("every hook
-- subscribed at dispatch"); the dispatcher fans the pending ones out into per-hook deliveries.
INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at, last_error, dead)
SELECT id, '*', attempts, next_attempt_at, delivered_at, last_error, dead FROM webhook_outbox;

DROP INDEX webhook_outbox_due_idx;
ALTER TABLE webhook_outbox
    DROP COLUMN attempts,
    DROP COLUMN next_attempt_at,
    DROP COLUMN delivered_at,
    DROP COLUMN last_error,
    DROP COLUMN dead;
CREATE INDEX webhook_outbox_created_idx ON webhook_outbox (created_at);
