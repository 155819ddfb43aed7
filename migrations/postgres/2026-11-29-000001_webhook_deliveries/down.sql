-- Back to one state per event: delivered when every delivery is, dead when any is dead and
-- none is pending, pending otherwise (at the earliest pending attempt).
DROP INDEX webhook_outbox_created_idx;
ALTER TABLE webhook_outbox
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN last_error text,
    ADD COLUMN dead boolean NOT NULL DEFAULT false;
UPDATE webhook_outbox o SET
    attempts = d.attempts,
    next_attempt_at = d.next_attempt_at,
    delivered_at = d.delivered_at,
    last_error = d.last_error,
    dead = d.dead
FROM (
    SELECT event_id,
           max(attempts) AS attempts,
           coalesce(min(next_attempt_at) FILTER (WHERE delivered_at IS NULL AND NOT dead),
                    max(next_attempt_at)) AS next_attempt_at,
           CASE WHEN bool_and(delivered_at IS NOT NULL) THEN max(delivered_at) END AS delivered_at,
           max(last_error) AS last_error,
           bool_or(dead) AND NOT bool_or(delivered_at IS NULL AND NOT dead) AS dead
    FROM webhook_deliveries GROUP BY event_id
) d
WHERE d.event_id = o.id;
-- Events without deliveries had nothing to deliver.
UPDATE webhook_outbox SET next_attempt_at = created_at, delivered_at = created_at
WHERE next_attempt_at IS NULL;
ALTER TABLE webhook_outbox ALTER COLUMN next_attempt_at SET NOT NULL;
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;
DROP TABLE webhook_deliveries;
