-- Back to one state per event: delivered when every delivery is, dead when any is dead and
-- none is pending, pending otherwise (at the earliest pending attempt).
DROP INDEX webhook_outbox_created_idx;
ALTER TABLE webhook_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE webhook_outbox ADD COLUMN delivered_at TEXT;
ALTER TABLE webhook_outbox ADD COLUMN last_error TEXT;
ALTER TABLE webhook_outbox ADD COLUMN dead INTEGER NOT NULL DEFAULT 0;
UPDATE webhook_outbox SET
    attempts = coalesce((SELECT max(attempts) FROM webhook_deliveries d WHERE d.event_id = webhook_outbox.id), 0),
    next_attempt_at = coalesce(
        (SELECT min(next_attempt_at) FROM webhook_deliveries d
         WHERE d.event_id = webhook_outbox.id AND d.delivered_at IS NULL AND NOT d.dead),
        (SELECT max(next_attempt_at) FROM webhook_deliveries d WHERE d.event_id = webhook_outbox.id),
        created_at),
    delivered_at = CASE
        WHEN NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                         WHERE d.event_id = webhook_outbox.id AND d.delivered_at IS NULL)
        THEN coalesce((SELECT max(delivered_at) FROM webhook_deliveries d
                       WHERE d.event_id = webhook_outbox.id), created_at)
    END,
    last_error = (SELECT max(last_error) FROM webhook_deliveries d WHERE d.event_id = webhook_outbox.id),
    dead = EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_outbox.id AND d.dead)
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                       WHERE d.event_id = webhook_outbox.id AND d.delivered_at IS NULL AND NOT d.dead);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;
DROP TABLE webhook_deliveries;
