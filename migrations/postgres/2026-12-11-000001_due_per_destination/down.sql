CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;
DROP INDEX webhook_deliveries_due_per_destination_idx;
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (hook, event_id)
    WHERE delivered_at IS NULL AND NOT dead;
