-- The dispatcher claims per destination (each hook or stream up to its room: the claim in
-- crates/persistence/src/stores/outbox.rs): the due deliveries of one destination are a range
-- of this index, and the destinations with pending deliveries are found by skipping through it.
-- The index on next_attempt_at alone made a claim that passed over a full destination read
-- every due row. The (hook, event_id) index goes too: a stream's pending deliveries are a range
-- of this one, and one delivery is found by the primary key; one index less to write for each
-- delivery written, claimed or recorded.
CREATE INDEX webhook_deliveries_due_per_destination_idx ON webhook_deliveries (hook, next_attempt_at)
    WHERE delivered_at IS NULL AND NOT dead;
DROP INDEX webhook_deliveries_due_idx;
DROP INDEX webhook_deliveries_hook_idx;
