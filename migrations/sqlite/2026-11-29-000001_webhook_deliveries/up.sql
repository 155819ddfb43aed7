-- Delivery state per (event, hook), so a failing hook is retried alone.
CREATE TABLE webhook_deliveries (
    event_id         TEXT NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
    hook             TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    delivered_at     TEXT,
    last_error       TEXT,
    dead             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, hook)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;

-- Events written under the one-row state keep it on a single '*' delivery ("every hook
-- subscribed at dispatch"); the dispatcher fans the pending ones out into per-hook deliveries.
INSERT INTO webhook_deliveries (event_id, hook, attempts, next_attempt_at, delivered_at, last_error, dead)
SELECT id, '*', attempts, next_attempt_at, delivered_at, last_error, dead FROM webhook_outbox;

DROP INDEX webhook_outbox_due_idx;
ALTER TABLE webhook_outbox DROP COLUMN attempts;
ALTER TABLE webhook_outbox DROP COLUMN next_attempt_at;
ALTER TABLE webhook_outbox DROP COLUMN delivered_at;
ALTER TABLE webhook_outbox DROP COLUMN last_error;
ALTER TABLE webhook_outbox DROP COLUMN dead;
CREATE INDEX webhook_outbox_created_idx ON webhook_outbox (created_at);
