-- Deletion with a grace period (scheduled, purged after purge_after) and legal hold.
ALTER TABLE users
    ADD COLUMN deletion_scheduled_at timestamptz,
    ADD COLUMN purge_after timestamptz,
    ADD COLUMN hold boolean NOT NULL DEFAULT false,
    ADD COLUMN hold_reason text;
CREATE INDEX users_purge_due_idx ON users (purge_after) WHERE purge_after IS NOT NULL AND NOT hold;
